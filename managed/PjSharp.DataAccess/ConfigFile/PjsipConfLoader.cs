namespace PjSharp.DataAccess.ConfigFile;

/// <summary>Turns parsed sections into typed objects, collecting every error with its file, line and key.</summary>
internal static class PjsipConfLoader
{
    public static List<SipObject> Load(string path, string displayPath, DiagnosticBag bag)
    {
        var sections = PjsipConfParser.Parse(path, displayPath, bag);
        return Build(sections, bag);
    }

    public static List<SipObject> Build(IEnumerable<ConfigSection> sections, DiagnosticBag bag)
    {
        var objects = new List<SipObject>();
        var seen = new Dictionary<(ObjectType, string), SourceLocation>();
        SourceLocation? global = null;
        foreach (var section in sections)
        {
            if (section.IsTemplate)
                continue;
            OptionAssignment? typeLine = null;
            foreach (var line in section.Lines)
            {
                if (string.Equals(line.Key, "type", StringComparison.OrdinalIgnoreCase))
                    typeLine = line;
            }
            if (typeLine is not { } typeAssignment)
            {
                bag.Error(section.Header, null, section.Name, "type", "missing 'type' (endpoint, aor, auth, transport, identify, acl, registration, global)");
                continue;
            }
            var type = ObjectTypes.Find(typeAssignment.Value);
            if (type is null)
            {
                if (ObjectTypes.UnsupportedAsteriskTypes.Contains(typeAssignment.Value))
                    bag.Warning(typeAssignment.Location, null, section.Name, "type", $"type '{typeAssignment.Value}' is not supported by PjSharp; section ignored");
                else
                    bag.Error(typeAssignment.Location, null, section.Name, "type", $"unknown type '{typeAssignment.Value}'");
                continue;
            }
            if (type.IsDynamic)
            {
                bag.Error(typeAssignment.Location, type.Name, section.Name, "type", $"{type.Name} objects are written at run time and cannot be configured in a file");
                continue;
            }
            if (seen.TryGetValue((type, section.Name), out var first))
            {
                bag.Error(section.Header, type.Name, section.Name, null, $"duplicate {type.Name} '{section.Name}' (first defined at {first})");
                continue;
            }
            seen[(type, section.Name)] = section.Header;
            if (type == GlobalSettings.Type)
            {
                if (global is { } firstGlobal)
                {
                    bag.Error(section.Header, type.Name, section.Name, null, $"only one global section is allowed (first at {firstGlobal})");
                    continue;
                }
                global = section.Header;
            }
            objects.Add(type.Build(section.Name, section.Lines, section.Header, bag));
        }
        return objects;
    }
}
