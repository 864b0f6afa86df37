using System.ComponentModel;
using System.Globalization;
using AgentSched.Interop.Kernel;

namespace AgentSched.Interop.Tests;

/// <summary>posix_spawn from the calling thread: output, exit status, errors, and what the child inherits.</summary>
public sealed class ProcessSpawnTests
{
    [Fact]
    public void TheChildsOutputAndExitCodeComeBack()
    {
        using SpawnedProcess p = ProcessSpawn.Start("/bin/sh", ["sh", "-c", "echo \"$0 $1\"; exit 3", "a b", "ü"], captureStdout: true);

        Assert.Equal("a b ü\n", p.ReadStdoutToEnd());
        Assert.Equal(3, p.WaitForExit());
    }

    [Fact]
    public void ANameWithoutASlashIsSearchedOnPath()
    {
        using SpawnedProcess p = ProcessSpawn.Start("true", ["true"], captureStdout: false);

        Assert.Equal(0, p.WaitForExit());
    }

    [Fact]
    public void AMissingProgramThrowsENOENT()
    {
        var e = Assert.Throws<Win32Exception>(() => ProcessSpawn.Start("/nonexistent/tool", ["tool"], captureStdout: true));

        Assert.Equal(2, e.NativeErrorCode);
        Assert.Contains("/nonexistent/tool", e.Message);
    }

    [Fact]
    public void ASignalledChildReports128PlusTheSignal()
    {
        using SpawnedProcess p = ProcessSpawn.Start("/bin/sh", ["sh", "-c", "kill -9 $$"], captureStdout: false);

        Assert.Equal(128 + 9, p.WaitForExit());
    }

    /// <summary>The .NET runtime ignores SIGPIPE; the child must not inherit that, or `yes | head` never ends.</summary>
    [Fact]
    public void SigpipeIsBackAtItsDefaultInTheChild()
    {
        using SpawnedProcess p = ProcessSpawn.Start("/bin/sh", ["sh", "-c", "grep SigIgn /proc/self/status"], captureStdout: true);

        ulong ignored = ulong.Parse(p.ReadStdoutToEnd().Split(':')[1].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.Equal(0UL, ignored & (1UL << (13 - 1)));
        Assert.Equal(0, p.WaitForExit());
    }

    /// <summary>The child starts from the calling thread's task: it has that thread's nice, not the process's.</summary>
    [Fact]
    public void TheChildInheritsTheCallingThreadsNice()
    {
        int nice = -1;
        var t = new Thread(() =>
        {
            int osTid = int.Parse(File.ReadAllText("/proc/thread-self/stat").Split(' ')[0], CultureInfo.InvariantCulture);
            TaskScheduling.Set(osTid, new SchedAttr(SchedPolicy.Normal, 7, 0, 0, 0));
            using SpawnedProcess p = ProcessSpawn.Start("/bin/sh", ["sh", "-c", "cut -d' ' -f19 /proc/self/stat"], captureStdout: true);
            nice = int.Parse(p.ReadStdoutToEnd().Trim(), CultureInfo.InvariantCulture);
            p.WaitForExit();
        });
        t.Start();
        t.Join();

        Assert.Equal(7, nice);
        Assert.Equal(0, TaskScheduling.Get(Environment.ProcessId).Nice);
    }
}
