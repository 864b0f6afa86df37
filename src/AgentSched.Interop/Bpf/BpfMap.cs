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

    /// <summary>The number of CPUs a per-CPU map holds a value for.</summary>
    public static int PossibleCpus => Libbpf.ThrowIfFailed(Libbpf.NumPossibleCpus(), "libbpf_num_possible_cpus");
}
