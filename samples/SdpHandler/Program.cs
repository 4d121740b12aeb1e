// An SDP handler of our own: real-time text (RFC 4103, T.140) beside the audio. A call to
// sip:echo@... that offers an m=text stream gets it accepted, and what the caller types is
// logged; the audio is the built-in echo.
using Microsoft.Extensions.Hosting;
using PjSharp.Hosting;
using Samples.Sdp;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddPjSharp(options =>
    {
        options.ConfigFile ??= Path.Combine(AppContext.BaseDirectory, "pjsip.conf");
        options.Sessions.Bridge = false;
    })
    // One handler per media type: "text" has none built in, so offered text was declined (port 0) until now.
    .AddSdpHandler<RealTimeTextHandler>();
await builder.Build().RunAsync();
