#!/usr/bin/env bash
# Writes a RocksDB block-cache trace with db_bench (Debian: rocksdb-tools)
# and prints RocksDB's own block-cache hit and miss counts for the same run.
#
# usage: scripts/rocksdb_block_trace.sh OUT_TRACE [READS] [CACHE_BYTES]
# The test fixture cachesim/tests/data/db_bench_readrandom.trace.zst was made
# with: scripts/rocksdb_block_trace.sh /tmp/t 3000 1048576 && zstd -19 /tmp/t
set -euo pipefail
out=${1:?usage: $0 OUT_TRACE [READS] [CACHE_BYTES]}
reads=${2:-3000}
cache=${3:-1048576}
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
db_bench -benchmarks=fillrandom,flush -db="$db" -num=50000 -value_size=100 \
  -compression_type=none -seed=1 >/dev/null
db_bench -benchmarks=readrandom -use_existing_db=true -db="$db" -num=50000 \
  -reads="$reads" -cache_size="$cache" -seed=2 -threads=1 -use_direct_reads=true \
  -block_cache_trace_file="$out" -block_cache_trace_sampling_frequency=1 \
  -block_cache_trace_max_trace_file_size_in_bytes=1000000000 -statistics \
  | grep -E '^rocksdb\.block\.cache\.(hit|miss) COUNT'
