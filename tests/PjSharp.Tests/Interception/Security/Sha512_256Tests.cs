using System.Security.Cryptography;
using System.Text;
using PjSharp.Interception.Security;
using PjSharp.Tests.Support;

namespace PjSharp.Tests.Interception.Security;

public class Sha512_256Tests
{
    private static string Hash(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[Sha512_256.HashSizeInBytes];
        Assert.That(Sha512_256.HashData(data, digest), Is.EqualTo(32));
        return Convert.ToHexStringLower(digest);
    }

    // FIPS 180-4 examples (NIST CSRC "SHA512_256.pdf"): one block and two blocks.
    [Test]
    public void Fips_vector_abc() =>
        Assert.That(Hash("abc"u8), Is.EqualTo("53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"));

    [Test]
    public void Fips_vector_896_bit_message() =>
        Assert.That(
            Hash("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"u8),
            Is.EqualTo("3928e184fb8690f840da3988121d31be65cb9d3ef83ee6146feac861e19b563a"));

    [Test]
    public void Empty_message() =>
        Assert.That(Hash(default), Is.EqualTo("c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a"));

    [Test]
    public void Core_with_the_sha512_initial_value_matches_dotnet_sha512_at_every_padding_boundary()
    {
        ReadOnlySpan<ulong> sha512Initial =
        [
            0x6A09E667F3BCC908, 0xBB67AE8584CAA73B, 0x3C6EF372FE94F82B, 0xA54FF53A5F1D36F1,
            0x510E527FADE682D1, 0x9B05688C2B3E6C1F, 0x1F83D9ABFB41BD6B, 0x5BE0CD19137E2179,
        ];
        var data = new byte[700];
        new Random(7616).NextBytes(data);
        Span<byte> ours = stackalloc byte[64];
        for (var length = 0; length <= data.Length; length++)
        {
            Sha512_256.HashCore(sha512Initial, data.AsSpan(0, length), ours, 64);
            Assert.That(ours.ToArray(), Is.EqualTo(SHA512.HashData(data.AsSpan(0, length))), $"length {length}");
        }
    }

    [Test]
    public void Million_a()
    {
        var data = Encoding.ASCII.GetBytes(new string('a', 1_000_000));
        Assert.That(Hash(data), Is.EqualTo("9a59a052930187a97038cae692f30708aa6491923ef5194394dc68d56c74fb21"));
    }

    [Test]
    public void Destination_too_small_is_refused() =>
        Assert.Throws<ArgumentException>(() => Sha512_256.HashData("abc"u8, new byte[31]));

    [Test]
    public void Hashing_allocates_nothing()
    {
        var data = new byte[300];
        var digest = new byte[32];
        AllocationAssert.NothingPerCall(10_000, () =>
        {
            for (var i = 0; i < 10_000; i++)
                Sha512_256.HashData(data.AsSpan(0, i % data.Length), digest);
        });
    }
}
