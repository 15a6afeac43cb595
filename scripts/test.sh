#!/usr/bin/env bash
# The whole test suite: what the README tells users to run and what .ci/run runs.
#
# Test dependencies are installed and crates fetched first; then the tests run inside a
# network namespace that has only loopback (`unshare -n`), which proves the sealed side
# never needs the network. The run exports STELLA_TEST_SEALED=1 there, and
# tests/tests/sealed.rs checks that the namespace really holds nothing but `lo`.
#
# Where unshare is not permitted (an unprivileged container, a user without
# CAP_SYS_ADMIN) the script FAILS: a green run with the network on proves nothing about
# the sealed side. STELLA_TEST_ALLOW_NETWORK=1 runs the tests with the network anyway,
# on purpose and with a warning (the sealed-run test then reports instead of checking).
#
# Arguments go to `cargo test` (e.g. `scripts/test.sh -p tests`); without a package
# selection the whole workspace runs.
set -euo pipefail
cd "$(dirname "$0")/.."
# What the tests drive (stock minisign, skopeo, Trivy, Chromium + playwright-core…):
# installed when missing, a second's check when all is present, so this script passes by
# itself on a fresh machine.
scripts/install-test-deps.sh
cargo fetch --locked >/dev/null

# `--workspace` would override a `-p` given on the command line (cargo ignores -p then).
# A package selection still gets fresh binaries: the end-to-end tests in tests/ drive the
# workspace's binaries from target/<profile>/, which `cargo test -p tests` alone does not
# build. A whole-workspace `cargo test` builds them itself (every package with a binary
# has integration tests, so cargo builds and uplifts its binaries before any test runs),
# with the test build's features; building them beforehand with `cargo build --bins`
# would compile a second feature set of ~40 crates for nothing.
scope=(--workspace)
profile=()
prev=""
for a in "$@"; do
  case "$a" in
    --) break ;;
    -p | -p* | --package | --package=*) scope=() ;;
    -r | --release | --profile=*) profile+=("$a") ;;
  esac
  [ "$prev" = --profile ] && profile+=(--profile "$a")
  prev="$a"
done

build_bins() {
  if [ "${#scope[@]}" -eq 0 ]; then
    cargo build --workspace --bins --offline --locked ${profile[@]+"${profile[@]}"}
  fi
}

unset STELLA_TEST_SEALED
if unshare -n -- true 2>/dev/null; then
  build_bins
  echo "running the test suite inside 'unshare -n' (loopback only)"
  exec unshare -n -- env STELLA_TEST_SEALED=1 sh -c \
    'ip link set lo up || { echo "error: cannot bring up lo in the test namespace (is iproute2 installed?)" >&2; exit 1; }
     exec cargo test "$@"' sh ${scope[@]+"${scope[@]}"} --offline --locked "$@"
elif [ "${STELLA_TEST_ALLOW_NETWORK:-}" = 1 ]; then
  {
    echo "################################################################################"
    echo "WARNING: STELLA_TEST_ALLOW_NETWORK=1 — 'unshare -n' is not permitted here and the"
    echo "tests run WITH the network. This run does NOT prove that the sealed side needs no"
    echo "network. Run scripts/test.sh as root (or in CI) for that proof."
    echo "################################################################################"
  } >&2
  build_bins
  exec cargo test ${scope[@]+"${scope[@]}"} --offline --locked "$@"
else
  {
    echo "error: 'unshare -n' is not permitted here (needs root or CAP_SYS_ADMIN), so the"
    echo "  tests cannot run in a loopback-only network namespace and would not prove that"
    echo "  the sealed side needs no network."
    echo "  Run as root (sudo scripts/test.sh), or set STELLA_TEST_ALLOW_NETWORK=1 to run"
    echo "  with the network on purpose."
  } >&2
  exit 1
fi
