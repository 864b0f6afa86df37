namespace AgentSched.Protocol;

/// <summary>The operations of protocol version 1 (<c>"op"</c>).</summary>
public enum ApiOp
{
    /// <summary><c>ping</c>: answers <c>{"ok":true}</c>; for health checks.</summary>
    Ping,

    /// <summary><c>mark</c>: give a process a class, optionally for a window.</summary>
    Mark,

    /// <summary><c>unmark</c>: remove a process's mark and restore its scheduling.</summary>
    Unmark,

    /// <summary><c>step_begin</c>: open a BURST window for the calling process (or one of its threads).</summary>
    StepBegin,

    /// <summary><c>step_end</c>: close the window <c>step_begin</c> opened.</summary>
    StepEnd,

    /// <summary><c>status</c>: the daemon's mode, health and marks per class.</summary>
    Status,

    /// <summary><c>stats</c>: the scheduler's counters and wait histograms, and the API's counters.</summary>
    Stats,

    /// <summary><c>steps</c>: the recent steps agent_class recorded for a process's threads (or one thread).</summary>
    Steps,

    /// <summary><c>step_grant</c>: let the calling process (or one of its threads) open its own steps without the daemon.</summary>
    StepGrant,

    /// <summary><c>step_revoke</c>: withdraw what <c>step_grant</c> gave.</summary>
    StepRevoke,
}

/// <summary>Wire names of <see cref="ApiOp"/>.</summary>
public static class ApiOpNames
{
    /// <summary>The wire name of an operation.</summary>
    public static string Name(ApiOp op) => op switch
    {
        ApiOp.Ping => "ping",
        ApiOp.Mark => "mark",
        ApiOp.Unmark => "unmark",
        ApiOp.StepBegin => "step_begin",
        ApiOp.StepEnd => "step_end",
        ApiOp.Status => "status",
        ApiOp.Stats => "stats",
        ApiOp.Steps => "steps",
        ApiOp.StepGrant => "step_grant",
        ApiOp.StepRevoke => "step_revoke",
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    /// <summary>Parses a wire name; false for an unknown one.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out ApiOp op)
    {
        foreach (ApiOp candidate in Enum.GetValues<ApiOp>())
        {
            if (utf8.SequenceEqual(System.Text.Encoding.UTF8.GetBytes(Name(candidate))))
            {
                op = candidate;
                return true;
            }
        }
        op = default;
        return false;
    }
}
