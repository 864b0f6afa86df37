using AgentSched.Interop.Native;

namespace AgentSched.Interop;

/// <summary>An attachment of a BPF program or struct_ops map. Disposing it detaches (unless pinned).</summary>
public sealed class BpfLink : IDisposable
{
    private readonly SafeBpfLinkHandle _handle;

    internal BpfLink(SafeBpfLinkHandle handle, string name)
    {
        _handle = handle;
        Name = name;
    }

    public string Name { get; }

    public bool IsDetached => _handle.IsClosed;

    /// <summary>Detaches now; the same as <see cref="Dispose"/>.</summary>
    public void Detach() => _handle.Dispose();

    public void Dispose() => _handle.Dispose();
}
