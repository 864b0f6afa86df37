namespace AgentSched.Interop.Native;

/// <summary>The C library calls agentsched needs that .NET does not expose.</summary>
internal static unsafe partial class Libc
{
    private const string LibName = "libc";

    [LibraryImport(LibName, EntryPoint = "vsnprintf")]
    internal static partial int VsnPrintf(byte* buffer, nuint size, byte* format, nint args);
}
