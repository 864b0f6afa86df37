using System.Text;
using AgentSched.Interop.Native;

namespace AgentSched.Interop.Kernel;

/// <summary>Replaces the calling process with another program, keeping its pid (execvp(3)).</summary>
public static unsafe class ProcessExec
{
    /// <summary>
    /// Executes <paramref name="file"/> (searched on PATH when it has no '/') with
    /// <paramref name="argv"/> in this process, which keeps its pid, open standard streams,
    /// environment and scheduling. Returns only when that failed, with the errno (ENOENT: not found;
    /// EACCES: not executable).
    /// </summary>
    /// <remarks>
    /// The .NET runtime ignores SIGPIPE, and ignored signals survive exec; the program would then
    /// get EPIPE errors where it expects to be killed (<c>yes | head</c>). SIGPIPE is reset to its
    /// default first. Call this from the main thread: exec from another thread gives the process
    /// that thread's task, which loses what was set on the main thread alone.
    /// </remarks>
    public static int Exec(string file, IReadOnlyList<string> argv)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        using var args = new NativeStrings(argv);
        byte[] fileBytes = Encoding.UTF8.GetBytes(file + "\0");
        Libc.DefaultSignal(Libc.SIGPIPE);
        int errno;
        fixed (byte* f = fileBytes)
        {
            Libc.Execvp(f, args.Pointers);
            errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        }
        // Still here: ignore SIGPIPE again, as the runtime did, so reporting the failure on a
        // closed pipe is an EPIPE, not death by signal.
        Libc.IgnoreSignal(Libc.SIGPIPE);
        return errno;
    }
}
