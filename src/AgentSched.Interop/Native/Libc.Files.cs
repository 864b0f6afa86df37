namespace AgentSched.Interop.Native;

internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Chown(string path, uint owner, uint group);

    /// <summary>struct group: char *gr_name; char *gr_passwd; gid_t gr_gid; char **gr_mem.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Group
    {
        public nint Name;
        public nint Passwd;
        public uint Gid;
        public nint Members;
    }

    [LibraryImport("libc", EntryPoint = "getgrnam_r", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int GetGrNamR(string name, Group* group, byte* buffer, nuint size, Group** result);
}
