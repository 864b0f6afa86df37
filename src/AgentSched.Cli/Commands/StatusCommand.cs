using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AgentSched.Client;
using AgentSched.Interop.Kernel;
using AgentSched.Protocol;

namespace AgentSched.Cli.Commands;

/// <summary><c>agentsched status</c>: the daemon's mode and health, the kernel's sched_ext state, marks per class.</summary>
internal static class StatusCommand
{
    public static Command Create(CliConsole console, CliEnvironment environment)
    {
        Option<bool> json = CommonOptions.Json("the same data");
        var command = new Command("status", "Show the daemon's mode and health, sched_ext's state, and the marked tasks per class.") { json };
        command.SetAction(async (parsed, token) =>
        {
            SchedExtStatus kernel = environment.ReadKernel();
            DaemonStatus? daemon = null;
            string? error = null;
            bool refused = false;
            using (AgentSchedClient client = CliApp.Connect(parsed))
            {
                try
                {
                    daemon = await client.StatusAsync(token);
                }
                catch (AgentSchedUnavailableException e)
                {
                    error = e.Detail;
                }
                catch (AgentSchedException e)
                {
                    error = $"status failed: {e.Code}: {e.Detail}";
                    refused = true;
                }
            }
            if (parsed.GetValue(json))
            {
                console.Out.WriteLine(ToJson(CliApp.SocketPath(parsed), daemon, error, kernel));
            }
            else
            {
                Print(console.Out, daemon, error, kernel);
            }
            return daemon is not null ? (int)ReturnCode.Ok : refused ? (int)ReturnCode.Error : (int)ReturnCode.DaemonUnavailable;
        });
        return command;
    }

    internal static void Print(TextWriter o, DaemonStatus? d, string? error, SchedExtStatus k)
    {
        if (d is null)
        {
            o.WriteLine(error is not null && error.StartsWith("status failed", StringComparison.Ordinal) ? $"daemon      {error}" : $"daemon      not reachable: {error}");
        }
        else
        {
            o.WriteLine($"daemon      running (pid {d.DaemonPid}, up {Durations.FormatUptime(d.Uptime)}, version {d.Version})");
            o.WriteLine($"mode        {d.Mode} ({d.Reason})");
            o.WriteLine($"health      {(d.Healthy ? "ok" : "UNHEALTHY: the daemon is not in the mode it was configured for, or cannot save marks (see mode)")}");
        }
        o.WriteLine($"kernel      {k.KernelRelease}");
        if (!k.Supported)
        {
            o.WriteLine("sched_ext   unsupported (this kernel lacks CONFIG_SCHED_CLASS_EXT; see agentsched doctor)");
        }
        else
        {
            string ops = k.Ops is null ? "no scheduler attached"
                : $"{k.Ops}{(k.SwitchAll is { } all ? (all ? " (full: every task)" : " (partial: SCHED_EXT tasks only)") : "")}";
            o.WriteLine($"sched_ext   {k.State}, {ops}{(k.EnableSeq is { } seq ? $", enable_seq {seq}" : "")}");
        }
        if (d is null)
        {
            return;
        }
        o.WriteLine($"scheduler   attached {Times(d.Attaches)}, ejected {Times(d.Ejections)}");
        if (d.LastEjection is { } e)
        {
            o.WriteLine($"ejection    {e.At} {e.Kind}: {e.Reason}{(e.Message.Length > 0 ? $" ({e.Message})" : "")}");
        }
        string Count(TaskClass c) => d.Marks.TryGetValue(c, out int n) ? n.ToString(CultureInfo.InvariantCulture) : "0";
        o.WriteLine($"marks       burst {Count(TaskClass.Burst)}, batch {Count(TaskClass.Batch)}, normal {Count(TaskClass.Normal)}");
    }

    private static string Times(int n) => n == 1 ? "1 time" : $"{n} times";

    /// <summary>The stable --json shape (docs/cli.md).</summary>
    internal static string ToJson(string socket, DaemonStatus? daemon, string? error, SchedExtStatus k) => JsonText.Write(w =>
    {
        w.WriteString("socket", socket);
        if (daemon is null)
        {
            w.WriteNull("daemon");
        }
        else
        {
            w.WriteStartObject("daemon");
            foreach (JsonProperty p in daemon.Json.EnumerateObject())
            {
                if (p.Name is "v" or "ok" or "id") continue;
                p.WriteTo(w);
            }
            w.WriteEndObject();
        }
        if (error is null) w.WriteNull("error"); else w.WriteString("error", error);
        w.WriteString("kernel", k.KernelRelease);
        w.WriteStartObject("sched_ext");
        w.WriteBoolean("supported", k.Supported);
        w.WriteString("state", k.State);
        if (k.Ops is null) w.WriteNull("ops"); else w.WriteString("ops", k.Ops);
        if (k.EnableSeq is { } seq) w.WriteNumber("enable_seq", seq); else w.WriteNull("enable_seq");
        if (k.SwitchAll is { } all) w.WriteBoolean("switch_all", all); else w.WriteNull("switch_all");
        w.WriteEndObject();
    });
}
