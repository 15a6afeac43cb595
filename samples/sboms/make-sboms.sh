#!/bin/sh
# Regenerates demo-cyclonedx.json and demo-syft.json with the real Syft (oracle, 1.18.1)
# from the lock files in src/. demo-spdx.json is hand-written and not regenerated.
# Syft writes a fresh timestamp / serial number / ids on every run, so the output is not
# byte-stable; after regenerating, re-bless the golden findings:
#   STELLA_BLESS=1 cargo test -p scanner --test integration engine::sample_sboms
set -eu
cd "$(dirname "$0")"
. ../../../shared/oracles/env.sh
syft scan dir:src -q -o cyclonedx-json=demo-cyclonedx.json -o syft-json=demo-syft.json
