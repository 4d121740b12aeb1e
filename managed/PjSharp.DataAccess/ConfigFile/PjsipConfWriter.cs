using System.Text;

namespace PjSharp.DataAccess;

/// <summary>Writes objects in <c>pjsip.conf</c> syntax, one section per object, so that the file loads back to the same objects.</summary>
public static class PjsipConfWriter
{
    /// <summary>The objects as <c>pjsip.conf</c> text.</summary>
    /// <param name="objects">The objects, written in order.</param>
    /// <param name="includeDefaults">True to write options at their default too.</param>
    public static string Write(IEnumerable<SipObject> objects, bool includeDefaults = false)
    {
        ArgumentNullException.ThrowIfNull(objects);
        var text = new StringBuilder();
        foreach (var value in objects)
        {
            if (value.ObjectType.IsDynamic)
                throw new ArgumentException($"{value.ObjectType.Name} objects cannot be written to a config file", nameof(objects));
            text.Append('[').Append(value.Id).Append("]\n");
            text.Append("type=").Append(value.ObjectType.Name).Append('\n');
            foreach (var (key, field) in value.ObjectType.ToFields(value, includeDefaults))
                text.Append(key).Append('=').Append(Escape(field)).Append('\n');
            text.Append('\n');
        }
        return text.ToString();
    }

    private static string Escape(string value) => value.Replace(";", "\\;", StringComparison.Ordinal);
}
