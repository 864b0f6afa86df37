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

    [LibraryImport(LibName, EntryPoint = "bpf_map_lookup_elem")]
    internal static partial int MapLookupElem(int fd, void* key, void* value);

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
