//! The golden artefacts our code makes from fixed test seeds. Shared by the interop tests
//! (which re-create them and compare with the committed files) and by
//! `examples/golden_vectors.rs` (which `tests/data/regen.sh` runs to write the files that
//! the oracles then check). Test keys only.
#![allow(dead_code)]

use std::collections::BTreeMap;

use signing::dsse::{self, IN_TOTO_PAYLOAD_TYPE};
use signing::jwt::{self, Audience, Claims};
use signing::{KeyId, KeyPair};

/// The vendor test key: seed 0x11 × 32, key id 0123456789ABCDEF (as in make_vectors.py).
pub fn vendor_key() -> KeyPair {
    let id: KeyId = "0123456789ABCDEF".parse().expect("key id");
    KeyPair::from_seed(id, &[0x11; 32])
}

/// A second test key: seed 0x22 × 32, key id FEDCBA9876543210.
pub fn stranger_key() -> KeyPair {
    let id: KeyId = "FEDCBA9876543210".parse().expect("key id");
    KeyPair::from_seed(id, &[0x22; 32])
}

/// The claims of the PyJWT vectors and of the golden token.
pub fn claims() -> Claims {
    let mut extra = BTreeMap::new();
    extra.insert(
        "features".to_string(),
        serde_json::json!(["sarif", "junit"]),
    );
    Claims {
        iss: Some("stella-kit:test-vendor".into()),
        sub: "ci-runner-7".into(),
        aud: Some(Audience::One("site-a".into())),
        exp: 4_102_444_800,
        nbf: Some(1_700_000_000),
        iat: Some(1_700_000_000),
        jti: Some("tok-0001".into()),
        tier: Some("Free".into()),
        max_scans_per_day: Some(333),
        extra,
    }
}

/// The golden token: [`claims`] issued by [`vendor_key`].
pub fn golden_jwt() -> String {
    jwt::issue(&claims(), &vendor_key()).expect("issue")
}

/// The in-toto Statement v1 of the golden envelopes (bytes exactly as signed).
pub fn statement() -> Vec<u8> {
    let st = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{
            "name": "kit-0001.ouk",
            "digest": {"sha256": "5f1c1a4c9f2e0f6b8a3d7e2c4b6a8d0e1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e"}
        }],
        "predicateType": "https://stella-ops.invalid/scan-verdict/v1",
        "predicate": {"verdict": "pass", "findings": 0, "policy": "default"}
    });
    serde_json::to_vec(&st).expect("json")
}

/// The golden envelope: [`statement`] signed by [`vendor_key`] (compact JSON).
pub fn golden_envelope() -> Vec<u8> {
    dsse::sign(IN_TOTO_PAYLOAD_TYPE, &statement(), &[&vendor_key()])
        .expect("sign")
        .to_json()
}

/// The golden 2-key envelope: [`statement`] signed by [`vendor_key`] and [`stranger_key`].
pub fn golden_envelope_2of2() -> Vec<u8> {
    dsse::sign(
        IN_TOTO_PAYLOAD_TYPE,
        &statement(),
        &[&vendor_key(), &stranger_key()],
    )
    .expect("sign")
    .to_json()
}

/// The message of the golden `.minisig` files: 1 MiB + 4321 bytes (more than one of the
/// 1 MiB hashing chunks), generated rather than committed.
pub fn minisign_message() -> Vec<u8> {
    (0..(1usize << 20) + 4321)
        .map(|i| (i * 31 % 251) as u8)
        .collect()
}

/// The golden `.minisig` files: (file name under `tests/data/minisign`, text). Each is
/// [`minisign_message`] signed by [`vendor_key`] with fixed options, so a change in the
/// bytes we emit (comments, layout, base64, algorithm) shows up as a diff.
pub fn golden_minisigs() -> Vec<(&'static str, String)> {
    use signing::minisign::{SignOptions, sign_reader};
    let msg = minisign_message();
    let sign = |opts: &SignOptions<'_>| {
        sign_reader(&vendor_key(), &msg[..], opts)
            .expect("sign")
            .as_str()
            .to_string()
    };
    vec![
        (
            "golden-default.minisig",
            sign(&SignOptions {
                timestamp: 1_700_000_000,
                file_name: Some("kit-0001.ouk"),
                ..SignOptions::default()
            }),
        ),
        (
            "golden-no-file-name.minisig",
            sign(&SignOptions {
                timestamp: 1_700_000_000,
                ..SignOptions::default()
            }),
        ),
        (
            "golden-custom-comments.minisig",
            sign(&SignOptions {
                trusted_comment: Some("kit=demo seq=7\tchannel=stable"),
                untrusted_comment: Some("stella-kit test vendor signature"),
                timestamp: 1_700_000_000,
                file_name: Some("ignored-when-trusted-comment-given.ouk"),
            }),
        ),
    ]
}

/// The golden key files of [`vendor_key`]: public key text (`.pub`) and unencrypted
/// secret key text (`.key`; a test key, never used for anything real).
pub fn golden_key_files() -> Vec<(&'static str, String)> {
    let k = vendor_key();
    vec![
        ("test-vendor.pub", k.public().to_box().as_str().to_string()),
        ("test-vendor.key", k.to_secret_text().to_string()),
    ]
}
