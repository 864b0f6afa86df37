using AgentSched.Interop.Abi;
using AgentSched.Interop.Native;

namespace AgentSched.Interop.Scheduler;

/// <summary>
/// The calling thread's own step window, opened and closed without agentschedd under a grant
/// (step_grant): <c>prctl(AGENT_PRCTL_STEP, op, window_ms)</c>, which agent_class answers itself
/// (bpf/intf.h, enum agent_self_step).
/// </summary>
public static class SelfStep
{
    private const int EINVAL = 22;

    /// <summary>
    /// Makes the call for the calling thread (for <see cref="AgentSelfStep.StepOpenProcess"/> and
    /// <see cref="AgentSelfStep.StepCloseProcess"/>, its process). 0 when agent_class did it; else
    /// the errno: EPERM without a grant, EINVAL when agent_class (or its self-step program) is not attached.
    /// </summary>
    /// <param name="windowMs">For an open: the window's length; 0, or more than the grant allows, means the grant's longest.</param>
    public static int Call(AgentSelfStep op, int windowMs = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(windowMs);
        int rc = Libc.Prctl((int)AgentSelfStep.PrctlStep, (nuint)(long)op, (nuint)windowMs, 0, 0);
        return rc == (int)AgentSelfStep.StepDone ? 0 : rc < 0 ? Marshal.GetLastSystemError() : EINVAL;
    }
}
