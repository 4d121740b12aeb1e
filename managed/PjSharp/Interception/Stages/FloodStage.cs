using PjSharp.Interop;
using PjSharp.Messages;

namespace PjSharp.Interception.Stages;

/// <summary>Turns away addresses <see cref="FloodProtection"/> blocked: silence, or 403 when configured.</summary>
public sealed unsafe class FloodStage(FloodProtection protection, SecurityEvents events)
    : InterceptionStage("flood-protection", InterceptionOrder.FloodProtection)
{
    public override InterceptionVerdict OnRequest(ref InterceptionContext context)
    {
        if (!protection.IsBlocked(context.Source))
            return InterceptionVerdict.Continue;
        events.SourceBlocked(context.Source);
        if (protection.Options.AnswerBlocked && context.Request.Method != SipMethod.Ack)
            StatelessResponse.Respond(context.SipEndpoint, context.Request.Native, 403);
        return InterceptionVerdict.Stop;
    }
}
