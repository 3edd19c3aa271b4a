#!/usr/bin/env python3
"""ab.py: is build B faster than build A? posthorn alone, one scenario,
runs alternating A, B, A, B, ... so that the machine's drift (load from
the runs themselves, other tenants, the file system) falls on both.

  python3 bench/ab.py A_BUILD_DIR B_BUILD_DIR [ROUNDS]

A_BUILD_DIR and B_BUILD_DIR are build directories (their bin/ and
libexec/ are run, as BENCH_BUILD). Each round runs bench.py once per
build (BENCH_RUNS=1, BENCH_MTA=posthorn). AB_SCENARIO (1), AB_MESSAGES
(10000) and TMPDIR pass on; the results of the runs go to a temporary
BENCH_RESULTS_DIR, never to bench/results.

Prints per build the median, minimum and maximum of msgs/s and of CPU
ms per message, the ratio of the medians (B/A), and for each figure the
two-sided p-value of a permutation test on the difference of the means
(exact over all splits up to 16 runs, else 20,000 random ones): p above
~0.05 means the difference is within what this machine does between
runs of one build (docs/performance.md, session 5).
"""
import itertools
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_LINE = re.compile(r"run \d+ posthorn\s+\{.*'rate': ([\d.]+), "
                      r"'cpu_ms_per_msg': ([\d.]+)")


def one_run(build, results):
    env = dict(os.environ, BENCH_BUILD=build, BENCH_RUNS="1",
               BENCH_MTA="posthorn", BENCH_RESULTS_DIR=results,
               BENCH_SCENARIOS=os.environ.get("AB_SCENARIO", "1"),
               BENCH_MESSAGES=os.environ.get("AB_MESSAGES", "10000"),
               BENCH_SETTLE_SECONDS=os.environ.get("BENCH_SETTLE_SECONDS",
                                                   "3"))
    out = subprocess.run([sys.executable, os.path.join(HERE, "bench.py")],
                         env=env, capture_output=True, text=True,
                         timeout=1800)
    m = RUN_LINE.search(out.stderr + out.stdout)
    if out.returncode != 0 or m is None:
        sys.exit("ab: bench.py failed for %s:\n%s" % (build,
                                                     out.stderr[-2000:]))
    return float(m.group(1)), float(m.group(2))


def permutation_p(a, b, tries=20000):
    """Two-sided p of a difference of means at least this large."""
    observed = abs(statistics.mean(a) - statistics.mean(b))
    pooled = a + b
    n = len(a)
    if len(pooled) <= 16:
        splits = [set(c) for c in itertools.combinations(
            range(len(pooled)), n)]
    else:
        rng = random.Random(1)
        splits = [set(rng.sample(range(len(pooled)), n))
                  for _ in range(tries)]
    hits = 0
    for s in splits:
        x = [pooled[i] for i in s]
        y = [pooled[i] for i in range(len(pooled)) if i not in s]
        hits += abs(statistics.mean(x) - statistics.mean(y)) >= observed
    return hits / len(splits)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    builds = [os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])]
    rounds = int(sys.argv[3]) if len(sys.argv) == 4 else 4
    if not 2 <= rounds <= 50:
        sys.exit("ab: ROUNDS must be 2..50")
    for b in builds:
        if not os.path.isdir(os.path.join(b, "libexec")):
            sys.exit("ab: %s is not a build directory" % b)
    runs = {0: [], 1: []}
    with tempfile.TemporaryDirectory(prefix="posthorn-ab-") as results:
        for r in range(rounds):
            for i in (0, 1) if r % 2 == 0 else (1, 0):
                rate, cpu = one_run(builds[i], results)
                runs[i].append((rate, cpu))
                print("round %d %s: %.1f msgs/s, %.3f ms CPU/msg" % (
                    r + 1, "AB"[i], rate, cpu), flush=True)
    for k, name in ((0, "msgs/s"), (1, "CPU ms/msg")):
        a = [x[k] for x in runs[0]]
        b = [x[k] for x in runs[1]]
        print("%-10s A median %.3f [%.3f..%.3f]  B median %.3f "
              "[%.3f..%.3f]  B/A %.3f  p=%.3f" % (
                  name, statistics.median(a), min(a), max(a),
                  statistics.median(b), min(b), max(b),
                  statistics.median(b) / statistics.median(a),
                  permutation_p(a, b)))


if __name__ == "__main__":
    main()
