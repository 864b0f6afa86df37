using System.Text.Json;
using AgentSched.Interop.Kernel;

namespace AgentSched.Cli.Tests;

public sealed class StatusCommandTests
{
    private static (int Code, string Out, string Err) Run(SchedExtStatus status, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, new CliConsole(stdout, stderr), () => status);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void ShowsTheAttachedSchedulerAndMode()
    {
        var (code, output, _) = Run(new SchedExtStatus(true, "enabled", "agent_class", 3, true, "7.3.4+deb13-cloud-amd64"), "status");

        Assert.Equal(0, code);
        Assert.Equal(
            """
            kernel      7.3.4+deb13-cloud-amd64
            sched_ext   enabled
            scheduler   agent_class (full: every task)
            enable_seq  3

            """, output);
    }

    [Fact]
    public void SaysWhySchedExtIsMissing()
    {
        var (code, output, _) = Run(new SchedExtStatus(false, "unsupported", null, null, null, "6.18.0"), "status");

        Assert.Equal(0, code);
        Assert.Contains("sched_ext   unsupported (this kernel lacks CONFIG_SCHED_CLASS_EXT; see agentsched doctor)", output);
    }

    [Fact]
    public void JsonIsTheSameData()
    {
        var (code, output, _) = Run(new SchedExtStatus(true, "disabled", null, 2, false, "6.19.14"), "status", "--json");

        Assert.Equal(0, code);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement root = doc.RootElement;
        Assert.Equal("6.19.14", root.GetProperty("kernel").GetString());
        JsonElement s = root.GetProperty("sched_ext");
        Assert.True(s.GetProperty("supported").GetBoolean());
        Assert.Equal("disabled", s.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, s.GetProperty("ops").ValueKind);
        Assert.Equal(2, s.GetProperty("enable_seq").GetInt64());
        Assert.False(s.GetProperty("switch_all").GetBoolean());
    }

    [Fact]
    public void UnknownOptionIsAUsageError()
    {
        var (code, _, err) = Run(new SchedExtStatus(false, "unsupported", null, null, null, "x"), "status", "--bogus");

        Assert.Equal((int)ReturnCode.UsageError, code);
        Assert.StartsWith("agentsched: Unrecognized command or argument '--bogus'", err);
    }
}
