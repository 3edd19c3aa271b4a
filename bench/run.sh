#!/bin/sh
# make bench: posthorn side by side with Postfix. See docs/performance.md.
# BENCH_MESSAGES (default 10000), BENCH_SENDMAIL (default 2000),
# BENCH_RUNS (default 3), BENCH_SCENARIOS (default "1 4 5 6 7"; all:
# "1 2 3 4 5 6 7"), BENCH_MTA (default "postfix postfix-ifd0 posthorn"),
# BENCH_POSTFIX_IFD0=0 drops the in_flow_delay=0 Postfix; the rest is in
# bench/bench.py's header and docs/performance.md.
set -e
cd "$(dirname "$0")/.."
if [ ! -x /usr/sbin/smtp-source ] || [ ! -x /usr/sbin/postfix ]; then
    sh tools/deps.sh
fi
exec python3 bench/bench.py "$@"
