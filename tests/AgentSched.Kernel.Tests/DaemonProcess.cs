using System.Runtime.InteropServices;
using System.Diagnostics;
using System.Text;
using AgentSched.Interop.Kernel;
using AgentSched.Tests;

namespace AgentSched.Kernel.Tests;

/// <summary>agentschedd as a child process, with its output collected and signals sent like systemd would.</summary>
internal sealed partial class DaemonProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private DaemonProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static DaemonProcess Start(params string[] args) =>
        new(Process.Start(ProcessRunner.StartInfo(RepoPaths.Daemon, args))!);

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

    /// <summary>Polls sched_ext until <paramref name="condition"/> holds; returns how long it took from the daemon's start.</summary>
    public async Task<TimeSpan> WaitForSchedExtAsync(Func<SchedExtStatus, bool> condition, TimeSpan timeout, string what)
    {
        await WaitForSchedExtAsync(condition, timeout - (DateTime.Now - _process.StartTime), what, () => Output);
        return DateTime.Now - _process.StartTime;
    }

    /// <summary>Polls sched_ext until <paramref name="condition"/> holds; returns how long it took.</summary>
    public static async Task<TimeSpan> WaitForSchedExtAsync(Func<SchedExtStatus, bool> condition, TimeSpan timeout, string what, Func<string>? context = null)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (condition(SchedExtStatus.Read()))
            {
                return clock.Elapsed;
            }
            await Task.Delay(100);
        }
        SchedExtStatus last = SchedExtStatus.Read();
        throw new TimeoutException($"{what} did not happen within {timeout.TotalSeconds:F1} s (state {last.State}, ops {last.Ops ?? "none"})"
            + (context is null ? "" : $"; daemon output:\n{context()}"));
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.Dispose();
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
