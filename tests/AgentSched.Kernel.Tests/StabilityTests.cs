using System.Diagnostics;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>agent_class in full mode under CPU hogs plus fork/exec churn, for longer than the kernel's 30 s watchdog.</summary>
public sealed class StabilityTests
{
    [Fact]
    public async Task StaysAttachedThroughHogsAndForkExecChurnPastTheWatchdogTimeout()
    {
        using var scheduler = AgentClassScheduler.Load(new AgentClassTunables());
        scheduler.Attach();
        SchedExtStatus before = SchedExtStatus.Read();
        Assert.Equal(("enabled", "agent_class"), (before.State, before.Ops));

        int hogs = 2 * Environment.ProcessorCount;
        var psi = ProcessRunner.StartInfo("sh", "-c",
            $"stress-ng --cpu {hogs} --aggressive --timeout 40s --quiet & "
            + "end=$(($(date +%s) + 40)); n=0; while [ $(date +%s) -lt $end ]; do /bin/true; n=$((n+1)); done; wait; echo $n");
        psi.WorkingDirectory = "/tmp";
        using Process load = Process.Start(psi)!;
        string forks = await load.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await load.WaitForExitAsync(TestContext.Current.CancellationToken);

        SchedExtStatus after = SchedExtStatus.Read();
        IReadOnlyDictionary<AgentStat, ulong> stats = scheduler.ReadStats();
        TestContext.Current.TestOutputHelper?.WriteLine($"{forks.Trim()} fork/execs beside {hogs} hogs; "
            + string.Join(", ", stats.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.Equal(0, load.ExitCode);
        Assert.True(int.Parse(forks.Trim(), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(("enabled", "agent_class", before.EnableSeq), (after.State, after.Ops, after.EnableSeq));
        Assert.True(scheduler.IsAttached);
    }
}
