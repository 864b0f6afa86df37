using System.Runtime.InteropServices;

namespace AgentSched.Client;

/// <summary>The calling OS thread's id (what the kernel and agentschedd call a tid).</summary>
internal static partial class NativeThread
{
    public static int CurrentTid() => GetTid();

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();
}
