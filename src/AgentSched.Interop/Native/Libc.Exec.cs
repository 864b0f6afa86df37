namespace AgentSched.Interop.Native;

/// <summary>execvp(3) and signal(2), for <c>agentsched run</c>.</summary>
internal static unsafe partial class Libc
{
    internal const int SIGPIPE = 13;

    /// <summary>signal(sig, SIG_DFL).</summary>
    internal static void DefaultSignal(int signal) => Signal(signal, 0);

    /// <summary>signal(sig, SIG_IGN).</summary>
    internal static void IgnoreSignal(int signal) => Signal(signal, 1);

    [LibraryImport(LibName, EntryPoint = "signal")]
    private static partial nint Signal(int signal, nint handler);

    /// <summary>execvp(file, argv): returns only on failure, -1 with errno.</summary>
    [LibraryImport(LibName, EntryPoint = "execvp", SetLastError = true)]
    internal static partial int Execvp(byte* file, byte** argv);
}
