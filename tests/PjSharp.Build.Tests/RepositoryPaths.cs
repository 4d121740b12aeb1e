namespace PjSharp.Build.Tests;

internal static class RepositoryPaths
{
    /// <summary>The checkout's root: the folder above this assembly that holds build.sh.</summary>
    public static string Root { get; } = FindRoot();

    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(directory.FullName, "build.sh")) && Directory.Exists(Path.Combine(directory.FullName, "build", "lib")))
                return directory.FullName;
        }
        throw new InvalidOperationException($"No checkout root above {AppContext.BaseDirectory}.");
    }
}
