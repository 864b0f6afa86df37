namespace AgentSched.Interop.Native;

/// <summary>The C library calls agentsched needs that .NET does not expose.</summary>
internal static unsafe partial class Libc
{
    private const string LibName = "libc";

    [LibraryImport(LibName, EntryPoint = "vsnprintf")]
    internal static partial int VsnPrintf(byte* buffer, nuint size, byte* format, nint args);
}

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "pidfd_open", SetLastError = true)]
    internal static partial int PidfdOpen(int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "close")]
    internal static partial int Close(int fd);
}

internal static unsafe partial class Libc
{
    internal const int CLOCK_MONOTONIC = 1;

    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    internal static partial int ClockGetTime(int clock, Timespec* ts);
}
