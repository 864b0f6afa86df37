using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.Json;
using AgentSched.Protocol;

namespace AgentSched.Client;

/// <summary>
/// Self-steps: the fast path of <see cref="AgentSchedClient.BeginStep"/>. The client asks the daemon
/// once per process (or per thread, for <c>currentThreadOnly</c>) for a grant (<c>step_grant</c>);
/// from then on each step is opened and closed by one <c>prctl</c> the scheduler answers itself,
/// with no daemon round trip. Where there is no grant to have (fallback mode, an old kernel, a
/// daemon of an older version, a budget per step) every step goes through the socket as before, so
/// the caller's code is the same either way (docs/client.md).
/// </summary>
public sealed partial class AgentSchedClient
{
    private const int EPERM = 1, EINVAL = 22;
    private const int ProcessKey = 0;

    /// <summary>How long an answer of "no self-steps here" is trusted before the daemon is asked again.</summary>
    private static readonly TimeSpan s_unavailableFor = TimeSpan.FromSeconds(10);

    /// <summary>The grants this client holds or was refused: key 0 for the process, else the thread's tid.</summary>
    private readonly ConcurrentDictionary<int, SelfStepGrant> _grants = new();

    /// <param name="Granted">The daemon granted self-steps; false: use the socket until <paramref name="RetryAtTicks"/>.</param>
    /// <param name="Prctl">The prctl option the scheduler answers (bpf/intf.h's AGENT_PRCTL_STEP), as the daemon names it.</param>
    /// <param name="WindowMaxMs">The longest window the grant allows.</param>
    /// <param name="DefaultWindowMs">The window of a step that names none (the daemon's default).</param>
    /// <param name="RetryAtTicks">When not granted: the <see cref="Environment.TickCount64"/> to ask again at.</param>
    private sealed record SelfStepGrant(bool Granted, int Prctl, int WindowMaxMs, int DefaultWindowMs, long RetryAtTicks)
    {
        public static SelfStepGrant Refused(TimeSpan retryAfter) => new(false, 0, 0, 0, Environment.TickCount64 + (long)retryAfter.TotalMilliseconds);
    }

    /// <summary>
    /// Opens the step of <paramref name="request"/> (a step_begin) itself when it holds or can get a
    /// grant; null when the step must go through the socket. Only a grant request, once per process
    /// or thread, talks to the daemon.
    /// </summary>
    private async ValueTask<StepScope?> TryBeginSelfStepAsync(ApiRequest request, bool synchronous, CancellationToken cancellationToken)
    {
        // A budget per step is the daemon's to set: the grant's budget holds for all of its steps.
        if (!_options.SelfSteps || request.BudgetUs is not null || _disposed)
        {
            return null;
        }
        int key = request.Tid ?? ProcessKey;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (!_grants.TryGetValue(key, out SelfStepGrant? grant) || (!grant.Granted && Environment.TickCount64 >= grant.RetryAtTicks))
            {
                grant = await RequestGrantAsync(request.Tid, synchronous, cancellationToken).ConfigureAwait(false);
                _grants[key] = grant;
            }
            if (!grant.Granted)
            {
                return null;
            }
            int windowMs = Math.Min(request.WindowMs ?? grant.DefaultWindowMs, grant.WindowMaxMs);
            int errno = SelfStepCall(grant.Prctl, request.Tid is null ? SelfStepOp.OpenProcess : SelfStepOp.Open, windowMs);
            if (errno == 0)
            {
                return new StepScope(this, request.Tid, applied: true, TimeSpan.FromMilliseconds(windowMs), selfStep: grant.Prctl);
            }
            // EINVAL: agent_class is not attached (an ejection, a daemon restart): use the socket for a while.
            // EPERM: the grant is gone (revoked, or a new thread reused a granted tid): ask once more.
            _grants[key] = SelfStepGrant.Refused(errno == EPERM ? TimeSpan.Zero : s_unavailableFor);
            if (errno != EPERM)
            {
                return null;
            }
        }
        return null;
    }

    /// <summary>
    /// step_grant. Anything but a grant is a refusal for a while (the socket path then does the
    /// steps, and reports what it meets): an absent daemon, an older one (unknown_op), no BURST room
    /// for a standing grant (limit_exceeded), any other refusal. With
    /// <see cref="DaemonUnavailableBehavior.Throw"/> an absent daemon throws, as step_begin would.
    /// </summary>
    private async ValueTask<SelfStepGrant> RequestGrantAsync(int? tid, bool synchronous, CancellationToken cancellationToken)
    {
        JsonElement? response;
        try
        {
            response = await CallCoreAsync(new ApiRequest(ApiOp.StepGrant) { Tid = tid }, synchronous, cancellationToken).ConfigureAwait(false);
        }
        catch (AgentSchedException e) when (e is not AgentSchedUnavailableException)
        {
            return SelfStepGrant.Refused(s_unavailableFor);
        }
        if (response is not { } r)
        {
            return SelfStepGrant.Refused(s_unavailableFor);
        }
        try
        {
            if (!r.GetProperty("granted").GetBoolean())
            {
                return SelfStepGrant.Refused(s_unavailableFor);
            }
            return new SelfStepGrant(true, r.GetProperty("prctl").GetInt32(), r.GetProperty("window_max_ms").GetInt32(),
                r.GetProperty("default_window_ms").GetInt32(), 0);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new AgentSchedException("bad_response", $"agentschedd's step_grant lacks a field this client needs ({e.Message})", e);
        }
    }

    /// <summary>
    /// Closes a self-opened step: one prctl, no daemon. A thread's own window can be closed by the
    /// scheduler only from that thread; from another (an await resumed elsewhere) it takes a
    /// step_end for that thread, which renews the thread's grant and so voids the window.
    /// </summary>
    internal ValueTask EndSelfStepAsync(int prctl, int? tid, bool synchronous)
    {
        if (tid is { } t && t != NativeThread.CurrentTid())
        {
            return EndStepAsync(tid, synchronous);
        }
        SelfStepCall(prctl, tid is null ? SelfStepOp.CloseProcess : SelfStepOp.Close, 0);
        return ValueTask.CompletedTask;
    }

    /// <summary>bpf/intf.h's enum agent_self_step operations (AgentSched.Client.Tests checks them against the BPF object).</summary>
    internal enum SelfStepOp : ulong
    {
        Close = 0,
        Open = 1,
        OpenProcess = 2,
        CloseProcess = 3,
    }

    /// <summary>prctl(AGENT_PRCTL_STEP, op, window_ms): 0 on success (it returns AGENT_STEP_DONE), else the errno.</summary>
    private static int SelfStepCall(int prctl, SelfStepOp op, int windowMs)
    {
        int rc = Prctl(prctl, (nuint)op, (nuint)windowMs, 0, 0);
        return rc == 1 ? 0 : rc < 0 ? Marshal.GetLastSystemError() : EINVAL;
    }

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
