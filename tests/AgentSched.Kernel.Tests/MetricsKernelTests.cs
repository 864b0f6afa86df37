using System.Diagnostics;
using System.Text.Json;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>
/// The Prometheus endpoint with agent_class attached: scraped during a BURST agent loop beside
/// BATCH hogs and after it, parsed strictly, and compared with what the scheduler reported.
/// </summary>
public sealed class MetricsKernelTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ScrapesDuringLoadShowTheSchedulersCountersAndHistograms()
    {
        string dir = DaemonProcess.NewDirectory();
        string socket = Path.Combine(dir, "metrics.sock");
        using DaemonProcess d = DaemonProcess.Start(dir, $"--Metrics:Listen=unix:{socket}");
        await d.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        var hogs = new List<Process>();
        try
        {
            for (int i = 0; i < 2; i++)
            {
                hogs.Add(Process.Start(ProcessRunner.StartInfo(RepoPaths.Cli, "--socket", d.SocketPath, "run", "--class", "batch", "--", "sh", "-c", "while :; do :; done"))!);
            }
            // Both spinners must be marked before the agent loop starts: once it runs, the daemon's
            // answers wait behind BURST work, and `agentsched run` runs a command unmarked after 3 s.
            using (ApiConnection setup = await ApiConnection.OpenAsync(d.SocketPath))
            {
                var clock = Stopwatch.StartNew();
                while ((await setup.CallAsync("""{"v":1,"op":"status"}""")).GetProperty("marks").GetProperty("batch").GetInt32() < 2)
                {
                    Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the spinners were not both marked BATCH within 30 s");
                    await Task.Delay(100, Ct);
                }
            }
            Task<ProcessResult> agent = ProcessRunner.RunAsync(RepoPaths.Cli,
                ["--socket", d.SocketPath, "run", "--class", "burst", "--", RepoPaths.Workload, "steps", "--seconds", "6", "--tool-us", "2000", "--parse-us", "200", "--json"],
                TimeSpan.FromSeconds(120));
            // "During": 3 s in, or the first scrape after that once the loop's BURST steps began (under
            // TCG `agentsched run` and the loop's start sometimes take longer than 3 s).
            await Task.Delay(TimeSpan.FromSeconds(3), Ct);
            HttpScrape.Response during;
            var started = Stopwatch.StartNew();
            while (true)
            {
                during = await HttpScrape.GetAsync(socket);
                bool burstRan = during.Status == 200 && PrometheusText.Parse(during.Body)["agentsched_scheduler_dispatches_total"]
                    .Samples.Single(s => s.Label("class") == "burst").Value > 0;
                if (burstRan || agent.IsCompleted || started.Elapsed > TimeSpan.FromSeconds(60)) break;
                await Task.Delay(250, Ct);
            }
            ProcessResult loop = await agent;
            HttpScrape.Response after = await HttpScrape.GetAsync(socket);
            foreach (Process p in hogs) p.Kill();
            foreach (Process p in hogs) await p.WaitForExitAsync(Ct);
            await Task.Delay(TimeSpan.FromSeconds(1), Ct);
            HttpScrape.Response idle = await HttpScrape.GetAsync(socket);
            using ApiConnection api = await ApiConnection.OpenAsync(d.SocketPath);
            JsonElement stats = await api.CallAsync("""{"v":1,"op":"stats"}""");

            Assert.Equal(0, loop.ExitCode);
            Assert.Equal((200, 200), (during.Status, after.Status));
            var a = PrometheusText.Parse(during.Body);
            var b = PrometheusText.Parse(after.Body);
            Assert.Equal(1, a["agentsched_mode"].Samples.Single(s => s.Label("mode") == "sched_ext").Value);
            // Two spinners are always runnable as BATCH while the agent loop runs.
            Assert.True(a["agentsched_scheduler_runnable"].Samples.Single(s => s.Label("class") == "batch").Value >= 2, during.Body);
            foreach (string cls in new[] { "burst", "batch" })
            {
                double before = a["agentsched_scheduler_dispatches_total"].Samples.Single(s => s.Label("class") == cls).Value;
                double later = b["agentsched_scheduler_dispatches_total"].Samples.Single(s => s.Label("class") == cls).Value;
                Assert.True(before > 0 && later >= before, $"{cls} dispatches {before} then {later}");
            }
            // Counters never go back between two scrapes.
            foreach (PromFamily f in a.Values.Where(f => f.Type == "counter"))
            {
                foreach (PromSample s in f.Samples)
                {
                    PromSample next = b[f.Name].Samples.Single(x => x.Labels.Count == s.Labels.Count && x.Labels.All(l => s.Label(l.Key) == l.Value));
                    Assert.True(next.Value >= s.Value, $"{f.Name} went from {s.Value} to {next.Value}");
                }
            }
            // With the spinners gone nothing is runnable as BATCH: the gauge came back down.
            var c = PrometheusText.Parse(idle.Body);
            Assert.Equal(0, c["agentsched_scheduler_runnable"].Samples.Single(s => s.Label("class") == "batch").Value);
            // Nothing runs as BURST any more, so the histogram and `stats` read the same, settled map:
            // the same count, and a sum in seconds equal to stats' in microseconds.
            PromFamily wait = c["agentsched_scheduler_wait_seconds"];
            double count = wait.Samples.Single(s => s.Name.EndsWith("_count", StringComparison.Ordinal) && s.Label("class") == "burst").Value;
            double sum = wait.Samples.Single(s => s.Name.EndsWith("_sum", StringComparison.Ordinal) && s.Label("class") == "burst").Value;
            JsonElement burst = stats.GetProperty("wait").GetProperty("burst");
            Assert.True(count > 0, idle.Body);
            Assert.Equal(burst.GetProperty("count").GetUInt64(), (ulong)count);
            Assert.InRange(Math.Abs(burst.GetProperty("sum_us").GetDouble() - sum * 1e6), 0, 0.01); // the same nanoseconds, in two units
        }
        finally
        {
            foreach (Process p in hogs)
            {
                if (!p.HasExited) p.Kill();
                p.Dispose();
            }
        }
    }
}
