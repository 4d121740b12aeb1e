using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using PjSharp.Interop;

namespace PjSharp.Services;

/// <summary>How a request sent through a client transaction ended.</summary>
/// <param name="StatusCode">The final status: the peer's, or 408 (no answer in time) or 503 (transport failure) made up locally.</param>
/// <param name="Answered">Whether the status came from the peer: a final response was received.</param>
/// <param name="RoundTrip">From sending to the final response (or to giving up).</param>
public readonly record struct RequestOutcome(int StatusCode, bool Answered, TimeSpan RoundTrip)
{
    /// <summary>The peer answered 2xx.</summary>
    public bool IsSuccess => Answered && StatusCode is >= 200 and < 300;
}

/// <summary>
/// Sends out-of-dialog requests (OPTIONS for qualify, MESSAGE) through client transactions it owns,
/// with a deadline of its own: pjsip's <c>pjsip_endpt_send_request</c> ignores its timeout, so a silent
/// peer would hold the transaction for Timer F (32 s). At the deadline the transaction is terminated
/// with 408. The transaction callback only completes a task; whoever awaits it runs on the thread pool.
/// </summary>
internal sealed class RequestSender : SipService, IDisposable
{
    private readonly SipEndpoint _endpoint;
    private readonly ConcurrentDictionary<Pending, Task> _pending = new();
    private volatile bool _disposed;

    /// <param name="endpoint">The endpoint that sends.</param>
    /// <param name="name">The service's name (unique per endpoint), e.g. <c>pjsharp-qualify-requests</c>.</param>
    public RequestSender(SipEndpoint endpoint, string name)
        : base(name, SipServicePriority.Application)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        _endpoint = endpoint;
    }

    internal override bool HandlesTransactionStates => true;

    /// <summary>Requests waiting for their final response.</summary>
    public int PendingCount => _pending.Count;

    /// <summary>
    /// A new out-of-dialog request (fresh Call-ID, CSeq and From tag); the caller owns the result and
    /// passes it to <see cref="Send"/>. Call from a managed thread.
    /// </summary>
    public unsafe pjsip_tx_data* CreateRequest(string method, string target, string from, string to)
    {
        PjThread.EnsureRegistered();
        var methodBytes = Encoding.UTF8.GetBytes(method);
        var targetBytes = Encoding.UTF8.GetBytes(target);
        var fromBytes = Encoding.UTF8.GetBytes(from);
        var toBytes = Encoding.UTF8.GetBytes(to);
        fixed (byte* m = methodBytes)
        fixed (byte* t = targetBytes)
        fixed (byte* f = fromBytes)
        fixed (byte* o = toBytes)
        {
            var methodText = PjStr.FromPointer(m, methodBytes.Length);
            var targetText = PjStr.FromPointer(t, targetBytes.Length);
            var fromText = PjStr.FromPointer(f, fromBytes.Length);
            var toText = PjStr.FromPointer(o, toBytes.Length);
            pjsip_method pjMethod;
            PjsipSipMsg.pjsip_method_init_np(&pjMethod, &methodText);
            pjsip_tx_data* tdata;
            // pjsip copies the strings into the request's pool before parsing them.
            ThrowHelper.ThrowIfFailed(
                PjsipSipUtil.pjsip_endpt_create_request(_endpoint.Native, &pjMethod, &targetText, &fromText, &toText, null, null, -1, null, &tdata),
                $"creating {method} to {target}");
            return tdata;
        }
    }

    /// <summary>Appends <c>name: value</c> to a request made by <see cref="CreateRequest"/>.</summary>
    public static unsafe void AddHeader(pjsip_tx_data* tdata, string name, string value) =>
        Messages.StatelessResponse.AddHeader(tdata, Encoding.UTF8.GetBytes(name), Encoding.UTF8.GetBytes(value));

    /// <summary>
    /// Sends <paramref name="tdata"/> (its reference passes to this call, even when it throws) through a
    /// new client transaction; the task completes with the final response, or 408 after <paramref name="timeout"/>.
    /// </summary>
    public unsafe Task<RequestOutcome> Send(pjsip_tx_data* tdata, TimeSpan timeout)
    {
        PjThread.EnsureRegistered();
        if (_disposed || ModuleId < 0)
        {
            _ = PjsipSipTransport.pjsip_tx_data_dec_ref(tdata);
            throw new ObjectDisposedException(nameof(RequestSender));
        }
        pjsip_transaction* tsx;
        var status = PjsipSipTransaction.pjsip_tsx_create_uac(NativeModule, tdata, &tsx);
        if (status != ThrowHelper.Success)
        {
            _ = PjsipSipTransport.pjsip_tx_data_dec_ref(tdata);
            ThrowHelper.Throw(status, "pjsip_tsx_create_uac");
        }
        // Our reference keeps the transaction's memory valid until the deadline timer is gone.
        _ = PjLock.pj_grp_lock_add_ref(tsx->grp_lock);
        var pending = new Pending((nint)tsx);
        tsx->mod_data[ModuleId] = GCHandle.ToIntPtr(GCHandle.Alloc(pending));
        pending.Started = Stopwatch.GetTimestamp();
        status = PjsipSipTransaction.pjsip_tsx_send_msg(tsx, null);
        if (status != ThrowHelper.Success)
        {
            // As pjsip_endpt_send_request does: the request is ours again; ending the transaction completes it with 503.
            _ = PjsipSipTransport.pjsip_tx_data_dec_ref(tdata);
            _ = PjsipSipTransaction.pjsip_tsx_terminate(tsx, tsx->status_code >= 200 ? tsx->status_code : 503);
        }
        pending.Timer = new Timer(static state => ((Pending)state!).Expire(), pending, timeout, Timeout.InfiniteTimeSpan);
        var finished = FinishAsync(pending);
        _pending[pending] = finished;
        return finished;
    }

    private async Task<RequestOutcome> FinishAsync(Pending pending)
    {
        try
        {
            return await pending.Completion.Task.ConfigureAwait(false);
        }
        finally
        {
            // The timer's callback may be terminating the transaction: wait for it before letting go.
            await pending.Timer!.DisposeAsync().ConfigureAwait(false);
            Release(pending.Transaction);
            _pending.TryRemove(pending, out _);
        }
    }

    private static unsafe void Release(nint transaction)
    {
        PjThread.EnsureRegistered();
        _ = PjLock.pj_grp_lock_dec_ref(((pjsip_transaction*)transaction)->grp_lock);
    }

    internal override unsafe void OnTransactionState(pjsip_transaction* transaction, pjsip_event* e)
    {
        var slot = ModuleId;
        if (slot < 0 || transaction->role != pjsip_role_e.PJSIP_ROLE_UAC || transaction->mod_data[slot] == 0)
            return;
        if (transaction->status_code < 200 || transaction->state < pjsip_tsx_state_e.PJSIP_TSX_STATE_COMPLETED)
            return;
        var handle = GCHandle.FromIntPtr(transaction->mod_data[slot]);
        transaction->mod_data[slot] = 0;
        var pending = (Pending)handle.Target!;
        handle.Free();
        var answered = e != null && e->type == pjsip_event_id_e.PJSIP_EVENT_TSX_STATE
            && e->body.tsx_state.type == pjsip_event_id_e.PJSIP_EVENT_RX_MSG;
        pending.Completion.TrySetResult(new RequestOutcome(transaction->status_code, answered, Stopwatch.GetElapsedTime(pending.Started)));
    }

    /// <summary>Ends every pending request (408) and waits until each has let go of its transaction.</summary>
    public void Dispose()
    {
        _disposed = true;
        foreach (var pending in _pending.Keys)
            pending.Expire();
        Task.WaitAll([.. _pending.Values], TimeSpan.FromSeconds(5));
        _endpoint.UnregisterService(this);
    }

    private sealed class Pending(nint transaction)
    {
        public TaskCompletionSource<RequestOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public nint Transaction { get; } = transaction;

        public long Started { get; set; }

        public Timer? Timer { get; set; }

        /// <summary>The deadline: ends the transaction, which completes the request with 408 through its callback.</summary>
        public unsafe void Expire()
        {
            if (Completion.Task.IsCompleted)
                return;
            try
            {
                PjThread.EnsureRegistered();
                _ = PjsipSipTransaction.pjsip_tsx_terminate((pjsip_transaction*)Transaction, 408);
            }
#pragma warning disable CA1031 // A timer callback: nothing may escape; the request still completes below.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
            Completion.TrySetResult(new RequestOutcome(408, false, Stopwatch.GetElapsedTime(Started)));
        }
    }
}
