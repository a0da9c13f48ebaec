#!/usr/bin/env bash
# Cost of key-level access tracing on a whole query: q20 (RocksDB state,
# parallelism 2) without a trace, with a full trace and with a 1% sampled
# trace, interleaved, ROUNDS rounds. Prints, per mode, the best and mean
# events/s and the mean CPU seconds of the run (user + system), with the
# overhead of each against the untraced runs. On this host both vary by
# ±20% between identical runs, more than a sampled trace costs: the
# recorder's own cost per access (`cargo run --release -p memscale-engine
# --example trace_overhead`) bounds that share (docs/BENCHMARKS.md).
#
#   scripts/bench_trace_overhead.sh [EVENTS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-2000000}
ROUNDS=${2:-5}
cargo build --release -q -p memscale
OUT=$(mktemp -d -p target bench-trace.XXXX)
trap 'rm -rf "$OUT"' EXIT
python3 - "$OUT" "$EVENTS" "$ROUNDS" <<'PY'
import json, os, resource, subprocess, sys
out, events, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
modes = {
    "off": [],
    "full": ["--trace", f"{out}/q20.trace"],
    "sampled": ["--trace", f"{out}/q20.trace", "--trace-sample", "0.01"],
}
runs = {m: [] for m in modes}
for r in range(1, rounds + 1):
    for mode, extra in modes.items():
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            ["target/release/memscale", "run", "--query", "q20", "--parallelism", "2", "--events", events,
             "--cache", "256MiB", "--write-buffer", "64MiB", "--metrics-addr", "off", "--out", f"{out}/run", *extra],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        t = json.load(open(f"{out}/run/summary.json"))["throughput"]
        if os.path.exists(f"{out}/q20.trace"):
            os.remove(f"{out}/q20.trace")
        runs[mode].append((t, cpu))
        print(f"round {r} {mode}: {t:.0f} events/s, {cpu:.1f} CPU s", file=sys.stderr, flush=True)
def stats(mode):
    ts, cpus = [x[0] for x in runs[mode]], [x[1] for x in runs[mode]]
    return max(ts), sum(ts) / len(ts), sum(cpus) / len(cpus)
best0, mean0, cpu0 = stats("off")
print("| trace | best events/s | mean events/s | mean CPU s | overhead: best | mean | CPU |")
print("|---|---|---|---|---|---|---|")
for mode in modes:
    best, mean, cpu = stats(mode)
    if mode == "off":
        print(f"| off | {best/1e3:.0f}K | {mean/1e3:.0f}K | {cpu:.2f} | | | |")
    else:
        print(f"| {mode} | {best/1e3:.0f}K | {mean/1e3:.0f}K | {cpu:.2f} | {100*(best0-best)/best0:+.1f}% "
              f"| {100*(mean0-mean)/mean0:+.1f}% | {100*(cpu-cpu0)/cpu0:+.1f}% |")
PY
