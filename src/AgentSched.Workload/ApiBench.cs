using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Scheduler;

namespace AgentSched.Workload;

/// <summary>
/// <c>agentsched-workload api-bench --socket PATH [--op mark|step|ping|status|self-step|getpid] [--clients N] [--seconds S]</c>:
/// N clients, each on its own persistent connection and thread, send one request at a time and time
/// each round trip. <c>mark</c> alternates burst and batch marks on a <c>sleep</c> child it starts
/// (each one persisted by the daemon before it answers); <c>step</c> alternates step_begin and step_end
/// for the bench process itself. <c>self-step</c> has each client thread take a grant (step_grant
/// with its tid) and then times an open and a close of its own step (two prctls, no daemon);
/// <c>getpid</c> times one getpid(2), the floor of any system call, in the same way.
/// Prints one JSON object: request (or step) rate, latency percentiles, errors.
/// </summary>
internal static partial class ApiBench
{
    public static int Run(string socketPath, string op, int clients, double seconds)
    {
        using Process? target = op == "mark" ? Process.Start(new ProcessStartInfo("sleep", "3600") { UseShellExecute = false }) : null;
        string[] lines = op switch
        {
            "mark" => [Line("mark", target!.Id, "burst"), Line("mark", target.Id, "batch")],
            "step" => ["""{"v":1,"op":"step_begin","window_ms":1000}""", """{"v":1,"op":"step_end"}"""],
            "ping" => ["""{"v":1,"op":"ping"}"""],
            "status" => ["""{"v":1,"op":"status"}"""],
            "self-step" or "getpid" => [],
            _ => throw new ArgumentException($"unknown op {op}: mark, step, ping, status, self-step or getpid"),
        };
        var latencies = new List<long>[clients];
        var errors = new int[clients];
        var deadline = Stopwatch.StartNew();
        Func<int, List<long>> client = op switch
        {
            "self-step" => c => SelfSteps(socketPath, seconds, ref errors[c]),
            "getpid" => _ => Timed(seconds, () => GetPid()),
            _ => c => Client(socketPath, lines, seconds, ref errors[c]),
        };
        var threads = Enumerable.Range(0, clients).Select(c => new Thread(() => latencies[c] = client(c))).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        double elapsed = deadline.Elapsed.TotalSeconds;
        target?.Kill();

        long[] all = latencies.SelectMany(l => l).Order().ToArray();
        double Us(double p) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(p * all.Length))] * 1e6 / Stopwatch.Frequency;
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv,
            $"{{\"op\":\"{op}\",\"clients\":{clients},\"seconds\":{elapsed:F2},\"requests\":{all.Length},\"requests_per_second\":{all.Length / elapsed:F0},"
            + $"\"p50_us\":{Us(0.50):F1},\"p99_us\":{Us(0.99):F1},\"p999_us\":{Us(0.999):F1},\"max_us\":{Us(1.0):F1},\"errors\":{errors.Sum()}}}"));
        return errors.Sum() == 0 ? 0 : 1;
    }

    /// <summary>Times <paramref name="body"/> back to back for <paramref name="seconds"/>.</summary>
    private static List<long> Timed(double seconds, Action body)
    {
        var samples = new List<long>(1 << 20);
        long end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end)
        {
            long start = Stopwatch.GetTimestamp();
            body();
            samples.Add(Stopwatch.GetTimestamp() - start);
        }
        return samples;
    }

    /// <summary>A grant for this thread, then open+close pairs of its own step; an error when there is no grant or a call fails.</summary>
    private static List<long> SelfSteps(string socketPath, double seconds, ref int errors)
    {
        using Socket socket = UnixSocket.Connect(socketPath);
        byte[] buffer = new byte[4096];
        int filled = RoundTrip(socket, Encoding.UTF8.GetBytes($$"""{"v":1,"op":"step_grant","tid":{{StepLoop.GetTid()}}}""" + "\n"), buffer);
        if (buffer.AsSpan(0, filled).IndexOf("\"granted\":true"u8) < 0)
        {
            errors++;
            Console.Error.WriteLine($"api-bench: no grant: {Encoding.UTF8.GetString(buffer, 0, filled).Trim()}");
            return [];
        }
        int failed = 0;
        List<long> samples = Timed(seconds, () =>
        {
            if ((SelfStep.Call(AgentSelfStep.StepOpen, 1000) | SelfStep.Call(AgentSelfStep.StepClose)) != 0) failed++;
        });
        errors += failed;
        return samples;
    }

    /// <summary>Sends one request line and reads its response line into <paramref name="buffer"/>; the response's length.</summary>
    private static int RoundTrip(Socket socket, byte[] request, byte[] buffer)
    {
        socket.Send(request);
        int filled = 0;
        while (filled == 0 || buffer[filled - 1] != (byte)'\n')
        {
            int n = socket.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
            if (n == 0) throw new IOException("the daemon closed the connection");
            filled += n;
        }
        return filled;
    }

    [LibraryImport("libc", EntryPoint = "getpid")]
    private static partial int GetPid();

    private static string Line(string op, int pid, string cls) => $$"""{"v":1,"op":"{{op}}","pid":{{pid}},"class":"{{cls}}"}""";

    private static List<long> Client(string socketPath, string[] lines, double seconds, ref int errors)
    {
        var samples = new List<long>(1 << 16);
        using Socket socket = UnixSocket.Connect(socketPath);
        byte[][] requests = lines.Select(l => Encoding.UTF8.GetBytes(l + "\n")).ToArray();
        byte[] buffer = new byte[64 * 1024];
        long end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        for (int i = 0; Stopwatch.GetTimestamp() < end; i++)
        {
            long start = Stopwatch.GetTimestamp();
            int filled = RoundTrip(socket, requests[i % requests.Length], buffer);
            samples.Add(Stopwatch.GetTimestamp() - start);
            if (buffer.AsSpan(0, filled).IndexOf("\"ok\":true"u8) < 0)
            {
                errors++;
                if (errors == 1) Console.Error.WriteLine($"api-bench: {Encoding.UTF8.GetString(buffer, 0, filled).Trim()}");
            }
        }
        return samples;
    }
}
