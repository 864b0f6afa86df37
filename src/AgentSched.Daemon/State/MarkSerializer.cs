using System.Text.Json;
using AgentSched.Daemon.Marks;
using AgentSched.Interop.Kernel;
using AgentSched.Protocol;

namespace AgentSched.Daemon.State;

/// <summary>
/// The on-disk form of a mark: one JSON object, used as an element of marks.json and, with an
/// <c>"op"</c> of <c>put</c> or <c>del</c>, as a line of marks.journal.
/// </summary>
internal static class MarkSerializer
{
    public static void Write(Utf8JsonWriter w, PersistedMark m, string? op = null)
    {
        w.WriteStartObject();
        if (op is not null) w.WriteString("op", op);
        w.WriteNumber("pid", m.Pid);
        w.WriteBoolean("thread", m.IsThread);
        w.WriteNumber("start_time", m.StartTimeTicks);
        w.WriteNumber("requester_uid", m.RequesterUid);
        MarkState s = m.State;
        if (s.Class is { } c) w.WriteString("class", TaskClassNames.Name(c));
        if (s.EndNs is { } end) w.WriteNumber("end_ns", end);
        if (s.HomeCpu is { } home) w.WriteNumber("home_cpu", home);
        if (s.BudgetUs is { } budget) w.WriteNumber("budget_us", budget);
        if (s.StepEndNs is { } stepEnd) w.WriteNumber("step_end_ns", stepEnd);
        if (s.StepBudgetUs is { } stepBudget) w.WriteNumber("step_budget_us", stepBudget);
        if (s.Grant is { } grant)
        {
            w.WriteNumber("grant_window_ms", grant.WindowMs);
            w.WriteNumber("grant_seq", grant.Seq);
            if (grant.BudgetUs is { } grantBudget) w.WriteNumber("grant_budget_us", grantBudget);
        }
        w.WriteStartArray("saved");
        foreach ((int tid, SavedThread saved) in m.Saved.OrderBy(p => p.Key))
        {
            SchedAttr a = saved.Attr;
            w.WriteStartObject();
            w.WriteNumber("tid", tid);
            w.WriteNumber("start_time", saved.StartTime);
            w.WriteNumber("policy", (uint)a.Policy);
            w.WriteNumber("nice", a.Nice);
            w.WriteNumber("rt_priority", a.RtPriority);
            w.WriteNumber("runtime_ns", a.RuntimeNs);
            w.WriteNumber("flags", a.Flags);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>A mark as one line of JSON (no newline), for the journal and for comparing marks.</summary>
    public static byte[] ToLine(PersistedMark m, string? op = null)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            Write(w, m, op);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A journal line removing a mark.</summary>
    public static byte[] DeleteLine(int pid, ulong startTime) =>
        System.Text.Encoding.UTF8.GetBytes($"{{\"op\":\"del\",\"pid\":{pid},\"start_time\":{startTime}}}");

    public static PersistedMark Read(JsonElement m)
    {
        TaskClass? c = null;
        if (m.TryGetProperty("class", out JsonElement cls))
        {
            c = TaskClassNames.TryParse(cls.GetString(), out TaskClass parsed) ? parsed : throw new InvalidDataException($"unknown class '{cls}'");
        }
        var state = new MarkState(c, OptU64(m, "end_ns"), OptI32(m, "home_cpu"), OptI32(m, "budget_us"), OptU64(m, "step_end_ns"), OptI32(m, "step_budget_us"),
            OptI32(m, "grant_window_ms") is { } grantWindow
                ? new StepGrant(grantWindow, OptI32(m, "grant_budget_us"), (uint?)OptU64(m, "grant_seq") ?? StepGrant.NewSeq()) : null);
        int pid = m.GetProperty("pid").GetInt32();
        ulong startTime = m.GetProperty("start_time").GetUInt64();
        var saved = new Dictionary<int, SavedThread>();
        foreach (JsonElement a in m.GetProperty("saved").EnumerateArray())
        {
            int tid = a.GetProperty("tid").GetInt32();
            // Files from before threads carried their start time: the entry's own task is known by the
            // mark's; another thread cannot be told from a task that reused its tid, so it is never acted on (0).
            ulong threadStart = OptU64(a, "start_time") ?? (tid == pid ? startTime : 0);
            saved[tid] = new SavedThread(threadStart, new SchedAttr(
                (SchedPolicy)a.GetProperty("policy").GetUInt32(), a.GetProperty("nice").GetInt32(),
                a.GetProperty("rt_priority").GetUInt32(), a.GetProperty("runtime_ns").GetUInt64(), a.GetProperty("flags").GetUInt64()));
        }
        return new PersistedMark(pid, m.GetProperty("thread").GetBoolean(), startTime, m.GetProperty("requester_uid").GetUInt32(), state, saved);
    }

    private static ulong? OptU64(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) ? v.GetUInt64() : null;

    private static int? OptI32(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) ? v.GetInt32() : null;
}
