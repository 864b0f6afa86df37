using System.CommandLine;
using System.Globalization;
using AgentSched.Client;

namespace AgentSched.Cli.Commands;

/// <summary>
/// <c>agentsched doctor</c>: checks what agentsched needs from the host and prints one fix per
/// problem. Exit 0: ready (warnings allowed); 4: at least one check failed.
/// </summary>
internal static class DoctorCommand
{
    internal enum Verdict { Ok, Warn, Fail, Skip }

    internal sealed record Check(string Name, Verdict Verdict, string Detail, string? Fix = null);

    internal static readonly Version MinKernel = new(6, 12), MinLibbpf = new(1, 4);

    private const int CapSysAdmin = 21, CapSysNice = 23, CapPerfmon = 38, CapBpf = 39;

    public static Command Create(CliConsole console, CliEnvironment environment)
    {
        Option<bool> json = CommonOptions.Json("the checks");
        var command = new Command("doctor", "Check that this host can run agentsched, with one fix per problem; exit 0 when ready, 4 when not.") { json };
        command.SetAction(async (parsed, token) =>
        {
            List<Check> checks = HostChecks(environment.Probe);
            using (AgentSchedClient client = CliApp.Connect(parsed))
            {
                checks.AddRange(await DaemonChecks(client, environment.Probe, token));
            }
            int failed = checks.Count(c => c.Verdict == Verdict.Fail);
            if (parsed.GetValue(json))
            {
                console.Out.WriteLine(JsonText.Write(w =>
                {
                    w.WriteBoolean("ready", failed == 0);
                    w.WriteStartArray("checks");
                    foreach (Check c in checks)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", c.Name);
                        w.WriteString("status", c.Verdict.ToString().ToLowerInvariant());
                        w.WriteString("detail", c.Detail);
                        if (c.Fix is null) w.WriteNull("fix"); else w.WriteString("fix", c.Fix);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }));
            }
            else
            {
                foreach (Check c in checks)
                {
                    string label = c.Verdict switch { Verdict.Ok => "ok", Verdict.Warn => "warn", Verdict.Fail => "FAIL", _ => "skip" };
                    console.Out.WriteLine($"{label,-5} {c.Name,-13} {c.Detail}");
                    if (c.Fix is not null) console.Out.WriteLine($"{"",-5} {"",-13} fix: {c.Fix}");
                }
                console.Out.WriteLine(failed == 0 ? "ready" : $"not ready: {failed} problem{(failed == 1 ? "" : "s")}");
            }
            return failed == 0 ? (int)ReturnCode.Ok : (int)ReturnCode.NotReady;
        });
        return command;
    }

    /// <summary>Checks that need no daemon: kernel, sched_ext, BTF, libbpf, bpffs, another scheduler.</summary>
    internal static List<Check> HostChecks(HostProbe host)
    {
        var checks = new List<Check>();
        string release = host.Read("/proc/sys/kernel/osrelease") ?? "unknown";
        Version? version = ParseKernel(release);
        checks.Add(version is null
            ? new Check("kernel", Verdict.Warn, $"{release}: version not recognised")
            : version >= MinKernel
                ? new Check("kernel", Verdict.Ok, $"{release} (sched_ext needs {MinKernel} or newer)")
                : new Check("kernel", Verdict.Fail, $"{release} is older than {MinKernel}, the first kernel with sched_ext",
                    "boot Linux 6.12 or newer built with CONFIG_SCHED_CLASS_EXT=y (tested: 6.16 to 7.3; Debian's 6.16+ kernels have it)"));

        bool schedExt = host.Exists("/sys/kernel/sched_ext");
        string? config = host.Read($"/boot/config-{release}");
        checks.Add(schedExt
            ? new Check("sched_ext", Verdict.Ok, "CONFIG_SCHED_CLASS_EXT=y (/sys/kernel/sched_ext exists)")
            : new Check("sched_ext", Verdict.Fail,
                config is null ? "/sys/kernel/sched_ext is missing: this kernel has no sched_ext"
                    : config.Contains("CONFIG_SCHED_CLASS_EXT=y", StringComparison.Ordinal) ? "/sys/kernel/sched_ext is missing although the kernel's config enables it"
                    : $"this kernel was built without CONFIG_SCHED_CLASS_EXT (/boot/config-{release})",
                "boot a kernel built with CONFIG_SCHED_CLASS_EXT=y (Debian: 6.16 or newer from trixie or trixie-backports); agentschedd serves in fallback mode until then"));

        checks.Add(host.Exists("/sys/kernel/btf/vmlinux")
            ? new Check("btf", Verdict.Ok, "/sys/kernel/btf/vmlinux exists")
            : new Check("btf", Verdict.Fail, "/sys/kernel/btf/vmlinux is missing: the kernel has no BTF, which BPF schedulers need",
                "boot a kernel built with CONFIG_DEBUG_INFO_BTF=y"));

        (Version? libbpf, string? libbpfError) = host.LibbpfVersion();
        checks.Add(libbpf is null
            ? new Check("libbpf", Verdict.Fail, $"libbpf.so.1 cannot be loaded ({libbpfError})", "install libbpf 1.4 or newer (Debian 12: apt install -t bookworm-backports libbpf1)")
            : libbpf >= MinLibbpf
                ? new Check("libbpf", Verdict.Ok, $"libbpf {libbpf}")
                : new Check("libbpf", Verdict.Fail, $"libbpf {libbpf} is older than {MinLibbpf} (struct_ops links need {MinLibbpf})", "install libbpf 1.4 or newer (Debian 12: apt install -t bookworm-backports libbpf1)"));

        string? mounts = host.Read("/proc/mounts");
        bool bpffs = mounts?.Split('\n').Any(l => l.Split(' ') is [_, "/sys/fs/bpf", "bpf", ..]) ?? false;
        checks.Add(mounts is null
            ? new Check("bpffs", Verdict.Skip, "/proc/mounts is not readable")
            : bpffs
                ? new Check("bpffs", Verdict.Ok, "mounted at /sys/fs/bpf (the daemon pins the scheduler there)")
                : new Check("bpffs", Verdict.Fail, "no bpf filesystem at /sys/fs/bpf: the daemon cannot pin the scheduler, so a daemon restart would detach it",
                    "mount -t bpf bpf /sys/fs/bpf (systemd mounts it at boot unless disabled)"));

        if (schedExt)
        {
            string state = host.Read("/sys/kernel/sched_ext/state") ?? "unknown";
            string? ops = host.Read("/sys/kernel/sched_ext/root/ops");
            checks.Add(state is "enabled" or "enabling" && ops is not null && ops != "agent_class"
                ? new Check("other-scx", Verdict.Fail, $"another sched_ext scheduler, {ops}, is attached; agentschedd cannot attach agent_class beside it",
                    $"stop {ops} (e.g. systemctl stop scx_loader, or kill its process), then systemctl restart agentsched")
                : new Check("other-scx", Verdict.Ok, ops == "agent_class" && state == "enabled" ? "agent_class is the attached scheduler" : $"no other scheduler attached (state {state})"));
        }
        return checks;
    }

    /// <summary>Checks through the socket: reachability and permissions, the daemon's mode, its capabilities.</summary>
    internal static async Task<List<Check>> DaemonChecks(AgentSchedClient client, HostProbe host, CancellationToken token)
    {
        var checks = new List<Check>();
        DaemonStatus status;
        try
        {
            status = (await client.StatusAsync(token))!;
        }
        catch (AgentSchedUnavailableException e)
        {
            string fix = e.Reason.Contains("permission denied", StringComparison.Ordinal)
                ? "add your user to the agentsched group (usermod -aG agentsched $USER) and log in again, or run as root"
                : "start the daemon: systemctl start agentsched (installed by scripts/install); or pass --socket if it listens elsewhere";
            checks.Add(new Check("socket", Verdict.Fail, e.Detail, fix));
            checks.Add(host.IsRoot()
                ? new Check("capabilities", Verdict.Ok, "running as root: agentschedd started from here would have CAP_BPF, CAP_PERFMON and CAP_SYS_NICE")
                : new Check("capabilities", Verdict.Skip, "no daemon to inspect: agentschedd needs CAP_BPF, CAP_PERFMON and CAP_SYS_NICE (the systemd unit grants them)"));
            return checks;
        }
        catch (AgentSchedException e)
        {
            checks.Add(new Check("socket", Verdict.Fail, $"status was refused: {e.Code}: {e.Detail}", "check the daemon's log: journalctl -u agentsched"));
            return checks;
        }
        checks.Add(new Check("socket", Verdict.Ok, $"{client.SocketPath}: agentschedd {status.Version} answers (pid {status.DaemonPid})"));
        checks.Add(!status.Healthy
            ? new Check("daemon", Verdict.Fail, $"unhealthy in {status.Mode} mode: {status.Reason}", "see journalctl -u agentsched; agentsched status shows the last ejection")
            : status.Mode == "sched_ext"
                ? new Check("daemon", Verdict.Ok, $"sched_ext mode: {status.Reason}")
                : new Check("daemon", Verdict.Warn, $"fallback mode (EEVDF controls only): {status.Reason}"));

        ulong? caps = host.EffectiveCapabilities(status.DaemonPid);
        if (caps is not { } c)
        {
            checks.Add(new Check("capabilities", Verdict.Skip, $"cannot read /proc/{status.DaemonPid}/status (the daemon runs in another pid namespace?)"));
        }
        else
        {
            bool Has(int cap) => (c & (1UL << cap)) != 0;
            var missing = new List<string>();
            if (!Has(CapBpf) && !Has(CapSysAdmin)) missing.Add("CAP_BPF");
            if (!Has(CapPerfmon) && !Has(CapSysAdmin)) missing.Add("CAP_PERFMON");
            if (!Has(CapSysNice)) missing.Add("CAP_SYS_NICE");
            checks.Add(missing.Count == 0
                ? new Check("capabilities", Verdict.Ok, $"agentschedd (pid {status.DaemonPid}) has CAP_BPF, CAP_PERFMON and CAP_SYS_NICE")
                : new Check("capabilities", Verdict.Fail, $"agentschedd (pid {status.DaemonPid}) lacks {string.Join(", ", missing)}",
                    "run it from packaging/agentsched.service (CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYS_NICE) or as root"));
        }
        return checks;
    }

    /// <summary>"7.3.4+deb13-cloud-amd64" → 7.3; null when it does not start with two numbers.</summary>
    internal static Version? ParseKernel(string release)
    {
        string[] parts = release.Split('.', 3);
        return parts.Length >= 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int major)
            && int.TryParse(new string(parts[1].TakeWhile(char.IsAsciiDigit).ToArray()), NumberStyles.None, CultureInfo.InvariantCulture, out int minor)
            ? new Version(major, minor) : null;
    }
}
