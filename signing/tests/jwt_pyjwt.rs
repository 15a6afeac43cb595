//! EdDSA JWT interoperability with PyJWT 2.15.1 (the reference, via committed vectors).
//!
//! `tests/data/jwt/*.jwt` were made by PyJWT (`tests/data/jwt/make_vectors.py`, run by
//! `tests/data/regen.sh`); each is accepted or refused with the exact error variant.
//! `golden.jwt` was made by our code and verified by PyJWT when regenerated
//! (`golden.pyjwt.json` is PyJWT's verdict); the test re-creates it byte for byte, so the
//! verdict keeps applying to what the code produces now.
mod common;

use common::golden;
use signing::TrustRoot;
use signing::jwt::{self, Audience, JwtError, Validation};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/jwt");

fn token(name: &str) -> String {
    let p = format!("{DATA}/{name}");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{p}: {e} (run tests/data/regen.sh)"))
        .trim()
        .to_string()
}

fn trust() -> TrustRoot {
    TrustRoot::single(golden::vendor_key().public())
}

fn validation() -> Validation {
    Validation {
        now: 1_750_000_000,
        leeway_secs: 60,
        issuer: Some("stella-kit:test-vendor".into()),
        audience: Some("site-a".into()),
    }
}

fn refused(name: &str) -> JwtError {
    jwt::verify(&token(name), &trust(), &validation()).expect_err(name)
}

#[test]
fn the_committed_vendor_key_is_the_seeded_test_key() {
    let hex_pub = std::fs::read_to_string(format!("{DATA}/vendor.pub.hex")).expect("read");
    assert_eq!(
        hex_pub.trim(),
        hex::encode(golden::vendor_key().public().raw())
    );
}

#[test]
fn pyjwt_tokens_are_accepted() {
    for name in ["valid.jwt", "valid-no-kid.jwt"] {
        let c = jwt::verify(&token(name), &trust(), &validation()).expect(name);
        assert_eq!(c, golden::claims(), "{name}");
    }
    let c = jwt::verify(&token("valid-aud-array.jwt"), &trust(), &validation()).expect("array");
    assert_eq!(
        c.aud,
        Some(Audience::Many(vec!["other-site".into(), "site-a".into()]))
    );
}

#[test]
fn pyjwt_expired_token_is_expired() {
    assert!(matches!(
        refused("expired.jwt"),
        JwtError::Expired {
            exp: 1_700_086_400,
            now: 1_750_000_000
        }
    ));
}

#[test]
fn alg_none_and_hmac_confusion_are_unsupported_algorithms() {
    assert!(matches!(refused("alg-none.jwt"), JwtError::UnsupportedAlgorithm(a) if a == "none"));
    for name in ["hs256-pubkey-raw.jwt", "hs256-pubkey-pem.jwt"] {
        assert!(
            matches!(refused(name), JwtError::UnsupportedAlgorithm(ref a) if a == "HS256"),
            "{name}"
        );
    }
}

#[test]
fn wrong_keys_are_refused() {
    assert!(matches!(
        refused("wrong-key-same-kid.jwt"),
        JwtError::BadSignature
    ));
    assert!(matches!(
        refused("wrong-key-no-kid.jwt"),
        JwtError::BadSignature
    ));
    assert!(matches!(
        refused("unknown-kid.jwt"),
        JwtError::UnknownKid(k) if k == "FEDCBA9876543210"
    ));
    // ...and accepted once the stranger key is pinned (the vector itself is sound)
    let root = TrustRoot::single(golden::stranger_key().public());
    assert!(jwt::verify(&token("unknown-kid.jwt"), &root, &validation()).is_ok());
}

#[test]
fn golden_token_is_reproduced_byte_for_byte() {
    assert_eq!(
        golden::golden_jwt(),
        token("golden.jwt"),
        "our JWT output changed: run tests/data/regen.sh so PyJWT re-checks it"
    );
    let verdict: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{DATA}/golden.pyjwt.json")).expect("verdict"),
    )
    .expect("json");
    assert_eq!(
        verdict["ok"], true,
        "PyJWT refused the golden token: {verdict}"
    );
    assert_eq!(verdict["claims"]["maxScansPerDay"], 333);
    let c = jwt::verify(&token("golden.jwt"), &trust(), &validation()).expect("verify");
    assert_eq!(c, golden::claims());
}
