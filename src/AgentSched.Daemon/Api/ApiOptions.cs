using System.Globalization;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Api;

/// <summary>The "Api" configuration section: the socket and its limits.</summary>
public sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>The Unix socket agent runtimes connect to.</summary>
    public string SocketPath { get; set; } = AgentSched.Protocol.ApiProtocol.DefaultSocketPath;

    /// <summary>The group that owns the socket; members may use it. Empty: leave it root's.</summary>
    public string SocketGroup { get; set; } = "agentsched";

    /// <summary>The socket's permission bits, octal: 000 to 0777.</summary>
    public string SocketMode { get; set; } = "0660";

    /// <summary>Requests per second one connection may make (a token bucket of this size, refilled continuously).</summary>
    public int MaxRequestsPerSecond { get; set; } = 20_000;

    /// <summary>BURST tasks (marks and open steps) one requesting uid may hold at once.</summary>
    public int MaxBurstTasksPerUid { get; set; } = 256;

    /// <summary>Marks the daemon holds in total (each keeps a pidfd open).</summary>
    public int MaxMarks { get; set; } = 16_384;

    /// <summary>Marks of any class (and open steps) one requesting uid may hold at once.</summary>
    public int MaxMarksPerUid { get; set; } = 1_024;

    /// <summary>Connections the daemon serves at once; one more is answered with limit_exceeded and closed.</summary>
    public int MaxConnections { get; set; } = 4_096;

    /// <summary>Connections one uid may hold open at once.</summary>
    public int MaxConnectionsPerUid { get; set; } = 1_024;

    /// <summary>A connection that sends no complete line for this long is closed (a partial line does not count).</summary>
    public int IdleTimeoutSeconds { get; set; } = 300;

    /// <summary>The window of a <c>step_begin</c> that names none.</summary>
    public int DefaultStepWindowMs { get; set; } = 100;

    internal UnixFileMode ParsedSocketMode => (UnixFileMode)Convert.ToInt32(SocketMode, 8);
}

internal sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiOptions o)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(o.SocketPath) || !Path.IsPathRooted(o.SocketPath))
        {
            errors.Add($"Api:SocketPath must be an absolute path (got '{o.SocketPath}')");
        }
        else if (System.Text.Encoding.UTF8.GetByteCount(o.SocketPath) > 107)
        {
            errors.Add($"Api:SocketPath is longer than a Unix socket path may be (107 bytes): '{o.SocketPath}'");
        }
        // Permission bits only: a fourth digit would be setuid, setgid or sticky, meaningless on a socket.
        if (o.SocketMode is not { Length: 3 or 4 } || !o.SocketMode.All(c => c is >= '0' and <= '7') || (o.SocketMode.Length == 4 && o.SocketMode[0] != '0'))
        {
            errors.Add($"Api:SocketMode must be octal permission bits from 000 to 0777, such as 0660 (got '{o.SocketMode}')");
        }
        if (o.MaxRequestsPerSecond is < 1 or > 10_000_000)
        {
            errors.Add($"Api:MaxRequestsPerSecond must be between 1 and 10000000 (got {o.MaxRequestsPerSecond.ToString(CultureInfo.InvariantCulture)})");
        }
        if (o.MaxBurstTasksPerUid is < 0 or > 1_000_000)
        {
            errors.Add($"Api:MaxBurstTasksPerUid must be between 0 and 1000000 (got {o.MaxBurstTasksPerUid})");
        }
        if (o.MaxMarks is < 1 or > 1_000_000)
        {
            errors.Add($"Api:MaxMarks must be between 1 and 1000000 (got {o.MaxMarks})");
        }
        if (o.MaxMarksPerUid is < 1 or > 1_000_000)
        {
            errors.Add($"Api:MaxMarksPerUid must be between 1 and 1000000 (got {o.MaxMarksPerUid})");
        }
        if (o.MaxConnections is < 1 or > 1_000_000)
        {
            errors.Add($"Api:MaxConnections must be between 1 and 1000000 (got {o.MaxConnections})");
        }
        if (o.MaxConnectionsPerUid is < 1 or > 1_000_000)
        {
            errors.Add($"Api:MaxConnectionsPerUid must be between 1 and 1000000 (got {o.MaxConnectionsPerUid})");
        }
        if (o.IdleTimeoutSeconds is < 1 or > 86_400)
        {
            errors.Add($"Api:IdleTimeoutSeconds must be between 1 and 86400 (got {o.IdleTimeoutSeconds})");
        }
        if (o.DefaultStepWindowMs is < AgentSched.Protocol.ApiProtocol.MinWindowMs or > AgentSched.Protocol.ApiProtocol.MaxWindowMs)
        {
            errors.Add($"Api:DefaultStepWindowMs must be between 1 and 3600000 (got {o.DefaultStepWindowMs})");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
