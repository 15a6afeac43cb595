//! A small-order key pinned *past* [`PublicKey::from_raw`]'s weak-key check: every
//! verification path must still refuse forgeries under it, through ed25519-dalek's
//! `verify_strict` (ed25519-dalek's plain `verify` and minisign-verify both accept
//! them). The forgeries are made with no secret key (`tests/common/strict.rs`). These
//! tests fail if `PublicKey::verify` stops being strict.
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};

use crate::dsse::{self, IN_TOTO_PAYLOAD_TYPE};
use crate::jwt::{self, JwtError, Validation};
use crate::keys::{KeyId, KeyPair, PublicKey};
use crate::minisign::{self, SignatureBox, VerifyOptions};
use crate::strict_vectors as strict;
use crate::trust::SignatureRef;
use crate::{SigningError, TrustRoot};

fn weak() -> PublicKey {
    PublicKey::from_raw_unchecked(KeyId(strict::KEY_ID), &strict::order2_key())
}

fn weak_root() -> TrustRoot {
    TrustRoot::single(weak())
}

/// The first `make(i)` whose signed bytes the weak key "signs" without a secret, and the
/// forged signature.
fn forge<T>(make: impl Fn(u32) -> T, signed: impl Fn(&T) -> Vec<u8>) -> (T, [u8; 64]) {
    (0u32..)
        .find_map(|i| {
            let t = make(i);
            strict::forge_for_weak_key(&signed(&t)).map(|f| (t, f))
        })
        .expect("an even challenge")
}

#[test]
fn raw_and_threshold_verification_refuse_a_forgery_under_a_pinned_weak_key() {
    let (msg, sig) = forge(|i| format!("raw #{i}").into_bytes(), Vec::clone);
    let err = weak().verify(&msg, &sig).expect_err("forgery");
    assert!(matches!(err, SigningError::BadSignature), "{err}");
    let refs = [SignatureRef {
        keyid: Some(weak().id()),
        sig: &sig,
    }];
    let err = weak_root()
        .verify_threshold(&msg, refs)
        .expect_err("forgery");
    assert!(
        matches!(
            err,
            SigningError::ThresholdNotMet {
                valid: 0,
                required: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn dsse_refuses_a_forgery_under_a_pinned_weak_key() {
    let (body, sig) = forge(
        |i| format!(r#"{{"forged":{i}}}"#).into_bytes(),
        |b| dsse::pae(IN_TOTO_PAYLOAD_TYPE, b),
    );
    // an envelope shaped by an honest signer, then given the forged signature
    let mut env = dsse::sign(
        IN_TOTO_PAYLOAD_TYPE,
        &body,
        &[&KeyPair::from_seed(weak().id(), &[1; 32])],
    )
    .expect("sign");
    env.signatures[0].sig = B64.encode(sig);
    let err = dsse::verify(&env, &weak_root()).expect_err("forgery");
    assert!(
        matches!(
            err,
            SigningError::ThresholdNotMet {
                valid: 0,
                required: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn jwt_refuses_a_forgery_under_a_pinned_weak_key() {
    let shaper = KeyPair::from_seed(weak().id(), &[1; 32]);
    let token_for = |i: u32| {
        let claims = jwt::Claims {
            sub: format!("forged-{i}"),
            exp: 1_800_000_000,
            ..jwt::Claims::default()
        };
        jwt::issue(&claims, &shaper).expect("issue")
    };
    let (token, sig) = forge(token_for, |t| {
        t.rsplit_once('.')
            .expect("three parts")
            .0
            .as_bytes()
            .to_vec()
    });
    let (input, _) = token.rsplit_once('.').expect("three parts");
    let forged = format!("{input}.{}", B64URL.encode(sig));
    let v = Validation {
        now: 1_700_000_000,
        leeway_secs: 0,
        issuer: None,
        audience: None,
    };
    assert!(matches!(
        jwt::verify(&forged, &weak_root(), &v),
        Err(JwtError::BadSignature)
    ));
}

#[test]
fn minisign_refuses_a_forgery_under_a_pinned_weak_key() {
    let (data, text, pub_text) = strict::forged_minisig();
    // minisign-verify alone accepts it ...
    let pk = minisign_verify::PublicKey::decode(&pub_text).expect("pub");
    let sig = minisign_verify::Signature::decode(&text).expect("sig");
    assert!(pk.verify(&data, &sig, false).is_ok());
    // ... ours does not: the strict check of the global signature fails, and so does the
    // strict check of the message signature that names the failure
    let err = minisign::verify_reader(
        &weak_root(),
        &SignatureBox::from_text(text),
        &data[..],
        &VerifyOptions::default(),
    )
    .expect_err("forgery");
    assert!(matches!(err, SigningError::BadSignature), "{err}");
}
