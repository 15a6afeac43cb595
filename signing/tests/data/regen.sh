#!/usr/bin/env bash
# Regenerates the oracle-made fixtures of the signing crate and has the oracles check our
# golden files. Needs the oracles (../shared/oracles, installed per its README); the
# tests themselves never run this and need neither the oracles nor the network.
#
#   signing/tests/data/regen.sh            # from anywhere
#
# JWT (PyJWT 2.15.1):
#   jwt/make_vectors.py            -> jwt/*.jwt (valid / expired / alg none / HS256 with the
#                                     public key as HMAC secret / wrong key), vendor.pub.hex
#   examples/golden_vectors.rs     -> jwt/golden.jwt (our issue() from the seeded test key)
#   jwt_tool.py verify golden.jwt  -> jwt/golden.pyjwt.json (PyJWT's verdict, must be ok)
# DSSE (securesystemslib 1.6.0 + cryptography):
#   make_dsse.py --seed ...        -> dsse/sslib-*/envelope.json (+ pub.hex), tampered variants
#   examples/golden_vectors.rs     -> dsse/golden-envelope.json
#   verify_dsse.py golden          -> dsse/golden.verify_dsse.json (must be ok)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
oracles="${ORACLES_DIR:-$repo/../shared/oracles}"
# shellcheck disable=SC1091
source "$oracles/env.sh"
py="$ORACLES_VENV/bin/python"

# --- JWT ------------------------------------------------------------------------------
"$py" "$here/jwt/make_vectors.py" "$here/jwt" >/dev/null
(cd "$repo" && cargo run -q -p signing --example golden_vectors -- "$here")
pub="$(cat "$here/jwt/vendor.pub.hex")"
"$py" "$oracles/jwt/jwt_tool.py" verify "$(cat "$here/jwt/golden.jwt")" --pub-hex "$pub" \
  --aud site-a --iss stella-kit:test-vendor --require exp,iat,nbf,sub >"$here/jwt/golden.pyjwt.json"
echo "PyJWT accepts golden.jwt"
# PyJWT's own verdicts on the vectors our verifier must refuse (all must be refused).
for t in expired alg-none hs256-pubkey-raw hs256-pubkey-pem wrong-key-same-kid wrong-key-no-kid unknown-kid; do
  if "$py" "$oracles/jwt/jwt_tool.py" verify "$(cat "$here/jwt/$t.jwt")" --pub-hex "$pub" --aud site-a >/dev/null; then
    echo "PyJWT ACCEPTED $t.jwt" >&2; exit 1
  fi
done
echo "PyJWT refuses every refusal vector"
