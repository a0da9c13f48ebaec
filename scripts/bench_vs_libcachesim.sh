#!/usr/bin/env bash
# Speed and accuracy of memscale beside libCacheSim on the same trace, one
# core each: 20 M requests, Zipf 0.9 over 2 M objects, 512 B - 16 KiB.
#
# usage: scripts/bench_vs_libcachesim.sh [TRACE]
# Needs .venv with libcachesim (scripts/setup.sh makes it).
# Prints memscale's and libCacheSim's M req/s per policy and their ratio,
# memscale's exact-MRC and SHARDS rates, and the MAE of SHARDS, AET and
# MiniSim. Results land in target/bench/.
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
