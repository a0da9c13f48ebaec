#!/usr/bin/env bash
# Cost of key-level access tracing on a whole query: q20 (RocksDB state,
# parallelism 2) without a trace, with a full trace and with a 1% sampled
# trace, interleaved, ROUNDS rounds; prints the best and the mean events/s
# of each mode and the overhead of each (this host's run-to-run spread is
# larger than the sampled trace's cost: read the mean over many rounds).
#
#   scripts/bench_trace_overhead.sh [EVENTS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-2000000}
ROUNDS=${2:-3}
cargo build --release -q -p memscale
BIN=target/release/memscale
OUT=$(mktemp -d -p target bench-trace.XXXX)
trap 'rm -rf "$OUT"' EXIT
declare -A best=([off]=0 [full]=0 [sampled]=0) sum=([off]=0 [full]=0 [sampled]=0)
for r in $(seq "$ROUNDS"); do
  for mode in off full sampled; do
    case $mode in
      off) extra=() ;;
      full) extra=(--trace "$OUT/q20.trace") ;;
      sampled) extra=(--trace "$OUT/q20.trace" --trace-sample 0.01) ;;
    esac
    "$BIN" run --query q20 --parallelism 2 --events "$EVENTS" --cache 256MiB --write-buffer 64MiB \
      --metrics-addr off --out "$OUT/run" "${extra[@]}" > /dev/null 2>&1
    t=$(python3 -c "import json;print(int(json.load(open('$OUT/run/summary.json'))['throughput']))")
    rm -f "$OUT/q20.trace"
    [ "$t" -gt "${best[$mode]}" ] && best[$mode]=$t
    sum[$mode]=$((sum[$mode] + t))
    echo "round $r $mode: $t events/s" >&2
  done
done
echo "| trace | best events/s | overhead (best) | mean events/s | overhead (mean) |"
echo "|---|---|---|---|---|"
for mode in off full sampled; do
  python3 -c "
off, t = ${best[off]}, ${best[$mode]}
moff, m = ${sum[off]} / $ROUNDS, ${sum[$mode]} / $ROUNDS
if '$mode' == 'off':
    print(f'| off | {t/1e3:.0f}K | | {m/1e3:.0f}K | |')
else:
    print(f'| $mode | {t/1e3:.0f}K | {100*(off-t)/off:+.1f}% | {m/1e3:.0f}K | {100*(moff-m)/moff:+.1f}% |')"
done
