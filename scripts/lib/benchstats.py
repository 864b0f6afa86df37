"""Statistics for scripts/bench: percentiles, medians, spreads and same-round ratios.

Kept apart from the report so scripts/lib/test_benchstats.py can check it on known inputs.
Percentiles use the nearest-rank definition, as agentsched-workload's StepResult does: the
smallest sample with at least p% of the samples at or below it (so p100 is the maximum).
"""
import math


def _rank(p, n):
    # Rounded first: 99.9 / 100 * 1000 is 999.0000000000001 in binary floating point, not 999.
    return math.ceil(round(p / 100 * n, 9))


def percentile(values, p):
    """Nearest-rank percentile of values (any order); None when there are none."""
    if not values:
        return None
    s = sorted(values)
    rank = _rank(p, len(s))
    return s[min(max(rank, 1), len(s)) - 1]


def hist_percentile(hist, p):
    """Nearest-rank percentile of a histogram {value: count}; None when it is empty."""
    total = sum(hist.values())
    if total == 0:
        return None
    rank = max(1, _rank(p, total))
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return value
    return max(hist)


def hist_mean(hist):
    total = sum(hist.values())
    return sum(v * c for v, c in hist.items()) / total if total else None


def median(values):
    """The median (the mean of the middle two for an even count); None when there are none."""
    vs = sorted(v for v in values if v is not None)
    if not vs:
        return None
    mid = len(vs) // 2
    return vs[mid] if len(vs) % 2 else (vs[mid - 1] + vs[mid]) / 2


def spread(values):
    """(median, min, max) of the values that are not None; (None, None, None) when there are none."""
    vs = [v for v in values if v is not None]
    return (median(vs), min(vs), max(vs)) if vs else (None, None, None)


def ratio(a, b):
    """a / b, or None when either is missing or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def paired_ratios(rows, metric, contender, reference, **where):
    """Per round, metric(contender) / metric(reference) for the rows that match `where`
    (e.g. workload="agent_loop", hogs=4): ratios of samples taken in the same round, so the
    drift of a noisy machine between rounds cancels. metric is a function of a row.
    Rounds missing either side are skipped."""
    def pick(name):
        return {r["round"]: metric(r) for r in rows
                if r.get("contender") == name and all(r.get(k) == v for k, v in where.items())}
    a, b = pick(contender), pick(reference)
    return [x for x in (ratio(a[k], b[k]) for k in sorted(a) if k in b) if x is not None]


def cdf(values, points=200):
    """[(value, fraction at or below it)] at up to `points` evenly spaced ranks, for a CDF plot."""
    s = sorted(values)
    if not s:
        return []
    n = len(s)
    idx = sorted({min(n - 1, round(i * (n - 1) / (points - 1))) for i in range(points)}) if n > points else range(n)
    return [(s[i], (i + 1) / n) for i in idx]


def means(groups):
    """The mean of each group of values (None for an empty group), in order."""
    return [sum(g) / len(g) if g else None for g in groups]


def fairness(group_means):
    """max / min of per-agent means: 1.0 when every agent got the same; None with fewer than two
    agents that have a mean, or a zero minimum."""
    vs = [v for v in group_means if v is not None]
    if len(vs) < 2 or min(vs) == 0:
        return None
    return max(vs) / min(vs)


def within(samples, start, end):
    """The samples (start_ns, value) whose start lies in [start, end): the steps that began while
    something (a runaway tool) was running."""
    return [v for t, v in samples if start <= t < end]
