#!/usr/bin/env bash
# Load test of the appliance API on loopback (docs/PERFORMANCE.md, "Service").
# Usage: tests/bench/api_load.sh [CLIENTS] [SECONDS] [--no-audit] [--relaxed]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo run --release -q -p appliance --example api_bench -- "$@"
