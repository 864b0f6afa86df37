using System.Diagnostics;
using System.Globalization;

namespace AgentSched.Workload.Tests;

public sealed class OpenLoopAgentTests
{
    [Fact]
    public void TheSameSeedGivesTheSameThinkTimes()
    {
        double[] a = Draw(new ThinkTimes(7, 20), 1000), b = Draw(new ThinkTimes(7, 20), 1000), c = Draw(new ThinkTimes(8, 20), 1000);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void ThinkTimesAreExponentialWithTheMeanAskedForAndCappedAtTenTimesIt()
    {
        double[] t = Draw(new ThinkTimes(1, 20), 100_000);

        Assert.InRange(t.Average(), 19.5, 20.5); // the cap at 200 ms takes 20 * e^-10 off the mean: nothing visible
        Assert.InRange(t.Count(x => x < 20) / (double)t.Length, 0.625, 0.640); // P(X < mean) = 1 - 1/e = 0.632
        Assert.All(t, x => Assert.InRange(x, 0, 200));
    }

    /// <summary>
    /// The agent on this host, unmarked, with the real tool: it runs tools and pipelines, sees each
    /// tool's first instruction after it started it, and its steps take at least the tool's CPU.
    /// </summary>
    [Fact]
    public void AnAgentRunsRealToolsAndRecordsEachStep()
    {
        string dir = Directory.CreateTempSubdirectory("agentsched-agent-").FullName;
        try
        {
            string tool = Path.Combine(dir, "agent-tool");
            string source = Path.Combine(AppContext.BaseDirectory, "agent-tool.c");
            using (Process cc = Process.Start("cc", ["-O2", "-static", "-o", tool, source])!)
            {
                cc.WaitForExit();
                Assert.Equal(0, cc.ExitCode);
            }

            OpenLoopAgent.Result r = OpenLoopAgent.Run(new OpenLoopOptions
            {
                ToolPath = tool, ThinkMeanMs = 2, ToolUs = 1000, PipeUs = 200, ParseUs = 100,
                Duration = TimeSpan.FromSeconds(1), RunawayAfterSeconds = 0.5, RunawayMs = 50,
            }, client: null);

            Assert.True(r.Steps.Count >= 6, $"{r.Steps.Count} steps");
            Assert.Contains(r.Steps, s => s.Kind == "pipeline");
            Assert.Single(r.Steps, s => s.Kind == "runaway");
            Assert.All(r.Steps.Where(s => s.Kind != "pipeline"), s => Assert.InRange(s.ToolStartUs, 0, 1_000_000));
            Assert.All(r.Steps.Where(s => s.Kind == "tool"), s => Assert.True(s.LatencyUs >= 1100, $"{s.LatencyUs} µs"));
            Assert.NotNull(r.Runaway);
            Assert.InRange((r.Runaway!.Value.EndNs - r.Runaway.Value.StartNs) / 1e6, 50, 5_000);
            string[] line = OpenLoopAgent.Samples(r.Steps).Split('\n')[0].Split(' ');
            Assert.Equal(r.Steps[0].StartNs, long.Parse(line[0], CultureInfo.InvariantCulture));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static double[] Draw(ThinkTimes t, int n) => [.. Enumerable.Range(0, n).Select(_ => t.NextMs())];
}
