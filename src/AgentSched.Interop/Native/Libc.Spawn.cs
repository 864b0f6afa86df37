namespace AgentSched.Interop.Native;

/// <summary>posix_spawn(3), pipe2(2), read(2) and waitpid(2), for <see cref="Kernel.ProcessSpawn"/>.</summary>
internal static unsafe partial class Libc
{
    internal const int O_CLOEXEC = 0x80000;
    internal const int EINTR = 4;
    internal const short POSIX_SPAWN_SETSIGDEF = 0x04;

    // glibc's opaque types, with room to spare: posix_spawn_file_actions_t is 80 bytes on 64-bit
    // glibc, posix_spawnattr_t 336, sigset_t 128.
    internal const int FileActionsSize = 128, SpawnAttrSize = 512, SigSetSize = 128;

    [LibraryImport(LibName, EntryPoint = "pipe2", SetLastError = true)]
    internal static partial int Pipe2(int* fds, int flags);

    [LibraryImport(LibName, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(LibName, EntryPoint = "waitpid", SetLastError = true)]
    internal static partial int WaitPid(int pid, int* status, int options);

    [LibraryImport(LibName, EntryPoint = "posix_spawn_file_actions_init")]
    internal static partial int SpawnFileActionsInit(void* actions);

    [LibraryImport(LibName, EntryPoint = "posix_spawn_file_actions_destroy")]
    internal static partial int SpawnFileActionsDestroy(void* actions);

    [LibraryImport(LibName, EntryPoint = "posix_spawn_file_actions_adddup2")]
    internal static partial int SpawnFileActionsAddDup2(void* actions, int fd, int newFd);

    [LibraryImport(LibName, EntryPoint = "posix_spawnattr_init")]
    internal static partial int SpawnAttrInit(void* attr);

    [LibraryImport(LibName, EntryPoint = "posix_spawnattr_destroy")]
    internal static partial int SpawnAttrDestroy(void* attr);

    [LibraryImport(LibName, EntryPoint = "posix_spawnattr_setflags")]
    internal static partial int SpawnAttrSetFlags(void* attr, short flags);

    [LibraryImport(LibName, EntryPoint = "posix_spawnattr_setsigdefault")]
    internal static partial int SpawnAttrSetSigDefault(void* attr, void* sigset);

    [LibraryImport(LibName, EntryPoint = "sigemptyset")]
    internal static partial int SigEmptySet(void* set);

    [LibraryImport(LibName, EntryPoint = "sigaddset")]
    internal static partial int SigAddSet(void* set, int signal);

    /// <summary>posix_spawnp: returns 0 or an error number (not errno).</summary>
    [LibraryImport(LibName, EntryPoint = "posix_spawnp")]
    internal static partial int SpawnP(int* pid, byte* file, void* fileActions, void* attr, byte** argv, byte** envp);
}
