using System.Text.Json;
using AgentSched.Tests;

namespace AgentSched.Daemon.Tests;

/// <summary>
/// The real agentschedd, in fallback mode (this host has no sched_ext), over its real socket:
/// what a client sends, what it gets back, and what happened to the target process's scheduling
/// as the kernel reports it in /proc.
/// </summary>
public sealed class ApiTests : IAsyncLifetime
{
    private static readonly TimeSpan s_start = TimeSpan.FromSeconds(60);
    private DaemonProcess _daemon = null!;

    public async ValueTask InitializeAsync()
    {
        _daemon = DaemonProcess.Start(null, "--Scheduler:Mode=fallback");
        await _daemon.WaitForSocketAsync(s_start);
    }

    public ValueTask DisposeAsync()
    {
        _daemon.Dispose();
        return ValueTask.CompletedTask;
    }

    private Task<ApiConnection> Connect() => ApiConnection.OpenAsync(_daemon.SocketPath);

    private static void AssertOk(JsonElement r) => Assert.True(r.GetProperty("ok").GetBoolean(), r.ToString());

    private static void AssertError(JsonElement r, string code)
    {
        Assert.False(r.GetProperty("ok").GetBoolean(), r.ToString());
        Assert.Equal(code, r.GetProperty("error").GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(r.GetProperty("error").GetProperty("message").GetString()));
    }

    [Fact]
    public async Task MarkAndUnmarkChangeAndRestoreTheTargetsScheduling()
    {
        using ProcStat.Sleeper target = ProcStat.Sleep();
        using ApiConnection c = await Connect();
        Assert.Equal((0, 0), ProcStat.Sched(target.Pid));
        ulong? baseSlice = ProcStat.Slice(target.Pid);

        JsonElement burst = await c.CallAsync($$"""{"v":1,"id":1,"op":"mark","pid":{{target.Pid}},"class":"burst"}""");
        AssertOk(burst);
        Assert.Equal(1, burst.GetProperty("id").GetInt32());
        Assert.Equal("burst", burst.GetProperty("class").GetString());
        Assert.Equal((-10, 0), ProcStat.Sched(target.Pid));
        if (Environment.OSVersion.Version >= new Version(6, 12) && baseSlice is not null)
        {
            Assert.Equal(1_000_000UL, ProcStat.Slice(target.Pid)); // the 1 ms slice request, honoured since 6.12
        }

        AssertOk(await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{target.Pid}},"class":"batch"}"""));
        Assert.Equal((10, 3), ProcStat.Sched(target.Pid)); // SCHED_BATCH

        JsonElement unmark = await c.CallAsync($$"""{"v":1,"op":"unmark","pid":{{target.Pid}}}""");
        AssertOk(unmark);
        Assert.Equal("batch", unmark.GetProperty("was").GetString());
        Assert.Equal((0, 0), ProcStat.Sched(target.Pid));
        Assert.Equal(baseSlice, ProcStat.Slice(target.Pid));

        JsonElement again = await c.CallAsync($$"""{"v":1,"op":"unmark","pid":{{target.Pid}}}""");
        AssertOk(again);
        Assert.Equal(JsonValueKind.Null, again.GetProperty("was").ValueKind);
    }

    [Fact]
    public async Task AWindowEndsByItselfAndRestoresTheTask()
    {
        using ProcStat.Sleeper target = ProcStat.Sleep();
        using ApiConnection c = await Connect();

        JsonElement r = await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{target.Pid}},"class":"burst","window_ms":300}""");
        AssertOk(r);
        Assert.InRange(r.GetProperty("window_ms").GetInt32(), 1, 300);
        Assert.Equal(-10, ProcStat.Sched(target.Pid).Nice);

        await _daemon.WaitUntilAsync(() => ProcStat.Sched(target.Pid).Nice == 0, TimeSpan.FromSeconds(5), "the window's end restoring nice 0");
        JsonElement status = await c.CallAsync("""{"v":1,"op":"status"}""");
        Assert.Equal(0, status.GetProperty("marks").GetProperty("burst").GetInt32());
    }

    [Fact]
    public async Task AStepRaisesTheCallerUntilItEnds()
    {
        // The caller is another process (the step acts on whoever is connected); it reports its own /proc.
        ProcessResult r = await ProcessRunner.RunAsync(RepoPaths.Workload,
        [
            "api", "--socket", _daemon.SocketPath,
            "@self",
            """{"v":1,"op":"step_begin","window_ms":5000}""",
            "@self",
            """{"v":1,"op":"step_end"}""",
            "@self",
            """{"v":1,"op":"step_end"}""",
        ], TimeSpan.FromSeconds(60));

        Assert.True(r.ExitCode == 0, r.Stderr);
        string[] lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length);
        Assert.EndsWith("nice=0 policy=0", lines[0]);
        JsonElement begin = JsonDocument.Parse(lines[1]).RootElement;
        AssertOk(begin);
        Assert.Equal("burst", begin.GetProperty("class").GetString());
        Assert.EndsWith("nice=-10 policy=0", lines[2]);
        JsonElement end = JsonDocument.Parse(lines[3]).RootElement;
        AssertOk(end);
        Assert.True(end.GetProperty("open").GetBoolean());
        Assert.EndsWith("nice=0 policy=0", lines[4]);
        Assert.False(JsonDocument.Parse(lines[5]).RootElement.GetProperty("open").GetBoolean());
    }

    [Fact]
    public async Task InFallbackModeAGrantIsRefusedWithTheReasonAndStepsStillWork()
    {
        using ApiConnection c = await Connect();

        JsonElement grant = await c.CallAsync("""{"v":1,"op":"step_grant"}""");
        JsonElement revoke = await c.CallAsync("""{"v":1,"op":"step_revoke"}""");

        AssertOk(grant);
        Assert.False(grant.GetProperty("granted").GetBoolean());
        Assert.Contains("fallback", grant.GetProperty("reason").GetString());
        AssertOk(revoke);
        Assert.False(revoke.GetProperty("was_granted").GetBoolean());
        Assert.Equal(0, (await c.CallAsync("""{"v":1,"op":"status"}""")).GetProperty("marks").GetProperty("burst").GetInt32());
    }

    [Fact]
    public async Task BadInputGetsItsDocumentedCodeAndTheConnectionKeepsServing()
    {
        using ApiConnection c = await Connect();
        int thread = Directory.GetDirectories($"/proc/{Environment.ProcessId}/task").Select(d => int.Parse(Path.GetFileName(d))).First(t => t != Environment.ProcessId);
        (string Line, string Code)[] cases =
        [
            ("{not json", "bad_json"),
            ("""{"v":1,"op":"defragment"}""", "unknown_op"),
            ("""{"v":1,"op":"mark","class":"burst"}""", "bad_request"),
            ("""{"v":1,"op":"mark","pid":"x","class":"burst"}""", "bad_request"),
            ("""{"v":1,"op":"mark","pid":12,"class":"urgent"}""", "bad_request"),
            ("""{"v":1,"op":"mark","pid":12,"class":"burst","window_ms":-5}""", "bad_request"),
            ("""{"v":7,"op":"status"}""", "unsupported_version"),
            ("""{"v":1,"op":"mark","pid":2147483000,"class":"burst"}""", "no_such_process"),
            ($$"""{"v":1,"op":"mark","pid":{{thread}},"class":"burst"}""", "bad_request"),   // a thread, not a process
            ("""{"v":1,"op":"steps"}""", "bad_request"),
            ("""{"v":1,"op":"steps","pid":1,"after_ns":-1}""", "bad_request"),
            ("""{"v":1,"op":"steps","pid":1}""", "not_tracing"),   // fallback mode records no steps
        ];
        foreach ((string line, string code) in cases)
        {
            AssertError(await c.CallAsync(line), code);
        }

        await c.SendRawAsync(new string('x', 70_000) + "\n");
        AssertError(JsonDocument.Parse(await c.ReadLineAsync()).RootElement, "line_too_long");

        AssertOk(await c.CallAsync("""{"v":1,"op":"ping"}"""));
        JsonElement stats = await c.CallAsync("""{"v":1,"op":"stats"}""");
        JsonElement errors = stats.GetProperty("api").GetProperty("errors");
        Assert.Equal(7, errors.GetProperty("bad_request").GetInt32());
        Assert.Equal(JsonValueKind.Null, stats.GetProperty("steps").ValueKind);
        Assert.Equal(1, errors.GetProperty("line_too_long").GetInt32());
        Assert.Equal(JsonValueKind.Null, stats.GetProperty("scheduler").ValueKind);
    }

    [Fact]
    public async Task ANonRootCallerMayOnlyMarkItsOwnProcesses()
    {
        using ProcStat.Sleeper rootOwned = ProcStat.Sleep();
        using ProcStat.Sleeper nobodyOwned = ProcStat.SleepAs(65534);
        await _daemon.WaitUntilAsync(() => File.ReadAllText($"/proc/{nobodyOwned.Pid}/status").Contains("Uid:\t65534"), TimeSpan.FromSeconds(10), "setpriv to drop to uid 65534");

        ProcessResult r = await ProcessRunner.RunAsync("setpriv",
        [
            "--reuid=65534", "--regid=65534", "--clear-groups", RepoPaths.Workload, "api", "--socket", _daemon.SocketPath,
            """{"v":1,"op":"mark","pid":1,"class":"burst"}""",
            $$"""{"v":1,"op":"mark","pid":{{rootOwned.Pid}},"class":"burst"}""",
            $$"""{"v":1,"op":"unmark","pid":{{rootOwned.Pid}}}""",
            $$"""{"v":1,"op":"mark","pid":{{nobodyOwned.Pid}},"class":"batch"}""",
        ], TimeSpan.FromSeconds(60));

        Assert.True(r.ExitCode == 0, r.Stderr);
        JsonElement[] responses = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(4, responses.Length);
        AssertError(responses[0], "permission_denied");
        AssertError(responses[1], "permission_denied");
        AssertError(responses[2], "permission_denied");
        AssertOk(responses[3]);
        Assert.Equal((0, 0), ProcStat.Sched(rootOwned.Pid));
        Assert.Equal((10, 3), ProcStat.Sched(nobodyOwned.Pid));

        using ApiConnection c = await Connect();
        AssertOk(await c.CallAsync("""{"v":1,"op":"ping"}"""));
    }

    [Fact]
    public async Task FiveHundredConcurrentClientsEachGetTheirTwoHundredAnswers()
    {
        var targets = Enumerable.Range(0, 8).Select(_ => ProcStat.Sleep()).ToList();
        try
        {
            async Task Client(int n)
            {
                using ApiConnection c = await Connect();
                for (int i = 0; i < 200; i++)
                {
                    int pid = targets[(n + i) % targets.Count].Pid;
                    string line = (i % 4) switch
                    {
                        0 => $$"""{"v":1,"id":"{{n}}-{{i}}","op":"mark","pid":{{pid}},"class":"batch"}""",
                        1 => $$"""{"v":1,"id":"{{n}}-{{i}}","op":"status"}""",
                        2 => $$"""{"v":1,"id":"{{n}}-{{i}}","op":"unmark","pid":{{pid}}}""",
                        _ => $$"""{"v":1,"id":"{{n}}-{{i}}","op":"ping"}""",
                    };
                    JsonElement r = await c.CallAsync(line);
                    Assert.Equal($"{n}-{i}", r.GetProperty("id").GetString());
                    AssertOk(r);
                    if (i % 4 == 0)
                    {
                        Assert.Equal(pid, r.GetProperty("pid").GetInt32());
                        Assert.Equal("batch", r.GetProperty("class").GetString());
                    }
                    else if (i % 4 == 1)
                    {
                        Assert.Equal("fallback", r.GetProperty("mode").GetString());
                    }
                }
            }

            await Task.WhenAll(Enumerable.Range(0, 500).Select(n => Task.Run(() => Client(n)))).WaitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);

            using ApiConnection check = await Connect();
            JsonElement stats = await check.CallAsync("""{"v":1,"op":"stats"}""");
            Assert.True(stats.GetProperty("api").GetProperty("requests").GetInt64() >= 100_000);
            // 500 clients, this one, and the probe that found the daemon ready.
            Assert.Equal(502, stats.GetProperty("api").GetProperty("connections_total").GetInt64());
        }
        finally
        {
            targets.ForEach(t => t.Dispose());
        }
    }

    [Fact]
    public async Task PipelinedRequestsAreAnsweredInOrder()
    {
        using ApiConnection c = await Connect();
        await c.SendRawAsync(string.Concat(Enumerable.Range(0, 300).Select(i =>
            i % 3 == 0 ? $$"""{"v":1,"id":{{i}},"op":"ping"}""" + "\n" : $$"""{"v":1,"id":{{i}},"op":"bogus"}""" + "\n")));
        for (int i = 0; i < 300; i++)
        {
            JsonElement r = JsonDocument.Parse(await c.ReadLineAsync()).RootElement;
            Assert.Equal(i, r.GetProperty("id").GetInt32());
            Assert.Equal(i % 3 == 0, r.GetProperty("ok").GetBoolean());
        }
    }
}
