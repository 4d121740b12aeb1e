namespace PjSharp.Interop;

/// <summary>A pjproject call failed; <see cref="Status"/> is its pj_status_t.</summary>
public sealed class PjSipException : Exception
{
    public PjSipException() { }
    public PjSipException(string message) : base(message) { }
    public PjSipException(string message, Exception innerException) : base(message, innerException) { }

    public PjSipException(int status, string operation, string statusText)
        : base($"{operation} failed: {statusText} (pjsip status {status})")
    {
        Status = status;
        StatusText = statusText;
    }

    public int Status { get; }
    public string StatusText { get; } = "";
}
