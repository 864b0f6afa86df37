using AgentSched.Daemon;
using AgentSched.Daemon.Configuration;
using AgentSched.Daemon.Logging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Extensions.Logging;

// agentschedd: loads the agent_class sched_ext scheduler (or falls back to EEVDF controls), keeps it
// attached through ejections, and serves the socket API agent runtimes mark their tasks through.
// Configuration, lowest precedence first: appsettings.json beside the binary,
// /etc/agentsched/agentsched.json, AGENTSCHED_Section__Key environment variables, the command line
// (e.g. --Scheduler:SliceUs=2000). DaemonConfiguration checks all of it before anything starts.

DaemonCommandLine commandLine = DaemonCommandLine.Parse(args);
if (commandLine.Help)
{
    Console.Out.Write(DaemonCommandLine.Usage);
    return (int)DaemonExitCode.Ok;
}
if (commandLine.Version)
{
    Console.Out.WriteLine($"agentschedd {DaemonCommandLine.VersionText}");
    return (int)DaemonExitCode.Ok;
}
if (commandLine.Error is { } usage)
{
    Console.Error.WriteLine($"agentschedd: {usage}");
    return (int)DaemonExitCode.InvalidConfiguration;
}

// A reload (SIGHUP) reads the same sources again, through the same check.
ConfigurationSources Sources() => ConfigurationSources.FromProcess(commandLine.Settings);
ConfigurationResult configuration = DaemonConfiguration.Load(Sources());
if (configuration is not { Settings: { } settings, Root: { } root })
{
    foreach (string error in configuration.Errors)
    {
        Console.Error.WriteLine($"agentschedd: invalid configuration: {error}");
    }
    return (int)DaemonExitCode.InvalidConfiguration;
}

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    ContentRootPath = AppContext.BaseDirectory,
});
builder.Configuration.Sources.Clear();
builder.Configuration.AddConfiguration(root);

Log.Logger = DaemonLogging.Create(settings.Logging, journal: Environment.GetEnvironmentVariable("JOURNAL_STREAM") is { Length: > 0 });
builder.Logging.ClearProviders();
builder.Logging.AddSerilog(Log.Logger, dispose: true);
// Startup failures are reported once, by the catch below, not also by the host's own logger.
// (AddSerilog adds a provider-specific rule, which outranks a general one: name the provider.)
builder.Logging.AddFilter<SerilogLoggerProvider>("Microsoft.Extensions.Hosting", LogLevel.None);
builder.Logging.SetMinimumLevel(LogLevel.Trace); // Serilog applies Logging:Level

builder.Services.AddAgentSched(settings, Sources);

try
{
    using IHost host = builder.Build();
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
