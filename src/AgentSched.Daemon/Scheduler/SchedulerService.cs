using System.Diagnostics;
using AgentSched.Interop;
using AgentSched.Interop.Kernel;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Scheduler;

/// <summary>Attaches agent_class when the daemon starts and detaches it when the daemon stops.</summary>
public sealed partial class SchedulerService(
    IBpfScheduler scheduler,
    IOptions<SchedulerOptions> options,
    Func<SchedExtStatus> readStatus,
    ILogger<SchedulerService> logger) : IHostedService
{
    private const int EPERM = 1, EBUSY = 16, EEXIST = 17;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        SchedExtStatus status = readStatus();
        if (!status.Supported)
        {
            throw new DaemonStartupException(DaemonExitCode.NoSchedExt,
                $"this kernel ({status.KernelRelease}) has no sched_ext (CONFIG_SCHED_CLASS_EXT); see agentsched doctor");
        }
        if (status.State != "disabled")
        {
            throw Busy(status);
        }

        SchedulerOptions o = options.Value;
        long started = Stopwatch.GetTimestamp();
        try
        {
            scheduler.Attach(o);
        }
        catch (BpfException e) when (e.Errno is EBUSY or EEXIST && e.Operation == "bpf_map__attach_struct_ops")
        {
            throw Busy(readStatus(), e);
        }
        catch (BpfException e) when (e.Errno == EPERM)
        {
            throw new DaemonStartupException(DaemonExitCode.PermissionDenied,
                $"loading the scheduler was refused ({e.Operation}: EPERM): agentschedd needs root, or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN", e);
        }
        catch (BpfException e)
        {
            throw new DaemonStartupException(DaemonExitCode.LoadFailed, $"loading the agent_class scheduler failed: {e.Message}", e);
        }
        catch (Exception e) when (e is KeyNotFoundException or ArgumentException or IOException)
        {
            // A Scheduler:ObjectPath object that lacks a tunable or map agentschedd sets, or cannot be read.
            throw new DaemonStartupException(DaemonExitCode.LoadFailed, $"loading the agent_class scheduler failed: {e.Message}", e);
        }

        TimeSpan took = Stopwatch.GetElapsedTime(started);
        status = readStatus();
        LogAttached(status.Ops ?? "?", status.State, (long)took.TotalMilliseconds, o.SliceUs, o.BatchSliceMultiplier, status.KernelRelease);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (scheduler.IsAttached)
        {
            scheduler.Detach();
            LogDetached(readStatus().State);
        }
        return Task.CompletedTask;
    }

    private static DaemonStartupException Busy(SchedExtStatus status, Exception? inner = null) =>
        new(DaemonExitCode.SchedulerBusy,
            $"another sched_ext scheduler is already attached ({status.Ops ?? "unknown"}, state {status.State}); detach it before starting agentschedd",
            inner);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "scheduler {Ops} attached in {AttachMs} ms (sched_ext {State}; slice {SliceUs} us, batch x{BatchMult}; kernel {Kernel})")]
    private partial void LogAttached(string ops, string state, long attachMs, int sliceUs, int batchMult, string kernel);

    [LoggerMessage(Level = LogLevel.Information, Message = "scheduler detached (sched_ext {State})")]
    private partial void LogDetached(string state);
}
