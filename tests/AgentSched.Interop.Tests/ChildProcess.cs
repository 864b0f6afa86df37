using System.Diagnostics;
using AgentSched.Tests;

namespace AgentSched.Interop.Tests;

/// <summary>A child process for tests to act on (never the test runner itself); killed, with its children, on dispose.</summary>
internal sealed class ChildProcess : IDisposable
{
    private ChildProcess(Process process) => Process = process;

    public Process Process { get; }

    public int Pid => Process.Id;

    /// <summary>Starts <c>sleep 30</c>.</summary>
    public static ChildProcess Sleep() => Start("sleep", "30");

    public static ChildProcess Start(string file, params string[] args) => new(Process.Start(ProcessRunner.StartInfo(file, args))!);

    /// <summary>Kills the child and waits until it has been reaped.</summary>
    public void KillAndReap()
    {
        Process.Kill(entireProcessTree: true);
        Process.WaitForExit();
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            KillAndReap();
        }
        Process.Dispose();
    }
}
