using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AgentSched.Interop;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>
/// agentschedd on the real kernel: marks reach the scheduler's map and the task's class, the
/// scheduler outlives a killed daemon, a restarted daemon adopts it, and an ejection is survived.
/// Every assertion reads the kernel (sysfs, /proc, the pinned BPF maps), not the daemon's word.
/// </summary>
public sealed class DaemonApiKernelTests
{
    private static readonly TimeSpan s_ready = TimeSpan.FromSeconds(30);

    private static async Task<DaemonProcess> StartAsync(string? dir, params string[] args)
    {
        DaemonProcess d = DaemonProcess.Start(dir, args);
        await d.WaitForSocketAsync(s_ready);
        Assert.Equal("sched_ext", (await StatusAsync(d)).GetProperty("mode").GetString());
        return d;
    }

    private static Task<JsonElement> CallAsync(DaemonProcess d, string line) => ApiConnection.CallOnceAsync(d.SocketPath, line);

    private static Task<JsonElement> StatusAsync(DaemonProcess d) => CallAsync(d, """{"v":1,"op":"status"}""");

    private static async Task MarkAsync(DaemonProcess d, int pid, string cls)
    {
        JsonElement r = await CallAsync(d, $$"""{"v":1,"op":"mark","pid":{{pid}},"class":"{{cls}}"}""");
        Assert.True(r.GetProperty("ok").GetBoolean(), $"{r}\n{d.Output}");
    }

    /// <summary>The class in the pinned `hints` map for a process, read through a pidfd; null when it has no hint.</summary>
    private static uint? PinnedHintClass(DaemonProcess d, int pid)
    {
        string dir = Assert.Single(Directory.GetDirectories(d.PinPath));
        using BpfMap hints = BpfMap.OpenPinned(Path.Combine(dir, "hints"));
        using ProcessHandle process = ProcessHandle.Open(pid);
        int fd = process.Fd;
        Span<byte> value = stackalloc byte[hints.ValueSize];
        if (!hints.TryLookup(System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<int>(in fd)), value))
        {
            return null;
        }
        return System.Runtime.InteropServices.MemoryMarshal.Read<AgentHint>(value).ClassId;
    }

    /// <summary>"ext.enabled : 1" in /proc/PID/sched: the task runs in the sched_ext class.</summary>
    private static bool OnSchedExt(int pid) =>
        File.ReadAllLines($"/proc/{pid}/sched").Any(l => l.Replace(" ", "") == "ext.enabled:1");

    private static int Policy(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[41 - 3], CultureInfo.InvariantCulture);
    }

    private static Process Sleep() => Process.Start(ProcessRunner.StartInfo("sleep", "600"))!;

    [Fact]
    public async Task AMarkIsAHintInTheMapAndTheTaskIsOnSchedExt()
    {
        using Process target = Sleep();
        using DaemonProcess d = await StartAsync(null);

        await MarkAsync(d, target.Id, "burst");

        Assert.Equal((uint)AgentClass.Burst, PinnedHintClass(d, target.Id));
        Assert.True(OnSchedExt(target.Id));
        target.Kill();
        d.Signal(Signals.SIGTERM);
        Assert.Equal(0, await d.WaitForExitAsync(s_ready));
    }

    [Fact]
    public async Task InPartialModeAMarkMovesTheTaskToSchedExtAndUnmarkMovesItBack()
    {
        using Process target = Sleep();
        using Process other = Sleep();
        using DaemonProcess d = await StartAsync(null, "--Scheduler:Partial=true");
        Assert.False(OnSchedExt(target.Id));

        await MarkAsync(d, target.Id, "burst");
        Assert.Equal(7, Policy(target.Id));
        Assert.True(OnSchedExt(target.Id));
        Assert.False(OnSchedExt(other.Id));
        Assert.Equal((uint)AgentClass.Burst, PinnedHintClass(d, target.Id));

        JsonElement r = await CallAsync(d, $$"""{"v":1,"op":"unmark","pid":{{target.Id}}}""");
        Assert.True(r.GetProperty("ok").GetBoolean(), r.ToString());
        Assert.Equal(0, Policy(target.Id));
        Assert.False(OnSchedExt(target.Id));
        Assert.Null(PinnedHintClass(d, target.Id));
        target.Kill();
        other.Kill();
    }

    [Fact]
    public async Task TheSchedulerOutlivesKill9AndARestartedDaemonAdoptsItWithItsMarks()
    {
        using Process kept = Sleep();
        using Process dies = Sleep();
        string dir;
        long seq;
        using (DaemonProcess first = await StartAsync(null))
        {
            dir = first.Directory;
            await MarkAsync(first, kept.Id, "burst");
            await MarkAsync(first, dies.Id, "batch");
            seq = SchedExtStatus.Read().EnableSeq!.Value;
            first.Signal(Signals.SIGKILL);
            await first.WaitForExitAsync(s_ready);
            await Task.Delay(500, TestContext.Current.CancellationToken);

            // No daemon: the kernel keeps the scheduler (through the pins) and the hints.
            SchedExtStatus status = SchedExtStatus.Read();
            Assert.Equal(("enabled", "agent_class", seq), (status.State, status.Ops, status.EnableSeq!.Value));
            Assert.Equal((uint)AgentClass.Burst, PinnedHintClass(first, kept.Id));
        }

        // The batch-marked process exits and a new process takes its pid.
        int pid = dies.Id;
        dies.Kill();
        await dies.WaitForExitAsync(TestContext.Current.CancellationToken);
        using Process reused = ReusePid(pid);

        using DaemonProcess second = await StartAsync(dir);
        SchedExtStatus after = SchedExtStatus.Read();
        Assert.Equal(("enabled", seq), (after.State, after.EnableSeq!.Value)); // no detach/attach gap
        Assert.Contains("re-adopted the agent_class pinned at", second.Output);
        JsonElement marks = (await StatusAsync(second)).GetProperty("marks");
        Assert.Equal((1, 0), (marks.GetProperty("burst").GetInt32(), marks.GetProperty("batch").GetInt32()));
        Assert.Equal((uint)AgentClass.Burst, PinnedHintClass(second, kept.Id));
        Assert.Null(PinnedHintClass(second, reused.Id));

        second.Signal(Signals.SIGTERM);
        Assert.Equal(0, await second.WaitForExitAsync(s_ready));
        Assert.Equal("disabled", SchedExtStatus.Read().State);
        Assert.False(Directory.Exists(second.PinPath), "SIGTERM leaves nothing pinned");
        kept.Kill();
        reused.Kill();
    }

    [Fact]
    public async Task AfterSysrqEjectionTheDaemonReattachesWithTheMarksIntact()
    {
        // scripts/vm fails a run on an ejection nobody declared; this one is the point of the test.
        if (Environment.GetEnvironmentVariable("AGENTSCHED_VM_RESULTS") is { } results)
        {
            File.AppendAllText(Path.Combine(results, "expected-ejections"), "disabled \\(.*[Ss]ys[Rr]q.*\\)\n");
        }
        using Process target = Sleep();
        using DaemonProcess d = await StartAsync(null);
        await MarkAsync(d, target.Id, "burst");
        long seq = SchedExtStatus.Read().EnableSeq!.Value;

        File.WriteAllText("/proc/sysrq-trigger", "S");

        await d.WaitUntilAsync(() => d.Output.Contains("scheduler ejected by the kernel: SCX_EXIT_SYSRQ"), TimeSpan.FromSeconds(10), "the ejection logged");
        await d.WaitForSchedExtAsync(s => s is { State: "enabled", Ops: "agent_class" } && s.EnableSeq > seq, TimeSpan.FromSeconds(30), "re-attach");
        await d.WaitUntilAsync(() => d.Output.Contains("scheduler re-attached"), TimeSpan.FromSeconds(10), "the re-attach logged");
        Assert.Equal(1, CountOccurrences(d.Output, "scheduler ejected by the kernel"));
        Assert.Equal((uint)AgentClass.Burst, PinnedHintClass(d, target.Id));
        JsonElement status = await StatusAsync(d);
        Assert.Equal(("sched_ext", true, 1), (status.GetProperty("mode").GetString(), status.GetProperty("healthy").GetBoolean(), status.GetProperty("ejections").GetInt32()));
        Assert.Equal("SCX_EXIT_SYSRQ", status.GetProperty("last_ejection").GetProperty("kind").GetString());
        Assert.Equal(1, status.GetProperty("marks").GetProperty("burst").GetInt32());
        target.Kill();
        d.Signal(Signals.SIGTERM);
        Assert.Equal(0, await d.WaitForExitAsync(s_ready));
    }

    /// <summary>
    /// Issue 22, finding 7: every CPU going offline or online ejected agent_class (the kernel does
    /// that to a scheduler without ops.cpu_online and ops.cpu_offline), and the sixth ejection in
    /// ten minutes left the daemon in fallback for good. Six offline/online cycles of the last CPU,
    /// with a marked agent loop running, must leave the same attachment (enable_seq), no ejection
    /// seen by the daemon, the mark in the scheduler's map and the loop's steps still BURST.
    /// </summary>
    [Fact]
    public async Task CpuHotplugNeitherEjectsTheSchedulerNorLosesAMark()
    {
        int cpu = Environment.ProcessorCount - 1;
        string online = $"/sys/devices/system/cpu/cpu{cpu}/online";
        Assert.True(cpu > 0 && File.Exists(online), $"this test needs a guest whose CPU {cpu} can go offline ({online})");
        using Process agent = Process.Start(ProcessRunner.StartInfo(RepoPaths.Workload, "steps", "--seconds", "60"))!;
        using DaemonProcess d = await StartAsync(null);
        await MarkAsync(d, agent.Id, "burst");
        long seq = SchedExtStatus.Read().EnableSeq!.Value;
        try
        {
            for (int i = 0; i < 6; i++)
            {
                File.WriteAllText(online, "0");
                await Task.Delay(200, TestContext.Current.CancellationToken);
                File.WriteAllText(online, "1");
                await Task.Delay(200, TestContext.Current.CancellationToken);
            }
        }
        finally
        {
            if (File.ReadAllText(online).Trim() != "1")
            {
                File.WriteAllText(online, "1");
            }
        }
        // The daemon polls the kernel's state every 200 ms: give an ejection time to be seen.
        await Task.Delay(1000, TestContext.Current.CancellationToken);

        SchedExtStatus status = SchedExtStatus.Read();
        Assert.True((status.State, status.Ops, status.EnableSeq) == ("enabled", "agent_class", seq),
            $"after the hotplug cycles sched_ext is {status.State} with {status.Ops}, enable_seq {status.EnableSeq} (was {seq})\n{d.Output}");
        JsonElement reply = await StatusAsync(d);
        Assert.True((reply.GetProperty("healthy").GetBoolean(), reply.GetProperty("ejections").GetInt32(), reply.GetProperty("marks").GetProperty("burst").GetInt32()) == (true, 0, 1),
            $"{reply}\n{d.Output}");
        Assert.Equal((uint)AgentClass.Burst, PinnedHintClass(d, agent.Id));
        Assert.True(OnSchedExt(agent.Id), "the marked loop runs on agent_class");
        agent.Kill();
        d.Signal(Signals.SIGTERM);
        Assert.Equal(0, await d.WaitForExitAsync(s_ready));
    }

    private static int CountOccurrences(string text, string what) =>
        (text.Length - text.Replace(what, "").Length) / what.Length;

    /// <summary>Starts `sleep` until the kernel hands it <paramref name="pid"/> (through ns_last_pid).</summary>
    private static Process ReusePid(int pid)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            File.WriteAllText("/proc/sys/kernel/ns_last_pid", (pid - 1).ToString(CultureInfo.InvariantCulture));
            Process p = Sleep();
            if (p.Id == pid)
            {
                return p;
            }
            p.Kill();
            p.WaitForExit();
            p.Dispose();
        }
        throw new InvalidOperationException($"could not get pid {pid} reused");
    }
}
