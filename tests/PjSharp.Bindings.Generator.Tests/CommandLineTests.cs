using System.Diagnostics;

namespace PjSharp.Bindings.Generator.Tests;

/// <summary>The executable the build runs: options in both '--name value' and '--name=value' forms, exit codes.</summary>
public class CommandLineTests
{
    private static (int ExitCode, string Output, string Error) Run(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(typeof(BindingGenerator).Assembly.Location);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error);
    }

    [Test]
    public void Both_option_forms_generate_the_same_files()
    {
        var golden = GoldenCase.Named("constants");
        using var temp = new TempDirectory();
        var spaced = Run("--settings", Path.Combine(golden.Directory, "settings.cmake"),
            "--methods", Path.Combine(golden.Directory, "NativeMethods.txt"),
            "--clang-arg", "-DUNUSED_BY_THE_HEADERS=1",
            "--out-cs", Path.Combine(temp.Path, "a", "cs"), "--out-native", Path.Combine(temp.Path, "a", "native"));
        var joined = Run("--settings=" + Path.Combine(golden.Directory, "settings.cmake"),
            "--methods=" + Path.Combine(golden.Directory, "NativeMethods.txt"),
            "--clang-arg=-DUNUSED_BY_THE_HEADERS=1",
            "--out-cs=" + Path.Combine(temp.Path, "b", "cs"), "--out-native=" + Path.Combine(temp.Path, "b", "native"));

        Assert.That(spaced.ExitCode, Is.Zero, spaced.Error);
        Assert.That(joined.ExitCode, Is.Zero, joined.Error);
        Assert.That(spaced.Output, Does.Contain("bindings:"));
        var a = GoldenCase.ReadTree(Path.Combine(temp.Path, "a"));
        var b = GoldenCase.ReadTree(Path.Combine(temp.Path, "b"));
        Assert.That(b, Is.EqualTo(a));
        Assert.That(File.Exists(Path.Combine(temp.Path, "a", "cs", ".complete")), Is.True);
    }

    [Test]
    public void A_refusal_exits_non_zero_with_the_line_at_fault()
    {
        using var temp = new TempDirectory();
        temp.File("input.h", "int known(void);\n");
        var methods = temp.File("NativeMethods.txt", "#include <input.h>\nknown\nunknown\n");

        var (exitCode, _, error) = Run("--methods", methods, "--out-cs", Path.Combine(temp.Path, "cs"), "--out-native", Path.Combine(temp.Path, "native"));

        Assert.That(exitCode, Is.Not.Zero);
        Assert.That(error, Does.Contain("NativeMethods.txt:3").And.Contain("'unknown'"));
    }

    [Test]
    public void An_unknown_option_exits_non_zero_with_the_usage()
    {
        var (exitCode, _, error) = Run("--bogus");
        Assert.That(exitCode, Is.Not.Zero);
        Assert.That(error, Does.Contain("unknown argument '--bogus'").And.Contain("usage"));
    }
}
