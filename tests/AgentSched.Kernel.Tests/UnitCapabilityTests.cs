using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using AgentSched.Daemon;
using AgentSched.Interop.Kernel;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>
/// agentschedd started the way packaging/agentsched.service starts it: root, with only the unit's
/// CapabilityBoundingSet= (setpriv does what systemd does: bounding set, no inheritable or ambient
/// capabilities, no_new_privs). Keeps the unit honest as the daemon grows: a capability the daemon
/// starts to need fails here, not on an operator's host.
/// </summary>
public sealed partial class UnitCapabilityTests
{
    private static readonly TimeSpan s_exit = TimeSpan.FromSeconds(30);

    /// <summary>The capabilities the unit grants, e.g. ["CAP_BPF", "CAP_PERFMON", "CAP_SYS_NICE"].</summary>
    internal static string[] UnitCapabilities()
    {
        string unit = Path.Combine(RepoPaths.Root, "packaging", "agentsched.service");
        string[] lines = [.. File.ReadLines(unit).Where(l => l.StartsWith("CapabilityBoundingSet=", StringComparison.Ordinal))];
        string line = Assert.Single(lines);
        return line["CapabilityBoundingSet=".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    private static Process StartBounded(string[] capabilities, StringBuilder output)
    {
        // setpriv's names: "-all,+bpf,+perfmon"
        string set = string.Concat(["-all", .. capabilities.Select(c => ",+" + c["CAP_".Length..].ToLowerInvariant())]);
        ProcessStartInfo psi = ProcessRunner.StartInfo("setpriv",
            "--bounding-set", set, "--inh-caps", "-all", "--ambient-caps", "-all", "--no-new-privs", "--", RepoPaths.Daemon,
            // Mode sched_ext: a refused load is an exit code, not a fallback; scratch paths for the rest.
            "--Scheduler:Mode=sched_ext", "--Api:SocketPath=/tmp/agentsched-captest/s.sock", "--Api:SocketGroup=",
            "--State:Directory=/tmp/agentsched-captest/state", "--Scheduler:PinPath=/sys/fs/bpf/agentsched-captest");
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        p.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    [Fact]
    public async Task TheUnitsCapabilitiesAreEnoughToAttachAndDetach()
    {
        string[] caps = UnitCapabilities();
        Assert.DoesNotContain("CAP_SYS_ADMIN", caps); // the point of the exercise: it is not needed
        Assert.Equal("disabled", SchedExtStatus.Read().State);
        var output = new StringBuilder();
        using Process daemon = StartBounded(caps, output);
        try
        {
            await SchedExtWait.WaitForSchedExtAsync(s => s is { State: "enabled", Ops: "agent_class" } || daemon.HasExited,
                TimeSpan.FromSeconds(20), "agent_class attached", () => output.ToString());
            Assert.False(daemon.HasExited, $"agentschedd with {string.Join(' ', caps)} exited {(daemon.HasExited ? daemon.ExitCode : 0)}:\n{output}");

            Assert.Equal(0, Kill(daemon.Id, Signals.SIGTERM));
            using var cts = new CancellationTokenSource(s_exit);
            await daemon.WaitForExitAsync(cts.Token);
            Assert.Equal(0, daemon.ExitCode);
            Assert.Equal("disabled", SchedExtStatus.Read().State);
        }
        finally
        {
            if (!daemon.HasExited)
            {
                daemon.Kill();
            }
        }
    }

    [Fact]
    public async Task WithNoCapabilitiesItIsRefusedAsPermissionDenied()
    {
        // The control for the test above: setpriv's bounding set really takes root's powers away.
        var output = new StringBuilder();
        using Process daemon = StartBounded([], output);
        using var cts = new CancellationTokenSource(s_exit);
        await daemon.WaitForExitAsync(cts.Token);

        Assert.Equal((int)DaemonExitCode.PermissionDenied, daemon.ExitCode);
        Assert.Equal("disabled", SchedExtStatus.Read().State);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
