using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.Interception;
using PjSharp.Interop;
using PjSharp.Registrar;
using PjSharp.Servants;
using PjSharp.Services;

namespace PjSharp.Messaging;

/// <summary>Out-of-dialog MESSAGE relay settings.</summary>
public sealed class MessagingOptions
{
    /// <summary>The largest body relayed; a larger one is answered 413.</summary>
    public int MaxBodyBytes { get; set; } = 16 * 1024;

    /// <summary>How long a contact may take to answer the relayed MESSAGE before it counts as 408.</summary>
    public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>The Retry-After of a 503 when the AOR's queue is full.</summary>
    public int RetryAfterSeconds { get; set; } = 5;
}

/// <summary>
/// Relays MESSAGE requests sent outside any dialog (RFC 3428 pager mode) from an identified endpoint
/// to the AOR the request-URI's user names: a new MESSAGE, with the sender's From, the To and the
/// body with its Content-Type, to each usable contact of the AOR (<see cref="ContactLocator"/>). On the pjsip
/// thread it only checks the sender and opens a server transaction (which absorbs retransmissions);
/// the AOR's servant finds the contacts, sends and answers: 200 when a contact accepted it, 480 when
/// the AOR has no usable contact, 404 when there is no such AOR, otherwise the best failure.
/// </summary>
public sealed partial class MessagingService : SipService, IDisposable
{
    private readonly SipEndpoint _endpoint;
    private readonly InterceptionPipeline _interception;
    private readonly ContactLocator _contacts;
    private readonly ServantDispatcher<string> _servants;
    private readonly MessagingOptions _options;
    private readonly ILogger _logger;
    private readonly RequestSender _sender;
    private readonly KeyValuePair<string, string>[] _retryAfter;
    private long _relayed;
    private int _disposed;

    public MessagingService(SipEndpoint endpoint, InterceptionPipeline interception, ContactLocator contacts, ServantDispatcher<string> servants,
        MessagingOptions? options = null, ILogger? logger = null)
        : base("pjsharp-messaging", SipServicePriority.Application - 1)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(interception);
        ArgumentNullException.ThrowIfNull(contacts);
        ArgumentNullException.ThrowIfNull(servants);
        _endpoint = endpoint;
        _interception = interception;
        _contacts = contacts;
        _servants = servants;
        _options = options ?? new MessagingOptions();
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _sender = new RequestSender(endpoint, "pjsharp-messaging-requests");
        _retryAfter = [new("Retry-After", _options.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture))];
    }

    public override IReadOnlyCollection<string> Methods => ["MESSAGE"];

    /// <summary>MESSAGEs a contact accepted.</summary>
    public long Relayed => Interlocked.Read(ref _relayed);

    protected internal override void OnRegistered(SipEndpoint endpoint) => endpoint.RegisterService(_sender);

    public override bool OnRequest(SipRequest request)
    {
        if (request.Method != SipMethod.Other || !request.MethodName.SequenceEqual("MESSAGE"u8) || request.IsInDialog)
            return false;
        var sender = _interception.GetEndpoint(request, out var authenticated);
        if (sender == null || sender.IsArtificial || (sender.RequiresAuthentication && !authenticated))
        {
            request.RespondStateless(403);
            return true;
        }
        var user = request.RequestUriUser;
        if (user.IsEmpty || user.Length > 256)
        {
            request.RespondStateless(404);
            return true;
        }
        if (request.Body.Length > _options.MaxBodyBytes)
        {
            LogTooLarge(_logger, sender.Id, request.Body.Length);
            request.RespondStateless(413);
            return true;
        }
        var aor = Encoding.UTF8.GetString(user);
        var transaction = ServerTransaction.Create(this, request);
        if (!_servants.TryEnqueue(aor, new DeliverWork(this, transaction, sender.Id, aor)))
        {
            LogOverloaded(_logger, aor);
            transaction.Respond(503, _retryAfter);
            transaction.Dispose();
        }
        return true;
    }

    private async Task DeliverAsync(ServerTransaction transaction, string sender, string aorId, CancellationToken cancellationToken)
    {
        try
        {
            var found = await _contacts.FindAsync(aorId, cancellationToken).ConfigureAwait(false);
            if (found == null)
            {
                LogNoAor(_logger, sender, aorId);
                transaction.Respond(404);
                return;
            }
            if (found.Contacts.Count == 0)
            {
                LogNoContact(_logger, sender, aorId, found.Unreachable);
                transaction.Respond(480);
                return;
            }
            var (from, to) = transaction.Request.Read(static r => (r.FromUri, r.ToUri));
            var sends = new List<Task<RequestOutcome>>(found.Contacts.Count);
            foreach (var contact in found.Contacts)
                sends.Add(SendOneAsync(transaction.Request, contact, from, to));
            var outcomes = new List<RequestOutcome>(sends.Count);
            foreach (var send in sends)
            {
                try
                {
                    outcomes.Add(await send.ConfigureAwait(false));
                }
                catch (PjSipException error)
                {
                    LogSendFailed(_logger, error, aorId);
                    outcomes.Add(new RequestOutcome(503, false, TimeSpan.Zero));
                }
            }
            var status = Answer(outcomes);
            LogRelayed(_logger, sender, aorId, found.Contacts.Count, status);
            if (status == 200)
                Interlocked.Increment(ref _relayed);
            transaction.Respond(status);
        }
        catch (DataAccess.BackendUnavailableException)
        {
            // The backend logged the outage once; the sender may try again.
            transaction.Respond(503, _retryAfter);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            LogFailed(_logger, error, aorId);
            transaction.Respond(500);
        }
        finally
        {
            transaction.Dispose();
        }
    }

    /// <summary>
    /// The sender's answer: 200 when a contact took the message; otherwise the best failure a contact
    /// gave (6xx first, then the lowest class); 408 when none answered. A contact's challenge is not
    /// the sender's to answer, so 401/407 become 403.
    /// </summary>
    internal static int Answer(IReadOnlyList<RequestOutcome> outcomes)
    {
        if (outcomes.Any(o => o.IsSuccess))
            return 200;
        var answered = outcomes.Where(o => o.Answered && o.StatusCode >= 300).Select(o => o.StatusCode).ToList();
        if (answered.Count == 0)
            return 408;
        var best = answered.Any(c => c >= 600) ? answered.First(c => c >= 600) : answered.OrderBy(c => c / 100).First();
        return best switch
        {
            401 or 407 => 403,
            < 400 => 480,
            _ => best,
        };
    }

    private unsafe Task<RequestOutcome> SendOneAsync(SipRequestClone original, Contact contact, string from, string to)
    {
        var tdata = _sender.CreateRequest("MESSAGE", contact.Uri, from, to);
        var added = false;
        try
        {
            original.Handle.DangerousAddRef(ref added);
            var body = ((pjsip_rx_data*)original.Handle.DangerousGetHandle())->msg_info.msg->body;
            // The body and its Content-Type (parameters included) are copied as pjsip parsed them.
            if (body != null)
                tdata->msg->body = PjsipSipMsg.pjsip_msg_body_clone(tdata->pool, body);
            foreach (var route in contact.Path.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                RequestSender.AddHeader(tdata, "Route", route);
        }
        catch
        {
            _ = PjsipSipTransport.pjsip_tx_data_dec_ref(tdata);
            throw;
        }
        finally
        {
            if (added)
                original.Handle.DangerousRelease();
        }
        return _sender.Send(tdata, _options.DeliveryTimeout);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _endpoint.UnregisterService(this);
        if (_sender.ModuleId >= 0)
            _sender.Dispose();
    }

    private sealed class DeliverWork(MessagingService service, ServerTransaction transaction, string sender, string aor) : ServantWork
    {
        public override async ValueTask RunAsync(CancellationToken cancellationToken) =>
            await service.DeliverAsync(transaction, sender, aor, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "MESSAGE from endpoint {Endpoint} to '{Aor}': no such AOR; answered 404")]
    private static partial void LogNoAor(ILogger logger, string endpoint, string aor);

    [LoggerMessage(EventId = 1502, Level = LogLevel.Information, Message = "MESSAGE from endpoint {Endpoint} to AOR {Aor}: no usable contact ({Unreachable} unreachable); answered 480")]
    private static partial void LogNoContact(ILogger logger, string endpoint, string aor, int unreachable);

    [LoggerMessage(EventId = 1503, Level = LogLevel.Debug, Message = "MESSAGE from endpoint {Endpoint} to AOR {Aor} relayed to {Contacts} contacts; answered {Status}")]
    private static partial void LogRelayed(ILogger logger, string endpoint, string aor, int contacts, int status);

    [LoggerMessage(EventId = 1504, Level = LogLevel.Information, Message = "MESSAGE from endpoint {Endpoint} has a {Length}-byte body, over the limit; answered 413")]
    private static partial void LogTooLarge(ILogger logger, string endpoint, int length);

    [LoggerMessage(EventId = 1505, Level = LogLevel.Warning, Message = "MESSAGE for AOR {Aor} answered 503: its queue is full")]
    private static partial void LogOverloaded(ILogger logger, string aor);

    [LoggerMessage(EventId = 1506, Level = LogLevel.Warning, Message = "MESSAGE for AOR {Aor}: a copy could not be sent")]
    private static partial void LogSendFailed(ILogger logger, Exception exception, string aor);

    [LoggerMessage(EventId = 1507, Level = LogLevel.Error, Message = "MESSAGE for AOR {Aor} failed; answered 500")]
    private static partial void LogFailed(ILogger logger, Exception exception, string aor);
}
