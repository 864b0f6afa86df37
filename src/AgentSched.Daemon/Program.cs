using AgentSched.Daemon;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Events;
using Serilog.Extensions.Logging;

// agentschedd: loads the agent_class sched_ext scheduler and keeps it attached while it runs.
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

Log.Logger = new LoggerConfiguration()
    .MinimumLevel.Information()
    .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
    .WriteTo.Console(
        outputTemplate: "{Timestamp:HH:mm:ss.fff} {Level:u3} {Message:lj}{NewLine}{Exception}",
        standardErrorFromLevel: LogEventLevel.Verbose)
    .CreateLogger();
builder.Logging.ClearProviders();
builder.Logging.AddSerilog(Log.Logger, dispose: true);
// Startup failures are reported once, by the catch below, not also by the host's own logger.
// (AddSerilog adds a provider-specific rule, which outranks a general one: name the provider.)
builder.Logging.AddFilter<SerilogLoggerProvider>("Microsoft.Extensions.Hosting", LogLevel.None);

builder.Services.AddAgentSched(builder.Configuration);

try
{
    using IHost host = builder.Build();
    await host.RunAsync();
    return (int)DaemonExitCode.Ok;
}
catch (DaemonStartupException e)
{
    Console.Error.WriteLine($"agentschedd: {e.Message}");
    return (int)e.ExitCode;
}
catch (OptionsValidationException e)
{
    foreach (string failure in e.Failures)
    {
        Console.Error.WriteLine($"agentschedd: invalid configuration: {failure}");
    }
    return (int)DaemonExitCode.InvalidConfiguration;
}
