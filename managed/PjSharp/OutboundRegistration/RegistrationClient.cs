using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using PjSharp.DataAccess;
using PjSharp.Interop;

namespace PjSharp.OutboundRegistration;

/// <summary>A final answer to one REGISTER: pjsip has already answered the first digest challenge.</summary>
internal readonly record struct RegisterAnswer(int StatusCode, int Status, uint Expiration, uint RetryAfter, string Reason);

/// <summary>
/// One outbound registration: pjsip's registration client (Call-ID, CSeq, digest answers, 423
/// handling) without its own refresh timer, and a managed loop that sends each REGISTER, reads the
/// answer and schedules the next one. The loop is the only writer of the status, so answers,
/// retries and refreshes of one registration run in order.
/// </summary>
internal sealed class RegistrationClient : IDisposable
{
    private readonly OutboundRegistrationService _service;
    private readonly CancellationTokenSource _stop = new();
    private GCHandle _self;
    private nint _regc;
    private TaskCompletionSource<RegisterAnswer>? _pending;
    private Task _loop = Task.CompletedTask;
    private RegistrationStatus _status;
    private bool _sent;

    public RegistrationClient(OutboundRegistrationService service, Registration registration)
    {
        _service = service;
        Registration = registration;
        _status = new RegistrationStatus(registration.Id);
    }

    public Registration Registration { get; }

    /// <summary>The auth objects the client answers challenges with, as they were when it started.</summary>
    public IReadOnlyList<Auth> Credentials { get; private set; } = [];

    public RegistrationStatus Status => Volatile.Read(ref _status);

    /// <summary>Creates pjsip's registration client; on a thread registered with pjsip.</summary>
    public unsafe void Create(SipEndpoint endpoint, string contact, IReadOnlyList<Auth> credentials, string userAgent)
    {
        PjThread.EnsureRegistered();
        Credentials = credentials;
        _self = GCHandle.Alloc(this);
        pjsip_regc* regc;
        ThrowHelper.ThrowIfFailed(
            PjsipUaSipRegc.pjsip_regc_create(endpoint.Native, (void*)GCHandle.ToIntPtr(_self), &OnAnswer, &regc),
            "pjsip_regc_create");
        _regc = (nint)regc;
        var pool = PjsipUaSipRegc.pjsip_regc_get_pool(regc);
        var server = PjStr.FromPool(pool, Registration.ServerUri);
        var client = PjStr.FromPool(pool, Registration.ClientUri);
        var contactText = PjStr.FromPool(pool, contact);
        ThrowHelper.ThrowIfFailed(
            PjsipUaSipRegc.pjsip_regc_init(regc, &server, &client, &client, 1, &contactText, Math.Max(1, Registration.Expiration)),
            $"pjsip_regc_init for registration '{Registration.Id}'");
        if (credentials.Count > 0)
        {
            var info = (pjsip_cred_info*)PjPool.pj_pool_calloc(pool, (nuint)credentials.Count, (nuint)sizeof(pjsip_cred_info));
            for (var i = 0; i < credentials.Count; i++)
            {
                var auth = credentials[i];
                info[i].realm = PjStr.FromPool(pool, auth.Realm.Length > 0 ? auth.Realm : "*");
                info[i].scheme = PjStr.FromPool(pool, "digest");
                info[i].username = PjStr.FromPool(pool, auth.Username);
                var digest = auth.AuthType == AuthType.Md5;
                info[i].data_type = (int)(digest ? pjsip_cred_data_type.PJSIP_CRED_DATA_DIGEST : pjsip_cred_data_type.PJSIP_CRED_DATA_PLAIN_PASSWD);
                info[i].data = PjStr.FromPool(pool, digest ? auth.Md5Cred : auth.Password);
            }
            ThrowHelper.ThrowIfFailed(PjsipUaSipRegc.pjsip_regc_set_credentials(regc, credentials.Count, info), "pjsip_regc_set_credentials");
        }
        if (Registration.OutboundProxy.Length > 0)
            SetRouteSet(regc, pool, Registration.OutboundProxy);
        if (userAgent.Length > 0)
            AddHeader(regc, pool, "User-Agent", userAgent);
        if (Registration.SupportPath)
            AddHeader(regc, pool, "Supported", "path");
    }

    private static unsafe void SetRouteSet(pjsip_regc* regc, pj_pool_t* pool, string proxy)
    {
        var name = PjStr.FromPool(pool, "Route");
        var value = PjStr.FromPool(pool, proxy.Contains('<', StringComparison.Ordinal) ? proxy : $"<{proxy};lr>");
        var parsed = (pjsip_hdr*)PjsipSipParser.pjsip_parse_hdr(pool, &name, value.ptr, (nuint)value.slen, null);
        if (parsed == null)
            throw new ArgumentException($"outbound_proxy '{proxy}' is not a valid Route value");
        // The parser returns a ring of headers without a list head; pjsip copies the set from a head.
        var head = (pjsip_hdr*)PjPool.pj_pool_calloc(pool, 1, (nuint)sizeof(pjsip_routing_hdr));
        var last = parsed->prev;
        head->next = parsed;
        head->prev = last;
        parsed->prev = head;
        last->next = head;
        ThrowHelper.ThrowIfFailed(PjsipUaSipRegc.pjsip_regc_set_route_set(regc, (pjsip_routing_hdr*)head), "pjsip_regc_set_route_set");
    }

    private static unsafe void AddHeader(pjsip_regc* regc, pj_pool_t* pool, string name, string value)
    {
        var nameText = PjStr.FromPool(pool, name);
        var valueText = PjStr.FromPool(pool, value);
        var header = (pjsip_hdr*)PjsipSipMsg.pjsip_generic_string_hdr_create(pool, &nameText, &valueText);
        var head = (pjsip_hdr*)PjPool.pj_pool_calloc(pool, 1, (nuint)sizeof(pjsip_hdr));
        head->next = header;
        head->prev = header;
        header->next = head;
        header->prev = head;
        ThrowHelper.ThrowIfFailed(PjsipUaSipRegc.pjsip_regc_add_headers(regc, head), "pjsip_regc_add_headers");
    }

    public void Start(TimeSpan initialDelay) => _loop = Task.Run(() => RunAsync(initialDelay));

    private async Task RunAsync(TimeSpan delay)
    {
        var token = _stop.Token;
        var time = _service.Time;
        await PublishAsync(Status with { NextAttempt = time.GetUtcNow() + delay }).ConfigureAwait(false);
        while (true)
        {
            try
            {
                await Task.Delay(delay, time, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            // A transaction always ends (pjsip times it out), so the answer is awaited without the stop token.
            var answer = await SendAsync(register: true).ConfigureAwait(false);
            var next = await ApplyAsync(answer).ConfigureAwait(false);
            if (next is not { } wait)
                return;
            delay = wait;
        }
    }

    private async Task<TimeSpan?> ApplyAsync(RegisterAnswer answer)
    {
        var now = _service.Time.GetUtcNow();
        var current = Status;
        var code = (uint)Math.Max(0, answer.StatusCode);
        if (answer.StatusCode is >= 200 and < 300)
        {
            var granted = answer.Expiration == PjConstants.PJSIP_EXPIRES_NOT_SPECIFIED ? Registration.Expiration : answer.Expiration;
            if (granted == 0)
            {
                await PublishAsync(current with { State = RegistrationState.Unregistered, LastStatusCode = code, GrantedExpiration = 0, ExpiresAt = DateTimeOffset.UnixEpoch, NextAttempt = DateTimeOffset.UnixEpoch, Retries = 0 }).ConfigureAwait(false);
                _service.Logger.GrantedNothing(Registration.Id, Registration.ServerUri);
                return null;
            }
            var refresh = RegistrationRetryPolicy.RefreshIn(granted);
            if (current.State != RegistrationState.Registered)
                _service.Logger.Registered(Registration.Id, Registration.ServerUri, granted);
            await PublishAsync(current with
            {
                State = RegistrationState.Registered, LastStatusCode = code, GrantedExpiration = granted,
                ExpiresAt = now.AddSeconds(granted), NextAttempt = now + refresh, Retries = 0,
            }).ConfigureAwait(false);
            return refresh;
        }
        var decision = RegistrationRetryPolicy.AfterFailure(Registration, answer.StatusCode, current.Retries, answer.RetryAfter);
        var expired = current.ExpiresAt <= now;
        await PublishAsync(current with
        {
            State = decision.State, LastStatusCode = code, Retries = decision.Retries,
            GrantedExpiration = expired ? 0 : current.GrantedExpiration, ExpiresAt = expired ? DateTimeOffset.UnixEpoch : current.ExpiresAt,
            NextAttempt = decision.NextAttemptIn is { } wait ? now + wait : DateTimeOffset.UnixEpoch,
        }).ConfigureAwait(false);
        if (decision.NextAttemptIn is { } retry)
            _service.Logger.Retrying(Registration.Id, Registration.ServerUri, answer.StatusCode, answer.Reason, RegistrationRetryPolicy.Classify(answer.StatusCode), retry.TotalSeconds, decision.Retries);
        else
            _service.Logger.Rejected(Registration.Id, Registration.ServerUri, answer.StatusCode, answer.Reason, RegistrationRetryPolicy.Classify(answer.StatusCode), decision.Retries);
        return decision.NextAttemptIn;
    }

    /// <summary>Sends a REGISTER (or the Expires: 0 one) and returns its final answer; never blocks a pjsip thread.</summary>
    private unsafe Task<RegisterAnswer> SendAsync(bool register)
    {
        var answer = new TaskCompletionSource<RegisterAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _pending, answer);
        PjThread.EnsureRegistered();
        pjsip_tx_data* tdata = null;
        var status = register
            ? PjsipUaSipRegc.pjsip_regc_register((pjsip_regc*)_regc, 0, &tdata)
            : PjsipUaSipRegc.pjsip_regc_unregister((pjsip_regc*)_regc, &tdata);
        if (status == ThrowHelper.Success)
        {
            _sent = true;
            status = PjsipUaSipRegc.pjsip_regc_send((pjsip_regc*)_regc, tdata);
        }
        if (status != ThrowHelper.Success)
        {
            // Nothing went out (no route to the registrar, no transport): a temporary failure, as a timeout is.
            var text = ThrowHelper.StatusText(status);
            _service.Logger.SendFailed(Registration.Id, Registration.ServerUri, text);
            answer.TrySetResult(new RegisterAnswer(408, status, PjConstants.PJSIP_EXPIRES_NOT_SPECIFIED, 0, text));
        }
        return answer.Task;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe void OnAnswer(pjsip_regc_cbparam* param)
    {
        RegistrationClient? client = null;
        try
        {
            if (param->token == null || GCHandle.FromIntPtr((nint)param->token).Target is not RegistrationClient target)
                return;
            client = target;
            uint retryAfter = 0;
            if (param->rdata != null && param->rdata->msg_info.msg != null)
            {
                var header = (pjsip_retry_after_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(param->rdata->msg_info.msg, pjsip_hdr_e.PJSIP_H_RETRY_AFTER, null);
                if (header != null && header->ivalue > 0)
                    retryAfter = (uint)header->ivalue;
            }
            var reason = PjStr.ToManagedString(param->reason);
            // The last use of the handle: the loop may destroy the client as soon as this completes.
            Volatile.Read(ref client._pending)?.TrySetResult(new RegisterAnswer(param->code, param->status, param->expiration, retryAfter, reason));
        }
#pragma warning disable CA1031 // Nothing may unwind into pjsip.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            // The loop must not wait forever: the answer counts as none at all (a temporary failure).
            if (client != null)
            {
                client._service.Logger.CallbackFailed(exception, client.Registration.Id);
                Volatile.Read(ref client._pending)?.TrySetResult(new RegisterAnswer(0, 0, PjConstants.PJSIP_EXPIRES_NOT_SPECIFIED, 0, exception.Message));
            }
        }
    }

    private async Task PublishAsync(RegistrationStatus status)
    {
        var stamped = status with { UpdatedAt = _service.Time.GetUtcNow() };
        Volatile.Write(ref _status, stamped);
        await _service.PublishAsync(stamped).ConfigureAwait(false);
    }

    /// <summary>Stops the loop, removes the binding when there may be one (Expires: 0), and frees pjsip's client.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        var deadline = _service.Time.GetUtcNow() + timeout;
        await _stop.CancelAsync().ConfigureAwait(false);
        var idle = await WaitAsync(_loop, timeout).ConfigureAwait(false);
        var state = Status.State;
        if (idle && _regc != 0 && _sent && state is RegistrationState.Registered or RegistrationState.Retrying)
        {
            var pending = SendAsync(register: false);
            var remaining = deadline - _service.Time.GetUtcNow();
            idle = await WaitAsync(pending, remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero).ConfigureAwait(false);
            var code = idle ? pending.Result.StatusCode : 0;
            var removed = code is >= 200 and < 300;
            if (idle)
                _service.Logger.Unregistered(Registration.Id, Registration.ServerUri, code);
            await PublishAsync(Status with
            {
                State = removed ? RegistrationState.Unregistered : RegistrationState.Stopped,
                LastStatusCode = idle ? (uint)Math.Max(0, code) : Status.LastStatusCode,
                GrantedExpiration = 0, ExpiresAt = DateTimeOffset.UnixEpoch, NextAttempt = DateTimeOffset.UnixEpoch,
            }).ConfigureAwait(false);
        }
        else if (state != RegistrationState.Rejected)
        {
            await PublishAsync(Status with { State = RegistrationState.Stopped, NextAttempt = DateTimeOffset.UnixEpoch }).ConfigureAwait(false);
        }
        Destroy(freeHandle: idle);
    }

    private static async Task<bool> WaitAsync(Task task, TimeSpan timeout)
    {
        try
        {
            await task.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// Frees pjsip's client. With a transaction still open pjsip defers the free and drops the callback;
    /// the handle is then kept, since the callback may be on its way.
    /// </summary>
    public unsafe void Destroy(bool freeHandle)
    {
        if (_regc != 0)
        {
            PjThread.EnsureRegistered();
            _ = PjsipUaSipRegc.pjsip_regc_destroy((pjsip_regc*)_regc);
            _regc = 0;
        }
        if (!freeHandle)
            return;
        if (_self.IsAllocated)
            _self.Free();
        _stop.Dispose();
    }

    public void Dispose() => Destroy(freeHandle: true);
}
