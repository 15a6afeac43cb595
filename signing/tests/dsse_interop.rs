//! DSSE interoperability with securesystemslib 1.6.0 (via committed fixtures).
//!
//! `tests/data/dsse/sslib-*.json` were signed by securesystemslib (`make_dsse.py`, run by
//! `tests/data/regen.sh`) with a fixed test seed; `tampered-*.json` are edits of one of
//! them that `verify_dsse.py` refuses. `golden-*.json` were made by our code and accepted
//! by `verify_dsse.py` (securesystemslib + a direct PAE check + in-toto Statement
//! validation; verdicts in `golden*.verify_dsse.json`); the tests re-create them byte for
//! byte so those verdicts keep applying.
mod common;

use common::golden;
use signing::dsse::{self, Envelope, IN_TOTO_PAYLOAD_TYPE};
use signing::{KeyId, PublicKey, SigningError, TrustRoot};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dsse");

fn read(name: &str) -> Vec<u8> {
    let p = format!("{DATA}/{name}");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e} (run tests/data/regen.sh)"))
}

fn envelope(name: &str) -> Envelope {
    Envelope::from_json(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The securesystemslib fixture key (seed 0x33 × 32), pinned under our key id form.
fn sslib_key() -> PublicKey {
    let hex_pub = String::from_utf8(read("sslib.pub.hex")).expect("utf8");
    let raw: [u8; 32] = hex::decode(hex_pub.trim())
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let id: KeyId = "3333333333333333".parse().expect("key id");
    PublicKey::from_raw(id, &raw).expect("key")
}

fn sslib_trust() -> TrustRoot {
    TrustRoot::single(sslib_key())
}

#[test]
fn the_fixture_key_is_the_seeded_test_key() {
    let seeded = signing::KeyPair::from_seed("3333333333333333".parse().expect("id"), &[0x33; 32]);
    assert_eq!(seeded.public(), sslib_key());
}

#[test]
fn securesystemslib_envelopes_verify_whatever_their_keyid() {
    for name in [
        "sslib-keyid-sha256.json",
        "sslib-keyid-ours.json",
        "sslib-keyid-empty.json",
        "sslib-urlsafe-nopad.json",
    ] {
        let v = dsse::verify_typed(&envelope(name), &sslib_trust(), IN_TOTO_PAYLOAD_TYPE)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.keys.len(), 1, "{name}");
        let st: serde_json::Value = serde_json::from_slice(&v.body).expect("statement");
        assert_eq!(st["_type"], "https://in-toto.io/Statement/v1", "{name}");
        assert_eq!(st["predicate"]["verdict"], "pass", "{name}");
        assert_eq!(st["subject"][0]["name"], "kit-0001.ouk", "{name}");
    }
    // the keyid securesystemslib wrote is its own (sha256 of the key), not ours
    let e = envelope("sslib-keyid-sha256.json");
    assert_eq!(e.signatures[0].keyid.len(), 64);
}

#[test]
fn tampered_securesystemslib_envelopes_are_refused() {
    for name in [
        "tampered-payload.json",
        "tampered-payload-type.json",
        "tampered-sig.json",
    ] {
        let err = dsse::verify(&envelope(name), &sslib_trust()).expect_err(name);
        assert!(
            matches!(
                err,
                SigningError::ThresholdNotMet {
                    valid: 0,
                    required: 1
                }
            ),
            "{name}: {err}"
        );
    }
}

#[test]
fn securesystemslib_envelopes_do_not_verify_with_another_key() {
    let err = dsse::verify(
        &envelope("sslib-keyid-sha256.json"),
        &TrustRoot::single(golden::vendor_key().public()),
    )
    .expect_err("wrong key");
    assert!(matches!(err, SigningError::ThresholdNotMet { .. }), "{err}");
}

fn verdict_ok(name: &str) {
    let v: serde_json::Value = serde_json::from_slice(&read(name)).expect("verdict json");
    assert_eq!(v["ok"], true, "{name}: {v}");
    assert_eq!(v["securesystemslib"]["ok"], true, "{name}: {v}");
    assert_eq!(v["statement"]["ok"], true, "{name}: {v}");
}

#[test]
fn golden_envelope_is_reproduced_byte_for_byte() {
    assert_eq!(
        golden::golden_envelope(),
        read("golden-envelope.json"),
        "our DSSE output changed: run tests/data/regen.sh so securesystemslib re-checks it"
    );
    verdict_ok("golden.verify_dsse.json");
    let v = dsse::verify(
        &envelope("golden-envelope.json"),
        &TrustRoot::single(golden::vendor_key().public()),
    )
    .expect("verify");
    assert_eq!(v.body, golden::statement());
}

#[test]
fn golden_two_key_envelope_meets_a_two_of_two_threshold() {
    assert_eq!(golden::golden_envelope_2of2(), read("golden-2of2.json"));
    verdict_ok("golden-2of2.verify_dsse.json");
    let (a, b) = (golden::vendor_key(), golden::stranger_key());
    let trust = TrustRoot::new(vec![a.public(), b.public()], 2).expect("root");
    let v = dsse::verify(&envelope("golden-2of2.json"), &trust).expect("2 of 2");
    assert_eq!(v.keys.len(), 2);
    // the single-key golden envelope does not meet that threshold
    let err = dsse::verify(&envelope("golden-envelope.json"), &trust).expect_err("1 of 2");
    assert!(matches!(
        err,
        SigningError::ThresholdNotMet {
            valid: 1,
            required: 2
        }
    ));
}
