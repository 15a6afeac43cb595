//! The golden artefacts our code makes from fixed test seeds. Shared by the interop tests
//! (which re-create them and compare with the committed files) and by
//! `examples/golden_vectors.rs` (which `tests/data/regen.sh` runs to write the files that
//! the oracles then check). Test keys only.
#![allow(dead_code)]

use std::collections::BTreeMap;

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
