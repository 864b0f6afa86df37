using System.Diagnostics;
using System.IO.Pipes;

namespace AgentSched.Workload;

/// <summary>
/// One agent: a chain of dependent steps between two threads over pipes. Each step the agent
/// wakes its tool thread, the tool burns <c>toolUs</c> of CPU and replies, and the agent burns
/// <c>parseUs</c> "parsing" the reply. A step's latency is its wall time; with no competition it
/// is about toolUs + parseUs plus two wakeups.
/// </summary>
internal static class StepLoop
{
    public static StepResult Run(int steps, TimeSpan duration, int toolUs, int parseUs)
    {
        using var toTool = new AnonymousPipeServerStream(PipeDirection.Out);
        using var fromAgent = new AnonymousPipeClientStream(PipeDirection.In, toTool.ClientSafePipeHandle);
        using var toAgent = new AnonymousPipeServerStream(PipeDirection.Out);
        using var fromTool = new AnonymousPipeClientStream(PipeDirection.In, toAgent.ClientSafePipeHandle);

        var tool = new Thread(() =>
        {
            var b = new byte[1];
            while (fromAgent.Read(b, 0, 1) == 1 && b[0] == 1)
            {
                ThreadCpu.Burn(toolUs * 1000L);
                toAgent.Write(b, 0, 1);
            }
        }) { Name = "tool", IsBackground = true };
        tool.Start();

        var latencies = new List<double>(Math.Min(steps, 1 << 20));
        var buffer = new byte[] { 1 };
        var total = Stopwatch.StartNew();
        while (latencies.Count < steps && total.Elapsed < duration)
        {
            long start = Stopwatch.GetTimestamp();
            toTool.Write(buffer, 0, 1);
            if (fromTool.Read(buffer, 0, 1) != 1)
            {
                throw new IOException("the tool thread closed its pipe");
            }
            ThreadCpu.Burn(parseUs * 1000L);
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
        total.Stop();
        toTool.Write([0], 0, 1);
        tool.Join();
        return StepResult.From(latencies, total.Elapsed, toolUs + parseUs);
    }
}
