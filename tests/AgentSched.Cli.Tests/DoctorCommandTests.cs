using System.Text.Json;
using AgentSched.Cli.Commands;
using AgentSched.Tests;

namespace AgentSched.Cli.Tests;

/// <summary>doctor against staged host trees (a directory standing in for /), and against a real daemon.</summary>
public sealed class DoctorCommandTests
{
    /// <summary>A host that has everything: 7.3 with sched_ext and BTF, bpffs, nothing attached.</summary>
    private static string ReadyHost(string release = "7.3.4+deb13-cloud-amd64")
    {
        string root = DaemonProcess.NewDirectory();
        Write(root, "proc/sys/kernel/osrelease", release + "\n");
        Write(root, "sys/kernel/sched_ext/state", "disabled\n");
        Write(root, "sys/kernel/btf/vmlinux", "");
        Write(root, "proc/mounts", "sysfs /sys sysfs rw 0 0\nbpf /sys/fs/bpf bpf rw,nosuid 0 0\n");
        return root;
    }

    private static void Write(string root, string path, string text)
    {
        string full = Path.Combine(root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
    }

    private static CliResult Doctor(string root, string socket, string? libbpf = "1.4", bool root_ = true, params string[] extra) =>
        CliHarness.Run(
            new CliEnvironment
            {
                Probe = new HostProbe(root, () => libbpf is null ? (null, "libbpf.so.1: cannot open shared object file") : (Version.Parse(libbpf), null), () => root_),
            },
            ["doctor", "--socket", socket, .. extra]);

    [Fact]
    public void AKernelWithoutSchedExtIsNotReadyWithOneFix()
    {
        string root = ReadyHost("6.12.57+deb13-cloud-amd64");
        Directory.Delete(Path.Combine(root, "sys/kernel/sched_ext"), recursive: true);
        Write(root, "boot/config-6.12.57+deb13-cloud-amd64", "CONFIG_BPF=y\n# CONFIG_SCHED_CLASS_EXT is not set\n");

        CliResult r = Doctor(root, "/nonexistent/s.sock");

        Assert.Equal((int)ReturnCode.NotReady, r.Code);
        Assert.Contains("ok    kernel        6.12.57+deb13-cloud-amd64 (sched_ext needs 6.12 or newer)\n", r.Out);
        Assert.Contains("FAIL  sched_ext     this kernel was built without CONFIG_SCHED_CLASS_EXT (/boot/config-6.12.57+deb13-cloud-amd64)\n                    fix: boot a kernel built with CONFIG_SCHED_CLASS_EXT=y", r.Out);
        Assert.Contains("FAIL  socket        agentschedd is not reachable at /nonexistent/s.sock", r.Out);
        Assert.Contains("fix: start the daemon: systemctl start agentsched", r.Out);
        Assert.EndsWith("not ready: 2 problems\n", r.Out);
    }

    [Fact]
    public void EveryHostProblemHasAFailAndAFix()
    {
        string root = ReadyHost("6.6.0");
        File.Delete(Path.Combine(root, "sys/kernel/btf/vmlinux"));
        Write(root, "proc/mounts", "sysfs /sys sysfs rw 0 0\n");
        Write(root, "sys/kernel/sched_ext/state", "enabled\n");
        Write(root, "sys/kernel/sched_ext/root/ops", "scx_rusty\n");

        CliResult r = Doctor(root, "/nonexistent/s.sock", libbpf: "1.1", extra: "--json");

        Assert.Equal((int)ReturnCode.NotReady, r.Code);
        using JsonDocument doc = JsonDocument.Parse(r.Out);
        Assert.False(doc.RootElement.GetProperty("ready").GetBoolean());
        var failed = doc.RootElement.GetProperty("checks").EnumerateArray()
            .Where(c => c.GetProperty("status").GetString() == "fail")
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c);
        Assert.Equal(["bpffs", "btf", "kernel", "libbpf", "other-scx", "socket"], failed.Keys.Order());
        Assert.All(failed.Values, c => Assert.False(string.IsNullOrEmpty(c.GetProperty("fix").GetString())));
        Assert.Contains("scx_rusty", failed["other-scx"].GetProperty("detail").GetString());
        Assert.Contains("1.1 is older than 1.4", failed["libbpf"].GetProperty("detail").GetString());
    }

    [Fact]
    public void AMissingLibbpfIsAProblem()
    {
        CliResult r = Doctor(ReadyHost(), "/nonexistent/s.sock", libbpf: null);

        Assert.Contains("FAIL  libbpf        libbpf.so.1 cannot be loaded (libbpf.so.1: cannot open shared object file)\n", r.Out);
    }

    [Fact]
    public async Task AReadyHostWithARunningDaemonExits0()
    {
        using var daemon = DaemonProcess.Start();
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));

        CliResult r = Doctor(ReadyHost(), daemon.SocketPath, root_: false);

        // The staged /proc has no daemon pid, so its capabilities cannot be read: skipped, not failed.
        Assert.Equal((0, ""), (r.Code, r.Err));
        Assert.Contains($"ok    socket        {daemon.SocketPath}: agentschedd ", r.Out);
        Assert.Contains("warn  daemon        fallback mode (EEVDF controls only): ", r.Out);
        Assert.Contains("skip  capabilities  cannot read /proc/", r.Out);
        Assert.EndsWith("ready\n", r.Out);
    }

    [Fact]
    public async Task TheRunningDaemonsCapabilitiesAreChecked()
    {
        using var daemon = DaemonProcess.Start();
        await daemon.WaitForSocketAsync(TimeSpan.FromSeconds(30));

        // The real /proc: the test daemon runs as root with every capability.
        CliResult r = CliHarness.Run(new CliEnvironment(), "doctor", "--socket", daemon.SocketPath);

        Assert.Contains($"ok    capabilities  agentschedd (pid {daemon.Pid}) has CAP_BPF, CAP_PERFMON and CAP_SYS_NICE\n", r.Out);
    }
}
