using System.Buffers;
using System.Reflection;
using System.Text;
using System.Text.Json;
using AgentSched.Daemon.Marks;
using AgentSched.Daemon.Scheduler;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;
using AgentSched.Protocol;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Api;

/// <summary>Executes one parsed request for a peer and writes its response (docs/protocol.md).</summary>
internal sealed partial class RequestHandler(
    MarkRegistry registry,
    SchedulerSupervisor supervisor,
    State.MarkStore store,
    StepsQuery steps,
    ApiCounters counters,
    Func<SchedExtStatus> readStatus,
    TimeProvider time,
    ILogger<RequestHandler> logger)
{
    private static readonly string s_version =
        typeof(RequestHandler).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    private readonly DateTimeOffset _started = time.GetUtcNow();

    /// <summary>Handles a request; true when it changed marks that must be on disk before the response is sent.</summary>
    public bool Handle(PeerCredentials peer, ApiRequest request, IBufferWriter<byte> output)
    {
        counters.Request(request.Op);
        RegistryResult result;
        try
        {
            result = Execute(peer, request);
        }
        catch (Exception e) when (e is OutOfMemoryException || MarkRegistry.IsExhaustion(e))
        {
            // The registry answers what it anticipates; this is a /proc read or an allocation elsewhere.
            result = RegistryResult.Fail(ErrorCode.ResourceExhausted,
                $"agentschedd is out of a resource it needs ({e.Message}); the request had no effect, retry later");
        }
        if (result.Error is { } error)
        {
            Error(output, request.IdJson, error);
            LogRefused(ApiOpNames.Name(request.Op), peer.Pid, peer.Uid, error.Code, error.Message);
            return false;
        }
        ResponseWriter.WriteOk(output, request.IdJson, result.Body);
        LogServed(ApiOpNames.Name(request.Op), peer.Pid, peer.Uid);
        // Standing marks always wait for the disk. Steps wait only in fallback mode, where the daemon
        // must undo them after a crash; in sched_ext mode a step lives in the pinned hint map and ends by itself.
        // A grant is a standing right, persisted like a mark.
        return request.Op is ApiOp.Mark or ApiOp.Unmark or ApiOp.StepGrant or ApiOp.StepRevoke || (request.Op is ApiOp.StepBegin or ApiOp.StepEnd && registry.Mode == "fallback");
    }

    private RegistryResult Execute(PeerCredentials peer, ApiRequest request) => request.Op switch
    {
        ApiOp.Ping => new RegistryResult(null, null),
        ApiOp.Mark => registry.Mark(peer, request),
        ApiOp.Unmark => registry.Unmark(peer, request),
        ApiOp.StepBegin => registry.StepBegin(peer, request),
        ApiOp.StepEnd => registry.StepEnd(peer, request),
        ApiOp.Status => new RegistryResult(null, WriteStatus),
        ApiOp.Stats => new RegistryResult(null, WriteStats),
        ApiOp.Steps => steps.Run(peer, request),
        ApiOp.StepGrant => registry.StepGrant(peer, request),
        ApiOp.StepRevoke => registry.StepRevoke(peer, request),
        _ => RegistryResult.Fail(ErrorCode.UnknownOp, "unknown op"),
    };

    /// <summary>Writes an error response and counts it.</summary>
    public void Error(IBufferWriter<byte> output, byte[]? idJson, ProtocolError error)
    {
        counters.Error(error.Code);
        ResponseWriter.WriteError(output, idJson, error);
    }

    private void WriteStatus(Utf8JsonWriter w)
    {
        SchedulerState s = supervisor.State;
        SchedExtStatus k = readStatus();
        DateTimeOffset now = time.GetUtcNow();
        w.WriteString("mode", s.Mode);
        string? stateProblem = store.Problem;
        w.WriteString("reason", stateProblem is null ? s.Reason : $"{s.Reason}; {stateProblem}");
        w.WriteBoolean("healthy", s.Healthy && stateProblem is null);
        w.WriteString("since", s.Since);
        w.WriteString("version", s_version);
        w.WriteNumber("daemon_pid", Environment.ProcessId);
        w.WriteNumber("uptime_s", Math.Round((now - _started).TotalSeconds, 1));
        w.WriteString("kernel", k.KernelRelease);
        w.WriteStartObject("sched_ext");
        w.WriteBoolean("supported", k.Supported);
        w.WriteString("state", k.State);
        w.WriteString("ops", k.Ops);
        if (k.EnableSeq is { } seq) w.WriteNumber("enable_seq", seq); else w.WriteNull("enable_seq");
        if (k.SwitchAll is { } all) w.WriteBoolean("switch_all", all); else w.WriteNull("switch_all");
        w.WriteEndObject();
        w.WriteBoolean("partial", s.Partial);
        w.WriteNumber("attaches", s.Attaches);
        w.WriteNumber("ejections", s.Ejections);
        if (s.LastEjection is { } e)
        {
            w.WriteStartObject("last_ejection");
            w.WriteString("at", e.At);
            w.WriteString("kind", e.Exit.KindName);
            w.WriteNumber("kind_code", e.Exit.Kind);
            w.WriteString("reason", e.Exit.Reason);
            w.WriteString("message", e.Exit.Message);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("last_ejection");
        }
        w.WriteStartObject("marks");
        foreach ((TaskClass c, int n) in registry.CountByClass())
        {
            w.WriteNumber(TaskClassNames.Name(c), n);
        }
        w.WriteEndObject();
        w.WriteNumber("connections", counters.ConnectionsOpen);
    }

    private void WriteStats(Utf8JsonWriter w)
    {
        w.WriteString("mode", supervisor.State.Mode);
        SchedulerReading? reading = supervisor.ReadScheduler();
        IReadOnlyDictionary<AgentStat, ulong>? stats = reading?.Stats;
        AgentLatencySnapshot? latency = reading?.Latency;
        if (stats is null)
        {
            w.WriteNull("scheduler");
        }
        else
        {
            w.WriteStartObject("scheduler");
            foreach ((AgentStat stat, ulong value) in stats.OrderBy(p => p.Key))
            {
                w.WriteNumber(SnakeCase(stat.ToString()), value);
            }
            w.WriteEndObject();
        }
        if (latency is null)
        {
            w.WriteNull("wait");
        }
        else
        {
            w.WriteStartObject("wait");
            foreach (AgentClass c in Enum.GetValues<AgentClass>())
            {
                w.WriteStartObject(SnakeCase(c.ToString()));
                w.WriteNumber("count", latency.Count(c));
                WriteHistogram(w, latency.Histogram(c));
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        WriteSteps(w, reading?.Steps);
        w.WriteStartObject("api");
        w.WriteNumber("requests", counters.Requests);
        w.WriteStartObject("ops");
        foreach ((ApiOp op, long n) in counters.Ops()) w.WriteNumber(ApiOpNames.Name(op), n);
        w.WriteEndObject();
        w.WriteStartObject("errors");
        foreach ((string code, long n) in counters.Errors()) w.WriteNumber(code, n);
        w.WriteEndObject();
        w.WriteNumber("connections", counters.ConnectionsOpen);
        w.WriteNumber("connections_total", counters.ConnectionsTotal);
        w.WriteEndObject();
    }

    private static void WriteSteps(Utf8JsonWriter w, AgentStepSnapshot? steps)
    {
        if (steps is null)
        {
            w.WriteNull("steps");
            return;
        }
        w.WriteStartObject("steps");
        foreach (AgentClass c in Enum.GetValues<AgentClass>())
        {
            w.WriteStartObject(SnakeCase(c.ToString()));
            w.WriteNumber("count", steps.Steps(c));
            w.WriteNumber("migrations", steps.Migrations(c));
            w.WriteNumber("preemptions", steps.Preemptions(c));
            w.WriteNumber("home_hits", steps.HomeHits(c));
            foreach (AgentStepTime t in Enum.GetValues<AgentStepTime>())
            {
                w.WriteStartObject(SnakeCase(t.ToString()));
                WriteHistogram(w, steps.Histogram(c, t));
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>A log2 histogram's percentiles (bucket upper bounds), maximum when kept, sum and buckets.</summary>
    private static void WriteHistogram(Utf8JsonWriter w, Log2Histogram h)
    {
        w.WriteNumber("p50_us", h.PercentileUpperBoundNs(50) / 1000.0);
        w.WriteNumber("p99_us", h.PercentileUpperBoundNs(99) / 1000.0);
        if (h.MaxNs is { } max) w.WriteNumber("max_us", max / 1000.0);
        w.WriteNumber("sum_us", h.SumNs / 1000.0);
        w.WriteStartArray("buckets");
        foreach (ulong b in h.Buckets) w.WriteNumberValue(b);
        w.WriteEndArray();
    }

    /// <summary>DispatchBurst → dispatch_burst.</summary>
    internal static string SnakeCase(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            if (char.IsUpper(pascal[i]) && i > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(pascal[i]));
        }
        return sb.ToString();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Op} from pid {Pid} uid {Uid}: ok")]
    private partial void LogServed(string op, int pid, uint uid);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Op} from pid {Pid} uid {Uid}: {Code}: {Message}")]
    private partial void LogRefused(string op, int pid, uint uid, string code, string message);
}
