using AgentSched.Cli;

return CliApp.Run(args, CliConsole.System);
