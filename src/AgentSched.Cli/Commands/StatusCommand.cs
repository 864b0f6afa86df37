using System.CommandLine;
using System.Text.Json;
using AgentSched.Interop.Kernel;

namespace AgentSched.Cli.Commands;

/// <summary><c>agentsched status</c>: sched_ext state, the attached scheduler, the kernel.</summary>
internal static class StatusCommand
{
    private static readonly Option<bool> s_json = new("--json") { Description = "Print the same data as one JSON object." };

    public static Command Create(CliConsole console, Func<SchedExtStatus> readStatus)
    {
        var command = new Command("status", "Show whether sched_ext is available and which scheduler is attached.") { s_json };
        command.SetAction(result => Run(console, readStatus(), result.GetValue(s_json)));
        return command;
    }

    internal static int Run(CliConsole console, SchedExtStatus s, bool json)
    {
        if (json)
        {
            console.Out.WriteLine(ToJson(s));
            return (int)ReturnCode.Ok;
        }
        console.Out.WriteLine($"kernel      {s.KernelRelease}");
        if (!s.Supported)
        {
            console.Out.WriteLine("sched_ext   unsupported (this kernel lacks CONFIG_SCHED_CLASS_EXT; see agentsched doctor)");
            return (int)ReturnCode.Ok;
        }
        console.Out.WriteLine($"sched_ext   {s.State}");
        console.Out.WriteLine($"scheduler   {s.Ops ?? "none"}{(s.Ops is not null && s.SwitchAll is { } all ? (all ? " (full: every task)" : " (partial: SCHED_EXT tasks only)") : "")}");
        if (s.EnableSeq is { } seq)
        {
            console.Out.WriteLine($"enable_seq  {seq}");
        }
        return (int)ReturnCode.Ok;
    }

    /// <summary>The stable --json shape (docs/cli.md).</summary>
    internal static string ToJson(SchedExtStatus s)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("kernel", s.KernelRelease);
            w.WriteStartObject("sched_ext");
            w.WriteBoolean("supported", s.Supported);
            w.WriteString("state", s.State);
            WriteNullable(w, "ops", s.Ops);
            if (s.EnableSeq is { } seq) { w.WriteNumber("enable_seq", seq); } else { w.WriteNull("enable_seq"); }
            if (s.SwitchAll is { } all) { w.WriteBoolean("switch_all", all); } else { w.WriteNull("switch_all"); }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) { w.WriteNull(name); } else { w.WriteString(name, value); }
    }
}
