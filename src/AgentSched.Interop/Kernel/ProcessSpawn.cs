using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;
using AgentSched.Interop.Native;

namespace AgentSched.Interop.Kernel;

/// <summary>
/// Starts a program the cheap way, with posix_spawnp(3): glibc clones the calling thread with
/// CLONE_VM|CLONE_VFORK, so no page table is copied however large the caller is, and the child
/// starts from the calling thread's task: it inherits that thread's scheduling (nice, policy) and,
/// under agent_class, the class of a step the thread has open.
/// </summary>
/// <remarks>
/// <see cref="System.Diagnostics.Process.Start(System.Diagnostics.ProcessStartInfo)"/> costs
/// milliseconds of bookkeeping per start (and tens of them under an emulator); this is for callers
/// that start many short tools and only need the exit code and, optionally, the standard output.
/// The child gets the process's native environment (what it started with: .NET keeps later
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> changes to itself), the
/// caller's standard input and error, and SIGPIPE back at its default (the .NET runtime ignores it).
/// <see cref="System.Diagnostics.Process"/>'s SIGCHLD handling reaps only the children it started,
/// unless the program started with SIGCHLD ignored (then it reaps every child, and
/// <see cref="SpawnedProcess.WaitForExit"/> fails with ECHILD): do not start such a program.
/// </remarks>
public static unsafe class ProcessSpawn
{
    /// <summary>Starts <paramref name="file"/> (searched on PATH when it has no '/') with <paramref name="argv"/> (argv[0] included).</summary>
    /// <param name="captureStdout">Whether the child's standard output goes to a pipe the caller reads (<see cref="SpawnedProcess.ReadStdoutToEnd"/>).</param>
    /// <exception cref="Win32Exception">The spawn failed (ENOENT: not found; EACCES: not executable).</exception>
    public static SpawnedProcess Start(string file, IReadOnlyList<string> argv, bool captureStdout)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        if (argv.Count == 0) throw new ArgumentException("argv needs at least argv[0]", nameof(argv));
        int readFd = -1, writeFd = -1;
        if (captureStdout)
        {
            int* fds = stackalloc int[2];
            if (Libc.Pipe2(fds, Libc.O_CLOEXEC) != 0) throw new Win32Exception(Marshal.GetLastPInvokeError(), "pipe2 failed");
            (readFd, writeFd) = (fds[0], fds[1]);
        }
        byte* actions = stackalloc byte[Libc.FileActionsSize];
        byte* attr = stackalloc byte[Libc.SpawnAttrSize];
        byte* sigset = stackalloc byte[Libc.SigSetSize];
        Libc.SpawnFileActionsInit(actions);
        Libc.SpawnAttrInit(attr);
        NativeStrings? args = null;
        try
        {
            if (captureStdout)
            {
                // dup2 clears O_CLOEXEC on the copy; both originals close at exec.
                Check(Libc.SpawnFileActionsAddDup2(actions, writeFd, 1), "posix_spawn_file_actions_adddup2");
            }
            Libc.SigEmptySet(sigset);
            Libc.SigAddSet(sigset, Libc.SIGPIPE);
            Check(Libc.SpawnAttrSetSigDefault(attr, sigset), "posix_spawnattr_setsigdefault");
            Check(Libc.SpawnAttrSetFlags(attr, Libc.POSIX_SPAWN_SETSIGDEF), "posix_spawnattr_setflags");

            args = new NativeStrings(argv);
            int pid, error;
            fixed (byte* f = Encoding.UTF8.GetBytes(file + "\0"))
            {
                error = Libc.SpawnP(&pid, f, actions, attr, args.Pointers, Environ());
            }
            if (error != 0)
            {
                throw new Win32Exception(error, $"could not start '{file}': {new Win32Exception(error).Message}");
            }
            var child = new SpawnedProcess(pid, readFd);
            readFd = -1; // the child object owns it now
            return child;
        }
        finally
        {
            args?.Dispose();
            Libc.SpawnAttrDestroy(attr);
            Libc.SpawnFileActionsDestroy(actions);
            if (writeFd >= 0) Libc.Close(writeFd);
            if (readFd >= 0) Libc.Close(readFd);
        }
    }

    private static void Check(int error, string what)
    {
        if (error != 0) throw new Win32Exception(error, $"{what} failed");
    }

    private static nint s_environ;

    /// <summary>glibc's <c>environ</c>: the process's native environment block.</summary>
    private static byte** Environ()
    {
        if (s_environ == 0)
        {
            nint libc = NativeLibrary.Load("libc.so.6");
            s_environ = NativeLibrary.GetExport(libc, "environ");
        }
        return *(byte***)s_environ;
    }
}

/// <summary>A child started by <see cref="ProcessSpawn.Start"/>: read its output, then wait for it (once).</summary>
public sealed unsafe class SpawnedProcess : IDisposable
{
    private int _stdout;
    private bool _reaped;

    internal SpawnedProcess(int pid, int stdoutFd) => (Pid, _stdout) = (pid, stdoutFd);

    /// <summary>The child's pid.</summary>
    public int Pid { get; }

    /// <summary>Everything the child writes to its standard output until it closes it (UTF-8).</summary>
    public string ReadStdoutToEnd()
    {
        if (_stdout < 0) throw new InvalidOperationException("standard output was not captured, or was read already");
        var bytes = new List<byte>();
        byte* buffer = stackalloc byte[4096];
        while (true)
        {
            nint n = Libc.Read(_stdout, buffer, 4096);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR) continue;
                throw new Win32Exception(errno, "read from the child's standard output failed");
            }
            if (n == 0) break;
            bytes.AddRange(new ReadOnlySpan<byte>(buffer, (int)n));
        }
        CloseStdout();
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>Waits for the child to end; its exit code, or 128 + the signal that killed it.</summary>
    public int WaitForExit()
    {
        if (_reaped) throw new InvalidOperationException($"process {Pid} was waited for already");
        int status;
        while (Libc.WaitPid(Pid, &status, 0) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Libc.EINTR) throw new Win32Exception(errno, $"waitpid({Pid}) failed");
        }
        _reaped = true;
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
    }

    private void CloseStdout()
    {
        if (_stdout >= 0) Libc.Close(_stdout);
        _stdout = -1;
    }

    /// <summary>Closes the output pipe and, if it was not waited for, waits for the child (a zombie otherwise).</summary>
    public void Dispose()
    {
        CloseStdout();
        if (!_reaped) WaitForExit();
    }
}
