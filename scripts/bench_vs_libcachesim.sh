#!/usr/bin/env bash
# Speed and accuracy of memscale beside libCacheSim on the same trace, one
# core each: 20 M requests, Zipf 0.9 over 2 M objects, 512 B - 16 KiB.
#
# usage: scripts/bench_vs_libcachesim.sh [TRACE]
# Needs .venv with libcachesim (scripts/setup.sh makes it).
# Prints memscale's and libCacheSim's M req/s per policy and their ratio,
# memscale's exact-MRC and SHARDS rates, and the MAE of SHARDS, AET and
# MiniSim; then, per policy, the processes a user runs timed as a whole,
# side by side (`memscale sim TRACE --policy P --sizes 1GiB` against
# libcachesim's `process_trace`, reading included), and their ratio beside
# the in-memory one. Results land in target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
trace=${1:-target/bench/zipf20m.oracleGeneral.bin}
size=$((1 << 30))
policies=lru,fifo,clock,arc,2q,s3fifo,sieve
py=${MEMSCALE_PEER_PYTHON:-.venv/bin/python}
mkdir -p target/bench
cargo build --release -q -p memscale
bin=target/release/memscale
if [ ! -f "$trace" ]; then
  $bin trace gen -o "$trace" --requests 20000000 --objects 2000000 --alpha 0.9 \
    --min-size 512 --max-size 16KiB --seed 7
fi
pin="taskset -c 0"
command -v taskset >/dev/null || pin=""
$pin "$py" scripts/libcachesim_speed.py "$trace" "$size" "$policies" > target/bench/libcachesim.json
RAYON_NUM_THREADS=1 $pin $bin bench "$trace" --policy "$policies" --size 1GiB --rate 0.01 \
  --accuracy --mae-sizes 64MiB..4GiB:20 --json target/bench/memscale.json
"$py" - <<'PY'
import json
ours = json.load(open("target/bench/memscale.json"))
theirs = json.load(open("target/bench/libcachesim.json"))
print(f"\n{'policy':<8} {'memscale':>10} {'libCacheSim':>12} {'ratio':>6}")
for t in ours["throughput"]:
    w = t["what"]
    if not w.startswith("sim "):
        continue
    p = w.split()[1]
    if p in theirs:
        print(f"{p:<8} {t['mreq_per_s']:>10.2f} {theirs[p]:>12.2f} {t['mreq_per_s'] / theirs[p]:>6.2f}")
for t in ours["throughput"]:
    if t["what"].startswith("mrc"):
        print(f"{t['what']:<40} {t['mreq_per_s']:.2f} M req/s")
for a in ours["accuracy"]:
    print(f"{a['what']:<40} MAE {a['mae']:.5f}")
print(f"(memscale loads the trace once for all policies: {ours['load_seconds']:.2f} s, not in the rates)")
PY

# Whole processes, as a user runs them: reading the trace is part of the
# time. Interleaved per policy, so that host drift hits both alike.
echo
printf '%-8s %12s %14s %6s %10s\n' policy "memscale s" "libCacheSim s" ratio in-memory
TIMEFORMAT=%R
for p in lru fifo arc s3fifo sieve; do
  ours=$( { time $pin $bin sim "$trace" --format oracle --policy "$p" --sizes 1GiB >/dev/null; } 2>&1 | tail -1)
  theirs=$( { time $pin "$py" scripts/libcachesim_speed.py --once "$trace" "$size" "$p" >/dev/null; } 2>&1 | tail -1)
  "$py" - "$p" "$ours" "$theirs" <<'PY'
import json, sys
p, ours, theirs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
m = json.load(open("target/bench/memscale.json"))
l = json.load(open("target/bench/libcachesim.json"))
mem = next((t["mreq_per_s"] for t in m["throughput"] if t["what"].split()[:2] == ["sim", p]), None)
inner = f"{mem / l[p]:.2f}" if mem and p in l else "-"
print(f"{p:<8} {ours:>12.2f} {theirs:>14.2f} {theirs / ours:>6.2f} {inner:>10}")
PY
done
