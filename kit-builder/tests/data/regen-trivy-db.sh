#!/usr/bin/env bash
# Regenerates tests/data/trivy-db/{db.tar.gz,metadata.json}: a real (tiny) Trivy DB v2 made
# by the oracle ../shared/oracles/trivydb/mktrivydb.py (bbolt written by Go's bbolt), used
# by the kit-builder tests as the layer of a Trivy-DB-shaped OCI artifact. The tests never
# run the oracle; they read the committed output.
#   kit-builder/tests/data/regen-trivy-db.sh      (needs ../shared/oracles/install.sh done)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
oracles="${ORACLES_DIR:-$here/../../../../shared/oracles}"
# shellcheck disable=SC1091
source "$oracles/env.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/osv"
cat >"$work/osv/GHSA-test-0001.json" <<'JSON'
{"id":"GHSA-test-0001","modified":"2026-01-01T00:00:00Z","aliases":["CVE-2026-0001"],
 "summary":"demo: test advisory","database_specific":{"severity":"HIGH"},
 "affected":[{"package":{"ecosystem":"PyPI","name":"demo-pkg"},
   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2.0"}]}]}]}
JSON
cat >"$work/osv/RUSTSEC-2026-0002.json" <<'JSON'
{"id":"RUSTSEC-2026-0002","modified":"2026-01-02T00:00:00Z",
 "summary":"demo crate advisory",
 "affected":[{"package":{"ecosystem":"crates.io","name":"democrate"},
   "ranges":[{"type":"SEMVER","events":[{"introduced":"0.1.0"},{"fixed":"0.3.1"}]}]}]}
JSON
python3 "$oracles/trivydb/mktrivydb.py" "$work/out" --osv "$work/osv"
cp "$work/out/db.tar.gz" "$work/out/metadata.json" "$here/trivy-db/"
ls -l "$here/trivy-db/"
