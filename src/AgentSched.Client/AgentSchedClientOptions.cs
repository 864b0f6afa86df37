using AgentSched.Protocol;
using Microsoft.Extensions.Logging;

namespace AgentSched.Client;

/// <summary>What <see cref="AgentSchedClient"/> does when agentschedd cannot be reached.</summary>
public enum DaemonUnavailableBehavior
{
    /// <summary>
    /// Every call becomes a no-op that reports it was not applied, and one warning is logged per
    /// outage: an agent runs unprioritised rather than not at all. The default.
    /// </summary>
    Ignore,

    /// <summary>Every call throws <see cref="AgentSchedUnavailableException"/>.</summary>
    Throw,
}

/// <summary>Settings of an <see cref="AgentSchedClient"/>.</summary>
public sealed class AgentSchedClientOptions
{
    /// <summary>The environment variable that overrides the default socket path (also read by the CLI).</summary>
    public const string SocketEnvironmentVariable = "AGENTSCHED_SOCKET";

    /// <summary>
    /// agentschedd's socket: <c>$AGENTSCHED_SOCKET</c> when set, else
    /// <see cref="ApiProtocol.DefaultSocketPath"/> (<c>/run/agentsched/agentsched.sock</c>).
    /// </summary>
    public string SocketPath { get; set; } = DefaultSocketPath();

    /// <summary>What to do when the daemon is absent, refuses the connection or does not answer in time.</summary>
    public DaemonUnavailableBehavior WhenUnavailable { get; set; } = DaemonUnavailableBehavior.Ignore;

    /// <summary>How long one request may take, connecting included, before the daemon counts as unavailable. Default 5 s.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Open and close steps without a daemon round trip where agent_class allows it: the client asks
    /// once for a grant (<c>step_grant</c>) and then signals each step to the scheduler itself with
    /// one system call. False: every step is a <c>step_begin</c>/<c>step_end</c> round trip.
    /// </summary>
    public bool SelfSteps { get; set; } = true;

    /// <summary>
    /// Where the client's warnings go. When null they are written to standard error, prefixed
    /// with <c>agentsched:</c>, so they are never lost.
    /// </summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// The <c>agentsched</c> executable <see cref="AgentSchedClient.StartProcess"/> starts tools
    /// through; null searches <c>PATH</c>, then <c>/usr/local/bin</c> and <c>/usr/bin</c>.
    /// </summary>
    public string? CliPath { get; set; }

    /// <summary><c>$AGENTSCHED_SOCKET</c> when set and non-empty, else the protocol's default path.</summary>
    public static string DefaultSocketPath() =>
        Environment.GetEnvironmentVariable(SocketEnvironmentVariable) is { Length: > 0 } path ? path : ApiProtocol.DefaultSocketPath;
}
