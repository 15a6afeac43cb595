#!/usr/bin/env bash
# Regenerates the Trivy DB the cross-check test (appliance/scanner/tests/trivy_crosscheck.rs) scans
# with: the repo's sample feed (samples/feeds/osv) converted by the oracle's mktrivydb.py
# (../shared/oracles/trivydb/, README §6) — language ecosystems from the OSV records, OS
# buckets from os-advisories.json, which os_advisories.py derives from the same
# Debian/Alpine records. Run after the sample feed changes; review the diff of
# os-advisories.json and the test's output, then commit db.tar.gz + metadata.json.
# Needs the oracles (source ../shared/oracles/env.sh; boltput from install.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../../.." && pwd)"
oracles="${ORACLES_DIR:-$root/../shared/oracles}"
source "$oracles/env.sh"
feed="$root/samples/feeds/osv"
work=$(mktemp -d /tmp/trivy-crosscheck-db.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 "$here/os_advisories.py" "$feed" "$here/os-advisories.json"
# mktrivydb.py copies database_specific.severity verbatim, but GHSA says "MODERATE" where
# Trivy (and trivy-db's GHSA importer, which maps it) says "MEDIUM"; Trivy silently drops a
# vulnerability whose severity it cannot parse. And trivy-db stores NuGet package names
# lower-cased (Trivy looks them up lower-cased), which mktrivydb.py does not do. Feed it
# copies with those two things done as trivy-db's importer does them.
osv=()
for d in "$feed"/*/; do
  eco="$(basename "$d")"
  case "$eco" in Debian|Alpine) continue ;; esac
  mkdir -p "$work/osv/$eco"
  python3 - "$d" "$work/osv/$eco" <<'PY'
import glob, json, os, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    o = json.load(open(f))
    ds = o.get("database_specific") or {}
    if ds.get("severity") == "MODERATE":
        ds["severity"] = "MEDIUM"
    for a in o.get("affected", []):
        if a["package"]["ecosystem"] == "NuGet":
            a["package"]["name"] = a["package"]["name"].lower()
    json.dump(o, open(os.path.join(sys.argv[2], os.path.basename(f)), "w"))
PY
  # mktrivydb.py globs DIR/*.json (not recursive): one --osv per ecosystem directory.
  osv+=(--osv "$work/osv/$eco")
done
"$ORACLES_VENV/bin/python" "$oracles/trivydb/mktrivydb.py" "$work/db" "${osv[@]}" \
  --os-advisories "$here/os-advisories.json" --source-name "Stella sample feed"
cp "$work/db/db.tar.gz" "$here/db.tar.gz"
cp "$work/db/metadata.json" "$here/metadata.json"
echo "wrote $here/db.tar.gz ($(stat -c %s "$here/db.tar.gz") bytes)"
