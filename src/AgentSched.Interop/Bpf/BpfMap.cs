using System.Text;
using AgentSched.Interop.Native;

namespace AgentSched.Interop;

/// <summary>
/// A BPF map, from one of two origins: a map of a <see cref="BpfObject"/> (valid while the object
/// is open; <see cref="Dispose"/> does nothing), or a pinned map opened with <see cref="OpenPinned"/>,
/// which owns its file descriptor until disposed. Every member works on both.
/// </summary>
public sealed unsafe class BpfMap : IDisposable
{
    private readonly BpfObject? _owner;       // object origin
    private readonly nint _pointer;           // object origin: struct bpf_map *
    private readonly SafeFdHandle? _fd;       // pinned origin
    private readonly Libbpf.BpfMapInfo _info; // pinned origin: the kernel's description

    internal BpfMap(BpfObject owner, nint pointer, string name)
    {
        _owner = owner;
        _pointer = pointer;
        Name = name;
    }

    private BpfMap(SafeFdHandle fd, Libbpf.BpfMapInfo info, string name)
    {
        _fd = fd;
        _info = info;
        Name = name;
    }

    /// <summary>The map's name: as written in the BPF source, or for a pinned map the kernel's (at most 15 bytes).</summary>
    public string Name { get; }

    /// <summary>The map's type.</summary>
    public BpfMapType Type => (BpfMapType)(_fd is null ? Libbpf.MapType(Pointer) : _info.Type);

    /// <summary>The size of a key in bytes.</summary>
    public int KeySize => (int)(_fd is null ? Libbpf.MapKeySize(Pointer) : _info.KeySize);

    /// <summary>The size of a value in bytes (for per-CPU maps: of one CPU's value).</summary>
    public int ValueSize => (int)(_fd is null ? Libbpf.MapValueSize(Pointer) : _info.ValueSize);

    /// <summary>The capacity in entries (0 for task storage, whose entries live with their tasks).</summary>
    public uint MaxEntries => _fd is null ? Libbpf.MapMaxEntries(Pointer) : _info.MaxEntries;

    /// <summary>The map's id in the kernel (as bpftool shows it); the same for every fd of one map.</summary>
    /// <exception cref="InvalidOperationException">An object's map before the object is loaded.</exception>
    public uint Id => _fd is null ? QueryInfo(Fd, Name).Id : _info.Id;

    /// <summary>BPF_F_* creation flags.</summary>
    internal uint Flags => _fd is null ? Libbpf.MapFlags(Pointer) : _info.MapFlags;

    /// <summary>The libbpf map of an object's map.</summary>
    internal nint Pointer
    {
        get
        {
            if (_owner is null)
            {
                throw new InvalidOperationException($"map '{Name}' was opened from a pin and belongs to no BPF object");
            }
            ObjectDisposedException.ThrowIf(_owner.Handle.IsClosed, _owner);
            return _pointer;
        }
    }

    internal int Fd
    {
        get
        {
            if (_fd is not null)
            {
                ObjectDisposedException.ThrowIf(_fd.IsClosed, this);
                return _fd.Fd;
            }
            int fd = Libbpf.MapFd(Pointer);
            if (fd < 0)
            {
                throw new InvalidOperationException($"map '{Name}' has no file descriptor: load the object first");
            }
            return fd;
        }
    }

    /// <summary>Opens a map pinned in bpffs (BPF_OBJ_GET) and reads its description from the kernel.</summary>
    /// <exception cref="BpfException">bpf_obj_get failed: ENOENT when nothing is pinned at <paramref name="path"/>.</exception>
    /// <exception cref="ArgumentException">What is pinned there is not a map (a link or a program).</exception>
    public static BpfMap OpenPinned(string path)
    {
        LibbpfLog.EnsureInstalled();
        var fd = new SafeFdHandle(Libbpf.ThrowIfFailed(Libbpf.ObjGet(path), $"bpf_obj_get({path})"));
        try
        {
            if (SafeFdHandle.AnonInodeKind(fd.Fd) is { } kind && kind != "bpf-map")
            {
                throw new ArgumentException($"{path} is a pinned {kind}, not a map", nameof(path));
            }
            Libbpf.BpfMapInfo info = QueryInfo(fd.Fd, path);
            string name = Encoding.UTF8.GetString(new ReadOnlySpan<byte>(info.Name, 16)).TrimEnd('\0');
            return new BpfMap(fd, info, name.Length > 0 ? name : Path.GetFileName(path));
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Pins the map at <paramref name="path"/> in bpffs (BPF_OBJ_PIN), creating missing parent
    /// directories, so it outlives this process; <see cref="OpenPinned"/> and
    /// <see cref="BpfObject.ReuseMap"/> reach it there. A map may have several pins.
    /// </summary>
    /// <remarks>
    /// Both kinds pin through the map's fd rather than libbpf's bpf_map__pin, which remembers the
    /// first pin path of an object's map for good: a second pin, or a pin elsewhere after an
    /// unpin, would fail with EINVAL.
    /// </remarks>
    /// <exception cref="BpfException">bpf_obj_pin failed: EEXIST when something is pinned there
    /// already, EPERM when the path is not on bpffs.</exception>
    public void Pin(string path)
    {
        int fd = Fd;
        if (Path.GetDirectoryName(path) is { Length: > 0 } dir)
        {
            Directory.CreateDirectory(dir);
        }
        Libbpf.ThrowIfFailed(Libbpf.ObjPin(fd, path), $"bpf_obj_pin({Name}, {path})");
    }

    /// <summary>Removes the pin at <paramref name="path"/>; the map lives on while any fd, program or other pin holds it.</summary>
    /// <exception cref="BpfException">unlink failed: ENOENT when nothing is pinned there.</exception>
    public void Unpin(string path)
    {
        _ = Fd; // a disposed map or an unloaded object's map cannot have been pinned by us
        if (Libc.Unlink(path) != 0)
        {
            throw new BpfException($"unlink({path})", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Looks a key up; false when it is absent. <paramref name="value"/> must be the map's value size
    /// (for per-CPU maps: the value size rounded up to 8, times the possible CPUs).</summary>
    public bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value) => TryLookup(key, value, locked: false);

    /// <summary>
    /// Like <see cref="TryLookup(ReadOnlySpan{byte}, Span{byte})"/>; with <paramref name="locked"/> the
    /// value is copied under its bpf_spin_lock (BPF_F_LOCK), so the copy is never half of a BPF
    /// program's update. Only for maps whose value holds a bpf_spin_lock (EINVAL otherwise).
    /// </summary>
    public bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value, bool locked)
    {
        const ulong BPF_F_LOCK = 4;
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            int rc = Libbpf.MapLookupElemFlags(Fd, k, v, locked ? BPF_F_LOCK : 0);
            if (rc == -2)
            {
                return false;
            }
            Libbpf.ThrowIfFailed(rc, $"bpf_map_lookup_elem({Name})");
            return true;
        }
    }

    /// <summary>Creates or replaces the value of a key.</summary>
    public void Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            Libbpf.ThrowIfFailed(Libbpf.MapUpdateElem(Fd, k, v, 0), $"bpf_map_update_elem({Name})");
        }
    }

    /// <summary>Deletes a key; false when it was absent.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        fixed (byte* k = key)
        {
            int rc = Libbpf.MapDeleteElem(Fd, k);
            if (rc == -2)
            {
                return false;
            }
            Libbpf.ThrowIfFailed(rc, $"bpf_map_delete_elem({Name})");
            return true;
        }
    }

    /// <summary>A per-CPU map's value, read as u64 words: one row per possible CPU (all zero when absent).</summary>
    public ulong[][] LookupPerCpu(uint key = 0)
    {
        int words = ValueSize / sizeof(ulong);
        int stride = (ValueSize + 7) / 8 * 8;
        int cpus = PossibleCpus;
        byte[] raw = new byte[stride * cpus];
        TryLookup(MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(in key)), raw);
        var rows = new ulong[cpus][];
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            rows[cpu] = MemoryMarshal.Cast<byte, ulong>(raw.AsSpan(cpu * stride, words * sizeof(ulong))).ToArray();
        }
        return rows;
    }

    /// <summary>The number of CPUs a per-CPU map holds a value for.</summary>
    public static int PossibleCpus => Libbpf.ThrowIfFailed(Libbpf.NumPossibleCpus(), "libbpf_num_possible_cpus");

    /// <summary>Closes a pinned map's fd (the pin and the map stay); does nothing for an object's map.</summary>
    public void Dispose() => _fd?.Dispose();

    private static Libbpf.BpfMapInfo QueryInfo(int fd, string what)
    {
        Libbpf.BpfMapInfo info = default;
        uint length = (uint)sizeof(Libbpf.BpfMapInfo);
        Libbpf.ThrowIfFailed(Libbpf.MapGetInfoByFd(fd, &info, &length), $"bpf_map_get_info_by_fd({what})");
        return info;
    }
}
