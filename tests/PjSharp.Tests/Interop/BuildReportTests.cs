using PjSharp.Tests.Support;

namespace PjSharp.Tests.Interop;

public class BuildReportTests
{
    [Test]
    public void The_linked_pjproject_reports_its_version_and_the_required_settings()
    {
        using var server = new TestEndpoint();
        var report = server.Endpoint.BuildReport;

        Assert.That(report.Version, Does.Match(@"^2\.\d+"));
        Assert.That(report.Problems.Where(p => p.IsFatal), Is.Empty);
        Assert.That(report.MaxPacketLength, Is.EqualTo(report.CompiledSettings["PJSIP_MAX_PKT_LEN"]));
        Assert.That(report.LibraryConfiguration["PJ_DEBUG"], Is.EqualTo("0"));
        Assert.That(report.LibraryConfiguration["PJ_HAS_IPV6"], Is.EqualTo("1"));
        Assert.That(report.AssertionsEnabled, Is.False, "pjproject must be built with NDEBUG");
        Assert.That(server.Logs.Entries.Any(e => e.Id.Id == 1006 && e.Message.Contains(report.Version, StringComparison.Ordinal)), Is.True);
    }

    [TestCase("2.15.1", 2, 15, 1)]
    [TestCase("2.17", 2, 17, 0)]
    [TestCase("2.17-dev", 2, 17, 0)]
    public void Versions_are_read_the_way_pjproject_writes_them(string text, int major, int minor, int build)
    {
        Assert.That(Diagnostics.PjprojectBuildCheck.ParseVersion(text), Is.EqualTo(new Version(major, minor, build)));
    }
}
