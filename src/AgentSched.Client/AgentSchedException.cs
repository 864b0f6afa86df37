using AgentSched.Protocol;

namespace AgentSched.Client;

/// <summary>agentschedd refused a request; <see cref="Code"/> is one of <see cref="ErrorCode"/> (docs/protocol.md).</summary>
public class AgentSchedException : Exception
{
    /// <summary>Creates the exception for an error response.</summary>
    public AgentSchedException(string code, string message, Exception? inner = null)
        : base($"{code}: {message}", inner)
    {
        Code = code;
        Detail = message;
    }

    /// <summary>The stable error code, e.g. <c>no_such_process</c>.</summary>
    public string Code { get; }

    /// <summary>The daemon's message, without the code.</summary>
    public string Detail { get; }
}

/// <summary>
/// agentschedd could not be reached (no socket, no permission to connect, no answer in time);
/// thrown only with <see cref="DaemonUnavailableBehavior.Throw"/>.
/// </summary>
public sealed class AgentSchedUnavailableException(string socketPath, string reason, Exception? inner = null)
    : AgentSchedException(CodeName, $"agentschedd is not reachable at {socketPath}: {reason}", inner)
{
    /// <summary>The <see cref="AgentSchedException.Code"/> of this exception (not a protocol code: nothing was sent).</summary>
    public const string CodeName = "daemon_unavailable";

    /// <summary>The socket that was tried.</summary>
    public string SocketPath { get; } = socketPath;

    /// <summary>Why, e.g. "no such file (is agentschedd running?)".</summary>
    public string Reason { get; } = reason;
}
