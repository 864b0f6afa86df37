using System.Globalization;

namespace AgentSched.Interop.Kernel;

/// <summary>A process as /proc/&lt;pid&gt;/status shows it: its parent and real uid.</summary>
public readonly record struct ProcessLink(int Pid, int ParentPid, uint RealUid);

/// <summary>
/// The processes created since a moment, found without walking all of /proc when that can be
/// avoided: the kernel hands out pids in increasing order (<c>/proc/sys/kernel/ns_last_pid</c> is
/// the last one), so a process created after a moment has a pid above that moment's last pid,
/// unless the counter wrapped around or was set back, in which case every process is listed.
/// </summary>
public static class ProcessTree
{
    /// <summary>Past this many pids to look at, one pass over /proc is cheaper than probing each.</summary>
    private const int MaxProbed = 4096;

    /// <summary>The last pid the kernel handed out in this pid namespace; null when it cannot be read.</summary>
    public static int? LastPid()
    {
        try
        {
            return int.TryParse(File.ReadAllText("/proc/sys/kernel/ns_last_pid").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Every process (thread-group leader) whose pid was handed out after <paramref name="lastPid"/>
    /// was (a <see cref="LastPid"/> read earlier), and possibly others; with null, every process.
    /// Processes that exit while this runs may be missing.
    /// </summary>
    public static IReadOnlyList<ProcessLink> CreatedAfter(int? lastPid)
    {
        int? now = LastPid();
        IEnumerable<int> pids = lastPid is { } since && now is { } until && until >= since && until - since <= MaxProbed
            ? Enumerable.Range(since + 1, until - since)
            : AllPids();
        var found = new List<ProcessLink>();
        foreach (int pid in pids)
        {
            if (Read(pid) is { } link)
            {
                found.Add(link);
            }
        }
        return found;
    }

    private static IEnumerable<int> AllPids()
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                yield return pid;
            }
        }
    }

    /// <summary>The process <paramref name="pid"/>; null when there is none, or the pid is a thread's.</summary>
    internal static ProcessLink? Read(int pid) =>
        ProcessHandle.ReadProcFile(pid, "status") is { } status ? Parse(pid, status) : null;

    /// <summary>Tgid, PPid and the real uid from /proc/&lt;pid&gt;/status; null for a thread that is not its group's leader, or a malformed file.</summary>
    internal static ProcessLink? Parse(int pid, string status)
    {
        int? tgid = null, ppid = null;
        foreach (string line in status.Split('\n'))
        {
            if (line.StartsWith("Tgid:", StringComparison.Ordinal)) tgid = Number(line);
            else if (line.StartsWith("PPid:", StringComparison.Ordinal)) ppid = Number(line);
        }
        return tgid == pid && ppid is { } parent && ProcessHandle.ParseRealUid(status) is { } uid ? new ProcessLink(pid, parent, uid) : null;

        static int? Number(string line) =>
            int.TryParse(line.AsSpan(5).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;
    }
}
