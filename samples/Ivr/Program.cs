// An IVR: calls to sip:ivr@... hear a menu and choose with the keypad (RFC 4733 telephone-events
// or SIP INFO, whichever the phone sends). 1 plays the menu again, 2 hangs up.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PjSharp.Hosting;
using Samples.Ivr;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddSingleton<Menu>();
builder.Services.AddPjSharp(options =>
    {
        options.ConfigFile ??= Path.Combine(AppContext.BaseDirectory, "pjsip.conf");
        // Only the IVR answers: no echo or playback test numbers, no calls between phones.
        options.Sessions.EchoTarget = "";
        options.Sessions.PlaybackTarget = "";
        options.Sessions.Bridge = false;
    })
    // The menu comes from dependency injection, so it gets its logger like any .NET service.
    .MapInvite("ivr", services => services.GetRequiredService<Menu>().RunAsync);
await builder.Build().RunAsync();
