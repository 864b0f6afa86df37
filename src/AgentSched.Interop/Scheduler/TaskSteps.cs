using AgentSched.Interop.Abi;

namespace AgentSched.Interop.Scheduler;

/// <summary>One finished step of a task, as agent_class recorded it (struct agent_step).</summary>
/// <param name="Seq">The task's step number, from 1.</param>
/// <param name="EndNs">CLOCK_MONOTONIC when the step ended (the task blocked).</param>
/// <param name="TotalNs">Became runnable → blocked.</param>
/// <param name="WaitNs">Runnable but not on a CPU, summed over the step.</param>
/// <param name="RunNs">On a CPU.</param>
/// <param name="Cpu">The CPU of its last run.</param>
/// <param name="HomeCpu">The home CPU when it began (the hint's, or where the task ran before); -1 unknown.</param>
/// <param name="Migrations">Runs on another CPU than the step's previous run (saturates at 65535).</param>
/// <param name="Preemptions">Times it lost its CPU while still runnable (saturates at 65535).</param>
/// <param name="Class">The class of its first run.</param>
/// <param name="HomeHit">Every run of the step was on <paramref name="HomeCpu"/>.</param>
/// <param name="Demoted">A budget demoted the task to NORMAL during the step.</param>
public sealed record TaskStep(
    ulong Seq, ulong EndNs, ulong TotalNs, ulong WaitNs, ulong RunNs, int Cpu, int HomeCpu,
    int Migrations, int Preemptions, AgentClass Class, bool HomeHit, bool Demoted);

/// <summary>A task's step count and its recent steps (the <c>step_rings</c> map's value for one task).</summary>
/// <param name="Steps">Steps recorded for the task so far.</param>
/// <param name="Recent">The records kept, the last <see cref="AgentStepSizes.RingLen"/> at most, oldest first.</param>
public sealed record TaskSteps(ulong Steps, IReadOnlyList<TaskStep> Recent)
{
    /// <summary>Decodes a copy of a struct agent_step_ring (read with BPF_F_LOCK, so no record is half written).</summary>
    /// <exception cref="ArgumentException"><paramref name="value"/> is not the size of one.</exception>
    public static unsafe TaskSteps Parse(ReadOnlySpan<byte> value)
    {
        if (value.Length != sizeof(AgentStepRing))
        {
            throw new ArgumentException($"a step ring is {sizeof(AgentStepRing)} bytes, not {value.Length}", nameof(value));
        }
        AgentStepRing header = MemoryMarshal.Read<AgentStepRing>(value);
        var recent = new List<TaskStep>(AgentStepSizes.RingLen);
        ReadOnlySpan<AgentStep> ring = MemoryMarshal.Cast<byte, AgentStep>(value[(int)Marshal.OffsetOf<AgentStepRing>(nameof(AgentStepRing.Ring))..]);
        foreach (ref readonly AgentStep s in ring)
        {
            if (s.Seq == 0)
            {
                continue; // a slot not written yet
            }
            var flags = (AgentStepFlags)s.Flags;
            recent.Add(new TaskStep(s.Seq, s.EndNs, s.TotalNs, s.WaitNs, s.RunNs, s.Cpu, s.HomeCpu, s.Migrations,
                s.Preemptions, (AgentClass)s.ClassId, flags.HasFlag(AgentStepFlags.Home), flags.HasFlag(AgentStepFlags.Demoted)));
        }
        recent.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        return new TaskSteps(header.Steps, recent);
    }
}
