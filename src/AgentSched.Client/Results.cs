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

    internal StepScope(AgentSchedClient? client, int? tid, bool applied, TimeSpan? window)
    {
        _client = client;
        _tid = tid;
        Applied = applied;
        Window = window;
        if (!applied) _ended = 1;
    }

    /// <summary>False when the daemon was unavailable and no window was opened; disposing is then a no-op.</summary>
    public bool Applied { get; }

    /// <summary>The window the daemon granted; null when not applied.</summary>
    public TimeSpan? Window { get; }

    /// <summary>Ends the window (<c>step_end</c>). A daemon that went away meanwhile is not an error: the window ends by itself.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0 && _client is not null)
        {
            _client.EndStepAsync(_tid, synchronous: true).GetAwaiter().GetResult();
        }
    }

    /// <inheritdoc cref="Dispose"/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0 && _client is not null)
        {
            await _client.EndStepAsync(_tid, synchronous: false).ConfigureAwait(false);
        }
    }
}
