using System.Text.Json;

namespace AgentSched.Protocol;

/// <summary>
/// The fields of one step record, as a <c>steps</c> answer carries it (docs/protocol.md). agentschedd
/// writes them from the scheduler's ring, <c>agentsched trace --json</c> from the record it got, so
/// both spell the record the same way.
/// </summary>
public static class StepJson
{
    /// <summary>Writes the record's fields into the object <paramref name="w"/> is in.</summary>
    public static void WriteFields(Utf8JsonWriter w, long seq, long endNs, TaskClass cls, long totalNs, long waitNs, long runNs,
        int cpu, int homeCpu, bool homeHit, int migrations, int preemptions, bool demoted)
    {
        w.WriteNumber("seq", seq);
        w.WriteNumber("end_ns", endNs);
        w.WriteString("class", TaskClassNames.Name(cls));
        w.WriteNumber("total_ns", totalNs);
        w.WriteNumber("wait_ns", waitNs);
        w.WriteNumber("run_ns", runNs);
        w.WriteNumber("cpu", cpu);
        w.WriteNumber("home_cpu", homeCpu);
        w.WriteBoolean("home_hit", homeHit);
        w.WriteNumber("migrations", migrations);
        w.WriteNumber("preemptions", preemptions);
        w.WriteBoolean("demoted", demoted);
    }
}
