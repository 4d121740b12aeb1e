using Microsoft.Extensions.Logging;
using PjSharp.Interop;
using PjSharp.Services;

namespace PjSharp.Interception;

/// <summary>
/// Message interception: one pjsip module just above the transport layer (below transactions)
/// that runs the registered stages in order on every incoming request. Stages are data: added
/// and removed at run time, copied on write, so the worker threads read them without a lock.
/// The endpoint a request was identified as is left in pjsip's per-module slot of the received
/// data, where the services after it find it (<see cref="GetEndpoint"/>).
/// </summary>
public sealed unsafe class InterceptionPipeline : SipService
{
    private readonly SipEndpoint _endpoint;
    private readonly Lock _gate = new();
    private volatile InterceptionStage[] _stages = [];
    private volatile SecurityDirectory _directory;
    private volatile SecurityDirectory _previous;

    public InterceptionPipeline(SipEndpoint endpoint, SecurityDirectory directory)
        : base("pjsharp-interception", SipServicePriority.Interception)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(directory);
        _endpoint = endpoint;
        _directory = directory;
        _previous = directory;
    }

    /// <summary>The configuration snapshot the stages use; replace it after a reload.</summary>
    public SecurityDirectory Directory
    {
        get => _directory;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            lock (_gate)
            {
                // Requests identified just before the swap still resolve against the one before.
                _previous = _directory;
                _directory = value;
            }
        }
    }

    public IReadOnlyList<InterceptionStage> Stages => _stages;

    public void Add(InterceptionStage stage)
    {
        ArgumentNullException.ThrowIfNull(stage);
        lock (_gate)
        {
            if (_stages.Contains(stage))
                throw new InvalidOperationException($"Stage '{stage.Name}' is already in the pipeline.");
            // Stable: stages with equal order keep the order they were added in.
            _stages = [.. _stages.Append(stage).OrderBy(s => s.Order)];
        }
    }

    public bool Remove(InterceptionStage stage)
    {
        lock (_gate)
        {
            if (!_stages.Contains(stage))
                return false;
            _stages = [.. _stages.Where(s => !ReferenceEquals(s, stage))];
            return true;
        }
    }

    public override bool OnRequest(SipRequest request)
    {
        var context = new InterceptionContext(_endpoint, request, _directory);
        foreach (var stage in _stages)
        {
            if (stage.OnRequest(ref context) == InterceptionVerdict.Stop)
                return true;
        }
        if (context.Endpoint is { } identified && ModuleId >= 0)
            request.Native->endpt_info.mod_data[ModuleId] = Token(context.Directory, identified, context.Authenticated);
        return false;
    }

    /// <summary>
    /// The endpoint interception identified <paramref name="request"/> as (null when no stage did),
    /// and whether it authenticated. Call it from a service's callback, before the request is cloned.
    /// </summary>
    public EndpointIdentity? GetEndpoint(SipRequest request, out bool authenticated)
    {
        authenticated = false;
        if (ModuleId < 0)
            return null;
        var token = (long)request.Native->endpt_info.mod_data[ModuleId];
        if (token == 0)
            return null;
        var generation = (int)(token >> 32);
        var index = (int)(token & 0x7fffffff) - 1;
        authenticated = (token & 0x80000000) != 0;
        foreach (var directory in (ReadOnlySpan<SecurityDirectory>)[_directory, _previous])
        {
            if (directory.Generation == generation && (uint)index < (uint)directory.ByIndex.Length)
                return directory.ByIndex[index];
        }
        return null;
    }

    // Generation in the high half, so a token never resolves against another snapshot.
    private static nint Token(SecurityDirectory directory, EndpointIdentity endpoint, bool authenticated) =>
        (nint)(((long)directory.Generation << 32) | (authenticated ? 0x80000000L : 0) | (uint)(endpoint.Index + 1));
}
