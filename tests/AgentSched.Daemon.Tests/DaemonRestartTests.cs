using System.Text.Json;
using AgentSched.Tests;

namespace AgentSched.Daemon.Tests;

/// <summary>The daemon's own lifecycle in fallback mode: persistence across kill -9, clean stops, reloads, limits.</summary>
[Collection(PidReuseCollection.Name)]
public sealed class DaemonRestartTests
{
    private static readonly TimeSpan s_start = TimeSpan.FromSeconds(60);

    private static async Task<DaemonProcess> StartAsync(string? dir, string? config = null)
    {
        DaemonProcess d = DaemonProcess.Start(dir, ["--Scheduler:Mode=fallback"],
            config is null ? null : new Dictionary<string, string> { ["AGENTSCHED_CONFIG"] = config });
        await d.WaitForSocketAsync(s_start);
        return d;
    }

    private static int Count(JsonElement status, string c) => status.GetProperty("marks").GetProperty(c).GetInt32();

    [Fact]
    public async Task MarksSurviveKill9AndAreNotAppliedToAReusedPid()
    {
        using ProcStat.Sleeper kept = ProcStat.Sleep();
        ProcStat.Sleeper gone = ProcStat.Sleep();
        string dir;
        using (DaemonProcess first = await StartAsync(null))
        {
            dir = first.Directory;
            using ApiConnection c = await ApiConnection.OpenAsync(first.SocketPath);
            Assert.True((await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{kept.Pid}},"class":"burst"}""")).GetProperty("ok").GetBoolean());
            Assert.True((await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{gone.Pid}},"class":"batch"}""")).GetProperty("ok").GetBoolean());
            first.Signal(Signals.SIGKILL);
            await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
        // A crash restores nothing: the marked task keeps its class while no daemon runs.
        Assert.Equal((-10, 0), ProcStat.Sched(kept.Pid));

        // The batch-marked process exits and the kernel hands its pid to a new process.
        int pid = gone.Pid;
        gone.Dispose();
        using ProcStat.Sleeper reused = ProcStat.ReusePid(pid);

        using DaemonProcess second = await StartAsync(dir);
        using ApiConnection c2 = await ApiConnection.OpenAsync(second.SocketPath);
        JsonElement status = await c2.CallAsync("""{"v":1,"op":"status"}""");
        Assert.Equal(1, Count(status, "burst"));
        Assert.Equal(0, Count(status, "batch"));
        Assert.Equal((-10, 0), ProcStat.Sched(kept.Pid));
        Assert.Equal((0, 0), ProcStat.Sched(reused.Pid)); // not SCHED_BATCH at nice 10
        Assert.Contains("restored 1 persisted marks (1 skipped", second.Output);

        // The kept mark is the daemon's again: unmark restores what the task had before the first daemon.
        JsonElement unmark = await c2.CallAsync($$"""{"v":1,"op":"unmark","pid":{{kept.Pid}}}""");
        Assert.Equal("burst", unmark.GetProperty("was").GetString());
        Assert.Equal((0, 0), ProcStat.Sched(kept.Pid));
    }

    [Fact]
    public async Task SigtermRestoresTasksRemovesTheSocketAndKeepsTheMarksForTheNextStart()
    {
        using ProcStat.Sleeper target = ProcStat.Sleep();
        using DaemonProcess d = await StartAsync(null);
        using (ApiConnection c = await ApiConnection.OpenAsync(d.SocketPath))
        {
            Assert.True((await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{target.Pid}},"class":"burst"}""")).GetProperty("ok").GetBoolean());
        }
        Assert.Equal(-10, ProcStat.Sched(target.Pid).Nice);

        d.Signal(Signals.SIGTERM);
        Assert.Equal(0, await d.WaitForExitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal((0, 0), ProcStat.Sched(target.Pid));
        Assert.False(File.Exists(d.SocketPath));
        Assert.Contains($"\"pid\":{target.Pid},", File.ReadAllText(d.MarksFile)); // one mark per line

        using DaemonProcess again = await StartAsync(d.Directory);
        Assert.Equal(-10, ProcStat.Sched(target.Pid).Nice);
    }

    [Fact]
    public async Task ASecondDaemonOnTheSameSocketExitsWithCode7()
    {
        using DaemonProcess first = await StartAsync(null);
        ProcessResult second = await ProcessRunner.RunAsync(RepoPaths.Daemon,
        [
            $"--Api:SocketPath={first.SocketPath}", "--Api:SocketGroup=", "--Scheduler:Mode=fallback",
            $"--State:Directory={Path.Combine(first.Directory, "state2")}",
        ], s_start);

        Assert.Equal((int)DaemonExitCode.AlreadyRunning, second.ExitCode);
        Assert.Equal($"agentschedd: another agentschedd is already serving {first.SocketPath}; stop it first (systemctl stop agentsched)", second.Stderr.Trim());
        using ApiConnection c = await ApiConnection.OpenAsync(first.SocketPath);
        Assert.True((await c.CallAsync("""{"v":1,"op":"ping"}""")).GetProperty("ok").GetBoolean());
    }

    [Fact]
    public async Task LimitsRefuseWithErrorsAndSighupAppliesANewLimit()
    {
        using ProcStat.Sleeper a = ProcStat.Sleep();
        using ProcStat.Sleeper b = ProcStat.Sleep();
        string dir = DaemonProcess.NewDirectory();
        string config = Path.Combine(dir, "agentsched.json");
        File.WriteAllText(config, """{"Api":{"MaxBurstTasksPerUid":1,"MaxRequestsPerSecond":50}}""");
        using (DaemonProcess d = await StartAsync(dir, config))
        {
            using ApiConnection c = await ApiConnection.OpenAsync(d.SocketPath);
            // A batch mark turned burst counts once, against the limit of 1.
            Assert.True((await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{a.Pid}},"class":"batch"}""")).GetProperty("ok").GetBoolean());
            Assert.True((await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{a.Pid}},"class":"burst"}""")).GetProperty("ok").GetBoolean());
            JsonElement refused = await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{b.Pid}},"class":"burst"}""");
            Assert.Equal("limit_exceeded", refused.GetProperty("error").GetProperty("code").GetString());
            Assert.Equal(0, ProcStat.Sched(b.Pid).Nice);

            // 200 pipelined pings against 50/s: the bucket's 50 pass, the rest are refused, none is lost.
            await c.SendRawAsync(string.Concat(Enumerable.Repeat("""{"v":1,"op":"ping"}""" + "\n", 200)));
            var codes = new List<string>();
            for (int i = 0; i < 200; i++)
            {
                JsonElement r = JsonDocument.Parse(await c.ReadLineAsync()).RootElement;
                codes.Add(r.GetProperty("ok").GetBoolean() ? "ok" : r.GetProperty("error").GetProperty("code").GetString()!);
            }
            Assert.InRange(codes.Count(x => x == "ok"), 40, 80);
            Assert.Equal(200, codes.Count(x => x is "ok" or "rate_limited"));

            File.WriteAllText(config, """{"Api":{"MaxBurstTasksPerUid":2,"MaxRequestsPerSecond":50}}""");
            d.Signal(Signals.SIGHUP);
            await d.WaitUntilAsync(() => d.Output.Contains("configuration reloaded"), TimeSpan.FromSeconds(10), "the reload");
            await Task.Delay(1100, TestContext.Current.CancellationToken); // refill the bucket
            Assert.True((await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{b.Pid}},"class":"burst"}""")).GetProperty("ok").GetBoolean());
            Assert.Equal(-10, ProcStat.Sched(b.Pid).Nice);

            File.WriteAllText(config, """{"Api":{"MaxBurstTasksPerUid":-3}}""");
            d.Signal(Signals.SIGHUP);
            await d.WaitUntilAsync(() => d.Output.Contains("configuration reload rejected"), TimeSpan.FromSeconds(10), "the rejected reload");
            Assert.False(d.HasExited);
            Assert.Contains("Api:MaxBurstTasksPerUid must be between 0 and 1000000 (got -3)", d.Output);
        }
    }

    [Fact]
    public async Task AStateDirectoryThatCannotBeWrittenIsReportedNotFatal()
    {
        using ProcStat.Sleeper target = ProcStat.Sleep();
        string dir = DaemonProcess.NewDirectory();
        File.WriteAllText(Path.Combine(dir, "not-a-directory"), "");
        using DaemonProcess d = DaemonProcess.Start(dir, ["--Scheduler:Mode=fallback", $"--State:Directory={dir}/not-a-directory/state"], null);
        await d.WaitForSocketAsync(s_start);
        using ApiConnection c = await ApiConnection.OpenAsync(d.SocketPath);

        JsonElement mark = await c.CallAsync($$"""{"v":1,"op":"mark","pid":{{target.Pid}},"class":"burst"}""");
        Assert.True(mark.GetProperty("ok").GetBoolean(), mark.ToString()); // applied, and said so
        Assert.Equal(-10, ProcStat.Sched(target.Pid).Nice);
        JsonElement status = await c.CallAsync("""{"v":1,"op":"status"}""");
        Assert.False(status.GetProperty("healthy").GetBoolean());
        Assert.Contains("marks cannot be persisted", status.GetProperty("reason").GetString());
        Assert.Contains("cannot persist marks to", d.Output);
    }

}
