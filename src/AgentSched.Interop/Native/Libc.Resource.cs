namespace AgentSched.Interop.Native;

internal static unsafe partial class Libc
{
    internal const int RLIMIT_NOFILE = 7;

    /// <summary>struct rlimit: rlim_t rlim_cur, rlim_max (64-bit on x86-64 and arm64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct RLimit
    {
        public ulong Current;
        public ulong Max;
    }

    [LibraryImport(LibName, EntryPoint = "getrlimit", SetLastError = true)]
    internal static partial int GetRLimit(int resource, RLimit* limit);

    [LibraryImport(LibName, EntryPoint = "setrlimit", SetLastError = true)]
    internal static partial int SetRLimit(int resource, RLimit* limit);
}
