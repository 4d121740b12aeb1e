namespace PjSharp.Server.Tests.Browser;

/// <summary>A real browser: Debian's Chromium, headless, with SIP.js from npm and fake audio devices.</summary>
[NonParallelizable]
public class BrowserTests
{
    private BrowserHost _browser = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (BrowserHost.Missing() is { } missing)
            Assert.Fail(missing);
        _browser = await BrowserHost.StartAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_browser != null)
            await _browser.DisposeAsync();
    }

    [Test]
    public async Task The_page_loads_sip_js_and_hears_the_fake_microphone()
    {
        var page = await _browser.OpenPhoneAsync();
        var version = await page.EvaluateAsync<string>("() => window.phone.version");
        var level = await page.EvaluateAsync<double>("() => window.phone.microphoneLevel()");

        var installed = File.ReadAllText(Path.Combine(BrowserHost.Root, "node_modules", "sip.js", "lib", "version.js"));
        Assert.That(installed, Does.Contain($"\"{version}\""), "the SIP.js npm installed, loaded as ES modules");
        Assert.That(level, Is.GreaterThan(0.01), "Chromium's fake microphone plays a tone");
    }
}
