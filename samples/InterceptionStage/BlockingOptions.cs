namespace Samples.Interception;

/// <summary>The <c>Blocking</c> section of the configuration.</summary>
internal sealed class BlockingOptions
{
    public const string SectionName = "Blocking";

    /// <summary>Callers whose number (the From URI's user part) starts with one of these are refused.</summary>
    public List<string> Prefixes { get; } = [];
}
