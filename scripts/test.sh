#!/usr/bin/env bash
# The test command: set up what the tests need (scripts/setup.sh), then run
# every test of the workspace in one (release) build profile.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --release --workspace "$@"
