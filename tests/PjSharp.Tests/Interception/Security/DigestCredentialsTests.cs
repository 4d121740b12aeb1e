using System.Text;
using PjSharp.Interception.Security;

namespace PjSharp.Tests.Interception.Security;

public class DigestCredentialsTests
{
    // RFC 7616 §3.9.1, SHA-256 request, folded as it would arrive on the wire.
    private const string Rfc7616 = "Digest username=\"Mufasa\",\r\n realm=\"http-auth@example.org\",\r\n uri=\"/dir/index.html\",\r\n algorithm=SHA-256,\r\n" +
        " nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n nc=00000001,\r\n cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n" +
        " qop=auth,\r\n response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

    private const string Minimal = "Digest username=\"alice\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"00\"";

    private static DigestParseResult Parse(string value) => DigestCredentials.TryParse(Encoding.UTF8.GetBytes(value), out _);

    private static string Text(ReadOnlySpan<byte> value) => Encoding.UTF8.GetString(value);

    [Test]
    public void Reads_every_parameter_of_the_rfc_7616_example()
    {
        var value = Encoding.UTF8.GetBytes(Rfc7616);
        Assert.That(DigestCredentials.TryParse(value, out var c), Is.EqualTo(DigestParseResult.Ok));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Text(c.Username), Is.EqualTo("Mufasa"));
            Assert.That(Text(c.Realm), Is.EqualTo("http-auth@example.org"));
            Assert.That(Text(c.Uri), Is.EqualTo("/dir/index.html"));
            Assert.That(Text(c.Algorithm), Is.EqualTo("SHA-256"));
            Assert.That(Text(c.Nonce), Is.EqualTo("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"));
            Assert.That(c.NonceCount, Is.EqualTo(1u));
            Assert.That(Text(c.NonceCountText), Is.EqualTo("00000001"));
            Assert.That(Text(c.Cnonce), Is.EqualTo("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"));
            Assert.That(Text(c.Qop), Is.EqualTo("auth"));
            Assert.That(c.HasQop, Is.True);
            Assert.That(Text(c.Response), Is.EqualTo("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"));
            Assert.That(Text(c.Opaque), Is.EqualTo("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"));
            Assert.That(c.UserHash, Is.False);
        }
    }

    [Test]
    public void Parameter_names_and_the_scheme_are_case_insensitive()
    {
        var value = "dIGEST USERNAME=\"a\",Realm=\"r\",NONCE=\"n\",Uri=\"u\",RESPONSE=\"x\",NC=0000000a,QOP=\"auth\",CNonce=\"c\""u8;
        Assert.That(DigestCredentials.TryParse(value, out var c), Is.EqualTo(DigestParseResult.Ok));
        Assert.That(c.NonceCount, Is.EqualTo(10u));
        Assert.That(Text(c.Qop), Is.EqualTo("auth"), "a quoted qop is accepted too");
    }

    [Test]
    public void Without_qop_nc_and_cnonce_are_optional()
    {
        Assert.That(DigestCredentials.TryParse(Encoding.UTF8.GetBytes(Minimal), out var c), Is.EqualTo(DigestParseResult.Ok));
        Assert.That(c.HasQop, Is.False);
        Assert.That(c.HasNonceCount, Is.False);
        Assert.That(c.Algorithm.IsEmpty, Is.True);
    }

    [Test]
    public void Unknown_parameters_are_skipped_whatever_their_form() =>
        Assert.That(Parse(Minimal + ", charset=UTF-8, x-thing=\"a, b=\\\"c\\\"\", auth-param=tok"), Is.EqualTo(DigestParseResult.Ok));

    [Test]
    public void Escaped_quotes_in_the_username_are_kept_raw_and_unquoted_on_demand()
    {
        var value = "Digest username=\"al\\\"ice\\\\\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\""u8;
        Assert.That(DigestCredentials.TryParse(value, out var c), Is.EqualTo(DigestParseResult.Ok));
        Assert.That(Text(c.Username), Is.EqualTo("al\\\"ice\\\\"));
        Span<byte> scratch = stackalloc byte[c.Username.Length];
        Assert.That(Text(DigestCredentials.Unquote(c.Username, scratch)), Is.EqualTo("al\"ice\\"));
        Assert.That(Text(DigestCredentials.Unquote("plain"u8, default)), Is.EqualTo("plain"), "nothing to unescape needs no buffer");
    }

    [Test]
    public void Utf8_usernames_pass_through() =>
        Assert.That(Parse("Digest username=\"Jäsøn Doe\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\""), Is.EqualTo(DigestParseResult.Ok));

    [TestCase("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")]
    [TestCase("Bearer abc")]
    [TestCase("DigestX username=\"a\"")]
    public void Other_schemes_are_not_digest(string value) => Assert.That(Parse(value), Is.EqualTo(DigestParseResult.NotDigest));

    [TestCase("")]
    [TestCase("   ")]
    [TestCase("Digest")]
    [TestCase("Digest ")]
    [TestCase("Digest,username=\"a\"")]
    [TestCase("Digest username")]
    [TestCase("Digest username=")]
    [TestCase("Digest username=\"a")]
    [TestCase("Digest username=\"a\" realm=\"r\"")]
    [TestCase("Digest username=\"a\",,realm=\"r\"")]
    [TestCase("Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\",")]
    [TestCase("Digest =\"a\"")]
    [TestCase("Digest username=\"a\\")]
    public void Broken_syntax_is_malformed(string value) => Assert.That(Parse(value), Is.EqualTo(DigestParseResult.Malformed));

    [TestCase("username")]
    [TestCase("realm")]
    [TestCase("nonce")]
    [TestCase("uri")]
    [TestCase("response")]
    public void A_missing_required_parameter_is_malformed(string name)
    {
        var parts = new[] { "username=\"a\"", "realm=\"r\"", "nonce=\"n\"", "uri=\"u\"", "response=\"x\"" }.Where(p => !p.StartsWith(name + "=", StringComparison.Ordinal));
        Assert.That(Parse("Digest " + string.Join(", ", parts)), Is.EqualTo(DigestParseResult.Malformed));
    }

    [TestCase("username=\"b\"")]
    [TestCase("REALM=\"r2\"")]
    [TestCase("nonce=\"n\"")]
    [TestCase("response=\"y\"")]
    [TestCase("algorithm=MD5, algorithm=SHA-256")]
    [TestCase("opaque=\"o\", opaque=\"o\"")]
    public void A_repeated_parameter_is_malformed(string extra) =>
        Assert.That(Parse(Minimal + ", " + extra), Is.EqualTo(DigestParseResult.Malformed));

    [TestCase(", qop=auth, nc=00000001")]
    [TestCase(", qop=auth, cnonce=\"c\"")]
    [TestCase(", qop=auth, cnonce=\"c\", nc=1")]
    [TestCase(", qop=auth, cnonce=\"c\", nc=0000000g")]
    [TestCase(", qop=auth, cnonce=\"c\", nc=000000001")]
    [TestCase(", qop=\"\", cnonce=\"c\", nc=00000001")]
    [TestCase(", userhash=maybe")]
    public void Inconsistent_qop_nc_or_userhash_is_malformed(string extra) =>
        Assert.That(Parse(Minimal + extra), Is.EqualTo(DigestParseResult.Malformed));

    [Test]
    public void Userhash_is_reported()
    {
        Assert.That(DigestCredentials.TryParse(Encoding.UTF8.GetBytes(Minimal + ", userhash=TRUE"), out var c), Is.EqualTo(DigestParseResult.Ok));
        Assert.That(c.UserHash, Is.True);
    }

    [TestCase("\0")]
    [TestCase("\r\n")]
    [TestCase("\u0007")]
    [TestCase("\u007f")]
    [TestCase("\\\0")]
    public void Control_characters_in_a_quoted_value_are_malformed(string inside) =>
        Assert.That(Parse($"Digest username=\"a{inside}b\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\""), Is.EqualTo(DigestParseResult.Malformed));

    [Test]
    public void A_value_at_the_limit_is_accepted_and_one_byte_more_is_oversized()
    {
        var atLimit = new string('u', DigestCredentials.MaxValueLength);
        Assert.That(Parse($"Digest username=\"{atLimit}\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\""), Is.EqualTo(DigestParseResult.Ok));
        Assert.That(Parse($"Digest username=\"{atLimit}u\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\""), Is.EqualTo(DigestParseResult.Oversized));
        Assert.That(Parse($"{Minimal}, unknown={atLimit}u"), Is.EqualTo(DigestParseResult.Oversized), "unknown parameters are limited too");
    }

    [Test]
    public void A_header_over_4_kib_is_oversized_before_anything_is_read()
    {
        var padding = string.Concat(Enumerable.Repeat(", x=\"" + new string('p', 200) + "\"", 25));
        var value = Minimal + padding;
        Assert.That(value.Length, Is.GreaterThan(DigestCredentials.MaxHeaderLength));
        Assert.That(Parse(value), Is.EqualTo(DigestParseResult.Oversized));
        Assert.That(Parse("Basic " + new string('A', 5000)), Is.EqualTo(DigestParseResult.Oversized));
    }

    [Test]
    public void Garbage_never_throws()
    {
        var random = new Random(3261);
        var alphabet = Encoding.ASCII.GetBytes("Digest usernamerealmnoncequoprc=\",\\ \t\r\n\0\x7f\xff");
        var buffer = new byte[200];
        for (var i = 0; i < 20_000; i++)
        {
            var length = random.Next(buffer.Length);
            for (var j = 0; j < length; j++)
                buffer[j] = random.Next(4) == 0 ? (byte)random.Next(256) : alphabet[random.Next(alphabet.Length)];
            var result = DigestCredentials.TryParse(buffer.AsSpan(0, length), out _);
            Assert.That(Enum.IsDefined(result), Is.True);
        }
        // The valid prefix followed by every single byte.
        var prefix = Encoding.ASCII.GetBytes(Minimal + ", x=");
        for (var b = 0; b < 256; b++)
            _ = DigestCredentials.TryParse([.. prefix, (byte)b], out _);
    }
}
