using AgentSched.Interop.Native;

namespace AgentSched.Interop.Bpf;

/// <summary>The libbpf the process would use (libbpf.so.1, loaded on first use).</summary>
public static class LibbpfInfo
{
    /// <summary>libbpf's major.minor version; null, with <paramref name="error"/>, when the library cannot be loaded.</summary>
    public static Version? TryGetVersion(out string? error)
    {
        try
        {
            error = null;
            return new Version((int)Libbpf.MajorVersion(), (int)Libbpf.MinorVersion());
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            error = e.Message;
            return null;
        }
    }
}
