"""test_bench.py: the benchmark harness of issue 10 runs end to end.

bench/bench.py (what `make bench` runs) sets up a private Postfix and a
posthorn instance in a temporary directory, runs scenarios 1, 4, 5, 6
and 7 (the default set) against both, and prints the table; here with
tiny counts (a smoke test of the harness, not a measurement: figures are
never asserted, only that every message was counted from the files and
the table, latest.json and history.md say so). docs/performance.md must
carry the per-message budget and the measured figures.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

from harness import BUILD

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
N = 40


class TestBench(unittest.TestCase):
    def test_make_bench_end_to_end(self):
        with tempfile.TemporaryDirectory(prefix="posthorn-test-bench-") as d:
            # Postfix's daemons (user postfix) must reach its directories.
            os.chmod(d, 0o755)
            results = os.path.join(d, "results")
            env = dict(os.environ, TMPDIR=d, BENCH_BUILD=BUILD,
                       BENCH_MTA="postfix posthorn",
                       BENCH_SCENARIOS="1 4 5 6 7",
                       BENCH_MESSAGES=str(N), BENCH_SENDMAIL="10",
                       BENCH_RUNS="1", BENCH_SETTLE_SECONDS="0",
                       BENCH_IDLE_CONNS="10", BENCH_LATENCY_RATE="50",
                       BENCH_LATENCY_SECONDS="1",
                       BENCH_LATENCY_SESSIONS="2",
                       BENCH_RESULTS_DIR=results)
            out = subprocess.run(
                [sys.executable, os.path.join(TOP, "bench", "bench.py")],
                env=env, capture_output=True, text=True, timeout=600)
            self.assertEqual(out.returncode, 0, out.stderr[-3000:])
            # The table: one row per throughput scenario with both MTAs'
            # msgs/s, the ratio and CPU; the blocks of 6 and 7.
            lines = out.stdout.splitlines()
            self.assertIn("pf msg/s", lines[0])
            self.assertIn("ph/pf", lines[0])
            for name in ("1 smtp 4KiB -> Maildir", "4 relay -> smtp-sink",
                         "5 sendmail -> Maildir"):
                row = [l for l in lines if l.startswith(name)]
                self.assertEqual(len(row), 1, out.stdout)
                self.assertGreaterEqual(len(row[0][len(name):].split()), 6)
            self.assertIn("6 idle sessions", out.stdout)
            self.assertIn("posthorn/postfix:", out.stdout)
            self.assertIn("7 latency at fixed load", out.stdout)
            self.assertIn("posthorn/postfix p99:", out.stdout)

            with open(os.path.join(results, "latest.json")) as f:
                latest = json.load(f)
            table = {row["sc"]: row for row in latest["table"]}
            self.assertEqual(sorted(table), ["1", "4", "5", "6", "7"])
            for sc, want in (("1", N), ("4", N), ("5", 10)):
                for mta in ("postfix", "posthorn"):
                    # End to end: counted from the Maildir files or
                    # smtp-sink, never from replies.
                    self.assertEqual(
                        [r["msgs"] for r in table[sc][mta]["runs"]],
                        [want], (sc, mta))
                    self.assertGreater(table[sc][mta]["rate"], 0)
                self.assertIsNotNone(table[sc]["ratio"])
            for mta in ("postfix", "posthorn"):
                self.assertEqual(table["6"][mta]["alive_at_end"], 10)
                self.assertEqual(table["7"][mta]["missing"], 0)
            with open(os.path.join(results, "history.md")) as f:
                history = f.read()
            self.assertEqual(history.count(latest["git"][:12]), 5)

    def test_performance_doc_has_budget_and_figures(self):
        with open(os.path.join(TOP, "docs", "performance.md")) as f:
            doc = f.read()
        for heading in ("## The harness (`make bench`)",
                        "**Syscall budget now**",
                        "## The floor",
                        "## Seventh measurement",
                        "## Missing"):
            self.assertIn(heading, doc)


if __name__ == "__main__":
    unittest.main()
