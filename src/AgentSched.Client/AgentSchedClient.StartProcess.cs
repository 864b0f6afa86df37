using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using AgentSched.Protocol;

namespace AgentSched.Client;

public sealed partial class AgentSchedClient
{
    /// <summary>The <see cref="AgentSchedException.Code"/> when <see cref="StartProcess"/> cannot find the agentsched CLI (not a protocol code).</summary>
    public const string CliNotFound = "cli_not_found";

    /// <summary>
    /// Starts a tool process already classified: the process is marked before the tool's first
    /// instruction, so even a tool that is done in a millisecond runs in its class.
    /// </summary>
    /// <remarks>
    /// <para>The process is started as <c>agentsched run --class C [--window W] -- FILE ARGS</c>: the
    /// CLI marks its own process and then execs the tool in it, so the returned
    /// <see cref="Process"/> is the tool (same pid, its exit code, its redirected streams). The
    /// mark ends when the tool exits or the window runs out.</para>
    /// <para><see cref="ProcessStartInfo.FileName"/> is resolved as execvp does: as given when it
    /// holds a '/', else on <c>PATH</c> (the start info's own <c>PATH</c> when it sets one). Unlike
    /// <see cref="Process.Start(ProcessStartInfo)"/>, the application's directory is not searched.</para>
    /// <para>When the daemon is unavailable the tool is started unmarked (or
    /// <see cref="AgentSchedUnavailableException"/> is thrown, per <see cref="AgentSchedClientOptions.WhenUnavailable"/>).
    /// When the daemon refuses the mark (say, <c>limit_exceeded</c>) the tool still runs, unmarked,
    /// and the CLI writes one line about it to the tool's standard error.</para>
    /// </remarks>
    /// <param name="startInfo">The tool to start; <see cref="ProcessStartInfo.UseShellExecute"/> must be false. It is not modified.</param>
    /// <param name="taskClass">The class to start it in.</param>
    /// <param name="window">How long the class lasts (1 ms to 1 h); null: as long as the process lives.</param>
    /// <exception cref="Win32Exception">The file was not found (NativeErrorCode 2), as <see cref="Process.Start(ProcessStartInfo)"/> would throw.</exception>
    /// <exception cref="AgentSchedUnavailableException">The daemon is unavailable and <see cref="DaemonUnavailableBehavior.Throw"/> is set.</exception>
    /// <exception cref="AgentSchedException">The agentsched CLI was not found (<see cref="CliNotFound"/>) and <see cref="DaemonUnavailableBehavior.Throw"/> is set.</exception>
    public Process StartProcess(ProcessStartInfo startInfo, TaskClass taskClass, TimeSpan? window = null)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        if (startInfo.UseShellExecute) throw new ArgumentException("UseShellExecute must be false", nameof(startInfo));
        int? windowMs = WindowMs(window, nameof(window));
        string file = ResolveExecutable(startInfo) ?? throw new Win32Exception(2, $"'{startInfo.FileName}' was not found{(startInfo.FileName.Contains('/') ? "" : " on PATH")}");

        string? unreachable = Unreachable();
        string? cli = unreachable is null ? FindCli() : null;
        if (unreachable is not null || cli is null)
        {
            const string CliMissing = "the agentsched CLI was not found on PATH, in /usr/local/bin or /usr/bin (set AgentSchedClientOptions.CliPath)";
            if (_options.WhenUnavailable == DaemonUnavailableBehavior.Throw)
            {
                throw unreachable is not null
                    ? new AgentSchedUnavailableException(SocketPath, unreachable)
                    : new AgentSchedException(CliNotFound, CliMissing);
            }
            if (Interlocked.Exchange(ref _outageWarned, 1) == 0)
            {
                string why = unreachable is not null ? $"agentschedd is not reachable at {SocketPath}: {unreachable}" : CliMissing;
                Warn($"{why}; starting {startInfo.FileName} unmarked");
            }
            return Process.Start(startInfo) ?? throw new InvalidOperationException($"{startInfo.FileName} did not start");
        }

        ProcessStartInfo wrapped = WrapInRun(startInfo, cli!, file, taskClass, windowMs);
        return Process.Start(wrapped) ?? throw new InvalidOperationException($"{startInfo.FileName} did not start");
    }

    /// <summary>A copy of <paramref name="original"/> that starts <c>agentsched run ... -- file args</c>.</summary>
    internal ProcessStartInfo WrapInRun(ProcessStartInfo original, string cli, string file, TaskClass taskClass, int? windowMs)
    {
        var prefix = new List<string> { "--socket", SocketPath, "run", "--class", TaskClassNames.Name(taskClass) };
        if (windowMs is { } w)
        {
            prefix.Add("--window");
            prefix.Add(w.ToString(CultureInfo.InvariantCulture) + "ms");
        }
        prefix.Add("--");
        prefix.Add(file);

        var psi = new ProcessStartInfo(cli)
        {
            WorkingDirectory = original.WorkingDirectory,
            RedirectStandardInput = original.RedirectStandardInput,
            RedirectStandardOutput = original.RedirectStandardOutput,
            RedirectStandardError = original.RedirectStandardError,
            StandardInputEncoding = original.StandardInputEncoding,
            StandardOutputEncoding = original.StandardOutputEncoding,
            StandardErrorEncoding = original.StandardErrorEncoding,
            CreateNoWindow = original.CreateNoWindow,
            UseShellExecute = false,
        };
        psi.Environment.Clear();
        foreach ((string key, string? value) in original.Environment)
        {
            psi.Environment[key] = value;
        }
        if (original.ArgumentList.Count > 0 || string.IsNullOrEmpty(original.Arguments))
        {
            foreach (string a in prefix) psi.ArgumentList.Add(a);
            foreach (string a in original.ArgumentList) psi.ArgumentList.Add(a);
        }
        else
        {
            // The caller wrote one argument string: keep it as it is (Process parses it), after the prefix quoted by the same rules.
            psi.Arguments = string.Join(' ', prefix.Select(QuoteArgument)) + " " + original.Arguments;
        }
        return psi;
    }

    /// <summary>Quotes one argument so that .NET's parsing of <see cref="ProcessStartInfo.Arguments"/> yields it back unchanged.</summary>
    internal static string QuoteArgument(string argument)
    {
        if (argument.Length > 0 && !argument.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\'))
        {
            return argument;
        }
        var sb = new StringBuilder("\"");
        int backslashes = 0;
        foreach (char c in argument)
        {
            if (c == '\\')
            {
                backslashes++;
                continue;
            }
            // Backslashes are literal unless they precede a quote: double them there, and escape the quote.
            sb.Append('\\', c == '"' ? backslashes * 2 + 1 : backslashes);
            backslashes = 0;
            sb.Append(c);
        }
        sb.Append('\\', backslashes * 2); // before the closing quote
        return sb.Append('"').ToString();
    }

    /// <summary>The tool's path as execvp would find it; null when not found.</summary>
    internal static string? ResolveExecutable(ProcessStartInfo startInfo)
    {
        string name = startInfo.FileName;
        if (string.IsNullOrEmpty(name)) throw new ArgumentException("FileName is empty", nameof(startInfo));
        if (name.Contains('/'))
        {
            // A relative name is resolved against WorkingDirectory, as the exec in that directory will.
            string dir = string.IsNullOrEmpty(startInfo.WorkingDirectory) ? Environment.CurrentDirectory : startInfo.WorkingDirectory;
            return File.Exists(Path.Combine(dir, name)) ? name : null;
        }
        string? path = startInfo.Environment.TryGetValue("PATH", out string? p) ? p : Environment.GetEnvironmentVariable("PATH");
        return FindOnPath(name, path);
    }

    private string? FindCli()
    {
        if (_options.CliPath is { } configured)
        {
            return File.Exists(configured) ? configured : null;
        }
        return FindOnPath("agentsched", Environment.GetEnvironmentVariable("PATH"))
            ?? new[] { "/usr/local/bin/agentsched", "/usr/bin/agentsched" }.FirstOrDefault(File.Exists);
    }

    private static string? FindOnPath(string name, string? path)
    {
        foreach (string dir in (path ?? "/usr/local/bin:/usr/bin:/bin").Split(':'))
        {
            string candidate = Path.Combine(dir.Length == 0 ? "." : dir, name);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
            {
                return candidate;
            }
        }
        return null;
    }
}
