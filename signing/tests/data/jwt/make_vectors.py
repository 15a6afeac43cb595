#!/usr/bin/env python3
"""Writes the PyJWT-made test vectors of signing/tests/jwt_pyjwt.rs (run by ../regen.sh
with the oracle venv: PyJWT 2.15.1 + cryptography). Everything is deterministic (fixed
seeds, fixed claims; Ed25519 and HMAC are deterministic), so re-running reproduces the
committed files byte for byte.

  make_vectors.py OUTDIR
"""
import base64
import hashlib
import hmac
import json
import os
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# Test keys only (never used outside tests). Same seeds as the Rust tests.
VENDOR_SEED = bytes([0x11] * 32)
VENDOR_KID = "0123456789ABCDEF"
STRANGER_SEED = bytes([0x22] * 32)
STRANGER_KID = "FEDCBA9876543210"

CLAIMS = {
    "iss": "stella-kit:test-vendor",
    "sub": "ci-runner-7",
    "aud": "site-a",
    "iat": 1700000000,
    "nbf": 1700000000,
    "exp": 4102444800,  # 2100-01-01: the golden tokens stay valid for PyJWT's clock
    "jti": "tok-0001",
    "tier": "Free",
    "maxScansPerDay": 333,
    "features": ["sarif", "junit"],
}


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    vendor = Ed25519PrivateKey.from_private_bytes(VENDOR_SEED)
    stranger = Ed25519PrivateKey.from_private_bytes(STRANGER_SEED)
    pub_raw = vendor.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pub_pem = vendor.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    expired = dict(CLAIMS, iat=1700000000, nbf=1700000000, exp=1700086400)
    aud_list = dict(CLAIMS, aud=["other-site", "site-a"])
    vectors = {
        # accepted
        "valid.jwt": jwt.encode(CLAIMS, vendor, algorithm="EdDSA", headers={"kid": VENDOR_KID}),
        "valid-no-kid.jwt": jwt.encode(CLAIMS, vendor, algorithm="EdDSA"),
        "valid-aud-array.jwt": jwt.encode(aud_list, vendor, algorithm="EdDSA", headers={"kid": VENDOR_KID}),
        # refused
        "expired.jwt": jwt.encode(expired, vendor, algorithm="EdDSA", headers={"kid": VENDOR_KID}),
        "alg-none.jwt": jwt.encode(CLAIMS, None, algorithm="none", headers={"kid": VENDOR_KID}),
        # algorithm confusion: HMAC keyed with the vendor's *public* key bytes
        "hs256-pubkey-raw.jwt": jwt.encode(CLAIMS, pub_raw, algorithm="HS256", headers={"kid": VENDOR_KID}),
        "wrong-key-same-kid.jwt": jwt.encode(CLAIMS, stranger, algorithm="EdDSA", headers={"kid": VENDOR_KID}),
        "wrong-key-no-kid.jwt": jwt.encode(CLAIMS, stranger, algorithm="EdDSA"),
        "unknown-kid.jwt": jwt.encode(CLAIMS, stranger, algorithm="EdDSA", headers={"kid": STRANGER_KID}),
    }
    # PyJWT refuses a PEM public key as an HMAC secret, so the PEM variant of the attack
    # is built with the standard library's hmac (same JWS construction as PyJWT).
    h = b64u(json.dumps({"alg": "HS256", "kid": VENDOR_KID, "typ": "JWT"}, separators=(",", ":")).encode())
    p = b64u(json.dumps(CLAIMS, separators=(",", ":")).encode())
    mac = hmac.new(pub_pem, f"{h}.{p}".encode(), hashlib.sha256).digest()
    vectors["hs256-pubkey-pem.jwt"] = f"{h}.{p}.{b64u(mac)}"

    for name, tok in vectors.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(tok + "\n")
    with open(os.path.join(out, "vendor.pub.hex"), "w") as f:
        f.write(pub_raw.hex() + "\n")
    print(json.dumps(sorted(vectors)))


if __name__ == "__main__":
    main()
