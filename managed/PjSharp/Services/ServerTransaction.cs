using PjSharp.Interop;

namespace PjSharp.Services;

/// <summary>
/// A server transaction made on the pjsip thread for a request answered later, from any thread: it
/// absorbs retransmissions meanwhile and resends the final answer. Owns a clone of the request and a
/// reference on the transaction; dispose it once answered.
/// </summary>
public sealed unsafe class ServerTransaction : IDisposable
{
    private readonly SipEndpoint _endpoint;
    private nint _transaction;
    private int _answered;

    private ServerTransaction(SipEndpoint endpoint, pjsip_transaction* transaction, SipRequestClone request)
    {
        _endpoint = endpoint;
        _transaction = (nint)transaction;
        Request = request;
    }

    /// <summary>The request, kept past its callback.</summary>
    public SipRequestClone Request { get; }

    /// <summary>Creates the transaction for <paramref name="request"/> (on the pjsip thread that received it), owned by <paramref name="service"/>.</summary>
    public static ServerTransaction Create(SipService service, SipRequest request)
    {
        ArgumentNullException.ThrowIfNull(service);
        if (service.ModuleId < 0)
            throw new InvalidOperationException($"Service '{service.Name}' is not registered.");
        var clone = request.Clone();
        try
        {
            var rdata = request.Native;
            pjsip_transaction* tsx;
            ThrowHelper.ThrowIfFailed(PjsipSipTransaction.pjsip_tsx_create_uas2(service.NativeModule, rdata, null, &tsx), "pjsip_tsx_create_uas2");
            _ = PjLock.pj_grp_lock_add_ref(tsx->grp_lock);
            PjsipSipTransaction.pjsip_tsx_recv_msg(tsx, rdata);
            return new ServerTransaction(clone.Endpoint, tsx, clone);
        }
        catch
        {
            clone.Dispose();
            throw;
        }
    }

    /// <summary>Sends the final answer (only the first call does); false when the transaction could not send it.</summary>
    public bool Respond(int statusCode, IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        if (Interlocked.Exchange(ref _answered, 1) != 0 || _transaction == 0)
            return false;
        var added = false;
        Request.Handle.DangerousAddRef(ref added);
        try
        {
            PjThread.EnsureRegistered();
            var tdata = Messages.StatelessResponse.Create(_endpoint, (pjsip_rx_data*)Request.Handle.DangerousGetHandle(), statusCode);
            try
            {
                foreach (var (name, value) in headers ?? [])
                    Messages.StatelessResponse.AddHeader(tdata, System.Text.Encoding.UTF8.GetBytes(name), System.Text.Encoding.UTF8.GetBytes(value));
            }
            catch
            {
                _ = PjsipSipTransport.pjsip_tx_data_dec_ref(tdata);
                throw;
            }
            var status = PjsipSipTransaction.pjsip_tsx_send_msg((pjsip_transaction*)_transaction, tdata);
            if (status != ThrowHelper.Success)
            {
                _ = PjsipSipTransport.pjsip_tx_data_dec_ref(tdata);
                return false;
            }
            return true;
        }
        finally
        {
            Request.Handle.DangerousRelease();
        }
    }

    /// <summary>Answers 500 if nobody answered (a failure on our side), then lets go of the transaction and the request.</summary>
    public void Dispose()
    {
        if (_transaction != 0 && !_endpoint.IsDestroyed)
        {
            try
            {
                _ = Respond(500);
            }
            catch (PjSipException)
            {
            }
            var transaction = Interlocked.Exchange(ref _transaction, 0);
            if (transaction != 0)
            {
                PjThread.EnsureRegistered();
                _ = PjLock.pj_grp_lock_dec_ref(((pjsip_transaction*)transaction)->grp_lock);
            }
        }
        Request.Dispose();
    }
}
