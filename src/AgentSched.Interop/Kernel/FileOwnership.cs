using AgentSched.Interop.Native;

namespace AgentSched.Interop.Kernel;

/// <summary>Group lookup (through NSS, as getgrnam does) and chown, which .NET does not expose.</summary>
public static unsafe class FileOwnership
{
    private const int ERANGE = 34;

    /// <summary>The gid of a group name; null when no such group exists.</summary>
    public static uint? TryLookupGroup(string name)
    {
        for (int size = 1024; size <= 1 << 20; size *= 4)
        {
            byte[] buffer = new byte[size];
            Libc.Group group;
            Libc.Group* result;
            fixed (byte* b = buffer)
            {
                int rc = Libc.GetGrNamR(name, &group, b, (nuint)size, &result);
                if (rc == ERANGE)
                {
                    continue;
                }
                if (rc != 0)
                {
                    throw new SyscallException($"getgrnam_r({name})", rc);
                }
                return result == null ? null : result->Gid;
            }
        }
        throw new SyscallException($"getgrnam_r({name})", ERANGE);
    }

    /// <summary>Changes a file's group, keeping its owner.</summary>
    public static void SetGroup(string path, uint gid)
    {
        if (Libc.Chown(path, uint.MaxValue, gid) != 0)
        {
            throw new SyscallException($"chown({path})", Marshal.GetLastPInvokeError());
        }
    }
}
