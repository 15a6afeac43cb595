//! Strict Ed25519 on every verification path: raw signatures, k-of-n trust roots, DSSE,
//! JWT and minisign. The vectors (`common/strict.rs`) are ones ed25519-dalek's plain
//! `verify` accepts and `verify_strict` refuses; each test below names the check it
//! relies on, and fails when that check is removed:
//!
//! - small-order R from an honest key: `verify_strict` in `PublicKey::verify` (raw, trust
//!   roots, DSSE, JWT, the minisign global signature), and the small-order-R check of the
//!   minisign verifier for the minisign message signature (minisign-verify has none);
//! - small-order public keys (forgeable without a secret): refused where a `PublicKey`
//!   is made, so they can never be pinned (`SigningError::WeakKey`). `src/strict_tests.rs`
//!   pins one anyway, past that check, to show `verify_strict` stops it too.
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use blake2::{Blake2b512, Digest as _};
use common::strict::{self, KEY_ID, Part, SEED};
use ed25519_dalek::{Signature as DalekSignature, Verifier as _, VerifyingKey};
use signing::dsse::{self, IN_TOTO_PAYLOAD_TYPE};
use signing::jwt::{self, Claims, JwtError, Validation};
use signing::minisign::{self, SignatureBox, VerifyOptions};
use signing::trust::SignatureRef;
use signing::{KeyId, KeyPair, PublicKey, PublicKeyBox, SigningError, TrustRoot, count_valid};

fn honest() -> KeyPair {
    KeyPair::from_seed(KeyId(KEY_ID), &SEED)
}

fn trust() -> TrustRoot {
    TrustRoot::single(honest().public())
}

/// A message whose challenge under the weak key is even, and the forgery for it.
fn weak_forgery() -> (Vec<u8>, [u8; 64]) {
    (0u32..)
        .find_map(|i| {
            let m = format!("forged message #{i}").into_bytes();
            strict::forge_for_weak_key(&m).map(|f| (m, f))
        })
        .expect("an even challenge")
}

#[test]
fn the_vectors_pass_plain_verify_and_fail_verify_strict() {
    let vk = VerifyingKey::from_bytes(&strict::public_key(&SEED)).expect("key");
    let msg = b"any message at all";
    let small_r = DalekSignature::from_bytes(&strict::small_order_r_signature(&SEED, msg));
    assert!(
        vk.verify(msg, &small_r).is_ok(),
        "plain verify accepts R = identity"
    );
    assert!(vk.verify_strict(msg, &small_r).is_err());

    let weak = VerifyingKey::from_bytes(&strict::order2_key()).expect("a point");
    assert!(weak.is_weak());
    let p = weak.to_edwards();
    assert_ne!(p.compress().to_bytes(), strict::IDENTITY);
    assert_eq!((p + p).compress().to_bytes(), strict::IDENTITY, "order 2");
    let (m, forged) = weak_forgery();
    let forged = DalekSignature::from_bytes(&forged);
    assert!(
        weak.verify(&m, &forged).is_ok(),
        "plain verify accepts the forgery"
    );
    assert!(weak.verify_strict(&m, &forged).is_err());

    // S + L does not tell the two apart: ed25519-dalek 2 refuses it in both
    let good = strict::sign(&SEED, msg);
    let high_s = DalekSignature::from_bytes(&strict::add_l_to_s(&good));
    assert!(vk.verify(msg, &DalekSignature::from_bytes(&good)).is_ok());
    assert!(vk.verify(msg, &high_s).is_err());
    assert!(vk.verify_strict(msg, &high_s).is_err());
}

#[test]
fn raw_signatures_with_a_small_order_r_are_refused() {
    let k = honest();
    let msg = b"raw message";
    let sig = strict::small_order_r_signature(&SEED, msg);
    assert!(matches!(
        k.public().verify(msg, &sig),
        Err(SigningError::BadSignature)
    ));
    assert!(matches!(
        k.public().verify_slice(msg, &sig),
        Err(SigningError::BadSignature)
    ));
    let high_s = strict::add_l_to_s(&k.sign(msg));
    assert!(matches!(
        k.public().verify(msg, &high_s),
        Err(SigningError::BadSignature)
    ));
    // ... and never count towards a threshold, with or without a key id
    let refs = [
        SignatureRef {
            keyid: Some(k.id()),
            sig: &sig,
        },
        SignatureRef {
            keyid: None,
            sig: &sig,
        },
    ];
    assert!(count_valid(&trust(), msg, refs).is_empty());
    assert!(matches!(
        trust().verify_threshold(msg, refs),
        Err(SigningError::ThresholdNotMet {
            valid: 0,
            required: 1
        })
    ));
}

#[test]
fn dsse_signatures_with_a_small_order_r_are_refused() {
    let body = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    let honest_env = dsse::sign(IN_TOTO_PAYLOAD_TYPE, body, &[&honest()]).expect("sign");
    assert!(dsse::verify(&honest_env, &trust()).is_ok(), "baseline");
    let sig = strict::small_order_r_signature(&SEED, &dsse::pae(IN_TOTO_PAYLOAD_TYPE, body));
    for keyid in [honest().id().to_string(), String::new()] {
        let mut env = honest_env.clone();
        env.signatures[0].sig = B64.encode(sig);
        env.signatures[0].keyid = keyid.clone();
        let err = dsse::verify(&env, &trust()).expect_err("small-order R");
        assert!(
            matches!(
                err,
                SigningError::ThresholdNotMet {
                    valid: 0,
                    required: 1
                }
            ),
            "keyid {keyid:?}: {err}"
        );
    }
}

fn validation() -> Validation {
    Validation {
        now: 1_700_000_000,
        leeway_secs: 0,
        issuer: None,
        audience: None,
    }
}

#[test]
fn jwts_with_a_small_order_r_are_refused() {
    let claims = Claims {
        sub: "ci-runner".into(),
        exp: 1_800_000_000,
        ..Claims::default()
    };
    let token = jwt::issue(&claims, &honest()).expect("issue");
    assert!(
        jwt::verify(&token, &trust(), &validation()).is_ok(),
        "baseline"
    );
    let (input, _) = token.rsplit_once('.').expect("three parts");
    let sig = strict::small_order_r_signature(&SEED, input.as_bytes());
    let bad = format!("{input}.{}", B64URL.encode(sig));
    assert!(matches!(
        jwt::verify(&bad, &trust(), &validation()),
        Err(JwtError::BadSignature)
    ));
}

fn data() -> Vec<u8> {
    b"kit bytes for the strict vectors".repeat(1000)
}

const TRUSTED: &str = "timestamp:1700000000\tfile:strict.ouk\thashed";

fn verify(text: &str, data: &[u8]) -> Result<minisign::Verified, SigningError> {
    minisign::verify_reader(
        &trust(),
        &SignatureBox::from_text(text),
        data,
        &VerifyOptions::default(),
    )
}

/// What minisign-verify alone says (it is not strict; our checks around it are).
fn minisign_verify_alone(pub_text: &str, sig_text: &str, data: &[u8]) -> bool {
    let pk = minisign_verify::PublicKey::decode(pub_text).expect("pub");
    let sig = minisign_verify::Signature::decode(sig_text).expect("sig");
    pk.verify(data, &sig, false).is_ok()
}

fn honest_pub_text() -> String {
    strict::minisign_pub_text(&KEY_ID, &strict::public_key(&SEED))
}

#[test]
fn the_minisign_helpers_make_valid_signatures() {
    let data = data();
    let digest: [u8; 64] = Blake2b512::digest(&data).into();
    let sig = strict::sign(&SEED, &digest);
    let global = strict::sign(&SEED, &strict::global_message(&sig, TRUSTED));
    let text = strict::minisig_text(&KEY_ID, &sig, TRUSTED, &global);
    assert_eq!(
        verify(&text, &data).expect("valid").trusted_comment,
        TRUSTED
    );
    assert!(minisign_verify_alone(&honest_pub_text(), &text, &data));
}

#[test]
fn a_minisign_message_signature_with_a_small_order_r_is_a_bad_signature() {
    let data = data();
    let text = strict::small_order_r_minisig(&data, TRUSTED, Part::Message);
    assert!(
        minisign_verify_alone(&honest_pub_text(), &text, &data),
        "minisign-verify accepts it (if it no longer does, the check in minisign.rs is belt and braces)"
    );
    let err = verify(&text, &data).expect_err("small-order R");
    assert!(matches!(err, SigningError::BadSignature), "{err}");
}

#[test]
fn a_minisign_global_signature_with_a_small_order_r_is_a_bad_global_signature() {
    let data = data();
    let text = strict::small_order_r_minisig(&data, TRUSTED, Part::Global);
    assert!(minisign_verify_alone(&honest_pub_text(), &text, &data));
    let err = verify(&text, &data).expect_err("small-order R");
    assert!(matches!(err, SigningError::BadGlobalSignature), "{err}");
}

#[test]
fn a_minisign_signature_with_s_plus_l_is_a_bad_signature() {
    let data = data();
    let digest: [u8; 64] = Blake2b512::digest(&data).into();
    let sig = strict::add_l_to_s(&strict::sign(&SEED, &digest));
    let global = strict::sign(&SEED, &strict::global_message(&sig, TRUSTED));
    let text = strict::minisig_text(&KEY_ID, &sig, TRUSTED, &global);
    assert!(!minisign_verify_alone(&honest_pub_text(), &text, &data));
    let err = verify(&text, &data).expect_err("S >= L");
    assert!(matches!(err, SigningError::BadSignature), "{err}");
}

#[test]
fn a_minisign_forgery_under_a_small_order_key_cannot_even_be_pinned() {
    let (data, sig_text, pub_text) = strict::forged_minisig();
    assert!(
        minisign_verify_alone(&pub_text, &sig_text, &data),
        "minisign-verify accepts a forgery made without any secret"
    );
    let err = PublicKeyBox::from_text(pub_text).parse().expect_err("weak");
    assert!(matches!(err, SigningError::WeakKey(_)), "{err}");
}

#[test]
fn every_weak_key_encoding_is_refused_wherever_a_public_key_is_made() {
    let small = strict::small_order_encodings();
    assert_eq!(
        small.len(),
        14,
        "8 torsion points, 2 with x = 0 and the sign bit set, 4 with y >= p"
    );
    let non_canonical = strict::non_canonical_y_encodings();
    // at least one non-canonical encoding of a point of large order: the canonicity check
    // is exercised on its own, not only through the small-order one
    assert!(
        non_canonical
            .iter()
            .any(|b| { VerifyingKey::from_bytes(b).is_ok_and(|k| !k.is_weak()) })
    );
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, raw) in small.iter().chain(&non_canonical).enumerate() {
        let id = KeyId(KEY_ID);
        let text = strict::minisign_pub_text(&KEY_ID, raw);
        let line = text.lines().nth(1).expect("key line");
        let path = dir.path().join(format!("weak-{i}.pub"));
        std::fs::write(&path, &text).expect("write");
        for (how, r) in [
            ("from_raw", PublicKey::from_raw(id, raw)),
            ("from_base64", PublicKey::from_base64(line)),
            (
                "PublicKeyBox::parse",
                PublicKeyBox::from_text(text.clone()).parse(),
            ),
            ("PublicKey::read", PublicKey::read(&path)),
        ] {
            let err = r.expect_err(how);
            assert!(
                matches!(err, SigningError::WeakKey(_)),
                "{how} {}: {err}",
                hex::encode(raw)
            );
        }
    }
}
