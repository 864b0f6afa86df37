namespace AgentSched.Interop.Native;

/// <summary>statx(2) (glibc 2.28+); struct statx has the same layout on every architecture.</summary>
internal static unsafe partial class Libc
{
    internal const int AT_FDCWD = -100;
    internal const int AT_SYMLINK_NOFOLLOW = 0x100;
    internal const uint STATX_TYPE = 0x1;
    internal const int StatxSize = 256;
    internal const int StatxModeOffset = 0x1C; // __u16 stx_mode
    internal const int S_IFMT = 0xF000;
    internal const int S_IFSOCK = 0xC000;

    [LibraryImport(LibName, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
