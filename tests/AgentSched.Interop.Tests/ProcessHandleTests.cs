using AgentSched.Interop;
using AgentSched.Interop.Kernel;

namespace AgentSched.Interop.Tests;

/// <summary>Process identity through a pidfd: /proc reads are trusted only while the pidfd's process lives.</summary>
public sealed class ProcessHandleTests
{
    private const int ESRCH = 3;

    [Fact]
    public void OwnProcessInfoIsReadAndStable()
    {
        int pid = Environment.ProcessId;
        using ProcessHandle self = ProcessHandle.Open(pid);

        ProcessInfo first = self.ReadInfo();
        ProcessInfo second = self.ReadInfo();

        Assert.Equal(pid, first.Pid);
        Assert.Equal(0u, first.RealUid); // the host tests run as root (they load BPF)
        Assert.True(first.StartTimeTicks > 0);
        Assert.Equal(first, second);
        Assert.Equal(first.StartTimeTicks, ProcessHandle.TryReadStartTime(pid));
        Assert.Equal(File.ReadAllText("/proc/self/comm").TrimEnd('\n'), first.Comm);
        Assert.True(self.IsAlive);
        Assert.True(self.Fd >= 0);
        IReadOnlyList<int> threads = self.ThreadIds();
        Assert.Contains(pid, threads);
        Assert.True(threads.Count > 1, $"the .NET runtime has more than one thread: {threads.Count}");
    }

    [Fact]
    public void AChildThatExitedIsNotAliveAndItsInfoIsRefused()
    {
        using var child = ChildProcess.Sleep();
        using ProcessHandle handle = ProcessHandle.Open(child.Pid);
        ProcessInfo alive = handle.ReadInfo();
        Assert.Equal("sleep", alive.Comm);
        Assert.True(handle.IsAlive);

        child.KillAndReap();

        Assert.False(handle.IsAlive);
        Assert.Equal(ESRCH, Assert.Throws<SyscallException>(() => handle.ReadInfo()).Errno);
        Assert.Equal(ESRCH, Assert.Throws<SyscallException>(handle.ThreadIds).Errno);
        Assert.Null(ProcessHandle.TryReadStartTime(child.Pid));
    }

    [Fact]
    public void AMissingPidIsESRCH()
    {
        const int pid = 0x7ffffff0; // above any pid_max (at most 2^22)

        var e = Assert.Throws<SyscallException>(() => ProcessHandle.Open(pid));

        Assert.Equal((ESRCH, "ESRCH", $"pidfd_open({pid})"), (e.Errno, e.ErrnoName, e.Operation));
        Assert.Null(ProcessHandle.TryReadStartTime(pid));
    }

    [Fact]
    public void ACommWithSpacesAndParenthesesParses()
    {
        const string comm = "a) b (c) 1 2";
        // bash renames itself, then waits on sleep (the trailing ':' keeps it from exec'ing sleep).
        using var child = ChildProcess.Start("bash", "-c", $"printf %s '{comm}' > /proc/$$/comm; sleep 30; :");
        string procComm = "";
        for (int i = 0; i < 200 && procComm != comm; i++)
        {
            Thread.Sleep(25);
            procComm = File.ReadAllText($"/proc/{child.Pid}/comm").TrimEnd('\n');
        }
        Assert.Equal(comm, procComm);
        using ProcessHandle handle = ProcessHandle.Open(child.Pid);

        ProcessInfo info = handle.ReadInfo();

        Assert.Equal(comm, info.Comm);
        Assert.Equal(0u, info.RealUid);
        ulong self = ProcessHandle.TryReadStartTime(Environment.ProcessId)!.Value;
        Assert.InRange(info.StartTimeTicks, self, self + 100 * 600); // after us, within 10 minutes at USER_HZ=100
    }

    [Fact]
    public void StatIsParsedAfterTheLastParenthesis()
    {
        // Fields 3..22 after the comm; field 22 (starttime) is 987654.
        string stat = "4242 (x) R 1 (y)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615\n";

        Assert.Equal(("x) R 1 (y)", 987654UL), ProcessHandle.ParseStat(stat));
        Assert.Null(ProcessHandle.ParseStat("4242 (truncated) S 1 2"));
        Assert.Equal(1000u, ProcessHandle.ParseRealUid("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n"));
        Assert.Null(ProcessHandle.ParseRealUid("Name:\tx\n"));
    }

    [Fact]
    public void ADisposedHandleRefusesUse()
    {
        ProcessHandle handle = ProcessHandle.Open(Environment.ProcessId);
        handle.Dispose();

        Assert.Throws<ObjectDisposedException>(() => handle.Fd);
        Assert.Throws<ObjectDisposedException>(() => handle.IsAlive);
        Assert.Throws<ObjectDisposedException>(() => handle.ReadInfo());
    }
}
