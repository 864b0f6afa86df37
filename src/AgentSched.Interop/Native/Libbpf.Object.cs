namespace AgentSched.Interop.Native;

internal static unsafe partial class Libbpf
{
    /// <summary>The leading fields of <c>struct bpf_object_open_opts</c>; libbpf accepts a shorter <c>sz</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct BpfObjectOpenOpts
    {
        public nuint Size;
        public byte* ObjectName;
    }

    [LibraryImport(LibName, EntryPoint = "bpf_object__open_mem", SetLastError = true)]
    internal static partial nint ObjectOpenMem(void* buffer, nuint size, BpfObjectOpenOpts* opts);

    [LibraryImport(LibName, EntryPoint = "bpf_object__load")]
    internal static partial int ObjectLoad(SafeBpfObjectHandle obj);

    [LibraryImport(LibName, EntryPoint = "bpf_object__close")]
    internal static partial void ObjectClose(nint obj);

    [LibraryImport(LibName, EntryPoint = "bpf_object__find_map_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint ObjectFindMapByName(SafeBpfObjectHandle obj, string name);

    [LibraryImport(LibName, EntryPoint = "bpf_object__find_program_by_name", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint ObjectFindProgramByName(SafeBpfObjectHandle obj, string name);

    /// <summary>Attaches a program the way its SEC() name says (iter, tracing, ...): a link, or NULL with errno.</summary>
    [LibraryImport(LibName, EntryPoint = "bpf_program__attach", SetLastError = true)]
    internal static partial nint ProgramAttach(nint program);

    /// <summary>Before load: whether bpf_object__load loads (and verifies) this program at all.</summary>
    [LibraryImport(LibName, EntryPoint = "bpf_program__set_autoload")]
    internal static partial int ProgramSetAutoload(nint program, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(LibName, EntryPoint = "bpf_object__btf")]
    internal static partial nint ObjectBtf(SafeBpfObjectHandle obj);

    [LibraryImport(LibName, EntryPoint = "libbpf_major_version")]
    internal static partial uint MajorVersion();

    [LibraryImport(LibName, EntryPoint = "libbpf_minor_version")]
    internal static partial uint MinorVersion();
}
