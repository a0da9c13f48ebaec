#!/usr/bin/env bash
# Live rescaling, measured: q20 at the large-state preset at a fixed rate
# the job sustains, `join` rescaled 2→4 and 4→2 while it runs, once per
# strategy. Prints per rescale: duration, key groups, keys and bytes
# moved, MB/s, seconds per 100 MB, the longest any record waited, and the
# end-to-end p99 in the 10 s from the rescale's start against the 10 s
# before it (steady state).
#
#   scripts/bench_rescale.sh [RATE] [BATCH]
#   STRATEGIES=progressive scripts/bench_rescale.sh 30000 2    # one strategy
#
# Goals (issue 13): stop-the-world under 1 s per 100 MB moved; progressive's
# end-to-end p99 around the rescale at most 1/5 of stop-the-world's.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-30000}
BATCH=${2:-2}
cargo build --release -q -p memscale
BIN=target/release/memscale
OUT=$(mktemp -d -p target bench-rescale.XXXX)
trap 'rm -rf "$OUT"' EXIT
STRATEGIES=${STRATEGIES:-progressive stop-the-world}
for strategy in $STRATEGIES; do
  "$BIN" run --query q20 --preset large-state --rate "$RATE" --duration 50s \
    --parallelism 2,source=1 --rescale 15s:join=4,32s:join=2 \
    --strategy "$strategy" --migration-batch "$BATCH" \
    --metrics-addr off --control-addr off --out "$OUT/$strategy" > /dev/null 2>"$OUT/$strategy.log" \
    || { cat "$OUT/$strategy.log" >&2; exit 1; }
done
python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
print(f"{'strategy':<15} {'change':<6} {'dur_s':>6} {'groups':>6} {'keys':>8} {'MB':>7} {'MB/s':>6} {'s/100MB':>7} {'wait_ms':>8} {'p99_10s_ms':>10} {'p99_before':>10}")
p99 = {}
for strategy in ["progressive", "stop-the-world"]:
    if not os.path.exists(os.path.join(out, strategy, "rescales.json")):
        continue
    for r in json.load(open(os.path.join(out, strategy, "rescales.json"))):
        if r["kind"] != "rescale":
            continue
        mb = r["bytes_moved"] / 1e6
        per100 = r["duration_s"] / mb * 100 if mb else float("nan")
        change = f"{r['from']}->{r['to']}"
        p99.setdefault(strategy, []).append(r["e2e_p99_ms_10s_from_start"])
        print(f"{strategy:<15} {change:<6} {r['duration_s']:>6.3f} {r['key_groups_moved']:>6} {r['keys_moved']:>8} {mb:>7.1f} {r['mb_per_s']:>6.1f} {per100:>7.2f} {r['max_record_wait_ms']:>8.1f} {r['e2e_p99_ms_10s_from_start']:>10.1f} {r['e2e_p99_ms_10s_before']:>10.1f}")
if len(p99) == 2:
    for i, (a, b) in enumerate(zip(p99["progressive"], p99["stop-the-world"])):
        print(f"rescale {i + 1}: progressive p99 / stop-the-world p99 = {a / b:.2f}" if b else f"rescale {i + 1}: no stop-the-world latency")
PY
