using System.Text.Json;

namespace AgentSched.Workload.Tests;

public sealed class StepResultTests
{
    [Theory]
    [InlineData(50, 5)]
    [InlineData(99, 10)]
    [InlineData(100, 10)]
    [InlineData(10, 1)]
    [InlineData(1, 1)]
    public void NearestRankPercentiles(double p, double expected)
    {
        double[] sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

        Assert.Equal(expected, StepResult.Percentile(sorted, p));
    }

    [Fact]
    public void TheP999OfAThousandStepsIsTheNineHundredNinetyNinth()
    {
        double[] sorted = [.. Enumerable.Range(1, 1000).Select(i => (double)i)];

        Assert.Equal(999, StepResult.Percentile(sorted, 99.9));
    }

    [Fact]
    public void EmptyInputHasZeroPercentiles()
    {
        StepResult r = StepResult.From([], TimeSpan.FromSeconds(1), 2200);

        Assert.Equal((0, 0.0, 0.0, 0.0), (r.Steps, r.P50Us, r.P99Us, r.MaxUs));
    }

    [Fact]
    public void ComputesRateAndPercentilesFromUnsortedLatencies()
    {
        var latencies = Enumerable.Range(1, 200).Select(i => (double)(201 - i) * 10).ToList();

        StepResult r = StepResult.From(latencies, TimeSpan.FromSeconds(4), 2200);

        Assert.Equal((200, 50.0, 1000.0, 1980.0, 2000.0), (r.Steps, r.StepsPerSecond, r.P50Us, r.P99Us, r.MaxUs));
        using JsonDocument doc = JsonDocument.Parse(r.ToJson());
        Assert.Equal(1980, doc.RootElement.GetProperty("p99_us").GetDouble());
    }

    [Fact]
    public void AnUncontendedLoopTakesAboutItsCpuTimePerStep()
    {
        // Behaviour, not timing precision: every step burns 1.2 ms of thread CPU, so none can be shorter.
        StepResult r = StepLoop.Run(steps: 20, TimeSpan.FromSeconds(30), toolUs: 1000, parseUs: 200);

        Assert.Equal(20, r.Steps);
        Assert.True(r.P50Us >= 1200, $"p50 {r.P50Us} µs is below the 1200 µs of CPU each step burns");
        Assert.Equal(20, r.LatenciesUs.Count);
        Assert.True(r.WaitUsPerRun >= 0, $"the run-queue wait per run was not read from schedstat ({r.WaitUsPerRun})");
        Assert.True(r.CpuSeconds >= 20 * 1.2e-3, $"the threads' CPU time {r.CpuSeconds} s is below the 24 ms their steps burned");
    }

    [Fact]
    public void ASliceIsAskedForBothThreads()
    {
        // The kernel's own record (sched_getattr), read while both threads are alive. Kernels before
        // 6.12 accept a fair task's sched_runtime but do not keep it.
        Assert.SkipUnless(Environment.OSVersion.Version >= new Version(6, 12), $"kernel {Environment.OSVersion.Version} has no custom slices (6.12+)");
        ulong agent = 0, tool = 0;
        StepLoop.Run(steps: 5, TimeSpan.FromSeconds(30), toolUs: 100, parseUs: 100, beforeStop: r =>
        {
            agent = AgentSched.Interop.Kernel.TaskScheduling.Get(r.AgentTid).RuntimeNs;
            tool = AgentSched.Interop.Kernel.TaskScheduling.Get(r.ToolTid).RuntimeNs;
        }, sliceNs: 1_500_000);

        Assert.Equal((1_500_000UL, 1_500_000UL), (agent, tool));
    }
}
