using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Playwright;

namespace PjSharp.Server.Tests.Browser;

/// <summary>
/// A headless Chromium (Debian's, driven by Playwright) with fake audio devices, and a loopback web
/// server for the test page and the SIP library it imports (tests/Browser, installed by npm).
/// </summary>
internal sealed class BrowserHost : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private readonly HttpListener _listener;
    private readonly string _root;
    private readonly Task _serving;
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    private BrowserHost(HttpListener listener, string root, int port)
    {
        _listener = listener;
        _root = root;
        Port = port;
        _serving = ServeAsync();
    }

    /// <summary>The page's address (http on loopback: a secure context, so the page may use the microphone).</summary>
    public string PageUri => $"http://127.0.0.1:{Port}/page.html";

    public int Port { get; }

    /// <summary>The folder with page.html and the SIP library: tests/Browser, found from the test's output folder.</summary>
    public static string Root
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory != null && !Directory.Exists(Path.Combine(directory.FullName, "tests", "Browser")))
                directory = directory.Parent;
            return directory == null ? "" : Path.Combine(directory.FullName, "tests", "Browser");
        }
    }

    /// <summary>Why the browser tests cannot run here, or null when they can.</summary>
    public static string? Missing()
    {
        if (!File.Exists(ChromiumPath))
            return $"no Chromium at {ChromiumPath}: the Test target installs Debian's chromium";
        if (!File.Exists(Path.Combine(Root, "node_modules", "sip.js", "lib", "index.js")))
            return $"SIP.js is not installed in {Root}: the Test target runs npm ci there";
        return null;
    }

    public static async Task<BrowserHost> StartAsync()
    {
        var root = Root;
        for (var attempt = 0; ; attempt++)
        {
            var port = FreeTcpPort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
            }
            catch (HttpListenerException) when (attempt < 3)
            {
                listener.Close();
                continue;
            }
            var host = new BrowserHost(listener, root, port);
            try
            {
                host._playwright = await Playwright.CreateAsync();
                host._browser = await host._playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
                {
                    ExecutablePath = ChromiumPath,
                    Headless = true,
                    Args =
                    [
                        "--no-sandbox",
                        "--use-fake-ui-for-media-stream",
                        "--use-fake-device-for-media-stream",
                        "--autoplay-policy=no-user-gesture-required",
                        "--ignore-certificate-errors",
                    ],
                });
                return host;
            }
            catch
            {
                await host.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>A new page (its own context: no state shared with other pages) with the phone script loaded.</summary>
    public async Task<IPage> OpenPhoneAsync()
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true });
        await context.GrantPermissionsAsync(["microphone"]);
        var page = await context.NewPageAsync();
        await page.GotoAsync(PageUri);
        await page.WaitForFunctionAsync("() => window.phone && window.phone.ready", null, new PageWaitForFunctionOptions { Timeout = 10000 });
        return page;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }
            _ = Task.Run(() => Serve(context));
        }
    }

    private void Serve(HttpListenerContext context)
    {
        using var response = context.Response;
        var path = Uri.UnescapeDataString(context.Request.Url!.AbsolutePath).TrimStart('/');
        // page.html, and the SIP library under /sip.js/ from node_modules; nothing outside them.
        var file = path == "page.html" ? Path.Combine(_root, "page.html")
            : path.StartsWith("sip.js/", StringComparison.Ordinal) ? Path.GetFullPath(Path.Combine(_root, "node_modules", path))
            : null;
        var libraryRoot = Path.Combine(_root, "node_modules", "sip.js") + Path.DirectorySeparatorChar;
        if (file == null || (path != "page.html" && !file.StartsWith(libraryRoot, StringComparison.Ordinal)) || !File.Exists(file))
        {
            response.StatusCode = 404;
            return;
        }
        response.ContentType = file.EndsWith(".html", StringComparison.Ordinal) ? "text/html; charset=utf-8" : "text/javascript; charset=utf-8";
        var bytes = File.ReadAllBytes(file);
        response.ContentLength64 = bytes.Length;
        response.OutputStream.Write(bytes);
    }

    private static int FreeTcpPort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser != null)
            await _browser.CloseAsync();
        _playwright?.Dispose();
        _listener.Close();
        try
        {
            await _serving.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            Debug.WriteLine("The test page server did not stop in time.");
        }
    }
}
