using System.Text.Json;
using AgentSched.Protocol;

namespace AgentSched.Client;

/// <summary>The outcome of <see cref="AgentSchedClient.MarkAsync"/>.</summary>
/// <param name="Applied">False when the daemon was unavailable and the call was a no-op (<see cref="DaemonUnavailableBehavior.Ignore"/>).</param>
/// <param name="Pid">The process marked.</param>
/// <param name="Class">The class now in force (an open step can make it BURST whatever the mark); null when not applied.</param>
/// <param name="WindowLeft">What is left of the mark's window; null when it has none or was not applied.</param>
public sealed record MarkResult(bool Applied, int Pid, TaskClass? Class, TimeSpan? WindowLeft);

/// <summary>The outcome of <see cref="AgentSchedClient.UnmarkAsync"/>.</summary>
/// <param name="Applied">False when the daemon was unavailable and the call was a no-op.</param>
/// <param name="Pid">The process unmarked.</param>
/// <param name="Was">The class its mark had; null when it had none (or the call was not applied).</param>
public sealed record UnmarkResult(bool Applied, int Pid, TaskClass? Was);

/// <summary>The last time the kernel ejected agent_class, as <c>status</c> reports it.</summary>
/// <param name="At">When the daemon noticed, as an ISO 8601 timestamp.</param>
/// <param name="Kind">The kernel's exit kind, e.g. <c>SCX_EXIT_SYSRQ</c>.</param>
/// <param name="Reason">The kernel's reason text.</param>
/// <param name="Message">The scheduler's or kernel's message, often empty.</param>
public sealed record Ejection(string At, string Kind, string Reason, string Message);

/// <summary>agentschedd's <c>status</c> (docs/protocol.md), with the raw response in <see cref="Json"/>.</summary>
public sealed record DaemonStatus
{
    /// <summary><c>sched_ext</c> (agent_class attached) or <c>fallback</c> (EEVDF controls).</summary>
    public required string Mode { get; init; }

    /// <summary>Why the daemon is in <see cref="Mode"/>.</summary>
    public required string Reason { get; init; }

    /// <summary>False when the daemon is not in the mode it was configured for, or cannot persist marks.</summary>
    public required bool Healthy { get; init; }

    /// <summary>The daemon's version.</summary>
    public required string Version { get; init; }

    /// <summary>The daemon's pid.</summary>
    public required int DaemonPid { get; init; }

    /// <summary>How long the daemon has run.</summary>
    public required TimeSpan Uptime { get; init; }

    /// <summary>The running kernel's release.</summary>
    public required string Kernel { get; init; }

    /// <summary>The kernel's sched_ext state: <c>enabled</c>, <c>disabled</c>, <c>unsupported</c>, ...</summary>
    public required string SchedExtState { get; init; }

    /// <summary>The attached sched_ext scheduler's name, or null.</summary>
    public required string? SchedExtOps { get; init; }

    /// <summary>Times the daemon attached agent_class, and times the kernel ejected it.</summary>
    public required int Attaches { get; init; }

    /// <inheritdoc cref="Attaches"/>
    public required int Ejections { get; init; }

    /// <summary>The last ejection, or null.</summary>
    public required Ejection? LastEjection { get; init; }

    /// <summary>Marked tasks per class in force now.</summary>
    public required IReadOnlyDictionary<TaskClass, int> Marks { get; init; }

    /// <summary>The whole response object, for fields this type does not name.</summary>
    public required JsonElement Json { get; init; }

    internal static DaemonStatus Parse(JsonElement r)
    {
        try
        {
            return ParseFields(r);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new AgentSchedException("bad_response", $"agentschedd's status lacks a field this client needs ({e.Message})", e);
        }
    }

    private static DaemonStatus ParseFields(JsonElement r)
    {
        var marks = new Dictionary<TaskClass, int>();
        foreach (JsonProperty p in r.GetProperty("marks").EnumerateObject())
        {
            if (TaskClassNames.TryParse(p.Name, out TaskClass c)) marks[c] = p.Value.GetInt32();
        }
        JsonElement ext = r.GetProperty("sched_ext");
        JsonElement e = r.GetProperty("last_ejection");
        return new DaemonStatus
        {
            Mode = r.GetProperty("mode").GetString()!,
            Reason = r.GetProperty("reason").GetString()!,
            Healthy = r.GetProperty("healthy").GetBoolean(),
            Version = r.GetProperty("version").GetString()!,
            DaemonPid = r.GetProperty("daemon_pid").GetInt32(),
            Uptime = TimeSpan.FromSeconds(r.GetProperty("uptime_s").GetDouble()),
            Kernel = r.GetProperty("kernel").GetString()!,
            SchedExtState = ext.GetProperty("state").GetString()!,
            SchedExtOps = ext.GetProperty("ops").GetString(),
            Attaches = r.GetProperty("attaches").GetInt32(),
            Ejections = r.GetProperty("ejections").GetInt32(),
            LastEjection = e.ValueKind == JsonValueKind.Object
                ? new Ejection(e.GetProperty("at").GetString()!, e.GetProperty("kind").GetString()!, e.GetProperty("reason").GetString()!, e.GetProperty("message").GetString()!)
                : null,
            Marks = marks,
            Json = r,
        };
    }
}

/// <summary>
/// An open step window (<see cref="AgentSchedClient.BeginStep"/>): the thread or process is BURST
/// until this is disposed or the window runs out, whichever comes first.
/// </summary>
public sealed class StepScope : IDisposable, IAsyncDisposable
{
    private readonly AgentSchedClient? _client;
    private readonly int? _tid;
    private int _ended;

    private readonly int _selfStepPrctl;

    internal StepScope(AgentSchedClient? client, int? tid, bool applied, TimeSpan? window, int selfStep = 0)
    {
        _client = client;
        _tid = tid;
        Applied = applied;
        Window = window;
        _selfStepPrctl = selfStep;
        if (!applied) _ended = 1;
    }

    /// <summary>
    /// The window was opened by this process itself under a grant (no daemon round trip), and is
    /// closed the same way; a thread's own window (<c>currentThreadOnly</c>) disposed on another
    /// thread is closed through the daemon instead.
    /// </summary>
    public bool IsSelfStep => _selfStepPrctl != 0;

    /// <summary>False when the daemon was unavailable and no window was opened; disposing is then a no-op.</summary>
    public bool Applied { get; }

    /// <summary>The window the daemon granted; null when not applied.</summary>
    public TimeSpan? Window { get; }

    /// <summary>Ends the window (<c>step_end</c>). A daemon that went away meanwhile is not an error: the window ends by itself.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0 && _client is not null)
        {
            if (IsSelfStep)
            {
                _client.EndSelfStepAsync(_selfStepPrctl, _tid, synchronous: true).GetAwaiter().GetResult();
                return;
            }
            _client.EndStepAsync(_tid, synchronous: true).GetAwaiter().GetResult();
        }
    }

    /// <inheritdoc cref="Dispose"/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0 && _client is not null)
        {
            if (IsSelfStep)
            {
                await _client.EndSelfStepAsync(_selfStepPrctl, _tid, synchronous: false).ConfigureAwait(false);
                return;
            }
            await _client.EndStepAsync(_tid, synchronous: false).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// agentschedd's <c>steps</c> (docs/protocol.md): the recent steps agent_class recorded for each
/// thread of a process, from <see cref="AgentSchedClient.StepsAsync"/>.
/// </summary>
/// <param name="Pid">The process (or thread) asked about.</param>
/// <param name="NowNs">The daemon's CLOCK_MONOTONIC when it answered, in ns: the clock of <see cref="StepRecord.EndNs"/>.</param>
/// <param name="Threads">The threads that have recorded steps; a thread that never finished a step while marked is left out.</param>
public sealed record TaskStepsReport(int Pid, long NowNs, IReadOnlyList<ThreadStepsReport> Threads)
{
    internal static TaskStepsReport Parse(JsonElement r)
    {
        try
        {
            return new TaskStepsReport(
                r.GetProperty("pid").GetInt32(),
                r.GetProperty("now_ns").GetInt64(),
                [.. r.GetProperty("threads").EnumerateArray().Select(ThreadStepsReport.Parse)]);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new AgentSchedException("bad_response", $"agentschedd's steps lacks a field this client needs ({e.Message})", e);
        }
    }
}

/// <summary>One thread's part of a <see cref="TaskStepsReport"/>.</summary>
/// <param name="Tid">The thread id.</param>
/// <param name="Comm">The thread's name (<c>/proc/PID/task/TID/comm</c>); empty when it could not be read.</param>
/// <param name="Steps">How many steps the thread has finished so far (its steps are numbered 1 to this).</param>
/// <param name="Recent">Its kept steps (the scheduler keeps the last 32) that ended after the <c>afterNs</c> asked for, oldest first.</param>
public sealed record ThreadStepsReport(int Tid, string Comm, long Steps, IReadOnlyList<StepRecord> Recent)
{
    internal static ThreadStepsReport Parse(JsonElement t) => new(
        t.GetProperty("tid").GetInt32(),
        t.GetProperty("comm").GetString()!,
        t.GetProperty("steps").GetInt64(),
        [.. t.GetProperty("recent").EnumerateArray().Select(StepRecord.Parse)]);
}

/// <summary>
/// One finished step of a thread: from when it became runnable after blocking to when it blocked
/// again. Times are in nanoseconds as the daemon sent them; <see cref="Total"/>, <see cref="Wait"/>
/// and <see cref="Run"/> are the same as <see cref="TimeSpan"/>s (100 ns resolution).
/// </summary>
/// <param name="Seq">The thread's step number, from 1. A jump between two reads means steps were overwritten before they were read.</param>
/// <param name="EndNs">CLOCK_MONOTONIC when the step ended, in ns (the clock of <see cref="TaskStepsReport.NowNs"/>).</param>
/// <param name="Class">The class of the step's first run.</param>
/// <param name="TotalNs">Runnable → blocked.</param>
/// <param name="WaitNs">The part spent runnable but not on a CPU, summed over the step.</param>
/// <param name="RunNs">The part spent on a CPU.</param>
/// <param name="Cpu">The CPU the step last ran on.</param>
/// <param name="HomeCpu">The home CPU when the step began (the mark's <c>home_cpu</c>, or where the task ran before); -1 when unknown.</param>
/// <param name="HomeHit">Every run of the step was on <paramref name="HomeCpu"/>.</param>
/// <param name="Migrations">Runs on another CPU than the step's previous run.</param>
/// <param name="Preemptions">Times the step lost its CPU while still runnable.</param>
/// <param name="Demoted">A budget demoted the task to NORMAL during the step.</param>
public sealed record StepRecord(
    long Seq, long EndNs, TaskClass Class, long TotalNs, long WaitNs, long RunNs,
    int Cpu, int HomeCpu, bool HomeHit, int Migrations, int Preemptions, bool Demoted)
{
    /// <summary><see cref="TotalNs"/> as a <see cref="TimeSpan"/>.</summary>
    public TimeSpan Total => Nanoseconds(TotalNs);

    /// <summary><see cref="WaitNs"/> as a <see cref="TimeSpan"/>.</summary>
    public TimeSpan Wait => Nanoseconds(WaitNs);

    /// <summary><see cref="RunNs"/> as a <see cref="TimeSpan"/>.</summary>
    public TimeSpan Run => Nanoseconds(RunNs);

    private static TimeSpan Nanoseconds(long ns) => TimeSpan.FromTicks(ns / 100);

    internal static StepRecord Parse(JsonElement s)
    {
        string? name = s.GetProperty("class").GetString();
        if (!TaskClassNames.TryParse(name, out TaskClass c))
        {
            throw new FormatException($"unknown class '{name}'");
        }
        return new StepRecord(
            s.GetProperty("seq").GetInt64(),
            s.GetProperty("end_ns").GetInt64(),
            c,
            s.GetProperty("total_ns").GetInt64(),
            s.GetProperty("wait_ns").GetInt64(),
            s.GetProperty("run_ns").GetInt64(),
            s.GetProperty("cpu").GetInt32(),
            s.GetProperty("home_cpu").GetInt32(),
            s.GetProperty("home_hit").GetBoolean(),
            s.GetProperty("migrations").GetInt32(),
            s.GetProperty("preemptions").GetInt32(),
            s.GetProperty("demoted").GetBoolean());
    }
}
