using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PjSharp;
using PjSharp.Interception;

namespace Samples.Interception;

/// <summary>
/// Answers 403 to a new call whose caller number starts with a blocked prefix. It runs after the
/// ACL and flood protection, so a source they turned away never gets here, and before
/// identification and authentication, so a blocked call costs no lookup and no challenge.
/// </summary>
internal sealed partial class BlockedCallerStage : InterceptionStage
{
    private readonly byte[][] _prefixes;
    private readonly ILogger _logger;

    public BlockedCallerStage(IOptions<BlockingOptions> options, ILogger<BlockedCallerStage> logger)
        : base("blocked-callers", InterceptionOrder.FloodProtection + 50)
    {
        // Bytes, as the request holds them: the check allocates nothing on pjsip's thread.
        _prefixes = [.. options.Value.Prefixes.Select(Encoding.UTF8.GetBytes)];
        _logger = logger;
    }

    public override InterceptionVerdict OnRequest(ref InterceptionContext context)
    {
        var request = context.Request;
        // New calls only: everything inside a call already let in passes.
        if (request.Method != SipMethod.Invite || request.IsInDialog)
            return InterceptionVerdict.Continue;
        var caller = request.FromUser;
        foreach (var prefix in _prefixes)
        {
            if (!caller.StartsWith(prefix))
                continue;
            var number = Encoding.UTF8.GetString(caller);
            LogBlocked(_logger, number, context.Source);
            // Without a transaction, as the built-in stages answer: a retransmitted INVITE comes
            // through here again and gets the same answer, and nothing is kept meanwhile.
            request.RespondStateless(403, "Caller Blocked");
            return InterceptionVerdict.Stop;
        }
        return InterceptionVerdict.Continue;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Blocked a call from {Caller} (source {Source}) with 403")]
    private static partial void LogBlocked(ILogger logger, string caller, SourceAddress source);
}
