using System.Diagnostics;
using System.Net;
using System.Text;
using AgentSched.Daemon.Metrics;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Scheduler;
using AgentSched.Tests;

namespace AgentSched.Daemon.Tests;

/// <summary>The Prometheus endpoint of a real agentschedd (fallback mode), read by a strict parser.</summary>
public sealed class MetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static double Value(IReadOnlyDictionary<string, PromFamily> f, string family, string label = "", string value = "") =>
        f[family].Samples.Single(s => label.Length == 0 || s.Label(label) == value).Value;

    [Fact]
    public async Task TheUnixEndpointServesTheDaemonsStateInTheTextFormat()
    {
        string dir = DaemonProcess.NewDirectory();
        string socket = Path.Combine(dir, "metrics.sock");
        using var daemon = DaemonProcess.Start(dir, $"--Metrics:Listen=unix:{socket}");
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        using var sleeper = Process.Start("sleep", "30");
        using (ApiConnection api = await ApiConnection.OpenAsync(daemon.SocketPath))
        {
            Assert.True((await api.CallAsync($$"""{"v":1,"op":"mark","pid":{{sleeper.Id}},"class":"batch"}""")).GetProperty("ok").GetBoolean());
            await api.CallAsync("""{"v":1,"op":"bogus"}""");
        }

        HttpScrape.Response r = await HttpScrape.GetAsync(socket);
        var f = PrometheusText.Parse(r.Body);

        Assert.Equal(200, r.Status);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", r.Headers["Content-Type"]);
        Assert.Equal(1, Value(f, "agentsched_mode", "mode", "fallback"));
        Assert.Equal(0, Value(f, "agentsched_mode", "mode", "sched_ext"));
        Assert.Equal(1, Value(f, "agentsched_healthy"));
        Assert.Equal(1, Value(f, "agentsched_marks", "class", "batch"));
        Assert.Equal(0, Value(f, "agentsched_marks", "class", "burst"));
        Assert.Equal(1, Value(f, "agentsched_api_requests_total", "op", "mark"));
        Assert.Equal(1, Value(f, "agentsched_api_errors_total", "code", "unknown_op"));
        Assert.Equal("counter", f["agentsched_scheduler_dispatches_total"].Type);
        Assert.Empty(f["agentsched_scheduler_dispatches_total"].Samples); // no scheduler in fallback mode
        Assert.Equal("histogram", f["agentsched_scheduler_wait_seconds"].Type);
        Assert.Empty(f["agentsched_scheduler_wait_seconds"].Samples);
        Assert.Equal("666", Convert.ToString((int)File.GetUnixFileMode(socket), 8)); // the API socket's mode (DaemonProcess sets 0666)
        sleeper.Kill();
    }

    [Fact]
    public async Task TheTcpEndpointAnswersAnHttpClientAndRefusesTheRest()
    {
        int port = HttpScrape.FreePort();
        using var daemon = DaemonProcess.Start(null, $"--Metrics:Listen=127.0.0.1:{port}");
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        var endpoint = new IPEndPoint(IPAddress.Loopback, port);

        using var http = new HttpClient();
        HttpResponseMessage ok = await http.GetAsync($"http://127.0.0.1:{port}/metrics", Ct);
        HttpScrape.Response root = await HttpScrape.GetAsync(endpoint, "/");
        HttpScrape.Response post = await HttpScrape.GetAsync(endpoint, "/metrics", "POST");
        HttpScrape.Response head = await HttpScrape.GetAsync(endpoint, "/metrics", "HEAD");
        HttpScrape.Response garbage = await HttpScrape.SendAsync(endpoint, "hello\r\n\r\n");

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.NotEmpty(PrometheusText.Parse(await ok.Content.ReadAsStringAsync(Ct)));
        Assert.Equal(404, root.Status);
        Assert.Equal((405, "GET, HEAD"), (post.Status, post.Headers["Allow"]));
        Assert.Equal((200, ""), (head.Status, head.Body));
        Assert.True(int.Parse(head.Headers["Content-Length"]) > 0);
        Assert.Equal(400, garbage.Status);
    }

    [Fact]
    public async Task ScrapesDuringLoadAllSucceed()
    {
        string dir = DaemonProcess.NewDirectory();
        string socket = Path.Combine(dir, "metrics.sock");
        using var daemon = DaemonProcess.Start(dir, $"--Metrics:Listen=unix:{socket}");
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));
        using var sleeper = Process.Start("sleep", "60");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));

        Task load = Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            using ApiConnection api = await ApiConnection.OpenAsync(daemon.SocketPath);
            while (!stop.IsCancellationRequested)
            {
                await api.CallAsync($$"""{"v":1,"op":"mark","pid":{{sleeper.Id}},"class":"burst"}""");
                await api.CallAsync($$"""{"v":1,"op":"unmark","pid":{{sleeper.Id}}}""");
            }
        }));
        var scrapes = new List<HttpScrape.Response>();
        while (!stop.IsCancellationRequested)
        {
            scrapes.AddRange(await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => HttpScrape.GetAsync(socket))));
        }
        await load;

        Assert.True(scrapes.Count >= 8, $"only {scrapes.Count} scrapes");
        Assert.All(scrapes, s => Assert.Equal(200, s.Status));
        Assert.All(scrapes, s => PrometheusText.Parse(s.Body));
        double[] requests = [.. scrapes.Select(s => PrometheusText.Parse(s.Body)["agentsched_api_requests_total"].Samples.Sum(x => x.Value))];
        Assert.True(requests[^1] > requests[0], "the request counter did not move during the load");
        sleeper.Kill();
    }

    [Theory]
    [InlineData("0.0.0.0:9469", "is not a loopback address")]
    [InlineData("9469", "must be empty, ADDRESS:PORT or unix:/PATH")]
    [InlineData("unix:relative.sock", "must be an absolute Unix socket path")]
    public async Task ANonLoopbackOrMalformedAddressIsAConfigurationError(string listen, string expected)
    {
        using var daemon = DaemonProcess.Start(null, $"--Metrics:Listen={listen}");

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(expected, daemon.Output);
    }

    [Fact]
    public void TheWaitHistogramFollowsTheSchedulersLog2Buckets()
    {
        // BURST: one wait in [1, 2) ns, two in [2, 4) ns, three beyond 2^31 ns (the open-ended last bucket).
        ulong[][] buckets = [new ulong[32], new ulong[32], new ulong[32]];
        buckets[1][0] = 1;
        buckets[1][1] = 2;
        buckets[1][31] = 3;
        var snapshot = new AgentSched.Interop.Scheduler.AgentLatencySnapshot(buckets, [0, 9_000_000_000, 0], [0, 7_500_000_000, 0]);
        var text = new StringBuilder();

        PrometheusExporter.WriteWaitHistogram(text, snapshot);
        var f = PrometheusText.Parse(text.ToString());

        string[] lines = text.ToString().Split('\n');
        Assert.Contains("agentsched_scheduler_wait_seconds_bucket{class=\"burst\",le=\"2E-09\"} 1", lines);
        Assert.Contains("agentsched_scheduler_wait_seconds_bucket{class=\"burst\",le=\"4E-09\"} 3", lines);
        Assert.Contains("agentsched_scheduler_wait_seconds_bucket{class=\"burst\",le=\"2.147483648\"} 3", lines);
        Assert.Contains("agentsched_scheduler_wait_seconds_bucket{class=\"burst\",le=\"+Inf\"} 6", lines);
        Assert.Contains("agentsched_scheduler_wait_seconds_sum{class=\"burst\"} 7.5", lines);
        Assert.Contains("agentsched_scheduler_wait_seconds_count{class=\"burst\"} 6", lines);
        Assert.Equal(3 * (31 + 1 + 2), f["agentsched_scheduler_wait_seconds"].Samples.Count); // 31 finite bounds, +Inf, _sum, _count per class
    }

    [Fact]
    public unsafe void TheStepHistogramsAreOneFamilyPerPartOfAStep()
    {
        // BATCH: two steps, one of 3 ms and one beyond 2^31 ns, waiting 1.5 ms and 0.5 ms and running 2 ms and 1 ms.
        int n = AgentLatencySizes.Buckets, times = AgentStepStats.Times;
        ulong[] row = new ulong[sizeof(AgentStepStats) / 8];
        int Bucket(AgentStepTime t, int b) => ((int)AgentClass.Batch * times + (int)t) * n + b;
        row[Bucket(AgentStepTime.Total, 21)] = 1;   // [2^21, 2^22) ns
        row[Bucket(AgentStepTime.Total, 31)] = 1;
        row[Bucket(AgentStepTime.Wait, 20)] = 1;
        row[Bucket(AgentStepTime.Wait, 18)] = 1;
        row[Bucket(AgentStepTime.Run, 20)] = 2;
        int sums = 3 * times * n;
        row[sums + (int)AgentClass.Batch * times + (int)AgentStepTime.Wait] = 2_000_000;
        var snapshot = AgentStepSnapshot.FromPerCpu([row, new ulong[row.Length]]);
        var text = new StringBuilder();

        PrometheusExporter.WriteStepHistograms(text, snapshot);
        var f = PrometheusText.Parse(text.ToString());

        string[] lines = text.ToString().Split('\n');
        Assert.Equal(["agentsched_step_run_seconds", "agentsched_step_seconds", "agentsched_step_wait_seconds"], f.Keys.Order());
        Assert.All(f.Values, family => Assert.Equal("histogram", family.Type));
        Assert.Contains("agentsched_step_seconds_bucket{class=\"batch\",le=\"0.004194304\"} 1", lines);
        Assert.Contains("agentsched_step_seconds_bucket{class=\"batch\",le=\"2.147483648\"} 1", lines);
        Assert.Contains("agentsched_step_seconds_bucket{class=\"batch\",le=\"+Inf\"} 2", lines);
        Assert.Contains("agentsched_step_wait_seconds_bucket{class=\"batch\",le=\"0.000524288\"} 1", lines);
        Assert.Contains("agentsched_step_wait_seconds_sum{class=\"batch\"} 0.002", lines);
        Assert.Contains("agentsched_step_run_seconds_count{class=\"batch\"} 2", lines);
        Assert.Contains("agentsched_step_run_seconds_count{class=\"burst\"} 0", lines);
    }

    [Fact]
    public async Task TheMetricsSocketNeverReplacesTheApiSocketOrAFile()
    {
        string dir = DaemonProcess.NewDirectory();
        using (var same = DaemonProcess.Start(dir, $"--Metrics:Listen=unix:{Path.Combine(dir, "agentsched.sock")}"))
        {
            Assert.Equal(2, await same.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("is the API socket (Api:SocketPath)", same.Output);
        }
        string file = Path.Combine(dir, "precious.json");
        File.WriteAllText(file, "{}");
        using (var clash = DaemonProcess.Start(dir, $"--Metrics:Listen=unix:{file}"))
        {
            Assert.Equal(2, await clash.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("exists and is not a socket; refusing to replace it", clash.Output);
        }
        Assert.Equal("{}", File.ReadAllText(file));
        Assert.False(File.Exists(Path.Combine(dir, "agentsched.sock"))); // the API socket bound first was removed on the way out
    }

    [Fact]
    public async Task AStaleMetricsSocketIsReplacedAndRemovedAtStop()
    {
        string dir = DaemonProcess.NewDirectory();
        string socket = Path.Combine(dir, "metrics.sock");
        using (var stale = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            stale.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socket)); // bound, never listening: what a killed daemon leaves
        }
        using var daemon = DaemonProcess.Start(dir, $"--Metrics:Listen=unix:{socket}");
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(200, (await HttpScrape.GetAsync(socket)).Status);
        daemon.Signal(Signals.SIGTERM);
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(File.Exists(socket));
    }

    [Fact]
    public void LabelValuesAndHelpAreEscaped()
    {
        var text = new StringBuilder();
        PrometheusExporter.WriteHeader(text, "x_total", "a \\ back\nslash", "counter");
        PrometheusExporter.WriteSample(text, "x_total", [("v", "q\"uo\\te\nnl")], 3);

        var f = PrometheusText.Parse(text.ToString());

        Assert.Equal("q\"uo\\te\nnl", f["x_total"].Samples.Single().Label("v"));
        Assert.Equal("a \\\\ back\\nslash", f["x_total"].Help);
    }

    [Theory]
    [InlineData("# HELP a_total x\n# TYPE a_total counter\na_total -1\n", "has value -1")]
    [InlineData("# HELP a x\n# TYPE a counter\na 1\n", "not named _total")]
    [InlineData("a 1\n# HELP a x\n# TYPE a gauge\n", "belongs to no declared family")]
    [InlineData("# HELP a x\n# TYPE a gauge\na{l=\"1\"} 1\na{l=\"1\"} 2\n", "duplicate series")]
    [InlineData("# HELP a x\n# TYPE a gauge\na{l=\"\\t\"} 1\n", "bad escape")]
    [InlineData("# HELP a x\n# TYPE a gauge\na{l=1} 1\n", "not quoted")]
    [InlineData("# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\nb 1\na 1\n", "outside its family's block")]
    [InlineData("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"2\"} 3\nh_bucket{le=\"+Inf\"} 5\nh_sum 1\nh_count 5\n", "not cumulative")]
    [InlineData("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_sum 1\nh_count 5\n", "no +Inf bucket")]
    [InlineData("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 5\nh_sum 1\nh_count 4\n", "!= +Inf bucket")]
    [InlineData("# HELP a x\n# TYPE a gauge\na 1", "must end with a newline")]
    public void TheParserIsStrict(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => PrometheusText.Parse(text));
        Assert.Contains(expected, e.Message);
    }
}
