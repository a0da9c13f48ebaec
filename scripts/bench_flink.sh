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
  python3 - "$OUT/$policy/changes.json" "$policy" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1])):
    kind = "memory" if c["resized"] else "parallelism"
    print(f'{sys.argv[2]}:   {c["t_s"]:5.0f} s  {kind:<11} {c["config_before"]} -> {c["config_after"]}  took {c["duration_s"]:.1f} s')
PY
done
