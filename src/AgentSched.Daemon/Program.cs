using AgentSched.Daemon;
using AgentSched.Daemon.Logging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Extensions.Logging;

// agentschedd: loads the agent_class sched_ext scheduler (or falls back to EEVDF controls), keeps it
// attached through ejections, and serves the socket API agent runtimes mark their tasks through.
// Configuration, lowest precedence first: appsettings.json beside the binary,
// /etc/agentsched/agentsched.json, AGENTSCHED_* environment variables, the command line
// (e.g. --Scheduler:SliceUs=2000).

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory,
});
builder.Configuration.Sources.Clear();
builder.Configuration
    .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
    .AddJsonFile(Environment.GetEnvironmentVariable("AGENTSCHED_CONFIG") ?? "/etc/agentsched/agentsched.json", optional: true)
    .AddEnvironmentVariables("AGENTSCHED_")
    .AddCommandLine(args);

Log.Logger = DaemonLogging.Create(
    builder.Configuration["Logging:Format"],
    builder.Configuration["Logging:Level"],
    journal: Environment.GetEnvironmentVariable("JOURNAL_STREAM") is { Length: > 0 });
builder.Logging.ClearProviders();
builder.Logging.AddSerilog(Log.Logger, dispose: true);
// Startup failures are reported once, by the catch below, not also by the host's own logger.
// (AddSerilog adds a provider-specific rule, which outranks a general one: name the provider.)
builder.Logging.AddFilter<SerilogLoggerProvider>("Microsoft.Extensions.Hosting", LogLevel.None);
builder.Logging.SetMinimumLevel(LogLevel.Trace); // Serilog applies Logging:Level

builder.Services.AddAgentSched(builder.Configuration);

try
{
    using IHost host = builder.Build();
    AgentSchedServiceCollectionExtensions.ValidateAllOptions(host.Services);
    // RunAsync would dispose the host on return; the fault check below still needs its services.
    await host.StartAsync();
    await host.WaitForShutdownAsync();
    if (DaemonFault.Of(host.Services) is { } fault)
    {
        // A service failed (a bug): the host stopped without saying why, so say it here, and exit
        // non-zero so that systemd restarts the daemon (marks were left in force: DaemonFault).
        Log.Logger.Fatal(fault, "agentschedd stopped because a service failed");
        Console.Error.WriteLine($"agentschedd: stopped because a service failed: {fault.Message}");
        return (int)DaemonExitCode.Unexpected;
    }
    return (int)DaemonExitCode.Ok;
}
catch (DaemonStartupException e)
{
    Console.Error.WriteLine($"agentschedd: {e.Message}");
    return (int)e.ExitCode;
}
catch (Exception e) when (e is OptionsValidationException
    || (e is AggregateException a && a.InnerExceptions.All(x => x is OptionsValidationException)))
{
    // One options type failing is thrown as itself; several arrive together in an AggregateException.
    IEnumerable<OptionsValidationException> all = e is AggregateException agg
        ? agg.InnerExceptions.Cast<OptionsValidationException>()
        : [(OptionsValidationException)e];
    foreach (string failure in all.SelectMany(x => x.Failures))
    {
        Console.Error.WriteLine($"agentschedd: invalid configuration: {failure}");
    }
    return (int)DaemonExitCode.InvalidConfiguration;
}
