namespace PjSharp.Registrar;

/// <summary>What <see cref="BindingPlanner"/> needs from a REGISTER request, already read off the message.</summary>
public sealed record RegisterRequest
{
    /// <summary>The Contact values in order (<see cref="ContactHeaderParser"/>); empty for a query of the bindings.</summary>
    public IReadOnlyList<ContactEntry> Contacts { get; init; } = [];

    /// <summary>The Expires header's value; null when there is none.</summary>
    public uint? Expires { get; init; }

    /// <summary>The Call-ID.</summary>
    public string CallId { get; init; } = "";

    /// <summary>The CSeq number.</summary>
    public uint CSeq { get; init; }

    /// <summary>Path header values in order (RFC 3327); kept only when the AOR has <c>support_path</c>.</summary>
    public IReadOnlyList<string> Path { get; init; } = [];

    /// <summary>Supported header values (option tags; comma-separated values are split): a Path needs <c>path</c> here.</summary>
    public IReadOnlyList<string> Supported { get; init; } = [];

    /// <summary>The User-Agent header's value.</summary>
    public string UserAgent { get; init; } = "";

    /// <summary>Where the request came from: the address recorded as the binding's <c>via_addr</c>.</summary>
    public string ViaAddress { get; init; } = "";

    /// <summary>The port recorded as the binding's <c>via_port</c>.</summary>
    public uint ViaPort { get; init; }

    /// <summary>The endpoint that sent the request (identified, authenticated).</summary>
    public string Endpoint { get; init; } = "";

    /// <summary>This node's name, recorded as <c>reg_server</c> (several nodes sharing one database).</summary>
    public string RegistrationServer { get; init; } = "";

    /// <summary>
    /// Mark new and refreshed bindings <c>prune_on_boot</c>: set it when the binding cannot outlive this process (a
    /// connection-oriented transport such as TCP, TLS or WebSocket without a way back in).
    /// </summary>
    public bool PruneOnBoot { get; init; }
}
