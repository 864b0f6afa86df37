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
            string tool = BuildTool(dir);

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

    /// <summary>
    /// A tool killed by a signal (as an emulator's fault kills one now and then) is a step left out,
    /// recorded as crashed, up to <see cref="OpenLoopAgent.MaxToolCrashes"/>; one more fails the run.
    /// </summary>
    [Fact]
    public void AToolKilledByASignalIsLeftOutUntilTooManyAre()
    {
        string dir = Directory.CreateTempSubdirectory("agentsched-agent-").FullName;
        try
        {
            string tool = BuildTool(dir), once = Path.Combine(dir, "crash-once"), always = Path.Combine(dir, "crash-always");
            File.WriteAllText(once, $"#!/bin/sh\n[ -e '{dir}/crashed' ] || {{ touch '{dir}/crashed'; kill -SEGV $$; }}\nexec '{tool}' \"$@\"\n");
            File.WriteAllText(always, "#!/bin/sh\nkill -SEGV $$\n");
            File.SetUnixFileMode(once, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            File.SetUnixFileMode(always, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            var options = new OpenLoopOptions { ToolPath = once, ThinkMeanMs = 2, ToolUs = 500, PipeUs = 200, ParseUs = 100, Duration = TimeSpan.FromSeconds(0.5) };

            OpenLoopAgent.Result r = OpenLoopAgent.Run(options, client: null);

            Assert.Equal(1, r.ToolCrashes);
            Assert.Equal("crashed", r.Steps[0].Kind);
            Assert.True(r.Steps.Count(s => s.Kind == "tool") >= 2, $"{r.Steps.Count} steps");
            var e = Assert.Throws<IOException>(() => OpenLoopAgent.Run(options with { ToolPath = always }, client: null));
            Assert.Contains("exited with 139", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// One process, several phases: each behind its own barrier (here regular go files, a barrier
    /// already open) with its own samples file and JSON line, the runaway only in its phase, and no
    /// step started after a phase's end.
    /// </summary>
    [Fact]
    public void AnAgentWithPhasesRunsEachBehindItsOwnBarrierWithItsOwnSamples()
    {
        string dir = Directory.CreateTempSubdirectory("agentsched-agent-").FullName;
        try
        {
            string tool = BuildTool(dir), p = Path.Combine(dir, "x");
            foreach (int k in new[] { 2, 3 })
            {
                File.WriteAllText($"{p}.go.{k}", "");
            }
            string[] args = ["--tool", tool, "--think-mean-ms", "5", "--tool-us", "500", "--seconds", "0.5", "--runaway-after", "0.1", "--runaway-ms", "30",
                             "--samples", $"{p}.samples", "--ready-file", $"{p}.ready", "--go-file", $"{p}.go", "--phases", "3", "--from-phase", "2", "--runaway-phase", "3"];

            Assert.Equal(0, AgentCommand.Run(args, "usage"));

            Assert.False(File.Exists($"{p}.samples.1"));
            Assert.All(new[] { 2, 3 }, k => Assert.True(File.Exists($"{p}.ready.{k}")));
            string[][] two = Rows($"{p}.samples.2"), three = Rows($"{p}.samples.3");
            Assert.True(two.Length >= 3 && three.Length >= 3, $"{two.Length} and {three.Length} steps");
            Assert.DoesNotContain(two, r => r[3] == "runaway");
            Assert.Single(three, r => r[3] == "runaway");
            foreach (string[][] rows in new[] { two, three })
            {
                long first = long.Parse(rows[0][0], CultureInfo.InvariantCulture), last = long.Parse(rows[^1][0], CultureInfo.InvariantCulture);
                Assert.InRange((last - first) / 1e9, 0, 0.5); // every step began inside the phase's half second
            }
            Assert.Equal(2, AgentCommand.Run([.. args[..^6], "--phases", "2", "--from-phase", "3"], "usage")); // no phase 3 of 2
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SeveralAgentsInOneProcessEachRunFromTheirOwnSeedWithTheirOwnSamples()
    {
        string dir = Directory.CreateTempSubdirectory("agentsched-agent-").FullName;
        try
        {
            string tool = BuildTool(dir), p = Path.Combine(dir, "x");
            File.WriteAllText($"{p}.go", "");
            string[] args = ["--tool", tool, "--seed", "7", "--think-mean-ms", "5", "--tool-us", "500", "--seconds", "0.6", "--runaway-after", "0.1",
                             "--runaway-ms", "30", "--samples", $"{p}.samples", "--ready-file", $"{p}.ready", "--go-file", $"{p}.go", "--agents", "3"];

            Assert.Equal(0, AgentCommand.Run(args, "usage"));

            Assert.True(File.Exists($"{p}.ready"));
            Assert.False(File.Exists($"{p}.samples"));
            string[][][] agents = [.. Enumerable.Range(0, 3).Select(j => Rows($"{p}.samples.{j}"))];
            Assert.All(agents, rows => Assert.True(rows.Length >= 3, $"{rows.Length} steps"));
            Assert.Single(agents[0], r => r[3] == "runaway");
            Assert.All(agents[1..], rows => Assert.DoesNotContain(rows, r => r[3] == "runaway"));
            // Agent j thinks from seed 7 + j: its first step starts one think after the go, so the first
            // steps lie apart by about as much as the first thinks (the same seed would start them together).
            double[] firstThinks = [.. Enumerable.Range(0, 3).Select(j => new ThinkTimes(7 + j, 5).NextMs())];
            long[] starts = [.. agents.Select(rows => long.Parse(rows[0][0], CultureInfo.InvariantCulture))];
            int earliest = Array.IndexOf(firstThinks, firstThinks.Min()), latest = Array.IndexOf(firstThinks, firstThinks.Max());
            double apartMs = (starts[latest] - starts[earliest]) / 1e6, thinksApartMs = firstThinks.Max() - firstThinks.Min();
            Assert.True(thinksApartMs > 5 && apartMs > thinksApartMs / 2, $"first thinks {string.Join(", ", firstThinks)} ms, first steps at {string.Join(", ", starts)} ns");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string[][] Rows(string path) => [.. File.ReadAllLines(path).Select(l => l.Split(' '))];

    private static string BuildTool(string dir)
    {
        string tool = Path.Combine(dir, "agent-tool");
        using Process cc = Process.Start("cc", ["-O2", "-static", "-o", tool, Path.Combine(AppContext.BaseDirectory, "agent-tool.c")])!;
        cc.WaitForExit();
        Assert.Equal(0, cc.ExitCode);
        return tool;
    }

    private static double[] Draw(ThinkTimes t, int n) => [.. Enumerable.Range(0, n).Select(_ => t.NextMs())];
}
