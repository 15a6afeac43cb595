#!/usr/bin/env bash
# Regenerates the version-ordering vectors in this folder from the reference
# implementations ("oracles") in ../shared/oracles/vercmp (see its README, section 2).
# Each <eco>.tsv holds `a<TAB>b<TAB>expected` lines: -1, 0, 1, or `ERR <reason>` when the
# reference refuses a version. appliance/scanner/tests/vercmp.rs checks every line against our
# implementation; the tests never run the oracles themselves.
#
#   appliance/scanner/tests/data/vercmp/regen.sh            # every ecosystem listed below
#   appliance/scanner/tests/data/vercmp/regen.sh go rpm     # only these
#
# Every file = the driver's curated pairs + RANDOM seeded random pairs per seed in SEEDS
# (duplicates dropped, order kept), so a file is reproducible from this script alone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shared="${SHARED:-$here/../../../../../../shared}"
# shellcheck disable=SC1091
source "$shared/oracles/env.sh"
driver="$shared/oracles/vercmp/driver.py"
RANDOM_N="${RANDOM_N:-1000}"
SEEDS="${SEEDS:-1 2 3}"

# Per-ecosystem oracle settings:
#   go      ORACLE_STRICT=1: x/mod sorts invalid versions lowest; strict mode reports them
#           as ERR so that "refused" is checked instead of an invented order.
#   alpine  the reference is apk-tools 3.0 itself (`apk version -t A B`, which refuses
#           versions that fail apk_version_validate), through the driver's alpine:apk
#           oracle: set APK_BIN to an apk-tools 3.0.x `apk` (the vectors were made with
#           3.0.6). The driver's default Alpine oracle, go-apk-version (Trivy's library),
#           is not used for the vectors: it has a pre-release bug, follows apk-tools 2 on
#           leading zeros and validates differently (docs/version-ordering.md lists every
#           difference found).
oracle_env() {
  case "$1" in
    go) echo "ORACLE_STRICT=1" ;;
    *) echo "" ;;
  esac
}

# The driver's oracle name for an ecosystem file name.
oracle_eco() {
  case "$1" in
    alpine) echo "alpine:apk" ;;
    *) echo "$1" ;;
  esac
}

# NuGet has no oracle on this machine: nuget.tsv is the osv-scalibr fixture
# nuget-versions.txt (provenance in its header), one `a op b` line -> `a<TAB>b<TAB>-1|0|1`.
gen_nuget() {
  awk '/^(# |\/\/ )/ || NF == 0 { next }
       NF == 3 { r = ($2 == "<") ? -1 : (($2 == ">") ? 1 : 0); print $1 "\t" $3 "\t" r }' \
    "$here/nuget-versions.txt" | awk -F'\t' '!seen[$1 FS $2]++' >"$here/nuget.tsv"
  echo "nuget: $(wc -l <"$here/nuget.tsv") pairs from the osv-scalibr fixture" >&2
}

gen() {
  local eco="$1" out="$here/$1.tsv" tmp
  if [ "$eco" = nuget ]; then
    gen_nuget
    return
  fi
  if [ "$eco" = alpine ] && [ -z "${APK_BIN:-}" ]; then
    echo "alpine: set APK_BIN to an apk-tools 3.0.x apk binary (see the comment above)" >&2
    exit 1
  fi
  tmp="$(mktemp)"
  for seed in $SEEDS; do
    # shellcheck disable=SC2046
    env $(oracle_env "$eco") python3 "$driver" --eco "$(oracle_eco "$eco")" --random "$RANDOM_N" --seed "$seed"
  done | cut -f2- | awk -F'\t' '!seen[$1 FS $2]++' >"$tmp"
  mv "$tmp" "$out"
  echo "$eco: $(wc -l <"$out") pairs, $(wc -c <"$out") bytes" >&2
}

ecos=("$@")
if [ ${#ecos[@]} -eq 0 ]; then
  ecos=(dpkg npm-semver cargo-semver go rpm alpine pep440 maven rubygems nuget composer)
fi
for eco in "${ecos[@]}"; do
  gen "$eco"
done
