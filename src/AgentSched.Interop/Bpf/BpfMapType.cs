namespace AgentSched.Interop;

/// <summary>
/// A map's type: <c>enum bpf_map_type</c> of uapi/linux/bpf.h. Only the types agentsched uses are
/// named; any other value the kernel reports is carried as is.
/// </summary>
public enum BpfMapType : uint
{
    /// <summary>BPF_MAP_TYPE_UNSPEC.</summary>
    Unspecified = 0,

    /// <summary>BPF_MAP_TYPE_HASH.</summary>
    Hash = 1,

    /// <summary>BPF_MAP_TYPE_ARRAY.</summary>
    Array = 2,

    /// <summary>BPF_MAP_TYPE_PERCPU_HASH.</summary>
    PerCpuHash = 5,

    /// <summary>BPF_MAP_TYPE_PERCPU_ARRAY.</summary>
    PerCpuArray = 6,

    /// <summary>BPF_MAP_TYPE_STRUCT_OPS.</summary>
    StructOps = 26,

    /// <summary>BPF_MAP_TYPE_TASK_STORAGE: keyed by a pidfd, the value lives and dies with the task.</summary>
    TaskStorage = 29,
}
