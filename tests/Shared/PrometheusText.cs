using System.Globalization;
using System.Text.RegularExpressions;

namespace AgentSched.Tests;

/// <summary>One sample line: its metric name, labels and value.</summary>
internal sealed record PromSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string Label(string name) => Labels.TryGetValue(name, out string? v) ? v : "";
}

/// <summary>A metric family: HELP, TYPE and its samples.</summary>
internal sealed record PromFamily(string Name, string Type, string Help, IReadOnlyList<PromSample> Samples);

/// <summary>
/// A strict parser of the Prometheus text exposition format 0.0.4, for tests: any deviation from
/// the format's rules throws <see cref="FormatException"/> naming the line. Checked: line syntax,
/// metric and label names, label-value and HELP escaping, one HELP and one TYPE per family before
/// its samples, families not interleaved, sample names that belong to the family (_bucket, _sum,
/// _count for histograms), no duplicate series, counters named _total and never negative, and
/// histograms with cumulative buckets, an +Inf bucket per series equal to its _count, and _sum.
/// </summary>
internal static partial class PrometheusText
{
    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();

    public static IReadOnlyDictionary<string, PromFamily> Parse(string text)
    {
        if (text.Length > 0 && !text.EndsWith('\n')) throw new FormatException("the exposition must end with a newline");
        var families = new Dictionary<string, (string? Type, string? Help, List<PromSample> Samples)>();
        var order = new List<string>();
        var seriesSeen = new HashSet<string>();
        string? current = null;
        string[] lines = text.Split('\n');
        for (int n = 0; n < lines.Length - 1; n++)
        {
            string line = lines[n];
            string where = $"line {n + 1} '{line}'";
            if (line.Length == 0) continue;
            if (line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ', 4);
                if (parts.Length < 3 || !MetricName().IsMatch(parts[2])) throw new FormatException($"{where}: bad metric name");
                string name = parts[2];
                if (!families.TryGetValue(name, out var f))
                {
                    if (order.Contains(name)) throw new FormatException($"{where}: family {name} appears twice");
                    families[name] = f = (null, null, []);
                    order.Add(name);
                }
                else if (current != name)
                {
                    throw new FormatException($"{where}: family {name} is interleaved with another");
                }
                current = name;
                if (f.Samples.Count > 0) throw new FormatException($"{where}: HELP/TYPE after samples");
                if (parts[1] == "HELP")
                {
                    if (f.Help is not null) throw new FormatException($"{where}: second HELP");
                    string help = parts.Length == 4 ? parts[3] : "";
                    CheckEscapes(help, allowQuote: false, where);
                    families[name] = (f.Type, help, f.Samples);
                }
                else
                {
                    if (f.Type is not null) throw new FormatException($"{where}: second TYPE");
                    if (parts.Length != 4 || parts[3] is not ("counter" or "gauge" or "histogram" or "summary" or "untyped"))
                        throw new FormatException($"{where}: bad TYPE");
                    families[name] = (parts[3], f.Help, f.Samples);
                }
                continue;
            }
            if (line.StartsWith('#')) continue; // a comment
            PromSample sample = ParseSample(line, where);
            string family = FamilyOf(sample.Name, families);
            if (family != current) throw new FormatException($"{where}: sample of {family} outside its family's block");
            var fam = families[family];
            if (fam.Type is null || fam.Help is null) throw new FormatException($"{where}: sample before HELP and TYPE");
            string series = sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
            if (!seriesSeen.Add(series)) throw new FormatException($"{where}: duplicate series {series}");
            fam.Samples.Add(sample);
        }
        var result = new Dictionary<string, PromFamily>();
        foreach (string name in order)
        {
            var f = families[name];
            if (f.Type is null || f.Help is null) throw new FormatException($"family {name} lacks HELP or TYPE");
            var family = new PromFamily(name, f.Type, f.Help, f.Samples);
            Check(family);
            result[name] = family;
        }
        return result;
    }

    private static string FamilyOf(string sampleName, Dictionary<string, (string? Type, string? Help, List<PromSample> Samples)> families)
    {
        if (families.TryGetValue(sampleName, out var f) && f.Type != "histogram") return sampleName;
        foreach (string suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal)
                && families.TryGetValue(sampleName[..^suffix.Length], out var h) && h.Type == "histogram")
            {
                return sampleName[..^suffix.Length];
            }
        }
        throw new FormatException($"sample {sampleName} belongs to no declared family");
    }

    private static void Check(PromFamily f)
    {
        if (f.Type == "counter")
        {
            if (!f.Name.EndsWith("_total", StringComparison.Ordinal)) throw new FormatException($"counter {f.Name} is not named _total");
            foreach (PromSample s in f.Samples)
                if (s.Value < 0 || double.IsNaN(s.Value)) throw new FormatException($"counter {f.Name} has value {s.Value}");
        }
        if (f.Type != "histogram") return;
        foreach (var series in f.Samples.GroupBy(s => string.Join(",", s.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"))))
        {
            var buckets = series.Where(s => s.Name == f.Name + "_bucket").ToList();
            if (buckets.Any(b => !b.Labels.ContainsKey("le"))) throw new FormatException($"{f.Name}{{{series.Key}}}: a bucket without le");
            var ordered = buckets.Select(b => (Le: ParseValue(b.Label("le"), "le"), b.Value)).ToList();
            for (int i = 1; i < ordered.Count; i++)
            {
                if (ordered[i].Le <= ordered[i - 1].Le) throw new FormatException($"{f.Name}{{{series.Key}}}: le not increasing");
                if (ordered[i].Value < ordered[i - 1].Value) throw new FormatException($"{f.Name}{{{series.Key}}}: buckets not cumulative");
            }
            if (ordered.Count == 0 || !double.IsPositiveInfinity(ordered[^1].Le)) throw new FormatException($"{f.Name}{{{series.Key}}}: no +Inf bucket last");
            PromSample count = series.SingleOrDefault(s => s.Name == f.Name + "_count") ?? throw new FormatException($"{f.Name}{{{series.Key}}}: no _count");
            _ = series.SingleOrDefault(s => s.Name == f.Name + "_sum") ?? throw new FormatException($"{f.Name}{{{series.Key}}}: no _sum");
            if (count.Value != ordered[^1].Value) throw new FormatException($"{f.Name}{{{series.Key}}}: _count {count.Value} != +Inf bucket {ordered[^1].Value}");
        }
    }

    private static PromSample ParseSample(string line, string where)
    {
        int i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ') i++;
        string name = line[..i];
        if (!MetricName().IsMatch(name)) throw new FormatException($"{where}: bad metric name");
        var labels = new Dictionary<string, string>();
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i < line.Length && line[i] == '}') { i++; break; }
                int eq = line.IndexOf('=', i);
                if (eq < 0) throw new FormatException($"{where}: label without '='");
                string label = line[i..eq];
                if (!LabelName().IsMatch(label) || label.StartsWith("__", StringComparison.Ordinal)) throw new FormatException($"{where}: bad label name '{label}'");
                if (eq + 1 >= line.Length || line[eq + 1] != '"') throw new FormatException($"{where}: label value not quoted");
                var value = new System.Text.StringBuilder();
                int j = eq + 2;
                for (; j < line.Length && line[j] != '"'; j++)
                {
                    if (line[j] == '\\')
                    {
                        if (j + 1 >= line.Length) throw new FormatException($"{where}: dangling escape");
                        value.Append(line[j + 1] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            char c => throw new FormatException($"{where}: bad escape \\{c}"),
                        });
                        j++;
                    }
                    else
                    {
                        value.Append(line[j]);
                    }
                }
                if (j >= line.Length) throw new FormatException($"{where}: unterminated label value");
                if (!labels.TryAdd(label, value.ToString())) throw new FormatException($"{where}: label {label} twice");
                i = j + 1;
                if (i < line.Length && line[i] == ',') { i++; continue; }
                if (i < line.Length && line[i] == '}') { i++; break; }
                throw new FormatException($"{where}: expected ',' or '}}'");
            }
        }
        if (i >= line.Length || line[i] != ' ') throw new FormatException($"{where}: no space before the value");
        string[] rest = line[(i + 1)..].Split(' ');
        if (rest.Length is < 1 or > 2) throw new FormatException($"{where}: expected a value and an optional timestamp");
        double v = ParseValue(rest[0], where);
        if (rest.Length == 2 && !long.TryParse(rest[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)) throw new FormatException($"{where}: bad timestamp");
        return new PromSample(name, labels, v);
    }

    private static double ParseValue(string s, string where) => s switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) => v,
        _ => throw new FormatException($"{where}: bad value '{s}'"),
    };

    private static void CheckEscapes(string text, bool allowQuote, string where)
    {
        for (int j = 0; j < text.Length; j++)
        {
            if (text[j] != '\\') continue;
            if (j + 1 >= text.Length || (text[j + 1] is not ('\\' or 'n') && !(allowQuote && text[j + 1] == '"')))
                throw new FormatException($"{where}: bad escape in HELP");
            j++;
        }
    }
}
