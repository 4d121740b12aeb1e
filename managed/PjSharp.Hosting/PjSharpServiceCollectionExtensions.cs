using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using PjSharp.Interception;

namespace PjSharp.Hosting;

public static class PjSharpServiceCollectionExtensions
{
    /// <summary>
    /// Adds a PjSharp server as a hosted service: options from the <c>PjSharp</c> configuration
    /// section (then <paramref name="configure"/>), validated when the host starts.
    /// </summary>
    public static PjSharpBuilder AddPjSharp(this IServiceCollection services, Action<PjSharpOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<PjSharpOptions>()
            .BindConfiguration(PjSharpOptions.SectionName)
            .ValidateOnStart();
        if (configure != null)
            services.Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PjSharpOptions>, PjSharpOptionsValidator>());
        services.AddMetrics();
        services.TryAddSingleton<PjSharpServer>();
        services.TryAddSingleton<RegistrarComponent>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPjSharpComponent, RegistrarComponent>(p => p.GetRequiredService<RegistrarComponent>()));
        services.TryAddSingleton<QualifyComponent>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPjSharpComponent, QualifyComponent>(p => p.GetRequiredService<QualifyComponent>()));
        services.TryAddSingleton<MessagingComponent>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPjSharpComponent, MessagingComponent>(p => p.GetRequiredService<MessagingComponent>()));
        services.TryAddSingleton<SessionsComponent>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPjSharpComponent, SessionsComponent>(p => p.GetRequiredService<SessionsComponent>()));
        services.TryAddSingleton<OutboundRegistrationComponent>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPjSharpComponent, OutboundRegistrationComponent>(p => p.GetRequiredService<OutboundRegistrationComponent>()));
        services.TryAddSingleton<WebSocket.WebSocketComponent>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPjSharpComponent, WebSocket.WebSocketComponent>(p => p.GetRequiredService<WebSocket.WebSocketComponent>()));
        services.AddHostedService(provider => provider.GetRequiredService<PjSharpServer>());
        return new PjSharpBuilder(services);
    }
}

/// <summary>Adds interception stages and server components to <c>AddPjSharp</c>.</summary>
public sealed class PjSharpBuilder(IServiceCollection services)
{
    public IServiceCollection Services { get; } = services;

    /// <summary>A user interception stage; it runs at its <see cref="InterceptionStage.Order"/>.</summary>
    public PjSharpBuilder AddStage<TStage>() where TStage : InterceptionStage
    {
        Services.AddSingleton<InterceptionStage, TStage>();
        return this;
    }

    public PjSharpBuilder AddStage(InterceptionStage stage)
    {
        Services.AddSingleton(stage);
        return this;
    }

    /// <summary>
    /// Where the server's objects come from, instead of the configuration file and the SQLite
    /// database of <see cref="PjSharpOptions"/>: any chain of backends (PostgreSQL for several
    /// nodes, appsettings.json, your own). The server disposes the store when it stops.
    /// </summary>
    public PjSharpBuilder UseObjectStore(Func<IServiceProvider, CancellationToken, Task<DataAccess.ObjectStore>> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.AddSingleton(new ObjectStoreFactory(factory));
        return this;
    }

    /// <summary>
    /// Incoming calls whose request URI's user part is <paramref name="target"/> go to
    /// <paramref name="handler"/> (runs off pjsip's threads; an exception ends that call with 500, or BYE once answered).
    /// </summary>
    public PjSharpBuilder MapInvite(string target, Sessions.SessionHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(handler);
        Services.AddSingleton(new SessionRoute(target, handler));
        return this;
    }

    /// <summary>
    /// Like <see cref="MapInvite(string, Sessions.SessionHandler)"/>, with the handler made from the application's
    /// services when the server starts: an application class that takes a logger or options from dependency injection.
    /// </summary>
    public PjSharpBuilder MapInvite(string target, Func<IServiceProvider, Sessions.SessionHandler> handlerFactory)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(handlerFactory);
        Services.AddSingleton(provider => new SessionRoute(target, handlerFactory(provider)));
        return this;
    }

    /// <summary>
    /// An SDP handler for every call, made by dependency injection; it replaces the built-in one of its media type
    /// (<see cref="Sessions.SessionService.SetSdpHandler"/>) before the first call arrives.
    /// </summary>
    public PjSharpBuilder AddSdpHandler<THandler>() where THandler : Media.SdpHandler
    {
        Services.AddSingleton<Media.SdpHandler, THandler>();
        return this;
    }

    /// <summary>This SDP handler for every call, as <see cref="AddSdpHandler{THandler}"/> does.</summary>
    public PjSharpBuilder AddSdpHandler(Media.SdpHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Services.AddSingleton(handler);
        return this;
    }

    /// <summary>A component started with the server, after interception.</summary>
    public PjSharpBuilder AddComponent<TComponent>() where TComponent : class, IPjSharpComponent
    {
        Services.AddSingleton<IPjSharpComponent, TComponent>();
        return this;
    }

    /// <summary>
    /// The local admin endpoint (<see cref="PjSharpOptions.Admin"/>): a Unix domain socket for
    /// <c>pjsharp show --server</c> and <c>pjsharp trace</c>. Add it last, so it closes first at shutdown.
    /// </summary>
    public PjSharpBuilder AddAdminEndpoint()
    {
        Services.TryAddSingleton<Admin.AdminComponent>();
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IPjSharpComponent, Admin.AdminComponent>(p => p.GetRequiredService<Admin.AdminComponent>()));
        return this;
    }
}

/// <summary>The store <see cref="PjSharpBuilder.UseObjectStore"/> registered.</summary>
internal sealed class ObjectStoreFactory(Func<IServiceProvider, CancellationToken, Task<DataAccess.ObjectStore>> create)
{
    public Task<DataAccess.ObjectStore> CreateAsync(IServiceProvider services, CancellationToken cancellationToken) => create(services, cancellationToken);
}
