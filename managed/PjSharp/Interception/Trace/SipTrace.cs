using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using PjSharp.Services;

namespace PjSharp.Interception.Trace;

/// <summary>
/// The SIP trace: every message in and out, as it is on the wire, to an <see cref="ILogger"/>
/// (category <c>PjSharp.SipTrace</c>) and, optionally, to a pcap file. It sits just below
/// pjsip's transport layer, so it sees requests interception later drops, and outgoing messages
/// after pjsip printed them. Off until <see cref="Enabled"/> is set; filters by remote address
/// and by endpoint (the From or To user) can change at run time.
/// </summary>
public sealed partial class SipTrace : SipService, IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private volatile bool _enabled;
    private volatile IPNetwork[] _addresses = [];
    private volatile HashSet<string> _endpoints = new(StringComparer.Ordinal);
    private PcapWriter? _pcap;
    private HepSender? _hep;
    private volatile SipTraceSubscription[] _subscribers = [];
    private readonly Lock _subscribersGate = new();

    public SipTrace(ILogger logger, TimeProvider? time = null)
        : base("pjsharp-trace", SipServicePriority.TransportLayer - 1)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Switches the trace on and off while the server runs.</summary>
    public bool Enabled
    {
        get => _enabled;
        set => _enabled = value;
    }

    /// <summary>Only messages to or from these networks (none: all).</summary>
    public void SetAddressFilter(IEnumerable<IPNetwork> networks) => _addresses = [.. networks];

    /// <summary>Only messages whose From or To user names one of these endpoints (none: all).</summary>
    public void SetEndpointFilter(IEnumerable<string> endpoints) => _endpoints = new HashSet<string>(endpoints, StringComparer.Ordinal);

    /// <summary>Also writes traced messages to a pcap file (replacing any earlier one); null stops it.</summary>
    public async Task SetPcapFileAsync(string? path)
    {
        var previous = Interlocked.Exchange(ref _pcap, path == null ? null : new PcapWriter(path));
        if (previous != null)
            await previous.DisposeAsync().ConfigureAwait(false);
    }

    public PcapWriter? Pcap => _pcap;

    /// <summary>Also sends traced messages to a HEP collector (replacing any earlier one, which is closed); null stops it.</summary>
    public async Task SetHepAsync(HepSender? sender)
    {
        var previous = Interlocked.Exchange(ref _hep, sender);
        if (previous != null)
            await previous.DisposeAsync().ConfigureAwait(false);
    }

    public HepSender? Hep => _hep;

    protected internal override bool HandlesResponses => true;

    protected internal override bool HandlesOutgoing => true;

    /// <summary>
    /// A live feed of the messages that pass <paramref name="filter"/>, whether or not <see cref="Enabled"/>
    /// is set. Delivery never waits: past <paramref name="capacity"/> unread messages, new ones are
    /// dropped and counted in <see cref="SipTraceSubscription.Dropped"/>. Dispose the subscription to end it.
    /// </summary>
    public SipTraceSubscription Subscribe(SipTraceFilter? filter = null, int capacity = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var subscription = new SipTraceSubscription(this, filter ?? new SipTraceFilter(), capacity);
        lock (_subscribersGate)
            _subscribers = [.. _subscribers, subscription];
        return subscription;
    }

    /// <summary>Live feeds open now.</summary>
    public int SubscriberCount => _subscribers.Length;

    internal void Unsubscribe(SipTraceSubscription subscription)
    {
        lock (_subscribersGate)
            _subscribers = [.. _subscribers.Where(s => !ReferenceEquals(s, subscription))];
    }

    private bool Active => _enabled || _subscribers.Length > 0;

    public override bool OnRequest(SipRequest request)
    {
        if (Active)
        {
            var (local, localPort) = request.LocalAddress;
            Trace(received: true, request.SourceAddress, request.SourcePort, local, localPort, request.Transport,
                request.RawMessage, request.FromUser, request.ToUser);
        }
        return false;
    }

    public override bool OnResponse(SipResponse response)
    {
        if (Active)
        {
            var (local, localPort) = response.LocalAddress;
            Trace(received: true, response.SourceAddress, response.SourcePort, local, localPort, response.Transport,
                response.RawMessage, response.FromUser, response.ToUser);
        }
        return false;
    }

    public override void OnSending(SipOutgoingMessage message)
    {
        if (!Active)
            return;
        var (local, localPort) = message.Local;
        Trace(received: false, message.DestinationAddress, message.DestinationPort, local, localPort, message.Transport,
            message.Bytes, message.FromUser, message.ToUser);
    }

    internal void Trace(bool received, SourceAddress remote, int remotePort, SourceAddress local, int localPort, string transport,
        ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> fromUser, ReadOnlySpan<byte> toUser)
    {
        if (_subscribers is { Length: > 0 } subscribers)
            Deliver(subscribers, received, remote, remotePort, local, localPort, transport, bytes, fromUser, toUser);
        if (!_enabled)
            return;
        var addresses = _addresses;
        if (addresses.Length > 0 && !Array.Exists(addresses, remote.IsIn))
            return;
        var endpoints = _endpoints;
        if (endpoints.Count > 0 && !Names(endpoints, fromUser) && !Names(endpoints, toUser))
            return;
        if (_pcap is { } pcap)
        {
            if (received)
                pcap.TryWrite(remote, remotePort, local, localPort, bytes, _time.GetUtcNow());
            else
                pcap.TryWrite(local, localPort, remote, remotePort, bytes, _time.GetUtcNow());
        }
        if (_hep is { } hep)
        {
            if (received)
                hep.TrySend(remote, remotePort, local, localPort, transport, bytes, _time.GetUtcNow());
            else
                hep.TrySend(local, localPort, remote, remotePort, transport, bytes, _time.GetUtcNow());
        }
        if (_logger.IsEnabled(LogLevel.Information))
        {
            var peer = Peer(remote, remotePort);
            if (received)
                LogReceived(_logger, bytes.Length, transport, peer, Printable(bytes));
            else
                LogSent(_logger, bytes.Length, transport, peer, Printable(bytes));
        }
    }

    private static string Peer(SourceAddress address, int port) => address.IsIPv4Mapped
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{address}:{port}")
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"[{address}]:{port}");

    /// <summary>Hands a copy of the message to each live feed it matches; runs on the pjsip thread, so it only copies and never waits.</summary>
    private void Deliver(SipTraceSubscription[] subscribers, bool received, SourceAddress remote, int remotePort, SourceAddress local, int localPort,
        string transport, ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> fromUser, ReadOnlySpan<byte> toUser)
    {
        SipTraceMessage? message = null;
        foreach (var subscriber in subscribers)
        {
            if (!subscriber.Matches(remote))
                continue;
            if (subscriber.MethodBytes is { } method && !MethodOf(bytes).SequenceEqual(method))
                continue;
            if (subscriber.Endpoints.Count > 0 && !Names(subscriber.Endpoints, fromUser) && !Names(subscriber.Endpoints, toUser))
                continue;
            message ??= new SipTraceMessage(_time.GetUtcNow(), received, transport, Peer(local, localPort), Peer(remote, remotePort), bytes.ToArray());
            subscriber.Offer(message);
        }
    }

    /// <summary>The method a message is about: a request's method, or the method in a response's CSeq.</summary>
    internal static ReadOnlySpan<byte> MethodOf(ReadOnlySpan<byte> bytes)
    {
        if (!bytes.StartsWith("SIP/"u8))
        {
            var space = bytes.IndexOf((byte)' ');
            return space < 0 ? default : bytes[..space];
        }
        var lineStart = 0;
        while (lineStart < bytes.Length)
        {
            var rest = bytes[lineStart..];
            var end = rest.IndexOf((byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            if (line.Length == 0 || line is [(byte)'\r'])
                break;
            if (line.Length > 5 && System.Text.Ascii.EqualsIgnoreCase(line[..4], "CSeq"u8) && line[4] is (byte)':' or (byte)' ' or (byte)'\t')
            {
                var colon = line.IndexOf((byte)':');
                if (colon > 0)
                {
                    // "CSeq: 102 INVITE": the method is the last word.
                    var value = line[(colon + 1)..].Trim(" \t\r"u8);
                    var space = value.LastIndexOf((byte)' ');
                    return space < 0 ? default : value[(space + 1)..].Trim(" \t"u8);
                }
            }
            if (end < 0)
                break;
            lineStart += end + 1;
        }
        return default;
    }

    private static bool Names(HashSet<string> endpoints, ReadOnlySpan<byte> user)
    {
        if (user.IsEmpty || user.Length > 256)
            return false;
        Span<char> name = stackalloc char[256];
        return Encoding.UTF8.TryGetChars(user, name, out var length)
            && endpoints.GetAlternateLookup<ReadOnlySpan<char>>().Contains(name[..length]);
    }

    /// <summary>The message with its line breaks, every other control character and invalid byte escaped.</summary>
    internal static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length + 16);
        var position = 0;
        while (position < bytes.Length)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes[position..], out var rune, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\x{bytes[position]:X2}");
                position++;
                continue;
            }
            if (rune.Value == '\n')
                text.Append('\n');
            else if (rune.Value == '\r' && position + 1 < bytes.Length && bytes[position + 1] == (byte)'\n')
            {
                // CRLF becomes a plain line break.
            }
            else if (System.Text.Rune.IsControl(rune) || rune.Value == '\\')
                text.Append(rune.Value == '\\' ? "\\\\" : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"\\x{rune.Value:X2}"));
            else
                text.Append(rune.ToString());
            position += consumed;
        }
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var subscriber in _subscribers)
            subscriber.Complete();
        await SetPcapFileAsync(null).ConfigureAwait(false);
        await SetHepAsync(null).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "<--- Received {Length} bytes over {Transport} from {Peer}:\n{Message}")]
    private static partial void LogReceived(ILogger logger, int length, string transport, string peer, string message);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "---> Sent {Length} bytes over {Transport} to {Peer}:\n{Message}")]
    private static partial void LogSent(ILogger logger, int length, string transport, string peer, string message);
}
