#!/usr/bin/env bash
# External check of the cache model against RocksDB itself: db_bench records
# its block-cache trace in ONE run at one cache size; memscale predicts from
# that trace the hit ratio at other sizes; db_bench then runs the same
# workload at each size and reports its own measured hits (-statistics).
#
# usage: scripts/predict_db_bench.sh [TRACE_CACHE] [SIZES]
#   TRACE_CACHE  cache of the traced run, bytes (default 8 MiB)
#   SIZES        comma list of sizes to predict, bytes (default 1..32 MiB)
# Needs db_bench (Debian: rocksdb-tools, scripts/setup.sh installs it).
# Prints predicted and measured hit ratios per size and the largest error
# of each model; exits 1 if the RocksDB LRUCache model is off by more than
# 0.01 anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
trace_cache=${1:-8388608}
sizes=${2:-1048576,2097152,4194304,8388608,16777216,33554432}
work=$(mktemp -d -p target 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release -q -p memscale
bin=target/release/memscale
common=(-use_existing_db=true -db="$work/db" -num=200000 -reads=100000 -seed=2 -threads=1
        -use_direct_reads=true -read_random_exp_range=10 -statistics)

echo "filling a 200,000-key DB (200-byte values, no compression)..." >&2
db_bench -benchmarks=fillrandom,flush -db="$work/db" -num=200000 -value_size=200 \
  -compression_type=none -seed=1 >/dev/null 2>&1
echo "traced run at $trace_cache bytes..." >&2
db_bench -benchmarks=readrandom "${common[@]}" -cache_size="$trace_cache" \
  -block_cache_trace_file="$work/block.trace" -block_cache_trace_sampling_frequency=1 \
  -block_cache_trace_max_trace_file_size_in_bytes=10000000000 >/dev/null 2>&1

measured() {
  db_bench -benchmarks=readrandom "${common[@]}" -cache_size="$1" 2>/dev/null |
    awk '/^rocksdb\.block\.cache\.hit COUNT/ {h=$4} /^rocksdb\.block\.cache\.miss COUNT/ {m=$4}
         END {printf "%.6f", h / (h + m)}'
}
for s in ${sizes//,/ }; do
  echo "$s,$(measured "$s")"
done > "$work/measured.csv"

# db_bench builds its cache with -cache_high_pri_pool_ratio, 0 by default:
# no high-priority pool. RocksDB charges each entry its block plus its
# handle and key (about 100 bytes here).
policies="lru,rocksdb-lru:high_pri=0,rocksdb-lru:high_pri=0,metadata=100"
$bin sim "$work/block.trace" --policy "$policies" --sizes "$sizes" --csv "$work/predicted.csv" >/dev/null

python3 - "$work/measured.csv" "$work/predicted.csv" <<'PY'
import csv, sys
measured = {int(r[0]): float(r[1]) for r in csv.reader(open(sys.argv[1]))}
predicted = {}
for r in csv.DictReader(open(sys.argv[2])):
    predicted.setdefault(r["policy"], {})[int(r["cache_size"])] = 1 - float(r["miss_ratio"])
names = list(predicted)
print(f"{'cache':>10} {'measured':>9} " + " ".join(f"{n:>34}" for n in names))
for size, m in sorted(measured.items()):
    print(f"{size:>10} {m:>9.4f} " + " ".join(f"{predicted[n][size]:>34.4f}" for n in names))
worst = {n: max(abs(predicted[n][s] - m) for s, m in measured.items()) for n in names}
for n in names:
    print(f"largest |predicted - measured| hit ratio, {n}: {worst[n]:.4f}")
sys.exit(1 if worst[names[-1]] > 0.01 else 0)
PY
