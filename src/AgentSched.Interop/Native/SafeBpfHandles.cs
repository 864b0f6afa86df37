namespace AgentSched.Interop.Native;

/// <summary>Owns a <c>struct bpf_object *</c>; closing it unloads its programs and maps.</summary>
internal sealed class SafeBpfObjectHandle : SafeHandle
{
    public SafeBpfObjectHandle() : base(0, ownsHandle: true) { }

    internal SafeBpfObjectHandle(nint handle) : this() => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        Libbpf.ObjectClose(handle);
        return true;
    }
}

/// <summary>Owns a <c>struct bpf_link *</c>; destroying an unpinned struct_ops link detaches the scheduler.</summary>
internal sealed class SafeBpfLinkHandle : SafeHandle
{
    public SafeBpfLinkHandle() : base(0, ownsHandle: true) { }

    internal SafeBpfLinkHandle(nint handle) : this() => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => Libbpf.LinkDestroy(handle) == 0;
}
