using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace AgentSched.Tests;

/// <summary>
/// agentschedd as a child process, with its output collected and signals sent like systemd would.
/// Each instance gets its own directory for the socket, the persisted marks and the bpffs pins, so
/// tests never touch a real installation; pass the same directory to a second start to model a restart.
/// </summary>
internal sealed partial class DaemonProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private DaemonProcess(Process process, string dir)
    {
        _process = process;
        Directory = dir;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Starts the daemon with its socket, state and pins under <paramref name="dir"/> (a new temp dir when null).</summary>
    public static DaemonProcess Start(string? dir = null, params string[] args) => Start(dir, args, null);

    /// <summary>As <see cref="Start(string?, string[])"/>, with extra environment variables for the daemon.</summary>
    public static DaemonProcess Start(string? dir, string[] args, IReadOnlyDictionary<string, string>? environment)
    {
        dir ??= NewDirectory();
        string[] all =
        [
            $"--Api:SocketPath={Path.Combine(dir, "agentsched.sock")}",
            "--Api:SocketGroup=",
            "--Api:SocketMode=0666",
            $"--State:Directory={Path.Combine(dir, "state")}",
            $"--Scheduler:PinPath=/sys/fs/bpf/{Path.GetFileName(dir)}",
            .. args,
        ];
        ProcessStartInfo psi = ProcessRunner.StartInfo(RepoPaths.Daemon, all);
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }
        return new DaemonProcess(Process.Start(psi)!, dir);
    }

    public static string NewDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"agentsched-test-{Guid.NewGuid():N}"[..28]);
        System.IO.Directory.CreateDirectory(dir);
        return dir;
    }

    public string Directory { get; }

    public string SocketPath => Path.Combine(Directory, "agentsched.sock");

    public string MarksFile => Path.Combine(Directory, "state", "marks.json");

    public string PinPath => $"/sys/fs/bpf/{Path.GetFileName(Directory)}";

    public int Pid => _process.Id;

    public string Output
    {
        get { lock (_output) { return _output.ToString(); } }
    }

    public bool HasExited => _process.HasExited;

    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Waits until the daemon answers a ping (it is ready), or fails with the daemon's output.</summary>
    public async Task WaitForSocketAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"agentschedd exited with {_process.ExitCode} before serving; output:\n{Output}");
            }
            // Connecting is not enough (the socket is bound before the daemon has started); a ping is
            // answered only once every service has started and persisted marks are restored.
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await s.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
                await s.SendAsync("{\"v\":1,\"op\":\"ping\"}\n"u8.ToArray());
                byte[] reply = new byte[256];
                int n = await s.ReceiveAsync(reply).WaitAsync(timeout - clock.Elapsed);
                if (n > 0 && Encoding.UTF8.GetString(reply, 0, n).Contains("\"ok\":true"))
                {
                    return;
                }
            }
            catch (SocketException)
            {
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"agentschedd did not serve {SocketPath} within {timeout}; output:\n{Output}");
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with the daemon's output.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{what} did not happen within {timeout.TotalSeconds:F1} s; daemon output:\n{Output}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// A daemon still running (the test failed before stopping it) is stopped as systemd would
    /// (SIGTERM, then SIGKILL after 20 s), and whatever it left pinned is removed, which detaches a
    /// scheduler it left attached: a failed test must not leave the next one a busy kernel. A daemon
    /// the test already ended keeps its pins (a test of kill -9 wants them).
    /// </summary>
    public void Dispose()
    {
        bool running = !_process.HasExited;
        if (running)
        {
            Kill(_process.Id, Signals.SIGTERM);
            if (!_process.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                _process.Kill();
                _process.WaitForExit();
            }
        }
        _process.Dispose();
        if (running && System.IO.Directory.Exists(PinPath))
        {
            foreach (string pin in System.IO.Directory.GetFiles(PinPath, "*", SearchOption.AllDirectories))
            {
                File.Delete(pin);
            }
            foreach (string dir in System.IO.Directory.GetDirectories(PinPath))
            {
                System.IO.Directory.Delete(dir);
            }
            System.IO.Directory.Delete(PinPath);
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output) { _output.AppendLine(line); }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
