#!/usr/bin/env bash
# memscale's autoscaler driving a real Flink job: for each policy, a fresh
# Flink cluster job (q20 at the large-state preset, a target the start
# configuration cannot sustain, 16 MiB of RocksDB memory per slot, one join
# subtask) under `memscale autoscale --flink` for DURATION. Prints each
# policy's summary line; decisions, changes (with the time each took,
# Flink's restart included), timeline and report per policy under OUT.
#
#   scripts/bench_flink.sh [OUT] [DURATION]      # default target/bench/flink, 150s
#   POLICIES="ds2 justin" RATE=20000 QUERY=q20 PRESET=large-state
#
# Needs Flink (scripts/setup.sh) and a release build. Starts its own
# cluster on 127.0.0.1:8081 (refused if one runs there) and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/bench/flink}
DURATION=${2:-150s}
POLICIES=${POLICIES:-ds2 justin}
RATE=${RATE:-20000}
QUERY=${QUERY:-q20}
PRESET=${PRESET:-large-state}
M=target/release/memscale
[ -x "$M" ] || cargo build --release -p memscale
DIR="$OUT/cluster"
rm -rf "$DIR"
mkdir -p "$OUT"
$M flink up --dir "$DIR"
trap '$M flink down --dir "$DIR" >/dev/null 2>&1 || true' EXIT
for policy in $POLICIES; do
  job=$($M flink submit --dir "$DIR" --query "$QUERY" --preset "$PRESET" --rate "$RATE" --memory-per-slot 16MiB)
  sleep 10
  $M autoscale --flink http://127.0.0.1:8081 --job "$job" --flink-dir "$DIR" --rate "$RATE" --policy "$policy" \
    --duration "$DURATION" --interval 10s --out "$OUT/$policy" 2>"$OUT/$policy.log" | sed "s/^/$policy: /"
  last=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c[-1]["job_after"] if c else sys.argv[2])' "$OUT/$policy/changes.json" "$job")
  $M flink cancel --job "$last" >/dev/null
  python3 - "$OUT/$policy" "$policy" <<'PY'
import csv, json, os, sys
out, policy = sys.argv[1], sys.argv[2]
rows = [r for r in csv.DictReader(open(os.path.join(out, "timeline.csv"))) if r["operator"] == "source"]
def rate(lo, hi):
    xs = [float(r["input_rate"]) for r in rows if lo <= float(r["t_s"]) < hi]
    return sum(xs) / len(xs) if xs else float("nan")
for c in json.load(open(os.path.join(out, "changes.json"))):
    kind = "memory" if c["resized"] else "parallelism"
    t, d = c["t_s"], c["duration_s"]
    print(f'{policy}:   {t:5.0f} s  {kind:<11} {c["config_before"]} -> {c["config_after"]}  took {d:.1f} s; '
          f'sources {rate(t - 20, t):.0f}/s in the 20 s before, {rate(t + d, t + d + 20):.0f}/s in the 20 s after')
PY
done
