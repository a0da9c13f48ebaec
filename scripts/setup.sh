#!/usr/bin/env bash
# Installs what the build and the tests need, once (each step is skipped
# when already done):
# - Debian packages: libclang-dev (bindgen for the RocksDB bindings),
#   zstd (fixtures), rocksdb-tools (db_bench, for scripts/rocksdb_block_trace.sh),
#   prometheus (the monitoring test scrapes a real run with it);
# - .venv with the `libcachesim` PyPI package, the peer the tests compare
#   cache simulations against;
# - .venv-flink with the `apache-flink` PyPI package (Flink 2.3, its jars
#   and scripts included; on Java 17, whose JDK is installed above if javac
#   is missing): the
#   cluster of `memscale flink up` and sweep/tests/flink.rs, and
#   scripts/flink_conformance.py.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
command -v zstd >/dev/null || need+=(zstd)
command -v db_bench >/dev/null || need+=(rocksdb-tools)
command -v prometheus >/dev/null || need+=(prometheus)
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
# Flink runs on Java 17; `memscale flink submit` compiles its job with javac.
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q "${need[@]}"
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import libcachesim' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q libcachesim
fi

if ! .venv-flink/bin/python -c 'import pyflink' 2>/dev/null; then
  command -v javac >/dev/null || { echo "Flink needs a JDK 17 (javac not found)" >&2; exit 1; }
  python3 -m venv .venv-flink
  .venv-flink/bin/pip install -q --upgrade pip
  .venv-flink/bin/pip install -q apache-flink
fi

test -f ../shared/data/cloudPhysicsIO.oracleGeneral.bin || {
  echo "../shared/data/cloudPhysicsIO.oracleGeneral.bin is missing: the golden tests need it beside the project" >&2
  exit 1
}
