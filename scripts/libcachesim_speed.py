#!/usr/bin/env python3
"""Times libCacheSim (the libcachesim PyPI package) on one trace, one core.

Usage: libcachesim_speed.py TRACE SIZE_BYTES POLICY[,POLICY...]
Prints JSON: {"policy": M req/s, ...}. Each policy processes the whole
oracleGeneral trace once inside libCacheSim's C code (process_trace); the
time includes libCacheSim reading the trace, as its own tools do.

Usage: libcachesim_speed.py --once TRACE SIZE_BYTES POLICY
Processes the trace once with one policy and prints its miss ratios: the
process a user runs, for timing as a whole beside `memscale sim`.
"""
import json
import sys
import time

import libcachesim as lcs

NAMES = {"lru": "LRU", "fifo": "FIFO", "clock": "Clock", "arc": "ARC",
         "2q": "TwoQ", "s3fifo": "S3FIFO", "sieve": "Sieve", "lfu": "LFU"}


def once(path, size, policy):
    reader = lcs.TraceReader(path, trace_type=lcs.TraceType.ORACLE_GENERAL_TRACE)
    print(getattr(lcs, NAMES[policy])(cache_size=size).process_trace(reader))


def main():
    if sys.argv[1] == "--once":
        once(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    path, size, policies = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
    n = sum(1 for _ in lcs.TraceReader(path, trace_type=lcs.TraceType.ORACLE_GENERAL_TRACE))
    out = {"requests": n}
    for p in policies:
        reader = lcs.TraceReader(path, trace_type=lcs.TraceType.ORACLE_GENERAL_TRACE)
        cache = getattr(lcs, NAMES[p])(cache_size=size)
        t = time.perf_counter()
        cache.process_trace(reader)
        out[p] = n / (time.perf_counter() - t) / 1e6
        print(f"libCacheSim {p:<8} {out[p]:6.2f} M req/s", file=sys.stderr, flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
