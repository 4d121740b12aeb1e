using System.Buffers;
using System.Globalization;
using System.Text;

namespace PjSharp.Interception.Security;

/// <summary>Makes bytes from the wire safe to put in a log line.</summary>
internal static class LogText
{
    /// <summary>Marks a value cut short.</summary>
    public const string Ellipsis = "…";

    /// <summary>
    /// Printable text as it is; control characters, NULs, invisible Unicode (format and
    /// separator characters such as bidi overrides) and bytes that are not UTF-8 as <c>\xNN</c>
    /// per byte; a backslash as <c>\\</c>, so an escape in the output never came from the input.
    /// At most <paramref name="maxLength"/> characters, the last being <see cref="Ellipsis"/> when cut.
    /// </summary>
    public static string Escape(ReadOnlySpan<byte> wire, int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        char[]? rented = null;
        // Each input byte becomes at most 4 characters.
        var capacity = (int)Math.Min(maxLength, (4L * wire.Length) + 1);
        var buffer = capacity <= 512 ? stackalloc char[512] : (rented = ArrayPool<char>.Shared.Rent(capacity));
        try
        {
            var length = 0;
            var position = 0;
            Span<char> piece = stackalloc char[16];
            while (position < wire.Length)
            {
                var status = Rune.DecodeFromUtf8(wire[position..], out var rune, out var consumed);
                var pieceLength = 0;
                if (status == OperationStatus.Done && IsPrintable(rune))
                {
                    if (rune.Value == '\\')
                    {
                        piece[0] = '\\';
                        piece[1] = '\\';
                        pieceLength = 2;
                    }
                    else
                        pieceLength = rune.EncodeToUtf16(piece);
                }
                else
                {
                    foreach (var b in wire.Slice(position, Math.Max(consumed, 1)))
                    {
                        piece[pieceLength++] = '\\';
                        piece[pieceLength++] = 'x';
                        piece[pieceLength++] = HexUpper(b >> 4);
                        piece[pieceLength++] = HexUpper(b & 0xF);
                    }
                }
                var last = position + Math.Max(consumed, 1) >= wire.Length;
                // Room for the ellipsis unless this piece ends the input.
                if (length + pieceLength > maxLength - (last ? 0 : Ellipsis.Length))
                {
                    buffer[length++] = Ellipsis[0];
                    return new string(buffer[..length]);
                }
                piece[..pieceLength].CopyTo(buffer[length..]);
                length += pieceLength;
                position += Math.Max(consumed, 1);
            }
            return new string(buffer[..length]);
        }
        finally
        {
            if (rented != null)
                ArrayPool<char>.Shared.Return(rented);
        }
    }

    private static char HexUpper(int nibble) => (char)(nibble < 10 ? '0' + nibble : 'A' + nibble - 10);

    private static bool IsPrintable(Rune rune)
    {
        if (Rune.IsControl(rune))
            return false;
        return Rune.GetUnicodeCategory(rune) is not (UnicodeCategory.Format or UnicodeCategory.LineSeparator
            or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
            or UnicodeCategory.OtherNotAssigned);
    }
}
