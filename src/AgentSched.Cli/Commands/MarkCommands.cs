using System.CommandLine;
using System.Text.Json;
using AgentSched.Client;
using AgentSched.Protocol;

namespace AgentSched.Cli.Commands;

/// <summary><c>agentsched mark PID...</c> and <c>agentsched unmark PID...</c>.</summary>
internal static class MarkCommands
{
    public static Command CreateMark(CliConsole console)
    {
        Argument<int[]> pids = CommonOptions.Pids("Processes to mark (all their threads, and children they fork later).");
        Option<TaskClass> cls = CommonOptions.Class(TaskClass.Burst);
        Option<TimeSpan?> window = CommonOptions.Window("How long the mark lasts, 1ms to 1h (default: until unmark or the process exits).");
        Option<int?> home = CommonOptions.HomeCpu();
        Option<TimeSpan?> budget = CommonOptions.Budget();
        Option<bool> json = CommonOptions.Json("the results");
        var command = new Command("mark", "Give processes a scheduling class.") { pids, cls, window, home, budget, json };
        command.SetAction(async (parsed, token) =>
        {
            using AgentSchedClient client = CliApp.Connect(parsed);
            TaskClass c = parsed.GetValue(cls);
            TimeSpan? w = parsed.GetValue(window);
            int? h = parsed.GetValue(home);
            TimeSpan? b = parsed.GetValue(budget);
            return await ForEachPid(console, parsed.GetValue(pids)!, parsed.GetValue(json), "mark", async pid =>
            {
                MarkResult r = await client.MarkAsync(pid, c, w, h, b, token);
                return (
                    $"marked {pid} {Name(r.Class)}{(r.WindowLeft is { } left ? $" for {Durations.Format(left)}" : " until unmarked")}",
                    writer =>
                    {
                        writer.WriteString("class", Name(r.Class));
                        if (r.WindowLeft is { } left) writer.WriteNumber("window_ms", left.TotalMilliseconds); else writer.WriteNull("window_ms");
                    });
            });
        });
        return command;
    }

    public static Command CreateUnmark(CliConsole console)
    {
        Argument<int[]> pids = CommonOptions.Pids("Processes to unmark; their scheduling is restored.");
        Option<bool> json = CommonOptions.Json("the results");
        var command = new Command("unmark", "Remove processes' marks and restore their scheduling.") { pids, json };
        command.SetAction(async (parsed, token) =>
        {
            using AgentSchedClient client = CliApp.Connect(parsed);
            return await ForEachPid(console, parsed.GetValue(pids)!, parsed.GetValue(json), "unmark", async pid =>
            {
                UnmarkResult r = await client.UnmarkAsync(pid, token);
                return (
                    r.Was is { } was ? $"unmarked {pid} (was {TaskClassNames.Name(was)})" : $"unmarked {pid} (it had no mark)",
                    writer =>
                    {
                        if (r.Was is { } was) writer.WriteString("was", TaskClassNames.Name(was)); else writer.WriteNull("was");
                    });
            });
        });
        return command;
    }

    private static string Name(TaskClass? c) => c is { } v ? TaskClassNames.Name(v) : "unknown";

    /// <summary>
    /// Runs <paramref name="action"/> for every pid, printing one line (or one JSON entry) per pid.
    /// A refusal is reported and the rest still run (exit 1); an unreachable daemon stops everything (exit 3).
    /// </summary>
    private static async Task<int> ForEachPid(
        CliConsole console, int[] pids, bool json, string verb,
        Func<int, Task<(string Line, Action<Utf8JsonWriter> Fields)>> action)
    {
        var results = new List<(int Pid, string? Line, Action<Utf8JsonWriter>? Fields, AgentSchedException? Error)>();
        AgentSchedUnavailableException? lost = null;
        foreach (int pid in pids)
        {
            try
            {
                var (line, fields) = await action(pid);
                results.Add((pid, line, fields, null));
            }
            catch (AgentSchedUnavailableException e)
            {
                lost = e; // report what was done before the daemon went away, then exit 3
                break;
            }
            catch (AgentSchedException e)
            {
                results.Add((pid, null, null, e));
            }
        }
        if (json)
        {
            console.Out.WriteLine(JsonText.Write(w =>
            {
                w.WriteStartArray("results");
                foreach (var r in results)
                {
                    w.WriteStartObject();
                    w.WriteNumber("pid", r.Pid);
                    w.WriteBoolean("ok", r.Error is null);
                    if (r.Error is { } e)
                    {
                        w.WriteStartObject("error");
                        w.WriteString("code", e.Code);
                        w.WriteString("message", e.Detail);
                        w.WriteEndObject();
                    }
                    else
                    {
                        r.Fields!(w);
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }));
        }
        foreach (var r in results)
        {
            if (r.Error is { } e)
            {
                console.Error.WriteLine($"agentsched: {verb} {r.Pid}: {e.Code}: {e.Detail}");
            }
            else if (!json)
            {
                console.Out.WriteLine(r.Line);
            }
        }
        if (lost is not null)
        {
            return CliApp.Unavailable(console, lost);
        }
        return results.Any(r => r.Error is not null) ? (int)ReturnCode.Error : (int)ReturnCode.Ok;
    }
}
