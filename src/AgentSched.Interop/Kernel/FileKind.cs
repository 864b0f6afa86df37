using AgentSched.Interop.Native;

namespace AgentSched.Interop.Kernel;

/// <summary>What kind of file a path names (statx(2) without following a symlink), which .NET does not say.</summary>
public static unsafe class FileKind
{
    /// <summary>True when <paramref name="path"/> is a Unix socket; false for anything else, or nothing.</summary>
    /// <exception cref="SyscallException">statx failed for another reason than a missing path (EACCES, ...).</exception>
    public static bool IsSocket(string path)
    {
        byte* buffer = stackalloc byte[Libc.StatxSize];
        if (Libc.Statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_TYPE, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is 2 or 20) // ENOENT, ENOTDIR
            {
                return false;
            }
            throw new SyscallException($"statx({path})", errno);
        }
        ushort mode = *(ushort*)(buffer + Libc.StatxModeOffset);
        return (mode & Libc.S_IFMT) == Libc.S_IFSOCK;
    }
}
