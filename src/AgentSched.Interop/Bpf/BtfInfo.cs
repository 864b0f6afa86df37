using AgentSched.Interop.Native;

namespace AgentSched.Interop;

/// <summary>A global variable of a data section: where it sits in the section's map value.</summary>
public readonly record struct BtfVariable(string Name, int Offset, int Size);

/// <summary>A struct member: its byte offset and size.</summary>
public readonly record struct BtfMember(string Name, int Offset, int Size);

/// <summary>
/// Read-only queries over a BTF blob owned by someone else (a <see cref="BpfObject"/>'s BTF).
/// Layouts follow uapi/linux/btf.h.
/// </summary>
public sealed unsafe class BtfInfo
{
    private readonly nint _btf;

    internal BtfInfo(nint btf) => _btf = btf;

    /// <summary>The enumerators of <c>enum <paramref name="name"/></c> with their values.</summary>
    public IReadOnlyDictionary<string, long> Enum(string name)
    {
        var result = new Dictionary<string, long>();
        int id = Libbpf.BtfFindByNameKind(_btf, name, Libbpf.BtfKindEnum);
        if (id > 0)
        {
            Libbpf.BtfType* t = Libbpf.BtfTypeById(_btf, (uint)id);
            uint* e = (uint*)(t + 1); // struct btf_enum { name_off; s32 val; }
            for (int i = 0; i < t->Vlen; i++, e += 2)
            {
                result[NameAt(e[0])] = t->KindFlag ? (long)e[1] : (int)e[1];
            }
            return result;
        }
        id = Libbpf.BtfFindByNameKind(_btf, name, Libbpf.BtfKindEnum64);
        if (id > 0)
        {
            Libbpf.BtfType* t = Libbpf.BtfTypeById(_btf, (uint)id);
            uint* e = (uint*)(t + 1); // struct btf_enum64 { name_off; val_lo32; val_hi32; }
            for (int i = 0; i < t->Vlen; i++, e += 3)
            {
                result[NameAt(e[0])] = (long)(((ulong)e[2] << 32) | e[1]);
            }
            return result;
        }
        throw new KeyNotFoundException($"no enum {name} in BTF");
    }

    /// <summary>The size of <c>struct <paramref name="name"/></c> and its members in order.</summary>
    public (int Size, IReadOnlyList<BtfMember> Members) Struct(string name)
    {
        int id = Libbpf.BtfFindByNameKind(_btf, name, Libbpf.BtfKindStruct);
        if (id <= 0)
        {
            throw new KeyNotFoundException($"no struct {name} in BTF");
        }
        Libbpf.BtfType* t = Libbpf.BtfTypeById(_btf, (uint)id);
        var members = new List<BtfMember>();
        uint* m = (uint*)(t + 1); // struct btf_member { name_off; type; offset; }
        for (int i = 0; i < t->Vlen; i++, m += 3)
        {
            uint bitOffset = t->KindFlag ? m[2] & 0xffffff : m[2];
            long size = Libbpf.BtfResolveSize(_btf, m[1]);
            members.Add(new BtfMember(NameAt(m[0]), (int)(bitOffset / 8), (int)size));
        }
        return ((int)t->SizeOrType, members);
    }

    /// <summary>The offset and size of global <paramref name="variable"/> in data section <paramref name="section"/>.</summary>
    public BtfVariable DatasecVariable(string section, string variable)
    {
        int id = Libbpf.BtfFindByNameKind(_btf, section, Libbpf.BtfKindDatasec);
        if (id <= 0)
        {
            throw new KeyNotFoundException($"no data section {section} in BTF");
        }
        Libbpf.BtfType* t = Libbpf.BtfTypeById(_btf, (uint)id);
        uint* v = (uint*)(t + 1); // struct btf_var_secinfo { type; offset; size; }
        for (int i = 0; i < t->Vlen; i++, v += 3)
        {
            Libbpf.BtfType* var = Libbpf.BtfTypeById(_btf, v[0]);
            if (NameAt(var->NameOff) == variable)
            {
                return new BtfVariable(variable, (int)v[1], (int)v[2]);
            }
        }
        throw new KeyNotFoundException($"no variable {variable} in {section}");
    }

    private string NameAt(uint offset) => Marshal.PtrToStringUTF8((nint)Libbpf.BtfNameByOffset(_btf, offset)) ?? "";
}
