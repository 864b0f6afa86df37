namespace AgentSched.Interop.Native;

internal static unsafe partial class Libbpf
{
    /// <summary>The leading fields of <c>struct bpf_link_info</c> (its union starts at offset 16).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct BpfLinkInfoHead
    {
        public uint Type;
        public uint Id;
        public uint ProgId;
        public uint Padding;
    }

    /// <summary>Detaches (or, for a pinned or fd-only link, just closes) and frees a link.</summary>
    [LibraryImport(LibName, EntryPoint = "bpf_link__destroy")]
    internal static partial int LinkDestroy(nint link);

    [LibraryImport(LibName, EntryPoint = "bpf_link__fd")]
    internal static partial int LinkFd(nint link);

    /// <summary>Pins a link (creating missing parent directories); EBUSY when it is already pinned.</summary>
    [LibraryImport(LibName, EntryPoint = "bpf_link__pin", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int LinkPin(nint link, string path);

    /// <summary>Removes the link's pin file; EINVAL when it is not pinned.</summary>
    [LibraryImport(LibName, EntryPoint = "bpf_link__unpin")]
    internal static partial int LinkUnpin(nint link);

    /// <summary>Opens a pinned link: NULL with errno on failure. Destroying it only closes the fd.</summary>
    [LibraryImport(LibName, EntryPoint = "bpf_link__open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint LinkOpen(string path);

    [LibraryImport(LibName, EntryPoint = "bpf_link_get_info_by_fd")]
    internal static partial int LinkGetInfoByFd(int fd, BpfLinkInfoHead* info, uint* infoLength);

    /// <summary>A new fd for the link with this kernel id, or -errno (ENOENT once it is gone).</summary>
    [LibraryImport(LibName, EntryPoint = "bpf_link_get_fd_by_id")]
    internal static partial int LinkGetFdById(uint id);
}
