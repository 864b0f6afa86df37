namespace AgentSched.Cli;

/// <summary>agentsched's exit codes (docs/cli.md). <c>run</c> exits with its command's code instead; see <see cref="RunReturnCode"/>.</summary>
public enum ReturnCode
{
    /// <summary>Done; for <c>doctor</c>, the host is ready.</summary>
    Ok = 0,

    /// <summary>The daemon refused a request (one line per refusal says why), or a read failed.</summary>
    Error = 1,

    /// <summary>The command line was wrong: unknown option, bad value, missing argument.</summary>
    UsageError = 2,

    /// <summary>agentschedd could not be reached (not running, no permission on its socket, no answer).</summary>
    DaemonUnavailable = 3,

    /// <summary><c>doctor</c> found at least one problem that keeps agentsched from working.</summary>
    NotReady = 4,
}

/// <summary>
/// What <c>agentsched run</c> exits with when it cannot run the command, the convention of
/// env(1), nohup(1) and timeout(1); otherwise it exits with the command's own code.
/// </summary>
public enum RunReturnCode
{
    /// <summary>agentsched itself failed: a usage error, or <c>--strict</c> and the mark was not applied.</summary>
    Failed = 125,

    /// <summary>The command was found but could not be executed (EACCES, ENOEXEC, ...).</summary>
    CannotExecute = 126,

    /// <summary>The command was not found.</summary>
    NotFound = 127,
}
