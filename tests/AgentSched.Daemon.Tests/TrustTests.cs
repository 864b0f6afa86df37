using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using AgentSched.Interop.Kernel;
using AgentSched.Tests;

namespace AgentSched.Daemon.Tests;

/// <summary>
/// The reliability issue's findings, tried against the real agentschedd (fallback mode, this host)
/// the way an attacker or an unlucky operator would, each asserted on what the kernel reports in
/// /proc and what the daemon answers. Runs as root (ns_last_pid, prlimit, SCHED_FIFO).
/// </summary>
[Collection(PidReuseCollection.Name)]
public sealed class TrustTests
{
    private static readonly TimeSpan s_start = TimeSpan.FromSeconds(60);
    private const int SchedFifo = 1, SchedIdle = 5;

    /// <summary>
    /// A thread of the marked process makes itself SCHED_IDLE, so that is what the daemon saves for it;
    /// it exits, its tid goes to another task (here root's SCHED_FIFO 10 sleeper, given the tid through
    /// ns_last_pid the way ~32,000 forks would), and the mark ends. Before the fix the daemon, as
    /// root, "restored" SCHED_IDLE onto the new task.
    /// </summary>
    [Theory]
    [InlineData("unmark")]
    [InlineData("window")]
    public async Task ReusedThreadIdNeverGetsTheMarksSavedSettings(string ending)
    {
        using DaemonProcess daemon = DaemonProcess.Start(null, "--Scheduler:Mode=fallback");
        await daemon.WaitForSocketAsync(s_start);
        using Process child = Process.Start(new ProcessStartInfo("python3", ["-c",
            "import os, sys, threading\n" +
            "ev = threading.Event()\n" +
            "def helper():\n" +
            "    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n" +
            "    print(threading.get_native_id(), flush=True)\n" +
            "    ev.wait()\n" +
            "t = threading.Thread(target=helper); t.start()\n" +
            "sys.stdin.readline(); ev.set(); t.join(); print('joined', flush=True)\n" +
            "sys.stdin.readline()\n"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        try
        {
            int tid = int.Parse(await ReadLine(child), CultureInfo.InvariantCulture);
            Assert.Equal((0, SchedIdle), ProcStat.SchedAt($"/proc/{child.Id}/task/{tid}/stat"));
            using ApiConnection c = await ApiConnection.OpenAsync(daemon.SocketPath);
            string window = ending == "window" ? ",\"window_ms\":1500" : "";
            AssertOk(await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{child.Id}},"class":"burst"{{window}}}"""));
            Assert.Equal((-10, 0), ProcStat.SchedAt($"/proc/{child.Id}/task/{tid}/stat")); // the daemon saw and changed it

            await child.StandardInput.WriteLineAsync("exit the helper");
            await child.StandardInput.FlushAsync(TestContext.Current.CancellationToken);
            Assert.Equal("joined", await ReadLine(child));
            await daemon.WaitUntilAsync(() => !Directory.Exists($"/proc/{tid}"), TimeSpan.FromSeconds(10), $"tid {tid} to be freed");
            using ProcStat.Sleeper victim = ProcStat.ReusePid(tid);
            TaskScheduling.Set(victim.Pid, new SchedAttr(SchedPolicy.Fifo, 0, 10, 0, 0));

            if (ending == "unmark")
            {
                AssertOk(await c.CallAsync($$"""{"v":1,"op":"unmark","pid":{{child.Id}}}"""));
            }
            else
            {
                await daemon.WaitUntilAsync(() => ProcStat.Sched(child.Id) == (0, 0), TimeSpan.FromSeconds(10), "the window to end and the main thread to be restored");
            }

            Assert.Equal((0, 0), ProcStat.Sched(child.Id));
            SchedAttr after = TaskScheduling.Get(victim.Pid);
            Assert.Equal((SchedPolicy.Fifo, 10u), (after.Policy, after.RtPriority));
            Assert.Equal((0, SchedFifo), ProcStat.Sched(victim.Pid));
        }
        finally
        {
            child.Kill();
            await child.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }

    /// <summary>
    /// The daemon runs out of file descriptors (its limit lowered to 160 while it runs): marks past
    /// that are refused with resource_exhausted on a connection that stays open, connections past it
    /// wait in the backlog, and the daemon neither stops nor undoes a single accepted mark. Before
    /// the fix the first EMFILE dropped the connection unanswered and the daemon began a clean stop
    /// that restored every marked task.
    /// </summary>
    [Fact]
    public async Task RunningOutOfFileDescriptorsRefusesRequestsAndUndoesNoMark()
    {
        using DaemonProcess daemon = DaemonProcess.Start(null, "--Scheduler:Mode=fallback", "--Api:MaxMarksPerUid=100000", "--Api:MaxBurstTasksPerUid=100000");
        await daemon.WaitForSocketAsync(s_start);
        using ApiConnection c = await ApiConnection.OpenAsync(daemon.SocketPath);
        AssertOk(await c.CallAsync("""{"v":1,"op":"ping"}"""));
        ProcessResult limited = await ProcessRunner.RunAsync("prlimit", ["--pid", daemon.Pid.ToString(CultureInfo.InvariantCulture), "--nofile=160:160"], TimeSpan.FromSeconds(10));
        Assert.True(limited.ExitCode == 0, limited.Stderr);

        var sleepers = new List<ProcStat.Sleeper>();
        var marked = new List<int>();
        try
        {
            JsonElement refused = default;
            for (int i = 0; i < 200 && refused.ValueKind == JsonValueKind.Undefined; i++)
            {
                ProcStat.Sleeper s = ProcStat.Sleep();
                sleepers.Add(s);
                JsonElement r = await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{s.Pid}},"class":"burst"}""");
                if (r.GetProperty("ok").GetBoolean()) marked.Add(s.Pid); else refused = r;
            }
            Assert.NotEqual(JsonValueKind.Undefined, refused.ValueKind);
            Assert.Equal("resource_exhausted", refused.GetProperty("error").GetProperty("code").GetString());
            Assert.InRange(marked.Count, 50, 160);

            // More connections than descriptors: the daemon keeps running and serves again once they close.
            var extra = new List<ApiConnection>();
            for (int i = 0; i < 100; i++) extra.Add(await ApiConnection.OpenAsync(daemon.SocketPath));
            await Task.Delay(1000, TestContext.Current.CancellationToken);
            AssertOk(await c.CallAsync("""{"v":1,"op":"ping"}"""));
            foreach (ApiConnection e in extra) e.Dispose();
            Assert.False(daemon.HasExited, daemon.Output);

            for (int i = 0; i < 3; i++) // a few descriptors are free again: the next request is served
            {
                AssertOk(await c.CallAsync($$"""{"v":1,"op":"unmark","pid":{{marked[^1]}}}"""));
                marked.RemoveAt(marked.Count - 1);
            }
            using ApiConnection late = await ApiConnection.OpenAsync(daemon.SocketPath);
            JsonElement status = await late.CallAsync("""{"v":1,"op":"status"}""");
            AssertOk(status);
            Assert.Equal(marked.Count, status.GetProperty("marks").GetProperty("burst").GetInt32());
            Assert.All(marked, pid => Assert.Equal((-10, 0), ProcStat.Sched(pid)));
            Assert.False(daemon.HasExited, daemon.Output);
        }
        finally
        {
            foreach (ProcStat.Sleeper s in sleepers) s.Dispose();
        }
    }

    [Fact]
    public async Task ConnectionsOverTheLimitAreAnsweredAndClosed()
    {
        using DaemonProcess daemon = DaemonProcess.Start(null, "--Scheduler:Mode=fallback", "--Api:MaxConnectionsPerUid=3");
        await daemon.WaitForSocketAsync(s_start);
        var open = new List<ApiConnection>();
        for (int i = 0; i < 3; i++)
        {
            open.Add(await ApiConnection.OpenAsync(daemon.SocketPath));
            AssertOk(await open[^1].CallAsync("""{"v":1,"op":"ping"}"""));
        }

        using (ApiConnection over = await ApiConnection.OpenAsync(daemon.SocketPath))
        {
            JsonElement r = JsonDocument.Parse(await over.ReadLineAsync()).RootElement;
            Assert.Equal("limit_exceeded", r.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains("Api:MaxConnectionsPerUid", r.GetProperty("error").GetProperty("message").GetString());
            await Assert.ThrowsAsync<EndOfStreamException>(over.ReadLineAsync);
        }

        open[0].Dispose();
        await Task.Delay(200, TestContext.Current.CancellationToken); // the daemon sees the close
        using ApiConnection again = await ApiConnection.OpenAsync(daemon.SocketPath);
        AssertOk(await again.CallAsync("""{"v":1,"op":"ping"}"""));
        foreach (ApiConnection o in open.Skip(1)) o.Dispose();
    }

    /// <summary>
    /// A storm of 3,000 connections, each answered once and then closed: the daemon's RSS comes back
    /// to near where it was (before the fix it kept about 24 KB per connection the storm had held).
    /// </summary>
    [Fact]
    public async Task MemoryARunOfConnectionsTookIsReturnedWhenTheyClose()
    {
        const int storm = 3_000;
        using DaemonProcess daemon = DaemonProcess.Start(null, "--Scheduler:Mode=fallback", "--Api:MaxConnectionsPerUid=5000", "--Api:MaxConnections=5000");
        await daemon.WaitForSocketAsync(s_start);
        using (ApiConnection warm = await ApiConnection.OpenAsync(daemon.SocketPath))
        {
            AssertOk(await warm.CallAsync("""{"v":1,"op":"status"}"""));
        }
        long before = RssKb(daemon.Pid);
        var open = new List<ApiConnection>();
        for (int i = 0; i < storm; i++) open.Add(await OpenPatientlyAsync(daemon.SocketPath));
        foreach (ApiConnection c in open) AssertOk(await c.CallAsync("""{"v":1,"op":"ping"}"""));
        long during = RssKb(daemon.Pid);
        foreach (ApiConnection c in open) c.Dispose();
        await daemon.WaitUntilAsync(() => daemon.Output.Contains($"the last of {storm} connections closed", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the storm's end to be logged");

        long after = RssKb(daemon.Pid);
        Assert.True(after - before < 8 * 1024, $"RSS {before} kB before {storm} connections, {during} kB with them, {after} kB after they closed");
    }

    /// <summary>
    /// Connects, waiting out a full listen backlog: a Unix socket's connect fails with EAGAIN
    /// while the daemon has not yet accepted the connections queued before it.
    /// </summary>
    private static async Task<ApiConnection> OpenPatientlyAsync(string path)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await ApiConnection.OpenAsync(path);
            }
            catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode is System.Net.Sockets.SocketError.WouldBlock or System.Net.Sockets.SocketError.TryAgain && attempt < 3000)
            {
                await Task.Delay(10);
            }
        }
    }

    /// <summary>
    /// Finding 3: a line that is not UTF-8, or escapes a lone surrogate, in an op, a class or a
    /// property name, is answered bad_json like any bad line, and the lines pipelined after it are
    /// all answered. Before the fix such a line closed the connection unanswered.
    /// </summary>
    [Fact]
    public async Task InvalidUtf8IsAnsweredAndLosesNoPipelinedRequest()
    {
        using DaemonProcess daemon = DaemonProcess.Start(null, "--Scheduler:Mode=fallback");
        await daemon.WaitForSocketAsync(s_start);
        using ApiConnection c = await ApiConnection.OpenAsync(daemon.SocketPath);
        byte[][] bad =
        [
            [.. "{\"v\":1,\"op\":\"pi"u8, 0xff, .. "ng\"}\n"u8],
            [.. "{\"v\":1,\"op\":\"mark\",\"pid\":1,\"class\":\""u8, 0xc3, .. "\"}\n"u8],
            [.. "{\"v\":1,\""u8, 0xfe, .. "\":1,\"op\":\"ping\"}\n"u8],
            [.. "{\"v\":1,\"id\":\""u8, 0xff, .. "\",\"op\":\"ping\"}\n"u8],
            "{\"v\":1,\"op\":\"\\ud800\"}\n"u8.ToArray(),
        ];
        byte[] pipelined = [.. bad.SelectMany(line => line.Concat("{\"v\":1,\"op\":\"ping\",\"id\":7}\n"u8.ToArray()))];
        await c.SendRawAsync(pipelined);

        for (int i = 0; i < bad.Length; i++)
        {
            JsonElement r = JsonDocument.Parse(await c.ReadLineAsync()).RootElement;
            Assert.Equal("bad_json", r.GetProperty("error").GetProperty("code").GetString());
            Assert.False(r.TryGetProperty("id", out _), r.ToString());
            JsonElement ping = JsonDocument.Parse(await c.ReadLineAsync()).RootElement;
            AssertOk(ping);
            Assert.Equal(7, ping.GetProperty("id").GetInt32());
        }
        Assert.DoesNotContain("Exception", daemon.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Finding 5: marks.json, as the daemon wrote it at a clean stop, is cut short in its last mark.
    /// The next daemon restores every other mark to its still-running process, reports itself
    /// unhealthy naming the kept copy, and healthy again once the operator removes it. Before the
    /// fix the whole file was set aside and the daemon started with no marks, healthy.
    /// </summary>
    [Fact]
    public async Task ADamagedStateFileCostsOnlyTheDamagedMark()
    {
        string dir = DaemonProcess.NewDirectory();
        using ProcStat.Sleeper a = ProcStat.Sleep(), b = ProcStat.Sleep(), c = ProcStat.Sleep();
        using (DaemonProcess first = DaemonProcess.Start(dir, "--Scheduler:Mode=fallback"))
        {
            await first.WaitForSocketAsync(s_start);
            using ApiConnection api = await ApiConnection.OpenAsync(first.SocketPath);
            foreach (int pid in new[] { a.Pid, b.Pid, c.Pid })
            {
                AssertOk(await api.CallAsync($$"""{"v":1,"op":"mark","pid":{{pid}},"class":"batch"}"""));
            }
            first.Signal(15);
            Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }
        string text = File.ReadAllText(Path.Combine(dir, "state", "marks.json"));
        int last = text.IndexOf($"\"pid\":{c.Pid},", StringComparison.Ordinal);
        Assert.True(last > 0 && text.IndexOf('\n', last) > 0, text); // one mark per line
        File.WriteAllText(Path.Combine(dir, "state", "marks.json"), text[..(last + 20)]);

        using DaemonProcess second = DaemonProcess.Start(dir, "--Scheduler:Mode=fallback");
        await second.WaitForSocketAsync(s_start);
        using ApiConnection again = await ApiConnection.OpenAsync(second.SocketPath);
        JsonElement status = await again.CallAsync("""{"v":1,"op":"status"}""");
        Assert.False(status.GetProperty("healthy").GetBoolean(), status.ToString());
        Assert.Contains("marks.json.damaged-", status.GetProperty("reason").GetString());
        Assert.Equal((10, 3), ProcStat.Sched(a.Pid));
        Assert.Equal((10, 3), ProcStat.Sched(b.Pid));
        Assert.Equal((0, 0), ProcStat.Sched(c.Pid));
        Assert.Equal(2, status.GetProperty("marks").GetProperty("batch").GetInt32());

        foreach (string copy in Directory.GetFiles(Path.Combine(dir, "state"), "*.damaged-*")) File.Delete(copy);
        Assert.True((await again.CallAsync("""{"v":1,"op":"status"}""")).GetProperty("healthy").GetBoolean());
    }

    /// <summary>
    /// Finding 4: children forked while a process was BURST inherited nice -10 from it and kept it
    /// after the mark ended, which their unprivileged owner could not have set. An unprivileged
    /// process forks, while marked: a child, a child that raises its own nice to 5, and a grandchild
    /// whose parent exits (reparented). When the mark ends (unmark, window) or turns BATCH, each one
    /// that still has the mark's nice is back at 0; the one that chose its own, and one forked
    /// before the mark, are left alone.
    /// </summary>
    [Theory]
    [InlineData("unmark")]
    [InlineData("window")]
    [InlineData("batch")]
    public async Task ChildrenForkedWhileMarkedDoNotKeepItsPriority(string ending)
    {
        using DaemonProcess daemon = DaemonProcess.Start(null, "--Scheduler:Mode=fallback");
        await daemon.WaitForSocketAsync(s_start);
        const string Script =
            "import os, sys, time\n" +
            "def spawn():\n" +
            "    pid = os.fork()\n" +
            "    if pid == 0:\n" +
            "        time.sleep(600); os._exit(0)\n" +
            "    return pid\n" +
            "print(spawn(), flush=True)\n" +
            "sys.stdin.readline()\n" +
            "child, reniced = spawn(), spawn()\n" +
            "os.setpriority(os.PRIO_PROCESS, reniced, 5)\n" +
            "r, w = os.pipe()\n" +
            "middle = os.fork()\n" +
            "if middle == 0:\n" +
            "    os.write(w, str(spawn()).encode()); os._exit(0)\n" +
            "os.waitpid(middle, 0)\n" +
            "print(child, reniced, int(os.read(r, 32)), flush=True)\n" +
            "sys.stdin.readline()\n";
        using Process parent = Process.Start(new ProcessStartInfo("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", Script]) // not a shim under /root that nobody may read
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        var pids = new List<int>();
        try
        {
            int before = int.Parse(await ReadLine(parent), CultureInfo.InvariantCulture);
            pids.Add(before);
            using ApiConnection c = await ApiConnection.OpenAsync(daemon.SocketPath);
            string window = ending == "window" ? ",\"window_ms\":1500" : "";
            AssertOk(await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{parent.Id}},"class":"burst"{{window}}}"""));
            await parent.StandardInput.WriteLineAsync("fork now");
            await parent.StandardInput.FlushAsync(TestContext.Current.CancellationToken);
            int[] forked = (await ReadLine(parent)).Split(' ').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
            pids.AddRange(forked);
            (int child, int reniced, int orphan) = (forked[0], forked[1], forked[2]);
            Assert.NotEqual(parent.Id, ProcStat.ParentPid(orphan));
            Assert.Equal((-10, 0), ProcStat.Sched(child)); // inherited
            Assert.Equal((-10, 0), ProcStat.Sched(orphan));
            Assert.Equal((5, 0), ProcStat.Sched(reniced));

            switch (ending)
            {
                case "unmark":
                    AssertOk(await c.CallAsync($$"""{"v":1,"op":"unmark","pid":{{parent.Id}}}"""));
                    break;
                case "batch":
                    AssertOk(await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{parent.Id}},"class":"batch"}"""));
                    break;
                default:
                    await daemon.WaitUntilAsync(() => ProcStat.Sched(orphan) == (0, 0), TimeSpan.FromSeconds(10), "the window to end and the children to be restored");
                    break;
            }

            Assert.Equal(ending == "batch" ? (10, 3) : (0, 0), ProcStat.Sched(parent.Id));
            Assert.Equal(
                [(0, 0), (0, 0), (5, 0), (0, 0)],
                new[] { before, child, reniced, orphan }.Select(ProcStat.Sched).ToArray());
        }
        finally
        {
            foreach (int pid in pids)
            {
                try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
            }
            parent.Kill();
            await parent.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }

    /// <summary>
    /// Finding 4: a setuid program (real uid the caller's, effective uid root's) is not the caller's to
    /// mark: every uid of the process must be the caller's.
    /// </summary>
    [Fact]
    public async Task ASetuidProgramIsNotItsRealUidsToMark()
    {
        using DaemonProcess daemon = DaemonProcess.Start(null, "--Scheduler:Mode=fallback");
        await daemon.WaitForSocketAsync(s_start);
        using Process setuid = Process.Start(new ProcessStartInfo("setpriv", "--ruid=65534 sleep 600") { UseShellExecute = false })!;
        try
        {
            await daemon.WaitUntilAsync(() => File.ReadAllText($"/proc/{setuid.Id}/status").Contains("Uid:\t65534\t0\t"), TimeSpan.FromSeconds(10), "setpriv to set the real uid");

            ProcessResult r = await ProcessRunner.RunAsync("setpriv",
                ["--reuid=65534", "--regid=65534", "--clear-groups", RepoPaths.Workload, "api", "--socket", daemon.SocketPath,
                 $$"""{"v":1,"op":"mark","pid":{{setuid.Id}},"class":"burst"}"""], TimeSpan.FromSeconds(60));

            Assert.True(r.ExitCode == 0, r.Stderr);
            JsonElement answer = JsonDocument.Parse(r.Stdout.Split('\n')[0]).RootElement;
            Assert.Equal("permission_denied", answer.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains("setuid", answer.GetProperty("error").GetProperty("message").GetString());
            Assert.Equal((0, 0), ProcStat.Sched(setuid.Id));
        }
        finally
        {
            setuid.Kill();
            await setuid.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }

    /// <summary>A slowloris client (bytes, never a whole line) is closed after Api:IdleTimeoutSeconds; one that sends lines is not.</summary>
    [Fact]
    public async Task AConnectionThatSendsNoCompleteLineIsClosed()
    {
        using DaemonProcess daemon = DaemonProcess.Start(null, "--Scheduler:Mode=fallback", "--Api:IdleTimeoutSeconds=2");
        await daemon.WaitForSocketAsync(s_start);
        using ApiConnection slow = await ApiConnection.OpenAsync(daemon.SocketPath);
        using ApiConnection busy = await ApiConnection.OpenAsync(daemon.SocketPath);
        var clock = Stopwatch.StartNew();
        Task<string> closed = slow.ReadLineAsync();
        while (clock.Elapsed < TimeSpan.FromSeconds(5) && !closed.IsCompleted)
        {
            try
            {
                await slow.SendRawAsync("{");
            }
            catch (IOException)
            {
                // The daemon closed the connection between the check and this byte (EPIPE or a
                // reset): what the test waits for; the read below says how it ended.
                break;
            }
            AssertOk(await busy.CallAsync("""{"v":1,"op":"ping"}"""));
            await Task.Delay(400, TestContext.Current.CancellationToken);
        }

        // Closed by the daemon: the end of the stream, or a reset when a "{" sent just before the
        // close was still unread in the daemon's socket (the kernel then answers the close with RST).
        Exception? e = await Record.ExceptionAsync(() => closed);
        Assert.True(e is EndOfStreamException or IOException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionReset } },
            $"expected the connection closed (end of stream or reset), got: {e?.ToString() ?? "a line"}");
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.5, 4.5);
        AssertOk(await busy.CallAsync("""{"v":1,"op":"ping"}"""));
    }

    [Fact]
    public async Task MarksOfEveryClassCountTowardsTheUidsLimit()
    {
        using DaemonProcess daemon = DaemonProcess.Start(null, "--Scheduler:Mode=fallback", "--Api:MaxMarksPerUid=2");
        await daemon.WaitForSocketAsync(s_start);
        using ProcStat.Sleeper a = ProcStat.Sleep(), b = ProcStat.Sleep(), third = ProcStat.Sleep();
        using ApiConnection c = await ApiConnection.OpenAsync(daemon.SocketPath);
        AssertOk(await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{a.Pid}},"class":"batch"}"""));
        AssertOk(await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{b.Pid}},"class":"normal"}"""));

        JsonElement r = await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{third.Pid}},"class":"batch"}""");
        Assert.Equal("limit_exceeded", r.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("Api:MaxMarksPerUid", r.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal((0, 0), ProcStat.Sched(third.Pid));
        AssertOk(await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{a.Pid}},"class":"burst"}""")); // changing a mark it holds is no new mark

        AssertOk(await c.CallAsync($$"""{"v":1,"op":"unmark","pid":{{b.Pid}}}"""));
        AssertOk(await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{third.Pid}},"class":"batch"}"""));
        Assert.Equal((10, 3), ProcStat.Sched(third.Pid));
    }

    private static long RssKb(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    private static void AssertOk(JsonElement r) => Assert.True(r.GetProperty("ok").GetBoolean(), r.ToString());

    private static async Task<string> ReadLine(Process child) =>
        await child.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask()
            .WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken) ?? throw new InvalidOperationException("the child exited");
}
