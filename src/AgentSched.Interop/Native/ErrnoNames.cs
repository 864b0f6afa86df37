namespace AgentSched.Interop.Native;

/// <summary>Symbolic names for the errno values BPF and scheduling calls return.</summary>
internal static class ErrnoNames
{
    private static readonly Dictionary<int, string> s_names = new()
    {
        [1] = "EPERM", [2] = "ENOENT", [3] = "ESRCH", [4] = "EINTR", [5] = "EIO", [7] = "E2BIG",
        [9] = "EBADF", [10] = "ECHILD", [11] = "EAGAIN", [12] = "ENOMEM", [13] = "EACCES", [14] = "EFAULT",
        [16] = "EBUSY", [17] = "EEXIST", [18] = "EXDEV", [19] = "ENODEV", [20] = "ENOTDIR", [21] = "EISDIR",
        [22] = "EINVAL", [24] = "EMFILE", [28] = "ENOSPC", [30] = "EROFS", [34] = "ERANGE",
        [36] = "ENAMETOOLONG", [38] = "ENOSYS", [39] = "ENOTEMPTY", [40] = "ELOOP", [75] = "EOVERFLOW",
        // ENOTSUP and EOPNOTSUPP are the same value on Linux; 524 is the kernel-internal ENOTSUPP.
        [95] = "EOPNOTSUPP", [524] = "ENOTSUPP",
    };

    internal static string Name(int errno) => s_names.TryGetValue(errno, out string? name) ? name : $"errno {errno}";

    /// <summary>"EBUSY (errno 16): Device or resource busy".</summary>
    internal static string Describe(int errno)
    {
        string text = errno == 524 ? "Operation not supported by the kernel" : Marshal.GetPInvokeErrorMessage(errno);
        return $"{Name(errno)} (errno {errno}): {text}";
    }
}
