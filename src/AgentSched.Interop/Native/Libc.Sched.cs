namespace AgentSched.Interop.Native;

/// <summary>sched_setattr(2) and sched_getattr(2) through syscall(2): glibc 2.36 has no wrappers.</summary>
internal static unsafe partial class Libc
{
    /// <summary>SCHED_ATTR_SIZE_VER1: the size of <see cref="SchedAttr"/>, with the utilization clamps.</summary>
    internal const uint SchedAttrSizeVer1 = 56;

    /// <summary><c>struct sched_attr</c> (uapi/linux/sched/types.h), the 56-byte version.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SchedAttr
    {
        public uint Size;
        public uint SchedPolicy;
        public ulong SchedFlags;
        public int SchedNice;
        public uint SchedPriority;
        public ulong SchedRuntime;
        public ulong SchedDeadline;
        public ulong SchedPeriod;
        public uint SchedUtilMin;
        public uint SchedUtilMax;
    }

    // asm-generic/unistd.h (arm64): 274, 275; arch/x86/entry/syscalls/syscall_64.tbl: 314, 315.
    private static readonly long s_sysSchedSetattr = SyscallNumber("sched_setattr", x64: 314, arm64: 274);
    private static readonly long s_sysSchedGetattr = SyscallNumber("sched_getattr", x64: 315, arm64: 275);

    /// <summary>sched_setattr(pid, attr, flags); -1 with errno on failure.</summary>
    internal static int SchedSetattr(int pid, SchedAttr* attr, uint flags) =>
        (int)Syscall(s_sysSchedSetattr, pid, (nint)attr, (nint)flags);

    /// <summary>sched_getattr(pid, attr, size, flags); -1 with errno on failure.</summary>
    internal static int SchedGetattr(int pid, SchedAttr* attr, uint size, uint flags) =>
        (int)Syscall(s_sysSchedGetattr, pid, (nint)attr, (nint)size, (nint)flags);

    /// <summary>prctl(2): its result, or -1 with errno.</summary>
    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    internal static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
