#!/usr/bin/env bash
# Interleaved A/B of two memscale binaries on the engine benchmark's
# queries: for each query, the two binaries run in turn ROUNDS times on the
# same events (the host's speed drifts by 20-40% within the hour, so runs
# side by side, never one binary's batch after the other's). Prints each
# pair's events/s and the ratio of B's median to A's.
#
#   scripts/ab_engine.sh BIN_A BIN_B [EVENTS] [ROUNDS] [QUERY:PRESET:P ...]
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1 B=$2 EVENTS=${3:-2000000} ROUNDS=${4:-3}
shift 4 2>/dev/null || shift $#
CONFIGS=("$@")
if [ ${#CONFIGS[@]} -eq 0 ]; then
  CONFIGS=(q20:default:2 q18:default:2 q5:default:2 q7:default:2 q20:large-state:2 q18:large-state:2 q3:default:1 q19:default:1)
fi
OUT=$(mktemp -d -p target ab-engine.XXXX)
trap 'rm -rf "$OUT"' EXIT
rate() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['throughput'])" "$1"; }
one() { # bin query preset parallelism tag
  "$1" run --query "$2" --preset "$3" --parallelism "$4" --events "$EVENTS" --cache 256MiB --write-buffer 64MiB \
    --metrics-addr off --filters whole --out "$OUT/$5" > /dev/null 2>&1
  rate "$OUT/$5/summary.json"
}
echo "| query | preset | p | A events/s (runs) | B events/s (runs) | B/A (medians) |"
echo "|---|---|---|---|---|---|"
for cfg in "${CONFIGS[@]}"; do
  IFS=: read -r -a parts <<< "$cfg"
  set -- "${parts[@]}"
  ra=() rb=()
  for r in $(seq "$ROUNDS"); do
    ra+=("$(one "$A" "$1" "$2" "$3" a)")
    rb+=("$(one "$B" "$1" "$2" "$3" b)")
  done
  python3 - "$1" "$2" "$3" "${ra[*]}" "${rb[*]}" <<'PY'
import statistics, sys
q, preset, p, a, b = sys.argv[1:6]
a = [float(x) for x in a.split()]; b = [float(x) for x in b.split()]
fmt = lambda xs: " ".join(f"{x/1e3:.0f}K" for x in xs)
print(f"| {q} | {preset} | {p} | {fmt(a)} | {fmt(b)} | {statistics.median(b)/statistics.median(a):.3f} |", flush=True)
PY
done
