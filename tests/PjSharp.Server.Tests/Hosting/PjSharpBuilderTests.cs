using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PjSharp.Hosting;
using PjSharp.Media;
using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Hosting;

/// <summary>What PjSharpBuilder registers, read back from the container without starting the server (the samples run it).</summary>
public sealed class PjSharpBuilderTests
{
    private sealed class TextHandler : SdpHandler
    {
        public override string MediaType => "text";

        public override SdpMediaDescription? CreateOffer(SipSession session, SdpDirection direction) => null;

        public override void Apply(SipSession session, SdpMediaDescription local, SdpMediaDescription remote)
        {
        }
    }

    private sealed class Greeter
    {
        public int Calls;

        public Task RunAsync(SipSession session, CancellationToken ended)
        {
            Interlocked.Increment(ref Calls);
            return Task.CompletedTask;
        }
    }

    [Test]
    public void AddSdpHandler_registers_handlers_for_the_sessions_component_made_by_the_container_or_given()
    {
        var given = new TextHandler();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddPjSharp().AddSdpHandler<TextHandler>().AddSdpHandler(given);
        using var host = builder.Build();

        var handlers = host.Services.GetServices<SdpHandler>().ToList();

        Assert.That(handlers, Has.Count.EqualTo(2));
        Assert.That(handlers[0], Is.InstanceOf<TextHandler>().And.Not.SameAs(given));
        Assert.That(handlers[1], Is.SameAs(given));
        Assert.That(host.Services.GetRequiredService<SessionsComponent>(), Is.Not.Null, "the component takes them");
    }

    [Test]
    public async Task MapInvite_with_a_factory_makes_the_handler_from_the_applications_services()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<Greeter>();
        builder.Services.AddPjSharp().MapInvite("hello", services => services.GetRequiredService<Greeter>().RunAsync);
        using var host = builder.Build();

        var route = host.Services.GetServices<SessionRoute>().Single();
        await route.Handler(null!, CancellationToken.None);

        Assert.That(route.Target, Is.EqualTo("hello"));
        Assert.That(host.Services.GetRequiredService<Greeter>().Calls, Is.EqualTo(1), "the route calls the container's Greeter");
    }
}
