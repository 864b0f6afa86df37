using System.Diagnostics.Metrics;
using System.Reflection;
using AgentSched.Daemon.Api;
using AgentSched.Daemon.Marks;
using AgentSched.Daemon.Scheduler;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Scheduler;
using AgentSched.Protocol;

namespace AgentSched.Daemon.Metrics;

/// <summary>
/// The daemon's metrics as System.Diagnostics.Metrics instruments of the meter
/// <c>AgentSched.Daemon</c> (docs/metrics.md). All are observable: they read the scheduler's
/// per-CPU counters, the mark registry and the API counters when collected, so nothing is
/// counted twice and nothing costs anything between scrapes.
/// </summary>
internal sealed class DaemonMetrics : IDisposable
{
    public const string MeterName = "AgentSched.Daemon";

    private static readonly TimeSpan s_readingTtl = TimeSpan.FromMilliseconds(250);
    private static readonly (string Key, TaskClass Class)[] s_classes =
        [("normal", TaskClass.Normal), ("burst", TaskClass.Burst), ("batch", TaskClass.Batch)];

    private readonly SchedulerSupervisor _supervisor;
    private readonly MarkRegistry _registry;
    private readonly ApiCounters _api;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private (DateTimeOffset At, IReadOnlyDictionary<AgentStat, ulong>? Stats, AgentLatencySnapshot? Latency, AgentStepSnapshot? Steps) _reading;

    public DaemonMetrics(SchedulerSupervisor supervisor, MarkRegistry registry, ApiCounters api, TimeProvider time)
    {
        _supervisor = supervisor;
        _registry = registry;
        _api = api;
        _time = time;
        string? version = typeof(DaemonMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        Meter = new Meter(MeterName, version);

        Meter.CreateObservableGauge("agentsched.mode", ObserveMode, null, "1 for the mode the daemon is in: sched_ext (agent_class attached) or fallback (EEVDF controls)");
        Meter.CreateObservableGauge("agentsched.healthy", () => _supervisor.State.Healthy ? 1 : 0, null, "1 while the daemon is in the mode it was configured for");
        Meter.CreateObservableGauge("agentsched.marks", ObserveMarks, "{task}", "Marked tasks by the class in force now");
        Meter.CreateObservableCounter("agentsched.scheduler.attaches", () => (long)_supervisor.State.Attaches, "{attach}", "Times the daemon attached agent_class");
        Meter.CreateObservableCounter("agentsched.scheduler.ejections", ObserveEjections, "{ejection}", "Times the kernel ejected agent_class, by exit kind");
        Meter.CreateObservableCounter("agentsched.scheduler.dispatches", () => PerClass(AgentStat.DispatchNormal, AgentStat.DispatchBurst, AgentStat.DispatchBatch), "{dispatch}", "Tasks queued or placed on a CPU, by class");
        Meter.CreateObservableGauge("agentsched.scheduler.runnable", () => PerClass(AgentStat.RunnableNormal, AgentStat.RunnableBurst, AgentStat.RunnableBatch), "{task}", "Tasks runnable (queued or running) now, by class");
        Meter.CreateObservableCounter("agentsched.scheduler.demotions", ObserveDemotions, "{demotion}", "BURST tasks made NORMAL by a budget: step (ran past the step budget) or period (used up the credit share)");
        Meter.CreateObservableCounter("agentsched.scheduler.starvation_dispatches", () => Stat(AgentStat.StarveDispatch), "{dispatch}", "NORMAL/BATCH queue heads served ahead of BURST by the starvation guard");
        Meter.CreateObservableCounter("agentsched.scheduler.preemption_kicks", () => Stat(AgentStat.KickPreempt), "{kick}", "CPUs running NORMAL/BATCH work preempted for a BURST task");
        Meter.CreateObservableCounter("agentsched.scheduler.idle_placements", () => Stat(AgentStat.DirectIdle), "{wakeup}", "Wakeups placed straight onto an idle CPU");
        Meter.CreateObservableCounter("agentsched.scheduler.window_migrations", () => Stat(AgentStat.MigrateInWindow), "{migration}", "BURST tasks that ran on another CPU inside their anti-migration window");
        Meter.CreateObservableCounter("agentsched.scheduler.windows_expired", () => Stat(AgentStat.WindowExpired), "{window}", "Step windows that ended by running out");
        Meter.CreateObservableCounter("agentsched.scheduler.inherited", () => Stat(AgentStat.Inherited), "{task}", "Forked tasks that started in their parent's class");
        Meter.CreateObservableCounter("agentsched.scheduler.batch_yields", () => Stat(AgentStat.BatchYield), "{yield}", "BATCH runs cut short after one slice for waiting BURST or NORMAL work");
        Meter.CreateObservableCounter("agentsched.steps", () => PerStepClass(s => s.Steps), "{step}", "Steps of marked tasks (runnable after blocking, until blocking again), by the class of their first run");
        Meter.CreateObservableCounter("agentsched.steps.migrations", () => PerStepClass(s => s.Migrations), "{migration}", "Runs of a step on another CPU than its previous run, by class");
        Meter.CreateObservableCounter("agentsched.steps.preemptions", () => PerStepClass(s => s.Preemptions), "{preemption}", "Times a step lost its CPU while still runnable, by class");
        Meter.CreateObservableCounter("agentsched.steps.home_hits", () => PerStepClass(s => s.HomeHits), "{step}", "Steps that ran only on their task's home CPU, by class");
        Meter.CreateObservableCounter("agentsched.api.requests", ObserveRequests, "{request}", "Socket API requests, by operation");
        Meter.CreateObservableCounter("agentsched.api.errors", ObserveErrors, "{response}", "Socket API error responses, by error code");
        Meter.CreateObservableCounter("agentsched.api.connections_accepted", () => _api.ConnectionsTotal, "{connection}", "Socket API connections accepted");
        Meter.CreateObservableGauge("agentsched.api.connections", () => _api.ConnectionsOpen, "{connection}", "Socket API connections open now");
    }

    /// <summary>The meter; a MeterListener (the Prometheus endpoint, dotnet-counters) reads it.</summary>
    public Meter Meter { get; }

    /// <summary>
    /// The queue-wait histograms, which no observable instrument can carry: the Prometheus
    /// endpoint writes them itself. Null without an attached scheduler.
    /// </summary>
    public AgentLatencySnapshot? ReadLatency() => Read().Latency;

    /// <summary>The step histograms, from the same reading as the counters; null without an attached scheduler.</summary>
    public AgentStepSnapshot? ReadSteps() => Read().Steps;

    private IEnumerable<Measurement<int>> ObserveMode()
    {
        string mode = _supervisor.State.Mode;
        yield return new Measurement<int>(mode == "sched_ext" ? 1 : 0, new KeyValuePair<string, object?>("mode", "sched_ext"));
        yield return new Measurement<int>(mode == "fallback" ? 1 : 0, new KeyValuePair<string, object?>("mode", "fallback"));
    }

    private IEnumerable<Measurement<int>> ObserveMarks()
    {
        Dictionary<TaskClass, int> counts = _registry.CountByClass();
        foreach ((string key, TaskClass c) in s_classes)
        {
            yield return new Measurement<int>(counts.GetValueOrDefault(c), new KeyValuePair<string, object?>("class", key));
        }
    }

    private IEnumerable<Measurement<long>> ObserveEjections() =>
        _supervisor.State.EjectionsByKind.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => new Measurement<long>(p.Value, new KeyValuePair<string, object?>("kind", p.Key)));

    private IEnumerable<Measurement<long>> ObserveDemotions()
    {
        if (Read().Stats is not { } stats) yield break;
        yield return new Measurement<long>((long)stats[AgentStat.DemoteStep], new KeyValuePair<string, object?>("reason", "step"));
        yield return new Measurement<long>((long)stats[AgentStat.DemotePeriod], new KeyValuePair<string, object?>("reason", "period"));
    }

    private IEnumerable<Measurement<long>> ObserveRequests() =>
        _api.Ops().Select(p => new Measurement<long>(p.Count, new KeyValuePair<string, object?>("op", ApiOpNames.Name(p.Op))));

    private IEnumerable<Measurement<long>> ObserveErrors() =>
        _api.Errors().Select(p => new Measurement<long>(p.Count, new KeyValuePair<string, object?>("code", p.Code)));

    private IEnumerable<Measurement<long>> Stat(AgentStat stat)
    {
        if (Read().Stats is { } stats) yield return new Measurement<long>((long)stats[stat]);
    }

    private IEnumerable<Measurement<long>> PerClass(AgentStat normal, AgentStat burst, AgentStat batch) =>
        Read().Stats is { } stats ? Classes(c => stats[c switch { AgentClass.Burst => burst, AgentClass.Batch => batch, _ => normal }]) : [];

    private IEnumerable<Measurement<long>> PerStepClass(Func<AgentStepSnapshot, Func<AgentClass, ulong>> counter) =>
        Read().Steps is { } steps ? Classes(counter(steps)) : [];

    /// <summary>One measurement per class, labelled normal, burst, batch.</summary>
    private static IEnumerable<Measurement<long>> Classes(Func<AgentClass, ulong> read)
    {
        yield return new Measurement<long>((long)read(AgentClass.Normal), new KeyValuePair<string, object?>("class", "normal"));
        yield return new Measurement<long>((long)read(AgentClass.Burst), new KeyValuePair<string, object?>("class", "burst"));
        yield return new Measurement<long>((long)read(AgentClass.Batch), new KeyValuePair<string, object?>("class", "batch"));
    }

    /// <summary>
    /// One read of the scheduler's maps serves every instrument of a collection (they are read
    /// within <see cref="s_readingTtl"/> of each other); nothing without an attached scheduler.
    /// </summary>
    private (DateTimeOffset At, IReadOnlyDictionary<AgentStat, ulong>? Stats, AgentLatencySnapshot? Latency, AgentStepSnapshot? Steps) Read()
    {
        lock (_gate)
        {
            DateTimeOffset now = _time.GetUtcNow();
            if (now - _reading.At < s_readingTtl)
            {
                return _reading;
            }
            SchedulerReading? reading = _supervisor.ReadScheduler();
            _reading = (now, reading?.Stats, reading?.Latency, reading?.Steps);
            return _reading;
        }
    }

    public void Dispose() => Meter.Dispose();
}
