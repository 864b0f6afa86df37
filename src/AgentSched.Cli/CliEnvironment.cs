using AgentSched.Cli.Commands;
using AgentSched.Interop.Kernel;

namespace AgentSched.Cli;

/// <summary>
/// What the commands touch outside the process: the kernel's sched_ext state, files under a root
/// directory (for doctor), exec. The defaults are the real ones; tests replace them.
/// </summary>
public sealed class CliEnvironment
{
    /// <summary>The real host.</summary>
    public static CliEnvironment Host { get; } = new();

    /// <summary>Reads /sys/kernel/sched_ext.</summary>
    public Func<SchedExtStatus> ReadKernel { get; init; } = () => SchedExtStatus.Read();

    /// <summary>Replaces the process with a program; returns an errno only when that failed.</summary>
    public Func<string, IReadOnlyList<string>, int> Exec { get; init; } = ProcessExec.Exec;

    /// <summary>Where doctor reads /proc, /sys and /boot from.</summary>
    public HostProbe Probe { get; init; } = new("/");

    /// <summary>Waits between two samples of <c>top</c>, or two polls of <c>trace</c>.</summary>
    public Func<TimeSpan, CancellationToken, Task> Delay { get; init; } = Task.Delay;

    /// <summary>
    /// Stands in for Ctrl-C: cancelling it stops a long-running command (<c>trace</c>) the way
    /// SIGINT does. The real host never cancels it; SIGINT arrives through System.CommandLine.
    /// </summary>
    public CancellationToken Interrupt { get; init; }

    /// <summary>Whether standard output is a terminal (top redraws in place only there).</summary>
    public bool OutputIsTerminal { get; init; } = !Console.IsOutputRedirected;
}
