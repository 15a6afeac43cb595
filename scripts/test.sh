#!/usr/bin/env bash
# The whole test suite: what the README tells users to run and what .ci/run runs.
#
# Dependencies are fetched first; then the tests run inside a network namespace that has
# only loopback (`unshare -n`), which proves the sealed side never needs the network.
# Where unshare is not permitted (an unprivileged container) the tests run normally and
# say so.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fetch --locked >/dev/null
if unshare -n -- true 2>/dev/null; then
  echo "running the test suite inside 'unshare -n' (loopback only)"
  exec unshare -n -- sh -c 'ip link set lo up; exec cargo test --workspace --offline --locked "$@"' sh "$@"
else
  echo "warning: 'unshare -n' not permitted here; running without a network namespace" >&2
  exec cargo test --workspace --offline --locked "$@"
fi
