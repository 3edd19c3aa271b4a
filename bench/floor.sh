#!/bin/sh
# make bench-floor: what the machine charges for the parts of scenario 1
# that any MTA under DESIGN.md's contract must pay, with no MTA around
# them (docs/performance.md "The floor"):
#   - the protocol: smtp-source -> smtp-sink (20 sessions, one message
#     of 4 KiB per connection, as in scenario 1), CPU of each side;
#   - the file system: bench/flush_floor.c storing the same number of
#     messages through a queue file and a Maildir file, with the four
#     flushes of the contract, with the two file flushes Postfix makes,
#     and with none.
# FLOOR_MESSAGES (10000), FLOOR_PORT (25999), TMPDIR (/tmp). The work
# directories are left behind on purpose (see flush_floor.c).
set -e
cd "$(dirname "$0")/.."
N=${FLOOR_MESSAGES:-10000}
PORT=${FLOOR_PORT:-25999}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/posthorn-floor-XXXXXX")
if [ ! -x /usr/sbin/smtp-source ] || [ ! -x /usr/sbin/smtp-sink ]; then
    sh tools/deps.sh
fi
mkdir -p build/bench
cc -O2 -Wall -Wextra -o build/bench/flush_floor bench/flush_floor.c

ticks=$(getconf CLK_TCK)
sink_user=nobody
/usr/sbin/smtp-sink -u "$sink_user" -c "127.0.0.1:$PORT" 1000 >/dev/null &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.5
before=$(awk '{print $14 + $15}' "/proc/$sink/stat")
start=$(date +%s.%N)
# smtp-source's user and system seconds, from getrusage of a child.
times=$(python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime, r.ru_stime)' /usr/sbin/smtp-source -s 20 -m "$N" \
    -l 4096 -f a@src.test -t b@dst.test "127.0.0.1:$PORT")
end=$(date +%s.%N)
after=$(awk '{print $14 + $15}' "/proc/$sink/stat")
kill $sink
trap - EXIT
echo "$times" | awk -v n="$N" -v t0="$start" -v t1="$end" \
    -v s="$((after - before))" -v hz="$ticks" '{
    printf "protocol  smtp-source->smtp-sink msgs/s=%.0f ", n / (t1 - t0)
    printf "sink_cpu_ms_per_msg=%.3f source_cpu_ms_per_msg=%.3f\n",
        s / hz * 1000 / n, ($1 + $2) * 1000 / n }'

per_proc=$((N / 20))
for mode in contract files none; do
    ./build/bench/flush_floor "$WORK/$mode" "$mode" 20 "$per_proc"
done
echo "floor: work directories left in $WORK"
