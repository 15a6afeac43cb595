#!/usr/bin/env bash
# Checks the importer's signed kit-import statement (kits/<dir>/import.dsse.json) with the
# independent oracle: securesystemslib DSSE + cryptography over PAE + in-toto-attestation
# Statement v1 validation. The statement carries the import time and a fresh appliance
# key, so it is not a golden vector: the test writes a fresh one into a temp dir.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../../.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
STELLA_IMPORT_VECTOR_DIR="$out" cargo test -q -p appliance --test evidence_bundle import_records_a_signed_statement_over_the_kit
source ../shared/oracles/env.sh
python3 ../shared/oracles/dsse/verify_dsse.py "$out/import.dsse.json" --pub-hex "$(cat "$out/import-pub.hex")" --statement
# A tampered payload must fail.
python3 - "$out/import.dsse.json" > "$out/tampered.json" <<'PY'
import base64, json, sys
e = json.load(open(sys.argv[1]))
st = json.loads(base64.b64decode(e["payload"]))
st["predicate"]["sequence"] += 1
e["payload"] = base64.b64encode(json.dumps(st).encode()).decode()
print(json.dumps(e))
PY
if python3 ../shared/oracles/dsse/verify_dsse.py "$out/tampered.json" --pub-hex "$(cat "$out/import-pub.hex")" --statement; then
  echo "tampered import statement was accepted" >&2; exit 1
fi
echo "import statement: oracle ok, tamper refused"
