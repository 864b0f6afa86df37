namespace AgentSched.Interop.Kernel;

/// <summary>What the kernel says about sched_ext, read from /sys/kernel/sched_ext and /proc.</summary>
/// <param name="Supported">The kernel was built with CONFIG_SCHED_CLASS_EXT (the sysfs directory exists).</param>
/// <param name="State">disabled, enabling, enabled or disabling; "unsupported" when not <paramref name="Supported"/>.</param>
/// <param name="Ops">The attached scheduler's name, when one is attached.</param>
/// <param name="EnableSeq">How many times a scheduler has been enabled since boot.</param>
/// <param name="SwitchAll">Every fair-class task runs on the scheduler (full mode) rather than SCHED_EXT tasks only.</param>
/// <param name="KernelRelease">uname -r.</param>
public sealed record SchedExtStatus(
    bool Supported,
    string State,
    string? Ops,
    long? EnableSeq,
    bool? SwitchAll,
    string KernelRelease)
{
    public const string DefaultSysfsRoot = "/sys/kernel/sched_ext";

    public bool IsAttached => State is "enabled" or "enabling";

    /// <summary>Reads the current status. <paramref name="sysfsRoot"/> exists for tests.</summary>
    public static SchedExtStatus Read(string sysfsRoot = DefaultSysfsRoot, string osReleasePath = "/proc/sys/kernel/osrelease")
    {
        string release = ReadText(osReleasePath) ?? Environment.OSVersion.Version.ToString();
        if (!Directory.Exists(sysfsRoot))
        {
            return new SchedExtStatus(false, "unsupported", null, null, null, release);
        }
        string state = ReadText(Path.Combine(sysfsRoot, "state")) ?? "unknown";
        string? ops = ReadText(Path.Combine(sysfsRoot, "root", "ops"));
        long? seq = long.TryParse(ReadText(Path.Combine(sysfsRoot, "enable_seq")), out long s) ? s : null;
        bool? all = ReadText(Path.Combine(sysfsRoot, "switch_all")) is { } a ? a == "1" : null;
        return new SchedExtStatus(true, state, state == "disabled" ? null : ops, seq, all, release);
    }

    private static string? ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
