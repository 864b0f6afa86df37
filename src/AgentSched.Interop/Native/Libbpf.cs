namespace AgentSched.Interop.Native;

/// <summary>
/// libbpf (libbpf.so.1, 1.4 or newer). Functions returning int report failure as a negative errno;
/// functions returning a pointer report it as NULL with errno set (libbpf 1.0 semantics).
/// </summary>
internal static partial class Libbpf
{
    internal const string LibName = "libbpf.so.1";

    /// <summary>Throws <see cref="BpfException"/> when <paramref name="rc"/> is a negative errno.</summary>
    internal static int ThrowIfFailed(int rc, string operation)
    {
        if (rc < 0)
        {
            throw BpfException.Create(operation, -rc);
        }
        return rc;
    }

    /// <summary>Throws <see cref="BpfException"/> with the call's errno when <paramref name="ptr"/> is NULL.</summary>
    internal static nint ThrowIfNull(nint ptr, string operation)
    {
        if (ptr == 0)
        {
            throw BpfException.Create(operation, Marshal.GetLastPInvokeError());
        }
        return ptr;
    }
}
