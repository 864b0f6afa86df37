namespace AgentSched.Interop.Native;

internal static partial class Libbpf
{
    [LibraryImport(LibName, EntryPoint = "bpf_link__destroy")]
    internal static partial int LinkDestroy(nint link);
}
