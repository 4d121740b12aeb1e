// A registrar with digest authentication. The phones, their passwords and their AORs come from
// pjsip.conf, in Asterisk's syntax; the bindings they register are kept in a SQLite file.
using Microsoft.Extensions.Hosting;
using PjSharp.Hosting;
using Samples.Registrar;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddPjSharp(options =>
    {
        // The command line or appsettings.json may name other files (--PjSharp:ConfigFile=...).
        options.ConfigFile ??= Path.Combine(AppContext.BaseDirectory, "pjsip.conf");
        // Nothing but REGISTER: no calls, no MESSAGE relay.
        options.Sessions.Enabled = false;
        options.Messaging = false;
    })
    .AddComponent<RegistrationLog>();
await builder.Build().RunAsync();
