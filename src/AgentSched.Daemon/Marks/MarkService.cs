using AgentSched.Daemon.State;
using AgentSched.Interop.Kernel;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Marks;

/// <summary>
/// Keeps the marks true over time: restores persisted marks at start, ends windows when they end
/// (the scheduler also does in BPF; in fallback mode only this does), drops marks of exited tasks
/// (checked every second), persists changes no request waited for, and at a clean stop undoes
/// every mark's effect on its task while keeping the marks persisted for the next start (not at a
/// stop caused by a failed service: <see cref="DaemonFault"/>).
/// </summary>
internal sealed partial class MarkService(MarkRegistry registry, MarkStore store, IServiceProvider services, ILogger<MarkService> logger) : BackgroundService
{
    private static readonly TimeSpan s_liveness = TimeSpan.FromSeconds(1);
    private readonly SemaphoreSlim _wake = new(0, 1);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        List<PersistedMark> persisted = store.Load();
        if (persisted.Count > 0)
        {
            (int restored, int skipped) = registry.Restore(persisted);
            LogRestored(restored, skipped, store.Path);
        }
        registry.Changed += Wake;
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        DateTime nextLiveness = DateTime.UtcNow;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                ulong now = MonotonicClock.NowNs();
                if (registry.NextDeadline <= now || DateTime.UtcNow >= nextLiveness)
                {
                    registry.Sweep();
                    nextLiveness = DateTime.UtcNow + s_liveness;
                }
                await store.FlushAsync(stoppingToken).ConfigureAwait(false);

                ulong deadline = registry.NextDeadline;
                TimeSpan wait = s_liveness;
                now = MonotonicClock.NowNs();
                if (deadline != ulong.MaxValue)
                {
                    wait = deadline <= now ? TimeSpan.Zero : TimeSpan.FromTicks((long)Math.Min((deadline - now) / 100, (ulong)s_liveness.Ticks));
                }
                if (wait > TimeSpan.Zero)
                {
                    await _wake.WaitAsync(wait, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        registry.Changed -= Wake;
        if (DaemonFault.Of(services) is not null)
        {
            await store.FlushAsync(CancellationToken.None, compact: true).ConfigureAwait(false);
            LogLeftInForce(registry.Count, store.Path);
            return;
        }
        registry.RestoreAll();
        await store.FlushAsync(CancellationToken.None, compact: true).ConfigureAwait(false);
        if (registry.Count > 0)
        {
            LogKept(registry.Count, store.Path);
        }
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "restored {Restored} persisted marks ({Skipped} skipped: exited, pid reused or windows ended) from {Path}")]
    private partial void LogRestored(int restored, int skipped, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "stopping after a failure: the {Count} marks stay in force and in {Path} for the next start")]
    private partial void LogLeftInForce(int count, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "restored the scheduling of {Count} marked tasks; their marks stay in {Path} for the next start")]
    private partial void LogKept(int count, string path);
}
