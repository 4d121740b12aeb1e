// A stage of our own in message interception: calls from numbers with a blocked prefix
// (appsettings.json, "Blocking") get 403 before any application sees them. Other calls to
// sip:echo@... reach the built-in echo.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PjSharp.Hosting;
using Samples.Interception;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.Configure<BlockingOptions>(builder.Configuration.GetSection(BlockingOptions.SectionName));
builder.Services.AddPjSharp(options => options.ConfigFile ??= Path.Combine(AppContext.BaseDirectory, "pjsip.conf"))
    // Made by dependency injection, so the stage gets its options and its logger.
    .AddStage<BlockedCallerStage>();
await builder.Build().RunAsync();
