using System.Text.Json;
using AgentSched.Daemon.Api;
using AgentSched.Daemon.Configuration;
using AgentSched.Interop;
using AgentSched.Interop.Kernel;
using AgentSched.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Marks;

/// <summary>The outcome of a registry operation: an error, or the fields of the success response.</summary>
internal readonly record struct RegistryResult(ProtocolError? Error, Action<Utf8JsonWriter>? Body)
{
    public static RegistryResult Fail(string code, string message) => new(new ProtocolError(code, message), null);
}

/// <summary>
/// Every mark the daemon has accepted, the rules for accepting them (ownership, limits) and their
/// application through the active <see cref="IHintBackend"/>. One lock guards it all: each
/// operation is a few syscalls, and a single order of changes keeps the map, the kernel and the
/// persisted file in agreement. Every change bumps <see cref="Generation"/>; <see cref="MarkStore"/>
/// persists by generation.
/// </summary>
internal sealed partial class MarkRegistry(LiveOptions<ApiOptions> api, ILogger<MarkRegistry> logger) : IDisposable
{
    private const int ENOENT = 2, ESRCH = 3, ENOMEM = 12, EINVAL = 22, ENFILE = 23, EMFILE = 24;

    private readonly Lock _gate = new();
    private readonly Dictionary<int, MarkEntry> _entries = [];
    private IHintBackend _backend = new FallbackHintBackend(logger);
    private long _generation;
    private ulong _nextDeadline = ulong.MaxValue;

    /// <summary>Raised after every change (under the registry's lock: handlers must only signal).</summary>
    public event Action? Changed;

    public long Generation => Interlocked.Read(ref _generation);

    public string Mode
    {
        get { lock (_gate) return _backend.Mode; }
    }

    public RegistryResult Mark(PeerCredentials peer, ApiRequest r)
    {
        int pid = r.Pid!.Value;
        ulong now = MonotonicClock.NowNs();
        var wanted = new MarkState(r.Class, r.WindowMs is { } w ? now + (ulong)w * 1_000_000 : null, r.HomeCpu, r.BudgetUs, null, null);
        return Change(peer, pid, isThread: false, e => wanted with { StepEndNs = e?.State.StepEndNs, StepBudgetUs = e?.State.StepBudgetUs, Grant = e?.State.Grant },
            e => w => WriteEntry(w, e, now));
    }

    public RegistryResult Unmark(PeerCredentials peer, ApiRequest r)
    {
        int pid = r.Pid!.Value;
        ulong now = MonotonicClock.NowNs();
        lock (_gate)
        {
            if (!_entries.TryGetValue(pid, out MarkEntry? e) || !e.Handle.IsAlive)
            {
                if (e is not null)
                {
                    Drop(e, restore: false); // its process exited: forget it, on disk too
                    Bump();
                }
                // Nothing to undo; still refuse to confirm anything about another user's pid.
                using ProcessHandle? h = TryOpen(pid, false, out RegistryResult failure);
                if (h is null) return failure;
                if (Authorize(peer, h, out RegistryResult denied) is false) return denied;
                return new RegistryResult(null, w => { w.WriteNumber("pid", pid); w.WriteNull("was"); });
            }
            if (Authorize(peer, e.Handle, out RegistryResult refused) is false) return refused;
            string? was = e.EffectiveAt(now) is { } eff ? TaskClassNames.Name(eff.Class) : null;
            Drop(e, restore: true);
            Bump();
            return new RegistryResult(null, w => { w.WriteNumber("pid", pid); w.WriteString("was", was); });
        }
    }

    public RegistryResult StepBegin(PeerCredentials peer, ApiRequest r)
    {
        (int target, bool isThread, RegistryResult? bad) = StepTarget(peer, r);
        if (bad is { } b) return b;
        ulong now = MonotonicClock.NowNs();
        ulong end = now + (ulong)(r.WindowMs ?? api.Current.DefaultStepWindowMs) * 1_000_000;
        return Change(peer, target, isThread, e => (e?.State ?? default) with { StepEndNs = end, StepBudgetUs = r.BudgetUs },
            e => w => WriteEntry(w, e, now));
    }

    public RegistryResult StepEnd(PeerCredentials peer, ApiRequest r)
    {
        (int target, _, RegistryResult? bad) = StepTarget(peer, r);
        if (bad is { } b) return b;
        ulong now = MonotonicClock.NowNs();
        lock (_gate)
        {
            if (!_entries.TryGetValue(target, out MarkEntry? e) || (e.State.StepEndNs is null && e.State.Grant is null))
            {
                return new RegistryResult(null, w => { w.WriteNumber("pid", target); w.WriteBoolean("open", false); });
            }
            bool open = e.State.StepEndNs > now;
            MarkState old = e.State;
            // A grant is renumbered: a window the task opened itself ends too (a thread's own
            // window can otherwise be closed only by that thread).
            e.State = old with { StepEndNs = null, StepBudgetUs = null, Grant = old.Grant is { } g ? g with { Seq = Marks.StepGrant.NewSeq() } : null };
            if (Reapply(e, now, old) is { } failure) return failure;
            Bump();
            return new RegistryResult(null, w => { w.WriteNumber("pid", target); w.WriteBoolean("open", open); });
        }
    }

    /// <summary>
    /// Grants the calling process (or one of its threads, <c>tid</c>) the right to open and close its
    /// own BURST steps with <see cref="AgentSched.Interop.Abi.AgentSelfStep.PrctlStep"/>, each at
    /// most <c>window_ms</c> long (default: the longest step window, ApiProtocol.MaxWindowMs). The
    /// same rules as <see cref="StepBegin"/> apply, and the grant counts as a BURST task against
    /// Api:MaxBurstTasksPerUid for as long as it stands. Where the scheduler cannot take self-steps
    /// (fallback or partial mode, a kernel without the prctl hook) nothing is granted and the
    /// answer says why, so the caller keeps using step_begin.
    /// </summary>
    public RegistryResult StepGrant(PeerCredentials peer, ApiRequest r)
    {
        (int target, bool isThread, RegistryResult? bad) = StepTarget(peer, r);
        if (bad is { } b) return b;
        string? unavailable;
        lock (_gate) unavailable = _backend.SelfStepsUnavailable;
        if (unavailable is not null)
        {
            return new RegistryResult(null, w =>
            {
                w.WriteNumber("pid", target);
                w.WriteBoolean("granted", false);
                w.WriteString("reason", unavailable);
            });
        }
        var grant = new Marks.StepGrant(r.WindowMs ?? ApiProtocol.MaxWindowMs, r.BudgetUs, Marks.StepGrant.NewSeq());
        int defaultWindow = api.Current.DefaultStepWindowMs;
        return Change(peer, target, isThread, e => (e?.State ?? default) with { Grant = grant }, e => w =>
        {
            w.WriteNumber("pid", target);
            w.WriteBoolean("granted", true);
            w.WriteNumber("prctl", (int)AgentSched.Interop.Abi.AgentSelfStep.PrctlStep);
            w.WriteNumber("window_max_ms", grant.WindowMs);
            w.WriteNumber("default_window_ms", Math.Min(defaultWindow, grant.WindowMs));
        });
    }

    /// <summary>Withdraws a grant at once: from the next scheduling decision the task's own steps count for nothing.</summary>
    public RegistryResult StepRevoke(PeerCredentials peer, ApiRequest r)
    {
        (int target, _, RegistryResult? bad) = StepTarget(peer, r);
        if (bad is { } b) return b;
        ulong now = MonotonicClock.NowNs();
        lock (_gate)
        {
            if (!_entries.TryGetValue(target, out MarkEntry? e) || e.State.Grant is null)
            {
                return new RegistryResult(null, w => { w.WriteNumber("pid", target); w.WriteBoolean("was_granted", false); });
            }
            MarkState old = e.State;
            e.State = old with { Grant = null };
            if (Reapply(e, now, old) is { } failure) return failure;
            Bump();
            return new RegistryResult(null, w => { w.WriteNumber("pid", target); w.WriteBoolean("was_granted", true); });
        }
    }

    /// <summary>Tasks per effective class (all classes present, zero when none).</summary>
    public Dictionary<TaskClass, int> CountByClass()
    {
        ulong now = MonotonicClock.NowNs();
        var counts = Enum.GetValues<TaskClass>().ToDictionary(c => c, _ => 0);
        lock (_gate)
        {
            foreach (MarkEntry e in _entries.Values)
            {
                if (e.EffectiveAt(now) is { } eff) counts[eff.Class]++;
            }
        }
        return counts;
    }

    public int Count
    {
        get { lock (_gate) return _entries.Count; }
    }

    private RegistryResult Change(PeerCredentials peer, int pid, bool isThread, Func<MarkEntry?, MarkState> next, Func<MarkEntry, Action<Utf8JsonWriter>> body)
    {
        ulong now = MonotonicClock.NowNs();
        lock (_gate)
        {
            if (_entries.TryGetValue(pid, out MarkEntry? existing) && !existing.Handle.IsAlive)
            {
                Drop(existing, restore: false); // the task exited; a new process may have its pid
                existing = null;
            }
            bool created = existing is null;
            MarkEntry? entry = existing;
            if (entry is null)
            {
                if (_entries.Count >= api.Current.MaxMarks)
                {
                    return RegistryResult.Fail(ErrorCode.LimitExceeded, $"the daemon holds its maximum of {api.Current.MaxMarks} marks (Api:MaxMarks)");
                }
                ProcessHandle? handle = TryOpen(pid, isThread, out RegistryResult failure);
                if (handle is null) return failure;
                ProcessInfo info;
                try
                {
                    info = handle.ReadInfo();
                }
                catch (SyscallException e) when (e.Errno == ESRCH)
                {
                    handle.Dispose();
                    return NoSuchProcess(pid);
                }
                catch (IOException e) when (IsExhaustion(e))
                {
                    handle.Dispose();
                    return Exhausted(e);
                }
                entry = new MarkEntry(handle, info, isThread, peer.Uid);
            }
            if (Authorize(peer, entry.Handle, out RegistryResult denied) is false)
            {
                if (created) entry.Dispose();
                return denied;
            }

            if ((created || entry.RequesterUid != peer.Uid) && AtLimit(peer.Uid, entry, () => MarkCount(peer.Uid), api.Current.MaxMarksPerUid))
            {
                if (created) entry.Dispose();
                return RegistryResult.Fail(ErrorCode.LimitExceeded,
                    $"uid {peer.Uid} already holds {api.Current.MaxMarksPerUid} marks (Api:MaxMarksPerUid); unmark some or end their steps");
            }

            MarkState old = entry.State;
            uint oldRequester = entry.RequesterUid;
            entry.State = next(created ? null : entry);
            entry.RequesterUid = peer.Uid;
            if (entry.State.CountsAsBurst(now) && !old.CountsAsBurst(now)
                && AtLimit(peer.Uid, entry, () => BurstCount(peer.Uid, now, except: entry), api.Current.MaxBurstTasksPerUid))
            {
                entry.State = old;
                entry.RequesterUid = oldRequester;
                if (created) entry.Dispose();
                return RegistryResult.Fail(ErrorCode.LimitExceeded,
                    $"uid {peer.Uid} already has {api.Current.MaxBurstTasksPerUid} BURST tasks (Api:MaxBurstTasksPerUid); unmark some or end their steps");
            }
            if (created) _entries[pid] = entry;
            if (Reapply(entry, now, old) is { } applyFailure)
            {
                entry.RequesterUid = oldRequester;
                if (created)
                {
                    _entries.Remove(pid);
                    entry.Dispose();
                }
                return applyFailure;
            }
            NoteDeadline(entry);
            Bump();
            return new RegistryResult(null, body(entry));
        }
    }

    /// <summary>Applies an entry's current state (or removes it when nothing is left); on failure restores <paramref name="old"/>.</summary>
    private RegistryResult? Reapply(MarkEntry entry, ulong now, MarkState old)
    {
        try
        {
            if (entry.EffectiveAt(now) is { } eff)
            {
                _backend.Apply(entry, eff);
            }
            else
            {
                Drop(entry, restore: true);
            }
            return null;
        }
        catch (Exception e) when (e is IOException or BpfException)
        {
            entry.State = old;
            int errno = e switch { SyscallException s => s.Errno, BpfException b => b.Errno, _ => e.HResult };
            if (errno == ESRCH)
            {
                Drop(entry, restore: false);
                return NoSuchProcess(entry.Pid);
            }
            try
            {
                if (old.EffectiveAt(now) is { } previous) _backend.Apply(entry, previous);
            }
            catch (Exception again) when (again is IOException or BpfException)
            {
                LogRollbackFailed(entry.Pid, again.Message);
            }
            if (errno is EMFILE or ENFILE or ENOMEM)
            {
                return Exhausted(e);
            }
            return RegistryResult.Fail(ErrorCode.Internal, $"applying the change to pid {entry.Pid} failed: {e.Message}");
        }
    }

    /// <summary>
    /// Whether <paramref name="count"/> of <paramref name="uid"/>'s entries is at <paramref name="limit"/>
    /// even after its entries whose task has exited are dropped (a thread granted self-steps stays
    /// an entry until then, and nothing else notices it end before the next sweep). Those are looked
    /// for only at the limit, as that costs a system call per entry.
    /// </summary>
    private bool AtLimit(uint uid, MarkEntry except, Func<int> count, int limit) =>
        count() >= limit && (PruneExited(uid, except) is 0 || count() >= limit);

    /// <summary>Drops <paramref name="uid"/>'s entries whose task has exited, but <paramref name="except"/>; how many went.</summary>
    private int PruneExited(uint uid, MarkEntry except)
    {
        MarkEntry[] dead = [.. _entries.Values.Where(e => e != except && e.RequesterUid == uid && !e.Handle.IsAlive)];
        foreach (MarkEntry e in dead)
        {
            Drop(e, restore: false);
        }
        if (dead.Length > 0) Bump();
        return dead.Length;
    }

    /// <summary>Entries of any class <paramref name="uid"/> holds.</summary>
    private int MarkCount(uint uid) => _entries.Values.Count(e => e.RequesterUid == uid);

    /// <summary>Out of descriptors or memory: EMFILE, ENFILE, ENOMEM (IOException carries the errno as its HResult on Linux).</summary>
    internal static bool IsExhaustion(Exception e) =>
        (e is SyscallException s ? s.Errno : e is IOException ? e.HResult : 0) is EMFILE or ENFILE or ENOMEM;

    private static RegistryResult Exhausted(Exception e) => RegistryResult.Fail(ErrorCode.ResourceExhausted,
        $"agentschedd is out of a resource it needs ({e.Message}); the request had no effect, retry later");

    /// <summary>BURST entries <paramref name="uid"/> holds, other than <paramref name="except"/> (the one being changed).</summary>
    private int BurstCount(uint uid, ulong now, MarkEntry except) =>
        _entries.Values.Count(e => e != except && e.RequesterUid == uid && e.State.CountsAsBurst(now));

    private static (int Target, bool IsThread, RegistryResult? Error) StepTarget(PeerCredentials peer, ApiRequest r)
    {
        if (r.Tid is not { } tid || tid == peer.Pid)
        {
            return (peer.Pid, false, null);
        }
        if (!Directory.Exists($"/proc/{peer.Pid}/task/{tid}"))
        {
            return (0, false, RegistryResult.Fail(ErrorCode.BadRequest, $"tid {tid} is not a thread of the calling process {peer.Pid}"));
        }
        return (tid, true, null);
    }

    private static ProcessHandle? TryOpen(int pid, bool isThread, out RegistryResult failure)
    {
        failure = default;
        try
        {
            return isThread ? ProcessHandle.OpenThread(pid) : ProcessHandle.Open(pid);
        }
        catch (SyscallException e) when (e.Errno == ESRCH)
        {
            failure = NoSuchProcess(pid);
        }
        catch (SyscallException e) when (IsExhaustion(e))
        {
            failure = Exhausted(e);
        }
        catch (SyscallException e) when (e.Errno is EINVAL or ENOENT && !isThread) // a non-leader: EINVAL, or ENOENT on newer kernels (6.18)
        {
            failure = RegistryResult.Fail(ErrorCode.BadRequest,
                $"pid {pid} is a thread, not a process: mark its process, or open a step on the thread with step_begin and tid");
        }
        return null;
    }

    private static bool Authorize(PeerCredentials peer, ProcessHandle target, out RegistryResult denied) =>
        Authorize(peer, target, "mark", out denied);

    /// <summary>
    /// root may <paramref name="verb"/> any process; another uid only its own: real, effective, saved and
    /// file-system uid all its own (read through the pidfd), so not a setuid program it started.
    /// </summary>
    internal static bool Authorize(PeerCredentials peer, ProcessHandle target, string verb, out RegistryResult denied)
    {
        denied = default;
        if (peer.IsRoot)
        {
            return true;
        }
        uint owner;
        bool agree;
        try
        {
            ProcessInfo info = target.ReadInfo();
            (owner, agree) = (info.RealUid, info.UidsAgree);
        }
        catch (SyscallException e) when (e.Errno == ESRCH)
        {
            denied = NoSuchProcess(target.Pid);
            return false;
        }
        catch (IOException e) when (IsExhaustion(e))
        {
            denied = Exhausted(e);
            return false;
        }
        if (owner == peer.Uid && agree)
        {
            return true;
        }
        if (owner == peer.Uid)
        {
            denied = RegistryResult.Fail(ErrorCode.PermissionDenied,
                $"pid {target.Pid} runs with another uid besides {owner} (a setuid program): only root may {verb} it");
            return false;
        }
        denied = RegistryResult.Fail(ErrorCode.PermissionDenied,
            $"uid {peer.Uid} may only {verb} its own processes; pid {target.Pid} belongs to uid {owner}");
        return false;
    }

    private static RegistryResult NoSuchProcess(int pid) => RegistryResult.Fail(ErrorCode.NoSuchProcess, $"no process with pid {pid}");

    private void Drop(MarkEntry entry, bool restore)
    {
        if (restore)
        {
            try
            {
                _backend.Remove(entry);
            }
            catch (Exception e) when (e is IOException or BpfException)
            {
                LogRestoreFailed(entry.Pid, e.Message);
            }
        }
        if (_entries.TryGetValue(entry.Pid, out MarkEntry? current) && ReferenceEquals(current, entry))
        {
            _entries.Remove(entry.Pid);
        }
        entry.Dispose();
    }

    private void Bump()
    {
        Interlocked.Increment(ref _generation);
        Changed?.Invoke();
    }

    /// <summary>The earliest window end of any entry, as far as changes since the last <see cref="Sweep"/> know.</summary>
    public ulong NextDeadline => Interlocked.Read(ref _nextDeadline);

    private void NoteDeadline(MarkEntry e)
    {
        if (e.State.NextDeadline(0) is { } d && d < _nextDeadline)
        {
            Interlocked.Exchange(ref _nextDeadline, d);
        }
    }

    private static void WriteEntry(Utf8JsonWriter w, MarkEntry e, ulong now)
    {
        w.WriteNumber("pid", e.Pid);
        EffectiveHint? eff = e.EffectiveAt(now);
        w.WriteString("class", eff is { } h ? TaskClassNames.Name(h.Class) : "normal");
        if (eff?.EndNs is { } end)
        {
            w.WriteNumber("window_ms", (long)((end - now + 999_999) / 1_000_000));
        }
        else
        {
            w.WriteNull("window_ms");
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (MarkEntry e in _entries.Values) e.Dispose();
            _entries.Clear();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "restoring the scheduling of pid {Pid} failed: {Reason}")]
    private partial void LogRestoreFailed(int pid, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "rolling back a failed change to pid {Pid} also failed: {Reason}")]
    private partial void LogRollbackFailed(int pid, string reason);
}
