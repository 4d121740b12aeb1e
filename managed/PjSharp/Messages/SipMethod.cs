namespace PjSharp;

/// <summary>SIP methods pjsip knows by id; anything else is <see cref="Other"/> (see the method name).</summary>
public enum SipMethod
{
    Invite = 0,
    Cancel = 1,
    Ack = 2,
    Bye = 3,
    Register = 4,
    Options = 5,
    Other = 6,
}
