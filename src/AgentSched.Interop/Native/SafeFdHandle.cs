namespace AgentSched.Interop.Native;

/// <summary>Owns a file descriptor (a pidfd, a BPF map or link fd from bpf_obj_get); closes it once.</summary>
internal sealed class SafeFdHandle : SafeHandle
{
    public SafeFdHandle() : base(-1, ownsHandle: true) { }

    internal SafeFdHandle(int fd) : this() => SetHandle(fd);

    public override bool IsInvalid => handle < 0;

    /// <summary>The descriptor; throws <see cref="ObjectDisposedException"/> once closed.</summary>
    internal int Fd
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return (int)handle;
        }
    }

    /// <summary>
    /// For an anonymous-inode fd, what kind it is ("bpf-map", "bpf-link", "bpf-prog", "[pidfd]"),
    /// from the /proc/self/fd link; null for any other fd or when /proc cannot say. The kernel names
    /// a new link "bpf_link" and one reopened from a pin "bpf-link"; both come back as "bpf-link".
    /// </summary>
    internal static string? AnonInodeKind(int fd)
    {
        const string Prefix = "anon_inode:";
        try
        {
            string? target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
            return target is not null && target.StartsWith(Prefix, StringComparison.Ordinal) ? target[Prefix.Length..].Replace('_', '-') : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
