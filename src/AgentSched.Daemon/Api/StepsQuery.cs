using System.Text.Json;
using AgentSched.Daemon.Marks;
using AgentSched.Daemon.Scheduler;
using AgentSched.Interop;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;
using AgentSched.Protocol;

namespace AgentSched.Daemon.Api;

/// <summary>
/// The <c>steps</c> operation: the recent steps agent_class recorded for each thread of a process
/// (or for one thread), read from its <c>step_rings</c> map through a pidfd per thread. The same
/// ownership rule as <c>mark</c> applies.
/// </summary>
internal sealed class StepsQuery(SchedulerSupervisor supervisor)
{
    private const int ENOENT = 2, ESRCH = 3, EINVAL = 22;

    public RegistryResult Run(PeerCredentials peer, ApiRequest request)
    {
        int pid = request.Pid!.Value;
        if (!supervisor.TracesSteps)
        {
            return NotTracing();
        }
        ProcessHandle target;
        bool isThread = false;
        try
        {
            try
            {
                target = ProcessHandle.Open(pid);
            }
            catch (SyscallException e) when (e.Errno is EINVAL or ENOENT)
            {
                // Not a thread-group leader (EINVAL, or ENOENT on newer kernels such as 6.18): one thread.
                target = ProcessHandle.OpenThread(pid);
                isThread = true;
            }
        }
        catch (SyscallException e) when (e.Errno == ESRCH)
        {
            return RegistryResult.Fail(ErrorCode.NoSuchProcess, $"no process or thread with id {pid}");
        }
        using (target)
        {
            if (!MarkRegistry.Authorize(peer, target, "trace", out RegistryResult denied))
            {
                return denied;
            }
            IReadOnlyList<int> tids;
            try
            {
                tids = isThread ? [pid] : target.ThreadIds();
            }
            catch (SyscallException e) when (e.Errno == ESRCH)
            {
                return RegistryResult.Fail(ErrorCode.NoSuchProcess, $"no process or thread with id {pid}");
            }
            // The clock is read before the rings: a step that ends while they are read ends after
            // now_ns, so a poller that asks next for after_ns = now_ns cannot miss it.
            ulong now = MonotonicClock.NowNs();
            var threads = new List<(int Tid, string Comm, TaskSteps Steps)>();
            foreach (int tid in tids)
            {
                try
                {
                    using ProcessHandle thread = ProcessHandle.OpenThread(tid);
                    // The tid was listed before it was opened: if it exited meanwhile and the id went
                    // to another process's thread, that one is not ours to read.
                    if (!isThread && !(Directory.Exists($"/proc/{pid}/task/{tid}") && thread.IsAlive))
                    {
                        continue;
                    }
                    if (supervisor.ReadSteps(thread) is { } steps)
                    {
                        threads.Add((tid, ReadComm(pid, tid), steps));
                    }
                }
                catch (Exception e) when (e is SyscallException { Errno: ESRCH } or BpfException { Errno: ESRCH })
                {
                    // the thread exited meanwhile: its steps died with it
                }
                catch (InvalidOperationException)
                {
                    return NotTracing(); // ejected while we read
                }
            }
            long after = request.AfterNs ?? -1;
            return new RegistryResult(null, w => Write(w, pid, now, after, threads));
        }
    }

    private static void Write(Utf8JsonWriter w, int pid, ulong now, long after, List<(int Tid, string Comm, TaskSteps Steps)> threads)
    {
        w.WriteNumber("pid", pid);
        w.WriteNumber("now_ns", now);
        w.WriteStartArray("threads");
        foreach ((int tid, string comm, TaskSteps steps) in threads)
        {
            w.WriteStartObject();
            w.WriteNumber("tid", tid);
            w.WriteString("comm", comm);
            w.WriteNumber("steps", steps.Steps);
            w.WriteStartArray("recent");
            foreach (TaskStep s in steps.Recent.Where(s => after < 0 || s.EndNs > (ulong)after))
            {
                w.WriteStartObject();
                // TaskClass has agent_class_id's values (checked by a test).
                StepJson.WriteFields(w, (long)s.Seq, (long)s.EndNs, (TaskClass)s.Class, (long)s.TotalNs, (long)s.WaitNs, (long)s.RunNs,
                    s.Cpu, s.HomeCpu, s.HomeHit, s.Migrations, s.Preemptions, s.Demoted);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static string ReadComm(int pid, int tid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/task/{tid}/comm").TrimEnd('\n');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static RegistryResult NotTracing() => RegistryResult.Fail(ErrorCode.NotTracing,
        "no steps are recorded: the daemon is in fallback mode or runs with Scheduler:TraceSteps=false");
}
