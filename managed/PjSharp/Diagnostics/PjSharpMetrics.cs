using System.Diagnostics.Metrics;

namespace PjSharp.Diagnostics;

/// <summary>The one <see cref="Meter"/> PjSharp reports through; listen to it by this name.</summary>
public static class PjSharpMetrics
{
    /// <summary>The meter's name: <c>PjSharp</c>.</summary>
    public const string MeterName = "PjSharp";

    /// <summary>
    /// The PjSharp meter from <paramref name="factory"/> (the host's, so its lifetime and scope are the host's), or a new
    /// meter that the caller owns and disposes (<paramref name="owned"/>) when there is no factory.
    /// </summary>
    internal static Meter Create(IMeterFactory? factory, out Meter? owned)
    {
        if (factory is not null)
        {
            owned = null;
            return factory.Create(new MeterOptions(MeterName));
        }
        owned = new Meter(MeterName);
        return owned;
    }
}
