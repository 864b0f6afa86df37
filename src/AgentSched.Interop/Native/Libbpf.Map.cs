namespace AgentSched.Interop.Native;

internal static unsafe partial class Libbpf
{
    [LibraryImport(LibName, EntryPoint = "bpf_map__attach_struct_ops", SetLastError = true)]
    internal static partial nint MapAttachStructOps(nint map);

    [LibraryImport(LibName, EntryPoint = "bpf_map__initial_value")]
    internal static partial void* MapInitialValue(nint map, nuint* size);

    [LibraryImport(LibName, EntryPoint = "bpf_map__fd")]
    internal static partial int MapFd(nint map);

    [LibraryImport(LibName, EntryPoint = "bpf_map__value_size")]
    internal static partial uint MapValueSize(nint map);

    [LibraryImport(LibName, EntryPoint = "bpf_map__key_size")]
    internal static partial uint MapKeySize(nint map);

    [LibraryImport(LibName, EntryPoint = "bpf_map__type")]
    internal static partial uint MapType(nint map);

    [LibraryImport(LibName, EntryPoint = "bpf_map__max_entries")]
    internal static partial uint MapMaxEntries(nint map);

    [LibraryImport(LibName, EntryPoint = "bpf_map__map_flags")]
    internal static partial uint MapFlags(nint map);

    [LibraryImport(LibName, EntryPoint = "bpf_map_lookup_elem")]
    internal static partial int MapLookupElem(int fd, void* key, void* value);

    [LibraryImport(LibName, EntryPoint = "bpf_map_lookup_elem_flags")]
    internal static partial int MapLookupElemFlags(int fd, void* key, void* value, ulong flags);

    [LibraryImport(LibName, EntryPoint = "bpf_map_update_elem")]
    internal static partial int MapUpdateElem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(LibName, EntryPoint = "bpf_map_delete_elem")]
    internal static partial int MapDeleteElem(int fd, void* key);
}

internal static partial class Libbpf
{
    [LibraryImport(LibName, EntryPoint = "libbpf_num_possible_cpus")]
    internal static partial int NumPossibleCpus();
}

/// <summary>Pinning in bpffs and the kernel's description of a map.</summary>
internal static unsafe partial class Libbpf
{
    /// <summary>
    /// <c>struct bpf_map_info</c> (uapi/linux/bpf.h) up to <c>map_extra</c>, 88 bytes; the kernel
    /// fills as much as the size passed and newer kernels' extra fields are left out.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct BpfMapInfo
    {
        public uint Type;
        public uint Id;
        public uint KeySize;
        public uint ValueSize;
        public uint MaxEntries;
        public uint MapFlags;
        public fixed byte Name[16];   // BPF_OBJ_NAME_LEN
        public uint Ifindex;
        public uint BtfVmlinuxValueTypeId;
        public ulong NetnsDev;
        public ulong NetnsIno;
        public uint BtfId;
        public uint BtfKeyTypeId;
        public uint BtfValueTypeId;
        public uint BtfVmlinuxId;
        public ulong MapExtra;
    }

    /// <summary>Makes a not-yet-loaded map use an existing map (it dups the fd).</summary>
    [LibraryImport(LibName, EntryPoint = "bpf_map__reuse_fd")]
    internal static partial int MapReuseFd(nint map, int fd);

    /// <summary>BPF_OBJ_GET: a new fd for a pinned object, or -errno.</summary>
    [LibraryImport(LibName, EntryPoint = "bpf_obj_get", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ObjGet(string path);

    /// <summary>BPF_OBJ_PIN: pins any BPF object by fd; 0 or -errno.</summary>
    [LibraryImport(LibName, EntryPoint = "bpf_obj_pin", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ObjPin(int fd, string path);

    [LibraryImport(LibName, EntryPoint = "bpf_map_get_info_by_fd")]
    internal static partial int MapGetInfoByFd(int fd, BpfMapInfo* info, uint* infoLength);
}
