using System.Globalization;
using AgentSched.Interop.Native;

namespace AgentSched.Interop.Kernel;

/// <summary>
/// A process held through a pidfd: unlike a pid, a pidfd keeps naming the same process after it
/// exits, so a dead process's pid being reused can never redirect what is done through it. The
/// pidfd is also the key of agent_class's task-storage <c>hints</c> map.
/// </summary>
public sealed class ProcessHandle : IDisposable
{
    private const int ESRCH = 3;
    private readonly SafeFdHandle _pidfd;

    private ProcessHandle(SafeFdHandle pidfd, int pid)
    {
        _pidfd = pidfd;
        Pid = pid;
    }

    /// <summary>The process id the handle was opened with.</summary>
    public int Pid { get; }

    /// <summary>The pidfd. Valid until <see cref="Dispose"/>; do not close it.</summary>
    /// <exception cref="ObjectDisposedException">The handle was disposed.</exception>
    public int Fd => _pidfd.Fd;

    /// <summary>
    /// The process has not been reaped yet (a zombie still counts: its pid cannot be reused before
    /// it is reaped). Checked with pidfd_send_signal(fd, 0).
    /// </summary>
    public bool IsAlive
    {
        get
        {
            if (Libc.PidfdSendSignal(_pidfd, 0) == 0)
            {
                return true;
            }
            int errno = Marshal.GetLastPInvokeError();
            return errno switch
            {
                ESRCH => false,
                1 => true, // EPERM: it exists, we may just not signal it
                _ => throw new SyscallException($"pidfd_send_signal({Pid})", errno),
            };
        }
    }

    /// <summary>
    /// Opens a pidfd for one thread (PIDFD_THREAD, Linux 6.9+): agent_class keys hints by it, so a
    /// hint set through it covers that thread alone. Its owner, start time and liveness are the thread's.
    /// </summary>
    /// <exception cref="SyscallException">ESRCH when there is no such thread; EINVAL before 6.9.</exception>
    public static ProcessHandle OpenThread(int tid)
    {
        const uint PIDFD_THREAD = 0x80; // O_EXCL
        int fd = Libc.PidfdOpen(tid, PIDFD_THREAD);
        if (fd < 0)
        {
            throw SyscallException.FromLastError($"pidfd_open({tid}, PIDFD_THREAD)");
        }
        return new ProcessHandle(new SafeFdHandle(fd), tid);
    }

    /// <summary>Opens a pidfd for a process (a thread-group leader's pid).</summary>
    /// <exception cref="SyscallException">pidfd_open failed: ESRCH when there is no such process;
    /// for the tid of a thread that is not a leader, EINVAL (ENOENT on recent kernels).</exception>
    public static ProcessHandle Open(int pid)
    {
        int fd = Libc.PidfdOpen(pid, 0);
        if (fd < 0)
        {
            throw SyscallException.FromLastError($"pidfd_open({pid})");
        }
        return new ProcessHandle(new SafeFdHandle(fd), pid);
    }

    /// <summary>
    /// Reads the process's start time, real uid and comm from /proc, then checks that the pidfd's
    /// process is still alive: if it had died in between, the pid could already belong to another
    /// process, so what was read is not trusted and ESRCH is thrown.
    /// </summary>
    /// <exception cref="SyscallException">ESRCH: the process has exited.</exception>
    public ProcessInfo ReadInfo()
    {
        ObjectDisposedException.ThrowIf(_pidfd.IsClosed, this);
        string? stat = ReadProcFile(Pid, "stat");
        string? status = ReadProcFile(Pid, "status");
        if (stat is null || status is null || !IsAlive)
        {
            throw new SyscallException($"read /proc/{Pid}", ESRCH);
        }
        (string comm, ulong start) = ParseStat(stat) ?? throw new InvalidDataException($"/proc/{Pid}/stat is malformed: {stat}");
        uint[] uids = ParseUids(status) ?? throw new InvalidDataException($"/proc/{Pid}/status has no Uid line");
        return new ProcessInfo(Pid, start, uids[0], comm, uids.All(u => u == uids[0]));
    }

    /// <summary>The ids of the process's threads (/proc/&lt;pid&gt;/task), checked against the pidfd like <see cref="ReadInfo"/>.</summary>
    /// <exception cref="SyscallException">ESRCH: the process has exited.</exception>
    public IReadOnlyList<int> ThreadIds()
    {
        ObjectDisposedException.ThrowIf(_pidfd.IsClosed, this);
        List<int> tids = TaskIdsOf(Pid);
        if (tids.Count == 0 || !IsAlive)
        {
            throw new SyscallException($"read /proc/{Pid}/task", ESRCH);
        }
        tids.Sort();
        return tids;
    }

    /// <summary>
    /// The ids of process <paramref name="pid"/>'s threads (/proc/&lt;pid&gt;/task); empty when it
    /// has exited. Without a pidfd this can race with pid reuse: act on each through a <see cref="ThreadRef"/>.
    /// </summary>
    public static List<int> TaskIdsOf(int pid)
    {
        var tids = new List<int>();
        try
        {
            foreach (string dir in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int tid))
                {
                    tids.Add(tid);
                }
            }
        }
        catch (IOException)
        {
            tids.Clear(); // it exited meanwhile
        }
        return tids;
    }

    /// <summary>
    /// A process's start time in clock ticks since boot, or null when it does not exist. Without a
    /// pidfd this can race with pid reuse; compare it before and after to detect that.
    /// </summary>
    public static ulong? TryReadStartTime(int pid) =>
        ReadProcFile(pid, "stat") is { } stat && ParseStat(stat) is { } parsed ? parsed.StartTime : null;

    /// <summary>Closes the pidfd.</summary>
    public void Dispose() => _pidfd.Dispose();

    /// <summary>
    /// Parses /proc/&lt;pid&gt;/stat: "pid (comm) state ppid ...". comm may contain spaces and
    /// parentheses, so it ends at the last ')'; starttime is field 22 (the 20th after comm).
    /// </summary>
    internal static (string Comm, ulong StartTime)? ParseStat(string stat)
    {
        int open = stat.IndexOf('(', StringComparison.Ordinal);
        int close = stat.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return null;
        }
        string[] fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        const int StartTimeAfterComm = 22 - 3; // fields[0] is field 3, the state
        if (fields.Length <= StartTimeAfterComm || !ulong.TryParse(fields[StartTimeAfterComm], NumberStyles.None, CultureInfo.InvariantCulture, out ulong start))
        {
            return null;
        }
        return (stat[(open + 1)..close], start);
    }

    /// <summary>The first (real) uid of the "Uid:" line of /proc/&lt;pid&gt;/status.</summary>
    internal static uint? ParseRealUid(string status) => ParseUids(status)?[0];

    /// <summary>The real, effective, saved and file-system uids of the "Uid:" line of /proc/&lt;pid&gt;/status; null when it is missing or malformed.</summary>
    internal static uint[]? ParseUids(string status)
    {
        foreach (string line in status.Split('\n'))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                string[] ids = line[4..].Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
                var uids = new uint[ids.Length];
                for (int i = 0; i < ids.Length; i++)
                {
                    if (!uint.TryParse(ids[i], NumberStyles.None, CultureInfo.InvariantCulture, out uids[i])) return null;
                }
                return uids.Length > 0 ? uids : null;
            }
        }
        return null;
    }

    internal static string? ReadProcFile(int pid, string name)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/{name}");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException { HResult: ESRCH })
        {
            return null;
        }
    }
}
