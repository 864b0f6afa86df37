using System.Reflection;
using System.Text;
using AgentSched.Interop.Native;

namespace AgentSched.Interop;

/// <summary>
/// A BPF object file opened with libbpf: set its <c>.rodata</c> tunables, load it, reach its maps,
/// attach its struct_ops. Dispose it after every <see cref="BpfLink"/> attached from it.
/// </summary>
public sealed unsafe class BpfObject : IDisposable
{
    /// <summary>The scheduler object built from bpf/agent_class.bpf.c and embedded in this assembly.</summary>
    public const string AgentClassResource = "agent_class.bpf.o";

    private readonly SafeBpfObjectHandle _handle;
    private void* _image;   // libbpf reads the ELF image in place until the object is closed
    private bool _loaded;

    private BpfObject(SafeBpfObjectHandle handle, void* image, string name)
    {
        _handle = handle;
        _image = image;
        Name = name;
        Btf = new BtfInfo(Libbpf.ThrowIfNull(Libbpf.ObjectBtf(handle), "bpf_object__btf"));
    }

    public string Name { get; }

    /// <summary>The object's own BTF: the types and variables the BPF code was compiled with.</summary>
    public BtfInfo Btf { get; }

    public bool IsLoaded => _loaded;

    /// <summary>Opens the agent_class scheduler object embedded in this assembly.</summary>
    public static BpfObject OpenEmbedded() => OpenEmbedded(typeof(BpfObject).Assembly, AgentClassResource);

    /// <summary>Opens a BPF object embedded as a resource (bpf/Bpf.targets embeds them by object file name).</summary>
    public static BpfObject OpenEmbedded(Assembly assembly, string resourceName)
    {
        using Stream stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new FileNotFoundException($"no embedded BPF object named '{resourceName}' in {assembly.GetName().Name}");
        byte[] image = new byte[stream.Length];
        stream.ReadExactly(image);
        return Open(image, Path.GetFileNameWithoutExtension(Path.GetFileNameWithoutExtension(resourceName)));
    }

    /// <summary>Opens a BPF object file from disk.</summary>
    public static BpfObject OpenFile(string path) =>
        Open(File.ReadAllBytes(path), Path.GetFileNameWithoutExtension(Path.GetFileNameWithoutExtension(path)));

    /// <summary>Opens a BPF object from its ELF image; <paramref name="name"/> prefixes its map names in the kernel.</summary>
    public static BpfObject Open(ReadOnlySpan<byte> elf, string name)
    {
        LibbpfLog.EnsureInstalled();
        void* image = NativeMemory.Alloc((nuint)elf.Length);
        elf.CopyTo(new Span<byte>(image, elf.Length));
        byte[] nameUtf8 = Encoding.UTF8.GetBytes(name + "\0");
        try
        {
            fixed (byte* namePtr = nameUtf8)
            {
                var opts = new Libbpf.BpfObjectOpenOpts { Size = (nuint)sizeof(Libbpf.BpfObjectOpenOpts), ObjectName = namePtr };
                nint obj = Libbpf.ThrowIfNull(Libbpf.ObjectOpenMem(image, (nuint)elf.Length, &opts), "bpf_object__open_mem");
                return new BpfObject(new SafeBpfObjectHandle(obj), image, name);
            }
        }
        catch
        {
            NativeMemory.Free(image);
            throw;
        }
    }

    /// <summary>Sets a <c>const volatile</c> global before <see cref="Load"/>; its offset and size come from BTF.</summary>
    public void SetRodata<T>(string variable, T value) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (_loaded)
        {
            throw new InvalidOperationException($"{Name}: .rodata is frozen once the object is loaded; set '{variable}' before Load()");
        }
        *(T*)RodataSlot(variable, sizeof(T)) = value;
    }

    /// <summary>Reads a <c>const volatile</c> global's value as it will be (or was) loaded.</summary>
    public T GetRodata<T>(string variable) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return *(T*)RodataSlot(variable, sizeof(T));
    }

    /// <summary>
    /// Sets a field of a struct_ops map's struct before <see cref="Load"/> (e.g. sched_ext_ops.flags);
    /// the offset comes from the object's BTF of <paramref name="structName"/>.
    /// </summary>
    public void SetStructOpsField<T>(string mapName, string structName, string field, T value) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (_loaded)
        {
            throw new InvalidOperationException($"{Name}: set '{mapName}.{field}' before Load()");
        }
        BtfMember member = Btf.Struct(structName).Members.FirstOrDefault(m => m.Name == field);
        if (member.Name is null || member.Size != sizeof(T))
        {
            throw new ArgumentException($"{Name}: struct {structName} has no {sizeof(T)}-byte field '{field}'", nameof(field));
        }
        nuint size;
        byte* data = (byte*)Libbpf.MapInitialValue(Map(mapName).Pointer, &size);
        if (data == null || (nuint)(member.Offset + member.Size) > size)
        {
            throw new InvalidOperationException($"{Name}: libbpf gave no initial value for struct_ops map '{mapName}'");
        }
        *(T*)(data + member.Offset) = value;
    }

    private byte* RodataSlot(string variable, int size)
    {
        BtfVariable v = Btf.DatasecVariable(".rodata", variable);
        if (v.Size != size)
        {
            throw new ArgumentException($"{Name}: .rodata variable '{variable}' is {v.Size} bytes, not {size}", nameof(variable));
        }
        nint map = Libbpf.ThrowIfNull(Libbpf.ObjectFindMapByName(_handle, ".rodata"), "bpf_object__find_map_by_name(.rodata)");
        nuint mapSize;
        byte* data = (byte*)Libbpf.MapInitialValue(map, &mapSize);
        if (data == null || (nuint)(v.Offset + v.Size) > mapSize)
        {
            throw new InvalidOperationException($"{Name}: .rodata variable '{variable}' lies outside the map's initial value");
        }
        return data + v.Offset;
    }

    /// <summary>Loads every program and map into the kernel (the verifier runs here).</summary>
    public void Load()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        LibbpfLog.Clear();
        Libbpf.ThrowIfFailed(Libbpf.ObjectLoad(_handle), "bpf_object__load");
        _loaded = true;
    }

    /// <summary>
    /// Before <see cref="Load"/>: leaves a program out of the load (it is neither verified nor
    /// attachable), e.g. one whose attach target the running kernel lacks.
    /// </summary>
    /// <exception cref="ArgumentException">The object has no program of that name.</exception>
    public void SkipProgram(string programName)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (_loaded)
        {
            throw new InvalidOperationException($"{Name}: skip '{programName}' before Load()");
        }
        Libbpf.ThrowIfFailed(Libbpf.ProgramSetAutoload(Program(programName), false), $"bpf_program__set_autoload({programName})");
    }

    /// <summary>A program of this object by name (as written in the BPF source).</summary>
    private nint Program(string programName)
    {
        nint program = Libbpf.ObjectFindProgramByName(_handle, programName);
        return program != 0 ? program
            : throw new ArgumentException($"{Name} has no program named '{programName}'", nameof(programName));
    }

    /// <summary>A map of this object by name (as written in the BPF source).</summary>
    public BpfMap Map(string name)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        nint map = Libbpf.ObjectFindMapByName(_handle, name);
        if (map == 0)
        {
            throw new ArgumentException($"{Name} has no map named '{name}'", nameof(name));
        }
        return new BpfMap(this, map, name);
    }

    /// <summary>
    /// Before <see cref="Load"/>: makes this object's map <paramref name="name"/> use
    /// <paramref name="existing"/> (e.g. a pinned map from <see cref="BpfMap.OpenPinned"/>) instead of
    /// creating a new one, so a reloaded object shares its contents. The fd is duplicated: the caller
    /// may dispose <paramref name="existing"/> afterwards.
    /// </summary>
    /// <exception cref="ArgumentException">The maps differ in name, type, key or value size, capacity or
    /// flags (libbpf does not check this itself, and would rename this map after the existing one).</exception>
    /// <exception cref="BpfException">bpf_map__reuse_fd failed.</exception>
    public void ReuseMap(string name, BpfMap existing)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (_loaded)
        {
            throw new InvalidOperationException($"{Name}: reuse a map for '{name}' before Load()");
        }
        BpfMap map = Map(name);
        string kernelName = name.Length > 15 ? name[..15] : name; // BPF_OBJ_NAME_LEN - 1
        string? mismatch =
            existing.Name != name && existing.Name != kernelName ? $"it is named '{existing.Name}'"
            : existing.Type != map.Type ? $"its type is {existing.Type}, not {map.Type}"
            : existing.KeySize != map.KeySize ? $"its keys are {existing.KeySize} bytes, not {map.KeySize}"
            : existing.ValueSize != map.ValueSize ? $"its values are {existing.ValueSize} bytes, not {map.ValueSize}"
            : existing.MaxEntries != map.MaxEntries ? $"it holds {existing.MaxEntries} entries, not {map.MaxEntries}"
            : existing.Flags != map.Flags ? $"its flags are 0x{existing.Flags:x}, not 0x{map.Flags:x}"
            : null;
        if (mismatch is not null)
        {
            throw new ArgumentException($"{Name}: cannot reuse that map for '{name}': {mismatch}", nameof(existing));
        }
        Libbpf.ThrowIfFailed(Libbpf.MapReuseFd(map.Pointer, existing.Fd), $"bpf_map__reuse_fd({name})");
    }

    /// <summary>
    /// Attaches a program the way its SEC() name says (an iterator, a tracing program, ...). The link
    /// detaches when disposed, unless it is pinned (see <see cref="BpfLink"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The object has no program of that name.</exception>
    /// <exception cref="BpfException">bpf_program__attach failed.</exception>
    public BpfLink AttachProgram(string programName)
    {
        if (!_loaded)
        {
            throw new InvalidOperationException($"{Name}: Load() before attaching '{programName}'");
        }
        nint program = Program(programName);
        LibbpfLog.Clear();
        nint link = Libbpf.ThrowIfNull(Libbpf.ProgramAttach(program), $"bpf_program__attach({programName})");
        return new BpfLink(new SafeBpfLinkHandle(link), programName);
    }

    /// <summary>Registers a struct_ops map with the kernel (for sched_ext: attaches the scheduler).</summary>
    public BpfLink AttachStructOps(string mapName)
    {
        if (!_loaded)
        {
            throw new InvalidOperationException($"{Name}: Load() before attaching '{mapName}'");
        }
        BpfMap map = Map(mapName);
        LibbpfLog.Clear();
        nint link = Libbpf.ThrowIfNull(Libbpf.MapAttachStructOps(map.Pointer), "bpf_map__attach_struct_ops");
        return new BpfLink(new SafeBpfLinkHandle(link), mapName);
    }

    internal SafeBpfObjectHandle Handle => _handle;

    public void Dispose()
    {
        _handle.Dispose();
        if (_image != null)
        {
            NativeMemory.Free(_image);
            _image = null;
        }
    }
}
