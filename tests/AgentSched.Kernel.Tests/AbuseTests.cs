using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Scheduler;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>A BURST mark cannot buy unbounded CPU: the step and period budgets demote a spinner.</summary>
public sealed partial class AbuseTests
{
    private static readonly int s_hogs = 2 * Environment.ProcessorCount;

    [Theory]
    [InlineData(0, AgentStat.DemoteStep)]       // spins forever: over the 8 ms step budget
    [InlineData(1000, AgentStat.DemotePeriod)]  // spins 7 ms, naps 1 ms: under the step budget, over its 50% share
    public async Task AMarkedSpinnerIsDemotedAndTheHogsKeepTheirCpu(int sleepUs, AgentStat demotion)
    {
        using var scheduler = AgentClassScheduler.Load(new AgentClassTunables());
        scheduler.Attach();

        double unmarked = await HogCpuSecondsBesideSpinner(scheduler, sleepUs, mark: false);
        ulong before = scheduler.ReadStats()[demotion];
        double marked = await HogCpuSecondsBesideSpinner(scheduler, sleepUs, mark: true);
        ulong demotions = scheduler.ReadStats()[demotion] - before;

        string report = $"hogs' CPU seconds: {unmarked:F2} beside the unmarked spinner, {marked:F2} beside the BURST one; {demotion} +{demotions}";
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        Assert.True(demotions > 0, report);
        Assert.True(marked >= 0.7 * unmarked, report);
    }

    /// <summary>CPU time (user + system) 2x vCPU stress-ng hogs get in 10 s beside one spinner.</summary>
    private static async Task<double> HogCpuSecondsBesideSpinner(AgentClassScheduler scheduler, int sleepUs, bool mark)
    {
        using Process spinner = Process.Start(ProcessRunner.StartInfo(RepoPaths.Workload, "spin", "--seconds", "14",
            "--run-us", "7000", "--sleep-us", sleepUs.ToString(CultureInfo.InvariantCulture)))!;
        if (mark)
        {
            scheduler.SetHint(spinner.Id, new AgentHint { ClassId = (uint)AgentClass.Burst, HomeCpu = -1 });
        }
        var psi = ProcessRunner.StartInfo("stress-ng", "--cpu", s_hogs.ToString(CultureInfo.InvariantCulture), "--timeout", "10s", "--metrics-brief");
        psi.WorkingDirectory = "/tmp";
        using Process hogs = Process.Start(psi)!;
        Task<string> stdout = hogs.StandardOutput.ReadToEndAsync();
        string stderr = await hogs.StandardError.ReadToEndAsync();
        await hogs.WaitForExitAsync(TestContext.Current.CancellationToken);
        spinner.Kill();
        await spinner.WaitForExitAsync(TestContext.Current.CancellationToken);

        // "stress-ng: metrc: [pid] cpu  <bogo ops> <real s> <usr s> <sys s> <ops/s real> <ops/s cpu>"
        Match m = MetricsLine().Match((await stdout) + stderr);
        Assert.True(m.Success, $"no stress-ng cpu metrics line in: {await stdout}{stderr}");
        return double.Parse(m.Groups["usr"].Value, CultureInfo.InvariantCulture) + double.Parse(m.Groups["sys"].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"\]\s+cpu\s+\d+\s+[\d.]+\s+(?<usr>[\d.]+)\s+(?<sys>[\d.]+)")]
    private static partial Regex MetricsLine();
}
