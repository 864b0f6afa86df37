using System.Diagnostics;

namespace AgentSched.Tests;

/// <summary>The outcome of a finished child process.</summary>
internal sealed record ProcessResult(int ExitCode, string Stdout, string Stderr);

/// <summary>Runs the project's own binaries as child processes, as a user would.</summary>
internal static class ProcessRunner
{
    public static ProcessStartInfo StartInfo(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        return psi;
    }

    public static Task<ProcessResult> RunAsync(string file, string[] args, TimeSpan timeout) => RunAsync(StartInfo(file, args), timeout);

    /// <summary>Runs <paramref name="psi"/> (made by <see cref="StartInfo"/>, maybe with its environment changed) to its exit.</summary>
    public static async Task<ProcessResult> RunAsync(ProcessStartInfo psi, TimeSpan timeout)
    {
        string file = psi.FileName;
        IEnumerable<string> args = psi.ArgumentList;
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not exit within {timeout}");
        }
        return new ProcessResult(p.ExitCode, await stdout, await stderr);
    }
}
