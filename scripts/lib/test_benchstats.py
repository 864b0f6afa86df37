"""Unit tests of scripts/lib/benchstats.py on known inputs; scripts/test runs them as a host suite."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchstats as st  # noqa: E402


class Percentiles(unittest.TestCase):
    def test_nearest_rank_of_one_to_ten(self):
        values = [7, 3, 10, 1, 5, 2, 9, 4, 8, 6]
        self.assertEqual(
            [st.percentile(values, p) for p in (1, 10, 50, 90, 99, 99.9, 100)], [1, 1, 5, 9, 10, 10, 10])

    def test_p99_of_a_thousand_is_the_990th(self):
        self.assertEqual(st.percentile(list(range(1000, 0, -1)), 99), 990)
        self.assertEqual(st.percentile(list(range(1, 1001)), 99.9), 999)

    def test_empty_input_has_no_percentile(self):
        self.assertIsNone(st.percentile([], 50))
        self.assertIsNone(st.hist_percentile({}, 50))

    def test_histogram_percentiles_match_the_expanded_samples(self):
        hist = {3: 5, 10: 90, 250: 4, 900: 1}
        expanded = [v for v, c in hist.items() for _ in range(c)]
        for p in (1, 5, 6, 50, 95, 96, 99, 99.5, 100):
            self.assertEqual(st.hist_percentile(hist, p), st.percentile(expanded, p), p)
        self.assertAlmostEqual(st.hist_mean(hist), sum(expanded) / len(expanded))


class Medians(unittest.TestCase):
    def test_odd_and_even_counts(self):
        self.assertEqual(st.median([5, 1, 3]), 3)
        self.assertEqual(st.median([4, 1, 3, 2]), 2.5)

    def test_missing_values_are_ignored(self):
        self.assertEqual(st.median([None, 2, None, 4, 6]), 4)
        self.assertIsNone(st.median([None]))
        self.assertEqual(st.spread([3, None, 1, 2]), (2, 1, 3))
        self.assertEqual(st.spread([]), (None, None, None))


class Ratios(unittest.TestCase):
    def test_ratio_guards_zero_and_missing(self):
        self.assertEqual(st.ratio(3, 2), 1.5)
        self.assertIsNone(st.ratio(3, 0))
        self.assertIsNone(st.ratio(None, 2))

    def test_paired_ratios_pair_rows_of_the_same_round_and_workload(self):
        rows = [
            {"round": 1, "contender": "eevdf", "workload": "w", "hogs": 4, "x": 100},
            {"round": 1, "contender": "ours", "workload": "w", "hogs": 4, "x": 150},
            {"round": 1, "contender": "ours", "workload": "w", "hogs": 0, "x": 999},  # other workload variant
            {"round": 2, "contender": "eevdf", "workload": "w", "hogs": 4, "x": 50},
            {"round": 2, "contender": "ours", "workload": "w", "hogs": 4, "x": 100},
            {"round": 3, "contender": "ours", "workload": "w", "hogs": 4, "x": 70},  # no reference that round
        ]
        got = st.paired_ratios(rows, lambda r: r["x"], "ours", "eevdf", workload="w", hogs=4)
        self.assertEqual(got, [1.5, 2.0])
        self.assertEqual(st.median(got), 1.75)


class Cdf(unittest.TestCase):
    def test_cdf_ends_at_the_maximum_with_fraction_one(self):
        points = st.cdf(list(range(1000, 0, -1)), points=50)
        self.assertLessEqual(len(points), 50)
        self.assertEqual(points[0], (1, 0.001))
        self.assertEqual(points[-1], (1000, 1.0))
        self.assertEqual([v for v, _ in points], sorted(v for v, _ in points))

    def test_small_inputs_keep_every_point(self):
        self.assertEqual(st.cdf([2, 1]), [(1, 0.5), (2, 1.0)])


class PerAgent(unittest.TestCase):
    def test_per_agent_means_and_their_fairness_ratio(self):
        got = st.means([[1000, 3000], [4000], []])
        self.assertEqual(got, [2000, 4000, None])
        self.assertEqual(st.fairness(got), 2.0)

    def test_equal_agents_are_perfectly_fair_and_one_agent_has_no_ratio(self):
        self.assertEqual(st.fairness([5.0, 5.0, 5.0]), 1.0)
        self.assertIsNone(st.fairness([5.0, None]))
        self.assertIsNone(st.fairness([0.0, 3.0]))

    def test_steps_that_began_during_a_window_are_picked_by_their_start(self):
        samples = [(90, "before"), (100, "first"), (150, "inside"), (200, "at the end"), (250, "after")]
        self.assertEqual(st.within(samples, 100, 200), ["first", "inside"])


if __name__ == "__main__":
    unittest.main()
