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
# minisign (no oracle run here: tests/minisign_cli.rs has the stock CLI check them):
#   examples/golden_vectors.rs     -> minisign/golden-*.minisig, test-vendor.{pub,key}
#                                     (pinned byte for byte by tests/minisign_golden.rs)
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

# --- DSSE -----------------------------------------------------------------------------
d="$here/dsse"
seed=3333333333333333333333333333333333333333333333333333333333333333   # test key only
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# securesystemslib-made envelopes with its own sha256 keyid, our KeyId form, and no keyid
for v in sha256:__default__ ours:3333333333333333 empty:; do
  name="${v%%:*}"; kid="${v#*:}"
  args=("$tmp/$name" --seed "$seed" --subject "kit-0001.ouk=$d/subject.txt"
        --predicate-type https://stella-ops.invalid/scan-verdict/v1
        --predicate '{"verdict":"pass","findings":0}')
  [ "$kid" = "__default__" ] || args+=(--keyid "$kid")
  "$py" "$oracles/dsse/make_dsse.py" "${args[@]}" >/dev/null
  cp "$tmp/$name/envelope.json" "$d/sslib-keyid-$name.json"
done
cp "$tmp/ours/pub.hex" "$d/sslib.pub.hex"
# Variants of the "ours" envelope: url-safe unpadded base64 (must verify) and tampering
# (must be refused; verify_dsse.py refuses them too, checked below).
"$py" - "$d" <<'PY'
import base64, json, sys
d = sys.argv[1]
env = json.load(open(f"{d}/sslib-keyid-ours.json"))
body = base64.b64decode(env["payload"]); sig = base64.b64decode(env["signatures"][0]["sig"])
u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def w(name, e): json.dump(e, open(f"{d}/{name}.json", "w"), indent=1)
w("sslib-urlsafe-nopad", dict(env, payload=u(body), signatures=[{"keyid": "3333333333333333", "sig": u(sig)}]))
w("tampered-payload", dict(env, payload=base64.b64encode(body.replace(b'"pass"', b'"fail"')).decode()))
w("tampered-payload-type", dict(env, payloadType="application/json"))
bad = bytearray(sig); bad[10] ^= 1
w("tampered-sig", dict(env, signatures=[{"keyid": "3333333333333333", "sig": base64.b64encode(bytes(bad)).decode()}]))
PY
spub="$(cat "$d/sslib.pub.hex")"
for t in sslib-keyid-sha256 sslib-keyid-ours sslib-keyid-empty; do
  "$py" "$oracles/dsse/verify_dsse.py" "$d/$t.json" --pub-hex "$spub" --statement --quiet
done
for t in tampered-payload tampered-payload-type tampered-sig; do
  if "$py" "$oracles/dsse/verify_dsse.py" "$d/$t.json" --pub-hex "$spub" --quiet; then
    echo "verify_dsse.py ACCEPTED $t" >&2; exit 1
  fi
done
echo "securesystemslib fixtures ok; tampered variants refused by verify_dsse.py"
# Our golden envelopes (written by golden_vectors above), checked by the oracle.
vpub="$(cat "$here/jwt/vendor.pub.hex")"
"$py" "$oracles/dsse/verify_dsse.py" "$d/golden-envelope.json" --pub-hex "$vpub" \
  --statement --payload-type application/vnd.in-toto+json >"$d/golden.verify_dsse.json"
"$py" - "$tmp/stranger.hex" <<'PY'
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
k = Ed25519PrivateKey.from_private_bytes(bytes([0x22] * 32)).public_key()
open(sys.argv[1], "w").write(k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex())
PY
"$py" "$oracles/dsse/verify_dsse.py" "$d/golden-2of2.json" --pub-hex "$vpub" --pub-hex "$(cat "$tmp/stranger.hex")" \
  --threshold 2 --statement --payload-type application/vnd.in-toto+json >"$d/golden-2of2.verify_dsse.json"
echo "verify_dsse.py accepts golden-envelope.json (1 key) and golden-2of2.json (threshold 2)"
