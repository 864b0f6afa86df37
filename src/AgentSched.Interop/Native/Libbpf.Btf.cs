namespace AgentSched.Interop.Native;

internal static unsafe partial class Libbpf
{
    internal const int BtfKindInt = 1;
    internal const int BtfKindStruct = 4;
    internal const int BtfKindEnum = 6;
    internal const int BtfKindTypedef = 8;
    internal const int BtfKindVolatile = 9;
    internal const int BtfKindConst = 10;
    internal const int BtfKindVar = 14;
    internal const int BtfKindDatasec = 15;
    internal const int BtfKindEnum64 = 19;

    /// <summary><c>struct btf_type</c> (uapi/linux/btf.h); kind-specific records follow it.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct BtfType
    {
        public uint NameOff;
        public uint Info;      // bits 0-15 vlen, 24-28 kind, 31 kind_flag
        public uint SizeOrType;

        public readonly int Vlen => (int)(Info & 0xffff);
        public readonly int Kind => (int)((Info >> 24) & 0x1f);
        public readonly bool KindFlag => (Info >> 31) != 0;
    }

    [LibraryImport(LibName, EntryPoint = "btf__find_by_name_kind", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int BtfFindByNameKind(nint btf, string name, uint kind);

    [LibraryImport(LibName, EntryPoint = "btf__type_by_id")]
    internal static partial BtfType* BtfTypeById(nint btf, uint id);

    [LibraryImport(LibName, EntryPoint = "btf__name_by_offset")]
    internal static partial byte* BtfNameByOffset(nint btf, uint offset);

    [LibraryImport(LibName, EntryPoint = "btf__resolve_size")]
    internal static partial long BtfResolveSize(nint btf, uint id);
}
