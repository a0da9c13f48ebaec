#!/usr/bin/env python3
"""Reference miss counts from the libcachesim PyPI package (libCacheSim).

Usage: libcachesim_ref.py TRACE POLICY[,POLICY...] SIZE[,SIZE...]
Prints one JSON object per line: policy, cache_size, requests, misses,
byte_misses. Policies use memscale's names (lru, fifo, clock, arc, 2q,
s3fifo, sieve); the trace is an oracleGeneral file.
"""
import json
import sys

import libcachesim as lcs

NAMES = {"lru": "LRU", "fifo": "FIFO", "clock": "Clock", "arc": "ARC",
         "2q": "TwoQ", "s3fifo": "S3FIFO", "sieve": "Sieve", "lfu": "LFU",
         "belady": "Belady"}


def count(path):
    reader = lcs.TraceReader(path, trace_type=lcs.TraceType.ORACLE_GENERAL_TRACE)
    n = nbytes = 0
    for req in reader:
        n += 1
        nbytes += req.obj_size
    return n, nbytes


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, policies, sizes = sys.argv[1], sys.argv[2].split(","), [int(s) for s in sys.argv[3].split(",")]
    n, nbytes = count(path)
    for p in policies:
        for s in sizes:
            reader = lcs.TraceReader(path, trace_type=lcs.TraceType.ORACLE_GENERAL_TRACE)
            mr, bmr = getattr(lcs, NAMES[p])(cache_size=s).process_trace(reader)
            print(json.dumps({"policy": p, "cache_size": s, "requests": n,
                              "misses": round(mr * n), "byte_misses": round(bmr * nbytes)}), flush=True)


if __name__ == "__main__":
    main()
