namespace AgentSched.Interop.Kernel;

/// <summary>Who a process is, read from /proc and checked against its pidfd (see <see cref="ProcessHandle.ReadInfo"/>).</summary>
/// <param name="Pid">The process id.</param>
/// <param name="StartTimeTicks">
/// When the process started, in clock ticks since boot (/proc/&lt;pid&gt;/stat field 22). With
/// <paramref name="Pid"/> it names a process uniquely for the life of the boot.
/// </param>
/// <param name="RealUid">The real user id (the first field of "Uid:" in /proc/&lt;pid&gt;/status).</param>
/// <param name="Comm">The command name (at most 15 bytes; may contain spaces and parentheses).</param>
/// <param name="UidsAgree">
/// Whether the real, effective, saved and file-system uids are one and the same; false for a
/// setuid program (real uid the caller's, effective uid another's).
/// </param>
public readonly record struct ProcessInfo(int Pid, ulong StartTimeTicks, uint RealUid, string Comm, bool UidsAgree = true);
