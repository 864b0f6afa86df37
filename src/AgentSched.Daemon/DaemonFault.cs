using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AgentSched.Daemon;

/// <summary>
/// Whether the daemon is stopping because one of its services failed (a bug) rather than because it
/// was asked to. Then it stops the way <c>kill -9</c> would leave things: marks in force, the
/// scheduler attached and pinned, for the next start (which systemd's Restart=on-failure brings, as
/// the exit code is 1) to adopt. Undoing every mark because of a fault would punish every client
/// for one bug.
/// </summary>
internal static class DaemonFault
{
    /// <summary>The first failure of a background service, or null when none failed.</summary>
    public static Exception? Of(IServiceProvider services) =>
        services.GetServices<IHostedService>().OfType<BackgroundService>()
            .Select(s => s.ExecuteTask is { IsFaulted: true } t ? t.Exception!.InnerException ?? t.Exception : null)
            .FirstOrDefault(e => e is not null);
}
