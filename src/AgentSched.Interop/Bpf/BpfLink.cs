using AgentSched.Interop.Native;

namespace AgentSched.Interop;

/// <summary>
/// An attachment of a BPF program or struct_ops map (for agent_class: the attached scheduler).
/// The kernel keeps an attachment while a file descriptor or a bpffs pin refers to it:
/// <list type="bullet">
/// <item>unpinned, <see cref="Dispose"/> closes the last fd and so detaches;</item>
/// <item>pinned (<see cref="Pin"/>, or opened with <see cref="OpenPinned"/>), <see cref="Dispose"/>
/// only closes this process's fd and the attachment stays, also after the process exits;</item>
/// <item><see cref="Unpin"/> then <see cref="Dispose"/> (or <see cref="Detach"/>) detaches, once no
/// other process holds an fd to it.</item>
/// </list>
/// </summary>
public sealed unsafe class BpfLink : IDisposable
{
    private readonly SafeBpfLinkHandle _handle;

    internal BpfLink(SafeBpfLinkHandle handle, string name, string? pinPath = null)
    {
        _handle = handle;
        Name = name;
        PinPath = pinPath;
    }

    /// <summary>What was attached (a program or struct_ops map name), or the pin's file name for an opened pin.</summary>
    public string Name { get; }

    /// <summary>Where the link is pinned by this handle (by <see cref="Pin"/> or <see cref="OpenPinned"/>); null when it is not.</summary>
    public string? PinPath { get; private set; }

    /// <summary>This handle is closed (disposed or detached). A pinned link may still be attached in the kernel.</summary>
    public bool IsDetached => _handle.IsClosed;

    /// <summary>The link's id in the kernel (as bpftool shows it).</summary>
    public uint Id
    {
        get
        {
            Libbpf.BpfLinkInfoHead info = default;
            uint length = (uint)sizeof(Libbpf.BpfLinkInfoHead);
            Libbpf.ThrowIfFailed(Libbpf.LinkGetInfoByFd(Fd, &info, &length), $"bpf_link_get_info_by_fd({Name})");
            return info.Id;
        }
    }

    private int Fd => Libbpf.LinkFd(Pointer);

    private nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>
    /// Opens a link pinned at <paramref name="path"/>. Disposing the result only closes its fd;
    /// <see cref="Unpin"/> removes <paramref name="path"/>.
    /// </summary>
    /// <exception cref="BpfException">bpf_link__open failed: ENOENT when nothing is pinned there.</exception>
    /// <exception cref="ArgumentException">What is pinned there is not a link.</exception>
    public static BpfLink OpenPinned(string path)
    {
        LibbpfLog.EnsureInstalled();
        var handle = new SafeBpfLinkHandle(Libbpf.ThrowIfNull(Libbpf.LinkOpen(path), $"bpf_link__open({path})"));
        var link = new BpfLink(handle, Path.GetFileName(path), path);
        if (SafeFdHandle.AnonInodeKind(link.Fd) is { } kind && kind != "bpf-link")
        {
            link.Dispose();
            throw new ArgumentException($"{path} is a pinned {kind}, not a link", nameof(path));
        }
        return link;
    }

    /// <summary>
    /// Pins the link at <paramref name="path"/> in bpffs (creating missing parent directories): the
    /// attachment then survives <see cref="Dispose"/> and the exit of this process.
    /// </summary>
    /// <exception cref="BpfException">bpf_link__pin failed: EBUSY when this handle is already pinned,
    /// EEXIST when the path is taken, EINVAL when it is not on bpffs.</exception>
    public void Pin(string path)
    {
        Libbpf.ThrowIfFailed(Libbpf.LinkPin(Pointer, path), $"bpf_link__pin({Name}, {path})");
        PinPath = path;
    }

    /// <summary>Removes the pin at <see cref="PinPath"/>; the link detaches when its last fd closes.</summary>
    /// <exception cref="BpfException">EINVAL when this handle is not pinned, ENOENT when the pin was removed behind its back.</exception>
    public void Unpin()
    {
        Libbpf.ThrowIfFailed(Libbpf.LinkUnpin(Pointer), $"bpf_link__unpin({Name})");
        PinPath = null;
    }

    /// <summary>Detaches now: removes the link's pin if this handle pinned or opened it, then closes it.</summary>
    public void Detach()
    {
        if (PinPath is not null && !_handle.IsClosed)
        {
            Unpin();
        }
        _handle.Dispose();
    }

    /// <summary>Closes this handle: detaches an unpinned link; a pinned one stays attached.</summary>
    public void Dispose() => _handle.Dispose();
}
