using System.Net;

namespace PjSharp.DataAccess.Tests.Support;

/// <summary>Objects used by several tests: one of each type, with options off their defaults.</summary>
internal static class Samples
{
    public static Endpoint Alice => new("alice")
    {
        Transport = "transport-udp",
        Aors = ["alice"],
        Auth = ["alice"],
        Context = "sales",
        Allow = ["ulaw", "alaw"],
        DirectMedia = false,
        IdentifyBy = [IdentifyMethod.Username, IdentifyMethod.AuthUsername],
        CallerId = new CallerId("Alice", "1001"),
        DtmfMode = DtmfMode.Info,
        Rel100 = Rel100Mode.Required,
        Timers = SessionTimersMode.Always,
        TimersSessExpires = 600,
        MediaEncryption = MediaEncryption.Sdes,
        SendPai = true,
        AclRules = [new AclRule(AclAction.Deny, IPNetwork.Parse("0.0.0.0/0")), new AclRule(AclAction.Permit, IPNetwork.Parse("10.0.0.0/8"))],
    };

    public static Endpoint Bob => new("bob") { Aors = ["bob"], Context = "sales", Allow = ["g722"] };

    public static Endpoint Carol => new("carol") { Aors = ["carol"], Context = "support" };

    public static Aor AliceAor => new("alice") { MaxContacts = 2, RemoveExisting = true, Contacts = ["sip:alice@192.0.2.10:5060"], QualifyFrequency = 30 };

    public static Aor BobAor => new("bob") { MaxContacts = 1 };

    public static Auth AliceAuth => new("alice") { Username = "alice", Password = "secret", Realm = "example.com" };

    public static Transport Udp => new("transport-udp") { Bind = IPEndPoint.Parse("0.0.0.0:5060"), LocalNet = [IPNetwork.Parse("192.168.0.0/16")] };

    public static Identify TrunkIdentify => new("trunk") { Endpoint = "bob", MatchNetworks = [IPNetwork.Parse("198.51.100.0/24")], MatchHosts = ["sip.example.net"] };

    public static Acl OfficeAcl => new("office") { Rules = [new AclRule(AclAction.Deny, IPNetwork.Parse("0.0.0.0/0")), new AclRule(AclAction.Permit, IPNetwork.Parse("192.168.0.0/16"))] };

    public static Registration TrunkRegistration => new("trunk-reg") { ServerUri = "sip:sip.example.net", ClientUri = "sip:1000@sip.example.net", OutboundAuth = ["alice"] };

    public static GlobalSettings Global => new("global") { DefaultRealm = "example.com", KeepAliveInterval = 30 };

    /// <summary>The objects seeded into every backend of the contract suite (no contacts: config files cannot hold them).</summary>
    public static IReadOnlyList<SipObject> ContractSeed =>
        [Alice, Bob, Carol, AliceAor, BobAor, AliceAuth, Udp, TrunkIdentify, OfficeAcl, TrunkRegistration, Global];

    public static Contact ContactOf(string aor, int n) => new(Contact.CreateId(aor, $"sip:{aor}-{n}@192.0.2.{n % 250 + 1}:5060"))
    {
        Uri = $"sip:{aor}-{n}@192.0.2.{n % 250 + 1}:5060",
        Aor = aor,
        Endpoint = aor,
        ExpirationTime = DateTimeOffset.FromUnixTimeSeconds(1_900_000_000 + n),
        UserAgent = "Test Phone/1.0",
        ViaAddress = "192.0.2.1",
        ViaPort = 5060,
        CallId = $"call-{aor}-{n}",
        CSeq = (uint)n + 1,
        RegistrationServer = "node-a",
        Path = "<sip:edge.example.com;lr>",
    };
}
