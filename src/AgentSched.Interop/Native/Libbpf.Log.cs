using System.Text;

namespace AgentSched.Interop.Native;

internal static unsafe partial class Libbpf
{
    [LibraryImport(LibName, EntryPoint = "libbpf_set_print")]
    internal static partial nint SetPrint(delegate* unmanaged[Cdecl]<int, byte*, nint, int> fn);
}

/// <summary>
/// Collects what libbpf prints (warnings, the verifier log of a failed load) so that a failure can
/// carry the tail of it. libbpf's print callback is process-wide; it is installed once.
/// </summary>
internal static unsafe class LibbpfLog
{
    private const int MaxChars = 256 * 1024;
    private static readonly object s_lock = new();
    private static readonly StringBuilder s_text = new();
    private static int s_installed;

    /// <summary>libbpf_print_level: LIBBPF_WARN = 0, LIBBPF_INFO = 1, LIBBPF_DEBUG = 2.</summary>
    internal static int MaxLevel { get; set; } = 1;

    internal static void EnsureInstalled()
    {
        if (Interlocked.Exchange(ref s_installed, 1) == 0)
        {
            Libbpf.SetPrint(&OnPrint);
        }
    }

    /// <summary>Everything libbpf printed since the last <see cref="Clear"/> (at most 256 KiB, the newest kept).</summary>
    internal static string Text
    {
        get { lock (s_lock) { return s_text.ToString(); } }
    }

    internal static void Clear()
    {
        lock (s_lock) { s_text.Clear(); }
    }

    /// <summary>The last <paramref name="lines"/> non-empty lines libbpf printed.</summary>
    internal static string Tail(int lines)
    {
        string[] all = Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnPrint(int level, byte* format, nint args)
    {
        if (level > MaxLevel)
        {
            return 0;
        }
        try
        {
            string message = Format(format, args);
            lock (s_lock)
            {
                s_text.Append(message);
                if (s_text.Length > MaxChars)
                {
                    s_text.Remove(0, s_text.Length - MaxChars);
                }
            }
            return message.Length;
        }
        catch
        {
            return 0; // an exception must never unwind into libbpf
        }
    }

    /// <summary>
    /// vsnprintf twice: once on a copy of the va_list to measure, once to format. On x86-64 and
    /// arm64 Linux a va_list argument arrives as a pointer to the caller's va_list struct and
    /// va_copy is a plain copy of that struct (24 and 32 bytes).
    /// </summary>
    private static string Format(byte* format, nint args)
    {
        const int VaListCopyBytes = 32;
        byte* copy = stackalloc byte[VaListCopyBytes];
        Buffer.MemoryCopy((void*)args, copy, VaListCopyBytes, RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 24 : 32);
        int length = Libc.VsnPrintf(null, 0, format, (nint)copy);
        if (length <= 0)
        {
            return string.Empty;
        }
        byte[] buffer = new byte[length + 1];
        fixed (byte* p = buffer)
        {
            Libc.VsnPrintf(p, (nuint)buffer.Length, format, args);
        }
        return Encoding.UTF8.GetString(buffer, 0, length);
    }
}
