#!/bin/sh
# make bench: posthorn side by side with Postfix. See docs/performance.md.
# BENCH_MESSAGES (default 10000), BENCH_SENDMAIL (default 2000),
# BENCH_RUNS (default 3), BENCH_SCENARIOS (default "1 4 5"; all: "1 2 3 4 5").
set -e
cd "$(dirname "$0")/.."
if [ ! -x /usr/sbin/smtp-source ] || [ ! -x /usr/sbin/postfix ]; then
    sh tools/deps.sh
fi
exec python3 bench/bench.py "$@"
