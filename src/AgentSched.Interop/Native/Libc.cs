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
    [LibraryImport(LibName, EntryPoint = "close")]
    internal static partial int Close(int fd);

    [LibraryImport(LibName, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Unlink(string path);
}

/// <summary>
/// syscall(2), for calls glibc 2.36 has no wrapper for. It is variadic in C; declaring it with
/// fixed integer arguments is sound on x86-64 and arm64 Linux, where variadic integer arguments
/// travel in the same registers as fixed ones (and glibc's syscall is written in assembly).
/// Returns -1 with errno set on failure.
/// </summary>
internal static partial class Libc
{
    [LibraryImport(LibName, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall(long number, nint a0, nint a1, nint a2);

    [LibraryImport(LibName, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall(long number, nint a0, nint a1, nint a2, nint a3);

    /// <summary>The number of a syscall whose numbers differ between architectures.</summary>
    internal static long SyscallNumber(string name, long x64, long arm64) => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => x64,
        Architecture.Arm64 => arm64,
        Architecture arch => throw new PlatformNotSupportedException($"{name}: no syscall number known for {arch}"),
    };
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

    [LibraryImport(LibName, EntryPoint = "clock_gettime")]
    internal static partial int ClockGetTime(int clock, Timespec* ts);
}
