namespace AgentSched.Interop.Native;

/// <summary>
/// A NULL-terminated array of NUL-terminated UTF-8 strings on the native heap (an argv for
/// execvp(3) or posix_spawnp(3)): on the heap, not the stack, because an argv may be long, and
/// fixed there, so nothing needs pinning.
/// </summary>
internal sealed unsafe class NativeStrings : IDisposable
{
    private readonly int _count;

    public NativeStrings(IReadOnlyList<string> strings)
    {
        _count = strings.Count;
        Pointers = (byte**)NativeMemory.AllocZeroed((nuint)(_count + 1), (nuint)sizeof(byte*));
        try
        {
            for (int i = 0; i < _count; i++)
            {
                Pointers[i] = (byte*)Marshal.StringToCoTaskMemUTF8(strings[i]);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The array; its last element is NULL.</summary>
    public byte** Pointers { get; private set; }

    public void Dispose()
    {
        if (Pointers == null) return;
        for (int i = 0; i < _count; i++)
        {
            Marshal.FreeCoTaskMem((nint)Pointers[i]); // NULL (not yet allocated) is allowed
        }
        NativeMemory.Free(Pointers);
        Pointers = null;
    }
}
