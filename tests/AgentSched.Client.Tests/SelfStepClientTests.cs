using AgentSched.Interop.Abi;
using AgentSched.Tests;

namespace AgentSched.Client.Tests;

/// <summary>
/// The client's fast path where it cannot be taken (the host has no agent_class): it asks for a
/// grant once, falls back to step_begin/step_end, and does not ask again on every step. What went
/// over the socket is the fake daemon's record of request lines.
/// </summary>
public sealed class SelfStepClientTests
{
    private static string Op(string line) => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("op").GetString()!;

    private static string[] Ops(FakeDaemon daemon) => [.. daemon.RequestLines.Select(Op)];

    private static AgentSchedClient Client(FakeDaemon daemon, bool selfSteps = true) =>
        new(new AgentSchedClientOptions { SocketPath = daemon.SocketPath, WhenUnavailable = DaemonUnavailableBehavior.Throw, SelfSteps = selfSteps });

    [Fact]
    public void ARefusedGrantIsAskedForOnceAndStepsGoThroughTheSocket()
    {
        using var daemon = new FakeDaemon(line => Op(line) == "step_grant"
            ? """{"v":1,"ok":true,"pid":1,"granted":false,"reason":"agentschedd runs in fallback mode"}"""
            : """{"v":1,"ok":true,"pid":1,"class":"burst","window_ms":100}""");
        using AgentSchedClient client = Client(daemon);

        for (int i = 0; i < 3; i++)
        {
            using StepScope step = client.BeginStep();
            Assert.False(step.IsSelfStep);
        }

        Assert.Equal(["step_grant", "step_begin", "step_end", "step_begin", "step_end", "step_begin", "step_end"], Ops(daemon));
    }

    [Fact]
    public void AGrantTheKernelDoesNotHonourFallsBackToTheSocket()
    {
        // The daemon grants, but this kernel has no agent_class to answer the prctl (EINVAL).
        using var daemon = new FakeDaemon(line => Op(line) == "step_grant"
            ? $$"""{"v":1,"ok":true,"pid":1,"granted":true,"prctl":{{(int)AgentSelfStep.PrctlStep}},"window_max_ms":3600000,"default_window_ms":100}"""
            : """{"v":1,"ok":true,"pid":1,"class":"burst","window_ms":100}""");
        using AgentSchedClient client = Client(daemon);

        using (StepScope step = client.BeginStep(currentThreadOnly: true))
        {
            Assert.False(step.IsSelfStep);
            Assert.True(step.Applied);
        }
        using (client.BeginStep(currentThreadOnly: true))
        {
        }

        Assert.Equal(["step_grant", "step_begin", "step_end", "step_begin", "step_end"], Ops(daemon));
    }

    [Fact]
    public void AnOlderDaemonWithoutGrantsAndTheOptionOffUseStepBeginAlone()
    {
        using var old = new FakeDaemon(line => Op(line) == "step_grant"
            ? """{"v":1,"ok":false,"error":{"code":"unknown_op","message":"unknown op 'step_grant'"}}"""
            : """{"v":1,"ok":true,"pid":1,"class":"burst","window_ms":100}""");
        using (AgentSchedClient client = Client(old))
        {
            using (client.BeginStep())
            {
            }
            using (client.BeginStep())
            {
            }
        }
        Assert.Equal(["step_grant", "step_begin", "step_end", "step_begin", "step_end"], Ops(old));

        using var plain = new FakeDaemon("""{"v":1,"ok":true,"pid":1,"class":"burst","window_ms":100}""", TimeSpan.Zero);
        using (AgentSchedClient client = Client(plain, selfSteps: false))
        {
            using (client.BeginStep())
            {
            }
        }
        Assert.Equal(["step_begin", "step_end"], Ops(plain));
    }

    [Fact]
    public void TheClientsSelfStepOperationsAreTheSchedulers()
    {
        Assert.Equal((ulong)AgentSelfStep.StepOpen, (ulong)AgentSchedClient.SelfStepOp.Open);
        Assert.Equal((ulong)AgentSelfStep.StepClose, (ulong)AgentSchedClient.SelfStepOp.Close);
        Assert.Equal((ulong)AgentSelfStep.StepOpenProcess, (ulong)AgentSchedClient.SelfStepOp.OpenProcess);
        Assert.Equal((ulong)AgentSelfStep.StepCloseProcess, (ulong)AgentSchedClient.SelfStepOp.CloseProcess);
        Assert.Equal(1, (int)AgentSelfStep.StepDone);   // SelfStepCall's success value
    }
}
