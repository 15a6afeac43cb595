#!/usr/bin/env bash
# Regenerates the golden scan-verdict envelope (deterministic Ed25519 test key, seed [4;32])
# and checks it with the independent oracle: securesystemslib DSSE + cryptography over PAE +
# in-toto-attestation Statement v1 validation.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../../.."
STELLA_EVIDENCE_VECTOR_DIR="$here" cargo test -q -p appliance --lib evidence::tests
source ../shared/oracles/env.sh
python3 ../shared/oracles/dsse/verify_dsse.py "$here/envelope.json" --pub-hex "$(cat "$here/pub.hex")" --statement
