namespace AgentSched.Protocol;

/// <summary>
/// The stable error codes of <c>{"ok":false,"error":{"code":...}}</c> responses (docs/protocol.md).
/// Codes are never renamed or reused; new ones may be added.
/// </summary>
public static class ErrorCode
{
    /// <summary>The line is not a JSON object.</summary>
    public const string BadJson = "bad_json";

    /// <summary>The line is longer than <see cref="ApiProtocol.MaxLineBytes"/>; it was discarded unread.</summary>
    public const string LineTooLong = "line_too_long";

    /// <summary><c>v</c> is not a protocol version this daemon speaks.</summary>
    public const string UnsupportedVersion = "unsupported_version";

    /// <summary><c>op</c> names no operation.</summary>
    public const string UnknownOp = "unknown_op";

    /// <summary>A field is missing, has the wrong type or is out of range; the message names it.</summary>
    public const string BadRequest = "bad_request";

    /// <summary>The target process does not exist (or exited while the request was handled).</summary>
    public const string NoSuchProcess = "no_such_process";

    /// <summary>The caller may not act on the target: a non-root caller may only mark its own processes.</summary>
    public const string PermissionDenied = "permission_denied";

    /// <summary>
    /// A limit was reached: the caller's uid holds its maximum of BURST tasks (Api:MaxBurstTasksPerUid)
    /// or of marks (Api:MaxMarksPerUid), the daemon its maximum of marks (Api:MaxMarks), or, answered
    /// once to a new connection before it is closed, of connections (Api:MaxConnections, Api:MaxConnectionsPerUid).
    /// </summary>
    public const string LimitExceeded = "limit_exceeded";

    /// <summary>The connection sent more than Api:MaxRequestsPerSecond; the request was not executed.</summary>
    public const string RateLimited = "rate_limited";

    /// <summary>The daemon is shutting down; retry against the next instance.</summary>
    public const string Unavailable = "unavailable";

    /// <summary>Applying the request failed in the kernel; the message has the errno. The request had no effect.</summary>
    public const string Internal = "internal";

    /// <summary>
    /// The daemon ran out of a resource of its own (file descriptors, memory) while handling the
    /// request. The request had no effect and nothing the daemon holds was lost; retry later.
    /// </summary>
    public const string ResourceExhausted = "resource_exhausted";

    /// <summary><c>steps</c> was asked of a daemon that records none: it is in fallback mode, or runs with Scheduler:TraceSteps off.</summary>
    public const string NotTracing = "not_tracing";

    /// <summary>Every code, for documentation tests.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        BadJson, LineTooLong, UnsupportedVersion, UnknownOp, BadRequest, NoSuchProcess,
        PermissionDenied, LimitExceeded, RateLimited, Unavailable, Internal, NotTracing, ResourceExhausted,
    ];
}
