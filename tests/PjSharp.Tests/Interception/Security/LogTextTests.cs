using System.Text;
using PjSharp.Interception.Security;

namespace PjSharp.Tests.Interception.Security;

public class LogTextTests
{
    [Test]
    public void Printable_text_is_unchanged() =>
        Assert.That(LogText.Escape("REGISTER sip:example.com SIP/2.0"u8, 100), Is.EqualTo("REGISTER sip:example.com SIP/2.0"));

    [Test]
    public void Utf8_text_is_decoded() => Assert.That(LogText.Escape(Encoding.UTF8.GetBytes("Jäsøn Doe 😀"), 100), Is.EqualTo("Jäsøn Doe 😀"));

    [Test]
    public void Control_characters_and_nuls_are_escaped() =>
        Assert.That(LogText.Escape("a\0b\r\nc\td\u001be\u007f"u8, 100), Is.EqualTo("a\\x00b\\x0D\\x0Ac\\x09d\\x1Be\\x7F"));

    [Test]
    public void A_backslash_is_escaped_so_escapes_cannot_be_forged() =>
        Assert.That(LogText.Escape("user\\x00"u8, 100), Is.EqualTo("user\\\\x00"));

    [Test]
    public void Bytes_that_are_not_utf8_are_escaped()
    {
        Assert.That(LogText.Escape([0x61, 0xFF, 0x62, 0xC3], 100), Is.EqualTo("a\\xFFb\\xC3"));
        Assert.That(LogText.Escape([0xED, 0xA0, 0x80], 100), Is.EqualTo("\\xED\\xA0\\x80"), "an encoded surrogate");
        Assert.That(LogText.Escape([0xC0, 0xAF], 100), Is.EqualTo("\\xC0\\xAF"), "an overlong encoding");
    }

    [Test]
    public void Invisible_unicode_is_escaped()
    {
        // Right-to-left override, zero-width space, line separator, C1 control NEL.
        Assert.That(LogText.Escape(Encoding.UTF8.GetBytes("a\u202Eb\u200Bc\u2028d\u0085e"), 100),
            Is.EqualTo("a\\xE2\\x80\\xAEb\\xE2\\x80\\x8Bc\\xE2\\x80\\xA8d\\xC2\\x85e"));
    }

    [Test]
    public void Long_values_are_cut_with_an_ellipsis_within_the_limit()
    {
        Assert.That(LogText.Escape("abcdefghij"u8, 10), Is.EqualTo("abcdefghij"), "exactly the limit");
        Assert.That(LogText.Escape("abcdefghijk"u8, 10), Is.EqualTo("abcdefghi…"));
        Assert.That(LogText.Escape("abc\0def"u8, 6), Is.EqualTo("abc…"), "an escape is never split");
        Assert.That(LogText.Escape("ab"u8, 1), Is.EqualTo("…"));
        Assert.That(LogText.Escape(default, 1), Is.Empty);
    }

    [Test]
    public void Output_never_exceeds_the_limit_and_holds_no_control_characters()
    {
        var random = new Random(2069);
        var bytes = new byte[3000];
        for (var i = 0; i < 2000; i++)
        {
            var length = random.Next(bytes.Length);
            random.NextBytes(bytes.AsSpan(0, length));
            var limit = random.Next(1, 1200);
            var text = LogText.Escape(bytes.AsSpan(0, length), limit);
            Assert.That(text.Length, Is.LessThanOrEqualTo(limit));
            for (var position = 0; position < text.Length; position += Rune.GetRuneAt(text, position).Utf16SequenceLength)
                Assert.That(Rune.IsControl(Rune.GetRuneAt(text, position)), Is.False, "a lone surrogate would throw here");
        }
    }

    [Test]
    public void A_too_small_limit_is_refused() => Assert.Throws<ArgumentOutOfRangeException>(() => LogText.Escape("a"u8, 0));
}
