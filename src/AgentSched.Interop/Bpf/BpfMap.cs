using AgentSched.Interop.Native;

namespace AgentSched.Interop;

/// <summary>A map of a <see cref="BpfObject"/>; valid while the object is open.</summary>
public sealed unsafe class BpfMap
{
    private readonly BpfObject _owner;

    internal BpfMap(BpfObject owner, nint pointer, string name)
    {
        _owner = owner;
        Pointer = pointer;
        Name = name;
    }

    public string Name { get; }

    internal nint Pointer { get; }

    public int ValueSize => (int)Libbpf.MapValueSize(Pointer);

    private int Fd
    {
        get
        {
            ObjectDisposedException.ThrowIf(_owner.Handle.IsClosed, _owner);
            int fd = Libbpf.MapFd(Pointer);
            if (fd < 0)
            {
                throw new InvalidOperationException($"map '{Name}' has no file descriptor: load the object first");
            }
            return fd;
        }
    }

    /// <summary>Looks a key up; false when it is absent. <paramref name="value"/> must be the map's value size
    /// (for per-CPU maps: the value size rounded up to 8, times the possible CPUs).</summary>
    public bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value)
    {
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            int rc = Libbpf.MapLookupElem(Fd, k, v);
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
}
