using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace AgentSched.Workload;

/// <summary>
/// <c>agentsched-workload api-bench --socket PATH [--op mark|step|ping|status] [--clients N] [--seconds S]</c>:
/// N clients, each on its own persistent connection and thread, send one request at a time and time
/// each round trip. <c>mark</c> alternates burst and batch marks on a <c>sleep</c> child it starts
/// (each one persisted by the daemon before it answers); <c>step</c> alternates step_begin and step_end
/// for the bench process itself. Prints one JSON object: request rate, latency percentiles, errors.
/// </summary>
internal static class ApiBench
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
            _ => throw new ArgumentException($"unknown op {op}: mark, step, ping or status"),
        };
        var latencies = new List<long>[clients];
        var errors = new int[clients];
        var deadline = Stopwatch.StartNew();
        var threads = Enumerable.Range(0, clients).Select(c => new Thread(() => latencies[c] = Client(socketPath, lines, seconds, ref errors[c]))).ToList();
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

    private static string Line(string op, int pid, string cls) => $$"""{"v":1,"op":"{{op}}","pid":{{pid}},"class":"{{cls}}"}""";

    private static List<long> Client(string socketPath, string[] lines, double seconds, ref int errors)
    {
        var samples = new List<long>(1 << 16);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        byte[][] requests = lines.Select(l => Encoding.UTF8.GetBytes(l + "\n")).ToArray();
        byte[] buffer = new byte[64 * 1024];
        long end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        for (int i = 0; Stopwatch.GetTimestamp() < end; i++)
        {
            long start = Stopwatch.GetTimestamp();
            socket.Send(requests[i % requests.Length]);
            int filled = 0;
            while (filled == 0 || buffer[filled - 1] != (byte)'\n')
            {
                int n = socket.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
                if (n == 0) throw new IOException("the daemon closed the connection");
                filled += n;
            }
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
