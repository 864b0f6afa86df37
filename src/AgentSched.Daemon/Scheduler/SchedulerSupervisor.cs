using System.Diagnostics;
using AgentSched.Daemon.Marks;
using AgentSched.Interop;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Scheduler;

/// <summary>
/// Owns the scheduler's lifecycle. At start: adopt a pinned agent_class of this build, or attach a
/// new one, or fall back to EEVDF controls (and say why). While running: watch for ejections by the
/// kernel, log each once, re-attach with exponential backoff reusing the pinned hint map, and after
/// too many attempts in a window stay in fallback and report unhealthy. At a clean stop: detach and
/// unpin. Marks follow the mode: the registry is switched to the matching hint backend.
/// </summary>
internal sealed partial class SchedulerSupervisor(
    IBpfScheduler scheduler,
    MarkRegistry registry,
    IOptions<SchedulerOptions> options,
    Func<SchedExtStatus> readStatus,
    TimeProvider time,
    ILogger<SchedulerSupervisor> logger,
    IServiceProvider? services = null) : BackgroundService
{
    private const int EPERM = 1, EBUSY = 16, EEXIST = 17;
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(200);

    private readonly Queue<DateTimeOffset> _attempts = new();
    private volatile SchedulerState _state = SchedulerState.Starting;
    private long _lastPoll = Environment.TickCount64;

    public SchedulerState State => _state;

    /// <summary>
    /// The attached scheduler's counters and wait histograms, summed over CPUs; null in fallback
    /// mode, or when the kernel ejected it between the mode check and the read.
    /// </summary>
    public SchedulerReading? ReadScheduler()
    {
        if (_state.Mode != "sched_ext")
        {
            return null;
        }
        try
        {
            return new SchedulerReading(scheduler.ReadStats(), scheduler.ReadLatency(), scheduler.ReadStepStats());
        }
        catch (Exception e) when (e is InvalidOperationException or AgentSched.Interop.BpfException)
        {
            return null;
        }
    }

    /// <summary>The attached scheduler records steps: sched_ext mode and Scheduler:TraceSteps.</summary>
    public bool TracesSteps => _state.Mode == "sched_ext" && options.Value.TraceSteps;

    /// <summary>One thread's recent steps; null when none were recorded for it.</summary>
    /// <exception cref="InvalidOperationException">The scheduler is not attached.</exception>
    /// <exception cref="BpfException">The lookup failed (ESRCH: the thread exited).</exception>
    public TaskSteps? ReadSteps(ProcessHandle thread) => scheduler.ReadSteps(thread);

    /// <summary>The supervision loop ran within the last 30 s (what the systemd watchdog is told).</summary>
    public bool IsResponsive() => Environment.TickCount64 - Interlocked.Read(ref _lastPoll) < 30_000;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        SchedulerOptions o = options.Value;
        SchedExtStatus status = readStatus();
        if (o.ParsedMode == SchedulerMode.Fallback)
        {
            EnterFallback("Scheduler:Mode is fallback", healthy: true);
        }
        else if (!status.Supported)
        {
            string why = $"this kernel ({status.KernelRelease}) has no sched_ext (CONFIG_SCHED_CLASS_EXT)";
            if (o.ParsedMode == SchedulerMode.SchedExt)
            {
                throw new DaemonStartupException(DaemonExitCode.NoSchedExt, $"{why}; see agentsched doctor");
            }
            EnterFallback(why, healthy: true);
        }
        else
        {
            StartSchedExt(o, status);
        }
        return base.StartAsync(cancellationToken);
    }

    private void StartSchedExt(SchedulerOptions o, SchedExtStatus status)
    {
        AdoptResult adopt;
        try
        {
            adopt = scheduler.TryAdopt(o);
        }
        catch (Exception e) when (e is BpfException or IOException or UnauthorizedAccessException)
        {
            LogAdoptFailed(scheduler.PinDirectory(o), e.Message);
            adopt = new AdoptResult(false, [], null);
        }
        foreach (string dir in adopt.Replaced)
        {
            LogReplaced(dir);
        }
        if (adopt.Adopted)
        {
            status = readStatus();
            SetState(new SchedulerState("sched_ext", "agent_class attached (adopted from pins)", true, time.GetUtcNow(), o.Partial, status.EnableSeq, 0, 0, null));
            UseSchedExtBackend(o);
            LogAdopted(scheduler.PinDirectory(o), status.EnableSeq ?? -1);
            return;
        }
        if (adopt.EjectedWhileAway is { } exit)
        {
            RecordEjection(exit);
        }
        if (adopt.Replaced.Count > 0)
        {
            status = WaitForDisabled();
        }
        if (status.State != "disabled")
        {
            string why = $"another sched_ext scheduler is attached ({status.Ops ?? "unknown"}, state {status.State})";
            if (o.ParsedMode == SchedulerMode.SchedExt)
            {
                throw new DaemonStartupException(DaemonExitCode.SchedulerBusy, $"{why}; detach it before starting agentschedd");
            }
            EnterFallback(why, healthy: false);
            return;
        }
        if (TryAttach(o, out Exception? failure, out long ms))
        {
            status = readStatus();
            LogAttached(status.Ops ?? "?", status.State, ms, o.SliceUs, o.BatchSliceMultiplier, o.Partial ? "partial" : "full", status.KernelRelease);
            return;
        }
        DaemonStartupException startup = Classify(failure!, status);
        if (o.ParsedMode == SchedulerMode.SchedExt)
        {
            throw startup;
        }
        LogAttachFailedFallback(startup.Message);
        EnterFallback(startup.Message, healthy: false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        SchedulerOptions o = options.Value;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(s_poll, time, stoppingToken).ConfigureAwait(false);
                Interlocked.Exchange(ref _lastPoll, Environment.TickCount64);
                if (_state.Mode != "sched_ext")
                {
                    continue;
                }
                SchedExtStatus status = readStatus();
                if (status.State == "enabled" && status.Ops == "agent_class" && status.EnableSeq == _state.EnableSeq && scheduler.ReadExit() is null)
                {
                    continue;
                }
                // The kernel records why in ops.exit once it has finished disabling: wait for that.
                status = WaitForDisabled();
                SchedulerExit exit = scheduler.ReadExit() ?? new SchedulerExit(0, "UNKNOWN", 0, $"sched_ext is {status.State} with ops {status.Ops ?? "none"}", "");
                RecordEjection(exit);
                await ReattachAsync(o, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task ReattachAsync(SchedulerOptions o, CancellationToken stoppingToken)
    {
        scheduler.ReleaseEjected();
        TimeSpan delay = TimeSpan.FromMilliseconds(o.ReattachInitialDelayMs);
        while (true)
        {
            DateTimeOffset now = time.GetUtcNow();
            while (_attempts.Count > 0 && now - _attempts.Peek() > TimeSpan.FromMinutes(o.FailureWindowMinutes))
            {
                _attempts.Dequeue();
            }
            if (_attempts.Count >= o.MaxReattachAttempts)
            {
                string why = $"the scheduler was re-attached {_attempts.Count} times in {o.FailureWindowMinutes} min and still fails; staying in fallback (restart or reload the daemon to try again)";
                LogGaveUp(_attempts.Count, o.FailureWindowMinutes);
                EnterFallback(why, healthy: false);
                return;
            }
            EnterFallback($"the scheduler was ejected; re-attaching in {delay.TotalMilliseconds:0} ms", healthy: false);
            await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            _attempts.Enqueue(time.GetUtcNow());
            SchedExtStatus status = WaitForDisabled();
            Exception? failure = null;
            if (status.State == "disabled" && TryAttach(o, out failure, out long ms))
            {
                LogReattached(_attempts.Count, ms, registry.Count);
                return;
            }
            LogReattachFailed(_attempts.Count, failure?.Message ?? $"sched_ext is {status.State} ({status.Ops})");
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, o.ReattachMaxDelayMs));
        }
    }

    private bool TryAttach(SchedulerOptions o, out Exception? failure, out long ms)
    {
        long started = Stopwatch.GetTimestamp();
        failure = null;
        ms = 0;
        try
        {
            scheduler.Attach(o);
        }
        catch (Exception e) when (e is BpfException or KeyNotFoundException or ArgumentException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            failure = e;
            return false;
        }
        ms = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        SchedulerState previous = _state;
        SetState(previous with
        {
            Mode = "sched_ext",
            Reason = "agent_class attached",
            Healthy = true,
            Since = time.GetUtcNow(),
            Partial = o.Partial,
            EnableSeq = readStatus().EnableSeq,
            Attaches = previous.Attaches + 1,
        });
        UseSchedExtBackend(o);
        return true;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (scheduler.IsAttached && services is not null && DaemonFault.Of(services) is not null)
        {
            LogLeftAttached();
            return; // as after kill -9: the next start adopts the pinned scheduler and its hints
        }
        if (scheduler.IsAttached)
        {
            scheduler.Detach();
            LogDetached(readStatus().State);
        }
    }

    private void UseSchedExtBackend(SchedulerOptions o) =>
        registry.SwitchBackend(new SchedExtHintBackend(scheduler, o.Partial, logger));

    private void EnterFallback(string reason, bool healthy)
    {
        SchedulerState previous = _state;
        if (previous.Mode != "fallback" || previous.Reason != reason)
        {
            SetState(previous with { Mode = "fallback", Reason = reason, Healthy = healthy, Since = time.GetUtcNow(), EnableSeq = null });
        }
        if (previous.Mode != "fallback")
        {
            registry.SwitchBackend(new FallbackHintBackend(logger));
        }
    }

    private void RecordEjection(SchedulerExit exit)
    {
        SchedulerState previous = _state;
        SetState(previous with
        {
            Ejections = previous.Ejections + 1,
            LastEjection = new Ejection(time.GetUtcNow(), exit),
            EjectionsByKind = previous.EjectionsByKind.SetItem(exit.KindName, previous.EjectionsByKind.GetValueOrDefault(exit.KindName) + 1),
        });
        LogEjected(exit.KindName, exit.Kind, exit.Reason, exit.Message);
    }

    private void SetState(SchedulerState state)
    {
        _state = state;
        if (state.Mode == "fallback" && state.Reason != "starting")
        {
            LogMode(state.Mode, state.Reason, state.Healthy);
        }
    }

    /// <summary>Waits up to 5 s for the kernel to finish disabling a scheduler whose last reference went away.</summary>
    private SchedExtStatus WaitForDisabled()
    {
        SchedExtStatus status = readStatus();
        for (int i = 0; i < 50 && status.State is "enabled" or "disabling" or "enabling" && status.Ops is null or "agent_class"; i++)
        {
            Thread.Sleep(100);
            status = readStatus();
        }
        return status;
    }

    private static DaemonStartupException Classify(Exception e, SchedExtStatus status) => e switch
    {
        BpfException { Errno: EBUSY or EEXIST, Operation: "bpf_map__attach_struct_ops" } =>
            new(DaemonExitCode.SchedulerBusy, $"another sched_ext scheduler is already attached ({status.Ops ?? "unknown"}); detach it before starting agentschedd", e),
        BpfException { Errno: EPERM } b =>
            new(DaemonExitCode.PermissionDenied, $"loading the scheduler was refused ({b.Operation}: EPERM): agentschedd needs root, or CAP_BPF and CAP_PERFMON (and CAP_SYS_NICE to mark other users' tasks)", e),
        _ => new(DaemonExitCode.LoadFailed, $"loading the agent_class scheduler failed: {e.Message}", e),
    };

    [LoggerMessage(Level = LogLevel.Information,
        Message = "scheduler {Ops} attached in {AttachMs} ms (sched_ext {State}; slice {SliceUs} us, batch x{BatchMult}; {ModeName} mode; kernel {Kernel})")]
    private partial void LogAttached(string ops, string state, long attachMs, int sliceUs, int batchMult, string modeName, string kernel);

    [LoggerMessage(Level = LogLevel.Information, Message = "re-adopted the agent_class pinned at {Dir} (enable_seq {EnableSeq}): no detach/attach gap")]
    private partial void LogAdopted(string dir, long enableSeq);

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not adopt the scheduler pinned at {Dir}: {Reason}")]
    private partial void LogAdoptFailed(string dir, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "removed pins of another build or other tunables at {Dir}")]
    private partial void LogReplaced(string dir);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Message}; continuing in fallback mode")]
    private partial void LogAttachFailedFallback(string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "scheduler ejected by the kernel: {KindName} ({Kind}), reason \"{Reason}\", message \"{ExitMessage}\"")]
    private partial void LogEjected(string kindName, int kind, string reason, string exitMessage);

    [LoggerMessage(Level = LogLevel.Information, Message = "scheduler re-attached (attempt {Attempt} in the window, {AttachMs} ms); {Marks} marks re-applied")]
    private partial void LogReattached(int attempt, long attachMs, int marks);

    [LoggerMessage(Level = LogLevel.Warning, Message = "re-attach attempt {Attempt} failed: {Reason}")]
    private partial void LogReattachFailed(int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "giving up re-attaching after {Attempts} attempts in {Minutes} min")]
    private partial void LogGaveUp(int attempts, int minutes);

    [LoggerMessage(Level = LogLevel.Information, Message = "mode {Mode}: {Reason} (healthy: {Healthy})")]
    private partial void LogMode(string mode, string reason, bool healthy);

    [LoggerMessage(Level = LogLevel.Information, Message = "scheduler detached (sched_ext {State})")]
    private partial void LogDetached(string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "stopping after a failure: agent_class stays attached and pinned for the next start to adopt")]
    private partial void LogLeftAttached();
}
