namespace AgentSched.Daemon;

/// <summary>agentschedd's exit codes (documented in README.md).</summary>
public enum DaemonExitCode
{
    Ok = 0,
    Unexpected = 1,
    InvalidConfiguration = 2,
    NoSchedExt = 3,
    SchedulerBusy = 4,
    LoadFailed = 5,
    PermissionDenied = 6,

    /// <summary>Another agentschedd is serving the configured socket.</summary>
    AlreadyRunning = 7,
}

/// <summary>
/// A failure the daemon anticipates (no sched_ext, another scheduler attached, a rejected program):
/// printed as its message alone, without a stack trace, and the process exits with <see cref="ExitCode"/>.
/// </summary>
public sealed class DaemonStartupException(DaemonExitCode exitCode, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public DaemonExitCode ExitCode { get; } = exitCode;
}
