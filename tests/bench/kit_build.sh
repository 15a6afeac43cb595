#!/usr/bin/env bash
# Kit build and import benchmark (docs/PERFORMANCE.md, "Kit build" and "Import"):
#   200,000 generated OSV advisories (osv.dev all.zip dumps) + a 50 MB OCI artifact
#   → stella-kit build (wall, peak RSS) → stella-appliance import (wall, peak RSS)
#   and, for scale, `zstd -dc kit.ouk | sha256sum` on the same kit.
# Usage: tests/bench/kit_build.sh [WORKDIR] [N_ADVISORIES] [OCI_MB]
set -euo pipefail
cd "$(dirname "$0")/../.."
W="${1:-/tmp/stella-bench}"; N="${2:-200000}"; MB="${3:-50}"
mkdir -p "$W"
cargo build --release -q -p kit-builder -p appliance
KIT=target/release/stella-kit; APP=target/release/stella-appliance
if [ ! -f "$W/mirror/.done-$N-$MB" ]; then
  rm -rf "$W/mirror"; mkdir -p "$W/mirror"
  python3 tests/bench/gen_osv.py "$W/mirror" "$N"
  python3 tests/bench/gen_oci_layout.py "$W/mirror/oci" "$MB"
  touch "$W/mirror/.done-$N-$MB"
fi
rm -rf "$W/keys" "$W/data" "$W"/kit.ouk*
$KIT keygen --out "$W/keys" >/dev/null
cat >"$W/kit.toml" <<TOML
valid_days = 30
[[source]]
kind = "dir"
path = "$W/mirror"
oci_layout = "oci"
tag = "2"
[[client]]
id = "ci-bench"
TOML
measure() { /usr/bin/time -f "%e s wall, %M KiB peak RSS" "$@" 2>&1 >/dev/null | tail -1; }
echo "== stella-kit build ($N advisories + ${MB} MB OCI artifact)"
SOURCE_DATE_EPOCH=1795000000 measure $KIT build --config "$W/kit.toml" --key "$W/keys/vendor.key" --out "$W/kit.ouk" --cache "$W/cache"
ls -l "$W/kit.ouk" | awk '{print "kit size:", $5, "bytes"}'
$APP init --data "$W/data" --trust "$W/keys/vendor.pub" >/dev/null
echo "== stella-appliance import"
measure $APP import --data "$W/data" "$W/kit.ouk"
echo "== reference: zstd -dc kit.ouk | sha256sum"
/usr/bin/time -f "%e s wall" bash -c "zstd -dc '$W/kit.ouk' | sha256sum >/dev/null" 2>&1 | tail -1
