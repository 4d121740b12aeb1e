namespace PjSharp.DataAccess;

/// <summary>Codec names as Asterisk writes them in <c>allow</c> and <c>disallow</c>.</summary>
public static class Codecs
{
    /// <summary>Every codec name <c>allow</c> accepts, in the order <c>allow=all</c> adds them.</summary>
    public static IReadOnlyList<string> Known { get; } =
    [
        "ulaw", "alaw", "g722", "opus", "gsm", "g726", "g726aal2", "g729", "g723", "g719", "ilbc",
        "lpc10", "speex", "speex16", "speex32", "silk8", "silk12", "silk16", "silk24", "siren7", "siren14",
        "codec2", "adpcm", "slin", "slin12", "slin16", "slin24", "slin32", "slin44", "slin48", "slin96", "slin192",
        "testlaw", "h261", "h263", "h263p", "h264", "h265", "mpeg4", "vp8", "vp9", "red", "t140", "t140red",
        "jpeg", "png",
    ];

    private static readonly HashSet<string> KnownSet = new(Known, StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether <paramref name="name"/> is a codec name Asterisk knows.</summary>
    public static bool IsKnown(string name) => KnownSet.Contains(name);

    /// <summary>Applies one <c>allow</c> line: names are appended in order, <c>all</c> adds every codec, <c>!name</c> removes one.</summary>
    internal static ValueList<string> Allow(ValueList<string> current, string value)
    {
        var list = current.ToList();
        foreach (var raw in OptionValues.SplitList(value))
        {
            var remove = raw.StartsWith('!');
            var name = (remove ? raw[1..] : raw).ToLowerInvariant();
            if (name == "all")
            {
                if (remove)
                    list.Clear();
                else
                    list.AddRange(Known.Where(k => !list.Contains(k)));
                continue;
            }
            if (!IsKnown(name))
                throw new OptionValueException($"unknown codec '{name}'");
            if (remove)
                list.Remove(name);
            else if (!list.Contains(name))
                list.Add(name);
        }
        return ValueList.From(list);
    }

    /// <summary>Applies one <c>disallow</c> line: <c>all</c> clears the list, names are removed.</summary>
    internal static ValueList<string> Disallow(ValueList<string> current, string value)
    {
        var list = current.ToList();
        foreach (var raw in OptionValues.SplitList(value))
        {
            var name = raw.ToLowerInvariant();
            if (name == "all")
            {
                list.Clear();
                continue;
            }
            if (!IsKnown(name))
                throw new OptionValueException($"unknown codec '{name}'");
            list.Remove(name);
        }
        return ValueList.From(list);
    }
}
