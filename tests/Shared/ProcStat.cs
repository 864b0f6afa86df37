using System.Diagnostics;

namespace AgentSched.Tests;

/// <summary>What the kernel reports about a process's scheduling, read from /proc (not through the daemon's own code).</summary>
internal static class ProcStat
{
    /// <summary>(nice, policy) from fields 19 and 41 of /proc/PID/stat.</summary>
    public static (int Nice, int Policy) Sched(int pid) => SchedAt($"/proc/{pid}/stat");

    /// <summary>(nice, policy) from a stat file: a process's, or a thread's (/proc/PID/task/TID/stat).</summary>
    public static (int Nice, int Policy) SchedAt(string statPath)
    {
        string[] f = FieldsFrom3(statPath);
        return (int.Parse(f[19 - 3]), int.Parse(f[41 - 3]));
    }

    /// <summary>The CPU time of a process, all its threads: utime + stime (fields 14 and 15), in seconds.</summary>
    public static double CpuSeconds(int pid)
    {
        string[] f = FieldsFrom3($"/proc/{pid}/stat");
        return (long.Parse(f[14 - 3]) + long.Parse(f[15 - 3])) / 100.0;   // USER_HZ
    }

    /// <summary>
    /// The CPU time all CPUs spent busy since boot, in seconds: /proc/stat's "cpu" line without idle
    /// and iowait (user, nice, system, irq, softirq, steal; guest time is inside user already).
    /// </summary>
    public static double BusyCpuSeconds()
    {
        string cpu = File.ReadLines("/proc/stat").First(l => l.StartsWith("cpu ", StringComparison.Ordinal));
        long[] t = cpu.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
        return (t[0] + t[1] + t[2] + t[5] + t[6] + t[7]) / 100.0;   // USER_HZ
    }

    /// <summary>The parent's pid (field 4 of /proc/PID/stat).</summary>
    public static int ParentPid(int pid) => int.Parse(FieldsFrom3($"/proc/{pid}/stat")[4 - 3]);

    /// <summary>The time the process's main thread has spent on a CPU, ns (the first field of /proc/PID/schedstat).</summary>
    public static long OnCpuNs(int pid) => long.Parse(File.ReadAllText($"/proc/{pid}/schedstat").Split(' ')[0]);

    /// <summary>The fields of a stat file from field 3 on (after the parenthesised comm, which may hold spaces).</summary>
    private static string[] FieldsFrom3(string statPath)
    {
        string stat = File.ReadAllText(statPath);
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    /// <summary>The task's EEVDF slice in ns ("se.slice" in /proc/PID/sched, Linux 6.6+); null when the kernel does not report it.</summary>
    public static ulong? Slice(int pid) =>
        File.ReadAllLines($"/proc/{pid}/sched").Where(l => l.StartsWith("se.slice ", StringComparison.Ordinal))
            .Select(l => (ulong?)ulong.Parse(l[(l.IndexOf(':') + 1)..].Trim())).FirstOrDefault();

    /// <summary>A child that sleeps until killed; dispose kills it.</summary>
    public static Sleeper Sleep() => new(Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!);

    /// <summary>A sleeping child that the kernel gave <paramref name="pid"/> (through ns_last_pid; needs root).</summary>
    public static Sleeper ReusePid(int pid)
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            File.WriteAllText("/proc/sys/kernel/ns_last_pid", (pid - 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
            Sleeper s = Sleep();
            if (s.Pid == pid)
            {
                return s;
            }
            s.Dispose();
        }
        throw new InvalidOperationException($"could not get pid {pid} reused (other processes kept taking it)");
    }

    /// <summary>A sleeping child running as <paramref name="uid"/>.</summary>
    public static Sleeper SleepAs(int uid) =>
        new(Process.Start(new ProcessStartInfo("setpriv", $"--reuid={uid} --regid={uid} --clear-groups sleep 600") { UseShellExecute = false })!);

    internal sealed class Sleeper(Process process) : IDisposable
    {
        public int Pid => process.Id;

        public void Dispose()
        {
            try
            {
                process.Kill();
                process.WaitForExit();
            }
            catch (InvalidOperationException)
            {
            }
            process.Dispose();
        }
    }
}
