using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace AgentSched.Workload;

/// <summary>
/// <c>agentsched-workload api --socket PATH ITEM...</c>: a scripted raw client of agentschedd's
/// socket, for tests that need a client in another process (another uid, a process whose own
/// scheduling is inspected). Each ITEM is a request line, sent and answered in turn (the response
/// is printed), or a directive: <c>@sleep:MS</c> pauses; <c>@self</c> prints this process's
/// "pid=N nice=N policy=N" from /proc/self/stat; <c>@pipeline:N:LINE</c> sends LINE N times without
/// waiting, then prints the N responses.
/// </summary>
internal static class ApiScript
{
    public static int Run(string socketPath, IReadOnlyList<string> items)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        }
        catch (SocketException e)
        {
            Console.Error.WriteLine($"agentsched-workload: cannot connect to {socketPath}: {e.Message}");
            return 1;
        }
        using var stream = new NetworkStream(socket);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        foreach (string item in items)
        {
            if (item.StartsWith("@sleep:", StringComparison.Ordinal))
            {
                Thread.Sleep(int.Parse(item[7..], CultureInfo.InvariantCulture));
            }
            else if (item == "@self")
            {
                Console.WriteLine(SelfSched());
            }
            else if (item.StartsWith("@pipeline:", StringComparison.Ordinal))
            {
                string[] parts = item.Split(':', 3);
                int n = int.Parse(parts[1], CultureInfo.InvariantCulture);
                byte[] line = Encoding.UTF8.GetBytes(parts[2] + "\n");
                var all = new byte[line.Length * n];
                for (int i = 0; i < n; i++) line.CopyTo(all, i * line.Length);
                stream.Write(all);
                for (int i = 0; i < n; i++) Console.WriteLine(reader.ReadLine() ?? "<closed>");
            }
            else
            {
                stream.Write(Encoding.UTF8.GetBytes(item + "\n"));
                Console.WriteLine(reader.ReadLine() ?? "<closed>");
            }
            Console.Out.Flush();
        }
        return 0;
    }

    /// <summary>"pid=N nice=N policy=N" of this process, fields 19 and 41 of /proc/self/stat.</summary>
    private static string SelfSched()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // f[0] is field 3 (state): field N is f[N - 3].
        return $"pid={Environment.ProcessId} nice={f[19 - 3]} policy={f[41 - 3]}";
    }
}
