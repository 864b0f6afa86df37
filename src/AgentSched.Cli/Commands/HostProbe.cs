using System.Globalization;

namespace AgentSched.Cli.Commands;

/// <summary>
/// The files doctor reads (/proc, /sys, /boot), under a root directory so tests can stage a host.
/// Unreadable files read as null: doctor reports what it could not see, it does not crash.
/// </summary>
public sealed class HostProbe(string root, Func<(Version? Version, string? Error)>? libbpfVersion = null, Func<bool>? isRoot = null)
{
    /// <summary>libbpf's version, or why it could not be loaded.</summary>
    public (Version? Version, string? Error) LibbpfVersion() =>
        libbpfVersion?.Invoke() ?? (AgentSched.Interop.Bpf.LibbpfInfo.TryGetVersion(out string? error), error);

    /// <summary>Whether the caller runs as root (effective uid 0).</summary>
    public bool IsRoot() => isRoot?.Invoke() ?? Environment.IsPrivilegedProcess;

    public string Path(string absolute) => System.IO.Path.Combine(root, absolute.TrimStart('/'));

    public bool Exists(string absolute) => File.Exists(Path(absolute)) || Directory.Exists(Path(absolute));

    public string? Read(string absolute)
    {
        try
        {
            return File.ReadAllText(Path(absolute)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The effective capability set of a process (CapEff in /proc/PID/status), or null.</summary>
    public ulong? EffectiveCapabilities(int pid)
    {
        string? status = Read($"/proc/{pid}/status");
        string? line = status?.Split('\n').FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        return line is not null && ulong.TryParse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong caps) ? caps : null;
    }
}
