#!/usr/bin/env bash
# Regenerates the real-data corpus of appliance/scanner/tests/corpus.rs (see corpus.py for
# what it does, PROVENANCE.md for where the records come from and under which licence).
#
#   PYPA=... VULNDB=... RUSTSEC=... DRUPAL=... [GHSA=...] appliance/scanner/tests/data/corpus/regen.sh
#
# Each variable is a local git copy (bare or with a work tree) of:
#   PYPA     pypa/advisory-database                       (HEAD: vulns/**/*.yaml)
#   VULNDB   golang/vulndb                                (HEAD: data/osv/*.json)
#   RUSTSEC  rustsec/advisory-db                          (branch `osv`: crates/*.json)
#   DRUPAL   DrupalSecurityTeam/drupal-advisory-database  (HEAD: advisories/**/*.json)
#   GHSA     github/advisory-database, optional           (HEAD: advisories/github-reviewed)
# Needs the oracles of ../shared/oracles (install.sh: py node go cargo maven apt), python3
# with PyYAML, git and zstd. Writes records/*.jsonl.zst, expected.tsv, sample.tsv and
# sources.tsv here; the tests never run the oracles or read the databases themselves.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shared="${SHARED:-$here/../../../../../../shared}"
# shellcheck disable=SC1091
source "$shared/oracles/env.sh"
args=(--shared "$shared" --out "$here")
[ -n "${PYPA:-}" ] && args+=(--pypa "$PYPA")
[ -n "${VULNDB:-}" ] && args+=(--vulndb "$VULNDB")
[ -n "${RUSTSEC:-}" ] && args+=(--rustsec "$RUSTSEC")
[ -n "${DRUPAL:-}" ] && args+=(--drupal "$DRUPAL")
[ -n "${GHSA:-}" ] && args+=(--ghsa "$GHSA")
# System python3: PyYAML (python3-yaml) is there; the oracles bring their own interpreters.
exec /usr/bin/python3 "$here/corpus.py" "${args[@]}"
