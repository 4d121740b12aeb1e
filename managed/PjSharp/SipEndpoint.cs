using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PjSharp.Diagnostics;
using PjSharp.Interception;
using PjSharp.Interop;
using PjSharp.Services;
using PjSharp.Transports;

namespace PjSharp;

/// <summary>
/// The pjsip endpoint: pjlib, the pool factory, the SIP endpoint with its transaction and
/// dialog layers, transports, services, and the worker threads that poll it. pjsip keeps
/// process-wide state, so one endpoint exists per process at a time.
/// </summary>
public sealed unsafe class SipEndpoint : IDisposable, IAsyncDisposable
{
    private static int s_instances;

    private readonly SipEndpointOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly List<ServiceRegistration> _services = [];
    private readonly List<Action> _beforeDestroy = [];
    private readonly List<SipTransportInfo> _transports = [];
    private readonly Lock _gate = new();
    private readonly MalformedRequestResponder? _malformed;
    private pj_caching_pool* _cachingPool;
    private pjsip_endpoint* _endpoint;
    private Thread[] _workers = [];
    // One slot per worker, a cache line apart, so workers never write the same line.
    private long[] _workerAllocations = [];
    private long _stoppedWorkerAllocations;
    private const int AllocationSlotStride = 8;
    private volatile bool _stopping;
    private int _capabilityVersion;
    private volatile string[] _allowedMethods = [];
    private int _disposed;

    private SipEndpoint(SipEndpointOptions options, ILoggerFactory loggerFactory)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        Logs = loggerFactory.CreateLogger("PjSharp.SipEndpoint");
        NativeLog.Attach(loggerFactory.CreateLogger("PjSharp.Native"), options.NativeLogLevel);
        PjLibrary.EnsureInitialized();

        _cachingPool = (pj_caching_pool*)NativeMemory.AllocZeroed((nuint)sizeof(pj_caching_pool));
        PjPool.pj_caching_pool_init(_cachingPool, PjPool.pj_pool_factory_get_default_policy(), (nuint)Math.Max(0, options.PoolCacheBytes));
        var name = PjStr.NulTerminated(options.Name);
        pjsip_endpoint* endpoint;
        int status;
        fixed (byte* namePointer = name)
            status = PjsipSipEndpoint.pjsip_endpt_create(&_cachingPool->factory, namePointer, &endpoint);
        if (status != ThrowHelper.Success)
        {
            DestroyPool();
            ThrowHelper.Throw(status, "pjsip_endpt_create");
        }
        _endpoint = endpoint;
        ThrowHelper.ThrowIfFailed(PjsipSipTransaction.pjsip_tsx_layer_init_module(endpoint), "pjsip_tsx_layer_init_module");
        ThrowHelper.ThrowIfFailed(PjsipSipUaLayer.pjsip_ua_init_module(endpoint, null), "pjsip_ua_init_module");

        BuildReport = PjprojectBuildCheck.Inspect(endpoint);
        BuildReport.Log(Logs, options.BuildWarningLevel);
        if (options.AnswerMalformedRequests)
        {
            _malformed = new MalformedRequestResponder(this, loggerFactory.CreateLogger("PjSharp.Interception.Malformed"));
            RegisterService(_malformed.Service);
        }
    }

    /// <summary>Creates the endpoint and starts the transports in <paramref name="options"/>; call <see cref="Start"/> to serve.</summary>
    public static SipEndpoint Create(SipEndpointOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.WorkerThreads < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.WorkerThreads, "WorkerThreads must be at least 1.");
        if (Interlocked.CompareExchange(ref s_instances, 1, 0) != 0)
            throw new InvalidOperationException(
                "A SipEndpoint already exists in this process; pjsip allows one endpoint per process. Dispose it before creating another.");
        SipEndpoint? created = null;
        try
        {
            created = new SipEndpoint(options, loggerFactory ?? NullLoggerFactory.Instance);
            foreach (var transport in options.Transports)
                created.AddTransport(transport);
            return created;
        }
        catch
        {
            if (created != null)
                created.Dispose();
            else
                Interlocked.Exchange(ref s_instances, 0);
            throw;
        }
    }

    /// <summary>The pool factory pjsip's endpoint draws from; pjmedia shares it.</summary>
    internal pj_pool_factory* PoolFactory => _cachingPool != null ? &_cachingPool->factory : throw new ObjectDisposedException(nameof(SipEndpoint));

    internal pjsip_endpoint* Native => _endpoint != null ? _endpoint : throw new ObjectDisposedException(nameof(SipEndpoint));

    internal ILogger Logs { get; }

    /// <summary>pjsip pools currently in use (each dialog, transaction and media stream holds some): a leak shows here.</summary>
    public long PoolsInUse => _cachingPool == null ? 0 : (long)_cachingPool->used_count;

    /// <summary>
    /// Memory of the pjsip pools in use: bytes allocated from them and bytes they reserved from the
    /// system (their capacity). Walks pjsip's list of pools under its lock: a metric, not a hot path.
    /// </summary>
    public (long UsedBytes, long CapacityBytes) PoolMemory
    {
        get
        {
            if (Volatile.Read(ref _disposed) != 0 || _cachingPool == null)
                return (0, 0);
            PjThread.EnsureRegistered();
            long used = 0, capacity = 0;
            var head = (pj_pool_t*)&_cachingPool->used_list;
            if (PjLock.pj_lock_acquire(_cachingPool->@lock) != ThrowHelper.Success)
                return (0, 0);
            try
            {
                for (var pool = head->next; pool != null && pool != head; pool = pool->next)
                {
                    used += (long)PjPool.pj_pool_get_used_size(pool);
                    capacity += (long)PjPool.pj_pool_get_capacity(pool);
                }
            }
            finally
            {
                _ = PjLock.pj_lock_release(_cachingPool->@lock);
            }
            return (used, capacity);
        }
    }

    /// <summary>Transactions in pjsip's transaction table; 0 once the endpoint is disposed.</summary>
    public int TransactionCount
    {
        get
        {
            if (Volatile.Read(ref _disposed) != 0 || _endpoint == null)
                return 0;
            PjThread.EnsureRegistered();
            return (int)PjsipSipTransaction.pjsip_tsx_layer_get_tsx_count();
        }
    }

    internal ILoggerFactory LoggerFactory => _loggerFactory;

    /// <summary>What the linked pjproject is and how it was built.</summary>
    public PjprojectBuildReport BuildReport { get; }

    public IReadOnlyList<SipTransportInfo> Transports
    {
        get { lock (_gate) return _transports.ToArray(); }
    }

    /// <summary>
    /// The methods advertised in Allow: those pjsip's own modules declared, then those of the
    /// registered services, each once, in upper case. Reading it takes no lock, so a service may
    /// read it on a worker thread.
    /// </summary>
    public IReadOnlyList<string> AllowedMethods => _allowedMethods;

    /// <summary>Changes whenever <see cref="AllowedMethods"/> may have changed, so answers can cache it.</summary>
    internal int CapabilityVersion => Volatile.Read(ref _capabilityVersion);

    internal bool IsDestroyed => _endpoint == null;

    /// <summary>Whether pjsip's INVITE usage, 100rel and session-timer modules are set up on this endpoint.</summary>
    internal bool InviteUsageReady { get; set; }

    // Called under _gate whenever services or pjsip's capabilities change.
    private void RefreshCapabilities()
    {
        var methods = new List<string>();
        var allow = (pjsip_generic_array_hdr*)PjsipSipEndpoint.pjsip_endpt_get_capability(Native, (int)pjsip_hdr_e.PJSIP_H_ALLOW, null);
        if (allow != null)
        {
            for (var i = 0; i < (int)allow->count; i++)
                AddMethod(methods, PjStr.ToManagedString(allow->values[i]));
        }
        foreach (var registration in _services)
        {
            foreach (var method in registration.Service.Methods)
                AddMethod(methods, method);
        }
        _allowedMethods = [.. methods];
        Interlocked.Increment(ref _capabilityVersion);
    }

    private static void AddMethod(List<string> methods, string method)
    {
        var upper = method.Trim().ToUpperInvariant();
        if (upper.Length > 0 && !methods.Contains(upper))
            methods.Add(upper);
    }

    public bool IsRunning => _workers.Length > 0 && !_stopping;

    /// <summary>Starts a transport and returns where it listens (with the real port when 0 was asked).</summary>
    public SipTransportInfo AddTransport(SipTransportOptions transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        lock (_gate)
        {
            PjThread.EnsureRegistered();
            var info = TransportStarter.Start(Native, transport, _options.WorkerThreads);
            _transports.Add(info);
            Logs.TransportStarted(info.ToString());
            return info;
        }
    }

    /// <summary>
    /// A memory pool from the endpoint's pool factory, for native objects that live as long as the
    /// handle. Dispose it, or let it be collected: the release then runs on a worker thread.
    /// </summary>
    public PoolHandle CreatePool(string name, int initialSize = 4000, int incrementSize = 4000)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialSize);
        ArgumentOutOfRangeException.ThrowIfNegative(incrementSize);
        PjThread.EnsureRegistered();
        var nameBytes = PjStr.NulTerminated(name);
        pj_pool_t* pool;
        fixed (byte* namePointer = nameBytes)
            pool = PjsipSipEndpoint.pjsip_endpt_create_pool(Native, namePointer, (nuint)initialSize, (nuint)incrementSize);
        if (pool == null)
            throw new PjSipException($"pjsip_endpt_create_pool failed for pool '{name}': out of memory.");
        return new PoolHandle((nint)pool);
    }

    /// <summary>Runs <paramref name="action"/> when the endpoint is disposed, after polling stopped and before pjsip is destroyed.</summary>
    internal void OnDestroying(Action action)
    {
        lock (_gate)
            _beforeDestroy.Add(action);
    }

    /// <summary>Registers a service (a pjsip module); it sees messages from now on.</summary>
    public void RegisterService(SipService service)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_gate)
        {
            PjThread.EnsureRegistered();
            if (_services.Exists(s => ReferenceEquals(s.Service, service) || s.Service.Name == service.Name))
                throw new InvalidOperationException($"A service named '{service.Name}' is already registered.");
            _services.Add(ServiceRegistration.Register(this, service));
            RefreshCapabilities();
        }
        try
        {
            service.OnRegistered(this);
        }
        catch
        {
            UnregisterService(service);
            throw;
        }
    }

    /// <summary>Unregisters a service; false if it was not registered.</summary>
    public bool UnregisterService(SipService service)
    {
        ArgumentNullException.ThrowIfNull(service);
        if (service.ModuleId >= 0)
            service.OnUnregistering(this);
        lock (_gate)
        {
            var index = _services.FindIndex(s => ReferenceEquals(s.Service, service));
            if (index < 0)
                return false;
            PjThread.EnsureRegistered();
            _services[index].Dispose();
            _services.RemoveAt(index);
            RefreshCapabilities();
            return true;
        }
    }

    /// <summary>Starts the worker threads that poll pjsip.</summary>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_endpoint == null, this);
            if (_workers.Length > 0)
                throw new InvalidOperationException("The endpoint is already started.");
            _stopping = false;
            var workers = new Thread[_options.WorkerThreads];
            _workerAllocations = new long[workers.Length * AllocationSlotStride];
            for (var i = 0; i < workers.Length; i++)
            {
                var name = $"pjsip-worker-{i}";
                var slot = i * AllocationSlotStride;
                workers[i] = new Thread(() => Poll(name, slot)) { IsBackground = true, Name = name };
                workers[i].Start();
            }
            _workers = workers;
            Logs.EndpointStarted(workers.Length);
        }
    }

    /// <summary>Stops polling; transactions in flight are ended when the endpoint is disposed.</summary>
    public void Stop()
    {
        Thread[] workers;
        lock (_gate)
        {
            workers = _workers;
            _stopping = true;
        }
        foreach (var worker in workers)
            worker.Join();
        lock (_gate)
        {
            _stoppedWorkerAllocations = WorkerAllocatedBytes;
            _workers = [];
            _workerAllocations = [];
        }
    }

    /// <summary>
    /// Bytes the worker threads have allocated on the managed heap since the endpoint was created
    /// (updated after each poll). Services that keep it flat keep the garbage collector off the
    /// SIP path.
    /// </summary>
    public long WorkerAllocatedBytes
    {
        get
        {
            var slots = _workerAllocations;
            var total = _stoppedWorkerAllocations;
            for (var i = 0; i < slots.Length; i += AllocationSlotStride)
                total += Volatile.Read(ref slots[i]);
            return total;
        }
    }

    private void Poll(string name, int slot)
    {
        var allocations = _workerAllocations;
        try
        {
            PjThread.EnsureRegistered(name);
            var timeout = new pj_time_val { sec = 0, msec = 10 };
            var initial = GC.GetAllocatedBytesForCurrentThread();
            while (!_stopping)
            {
                uint events;
                _ = PjsipSipEndpoint.pjsip_endpt_handle_events2(_endpoint, &timeout, &events);
                if (!PjReleaseQueue.IsEmpty)
                    PjReleaseQueue.Drain();
                Volatile.Write(ref allocations[slot], GC.GetAllocatedBytesForCurrentThread() - initial);
            }
        }
#pragma warning disable CA1031 // A worker must not take the process down; the failure is logged.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Logs.WorkerFailed(exception, name);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Stop();
        lock (_gate)
        {
            PjThread.EnsureRegistered();
            foreach (var action in _beforeDestroy)
            {
                try
                {
                    action();
                }
#pragma warning disable CA1031 // One service's failure must not keep pjsip from shutting down.
                catch (Exception exception)
#pragma warning restore CA1031
                {
                    Logs.ServiceFailed(exception, "shutdown");
                }
            }
            _beforeDestroy.Clear();
            PjReleaseQueue.Drain();
            foreach (var service in _services)
                service.Dispose();
            _services.Clear();
            if (_endpoint != null)
            {
                _malformed?.Detach();
                PjsipSipEndpoint.pjsip_endpt_destroy(_endpoint);
                _endpoint = null;
            }
            PjReleaseQueue.Discard();
            DestroyPool();
            _transports.Clear();
        }
        Logs.EndpointStopped(WorkerAllocatedBytes);
        Interlocked.Exchange(ref s_instances, 0);
    }

    public ValueTask DisposeAsync()
    {
        // Joining workers and destroying pjsip can take a poll interval; keep it off the caller's context.
        return new ValueTask(Task.Run(Dispose));
    }

    private void DestroyPool()
    {
        if (_cachingPool == null)
            return;
        PjPool.pj_caching_pool_destroy(_cachingPool);
        NativeMemory.Free(_cachingPool);
        _cachingPool = null;
    }
}
