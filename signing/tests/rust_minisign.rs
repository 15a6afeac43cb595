//! Interoperability with jedisct1's rust-minisign (`minisign` crate 0.10), the format
//! author's Rust implementation, used here as an oracle only (a dev-dependency).
//!
//! It verifies our signatures and signs with our secret key files, and we verify its
//! signatures. The last tests pin the three facts that keep it out of our signing and
//! key-file code (`src/minisign.rs` and `src/keys.rs` explain): its signatures are
//! randomised, its public key text differs from the stock tool's, and it refuses the
//! all-zero checksum of keys the stock minisign 0.11 writes with `-G -W`. If one of
//! them stops being true, that decision is worth revisiting.
mod common;

use std::io::Cursor;

use ::minisign as rust_minisign;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::golden;
use signing::minisign::{self, Algorithm, SignOptions, SignatureBox, VerifyOptions};
use signing::{SigningError, TrustRoot};

fn their_public() -> rust_minisign::PublicKey {
    let text = golden::vendor_key().public().to_box().as_str().to_string();
    rust_minisign::PublicKeyBox::from_string(&text)
        .and_then(rust_minisign::PublicKeyBox::into_public_key)
        .expect("rust-minisign reads our .pub text")
}

fn their_secret() -> rust_minisign::SecretKey {
    let text = golden::vendor_key().to_secret_text();
    rust_minisign::SecretKeyBox::from_string(&text)
        .and_then(rust_minisign::SecretKeyBox::into_unencrypted_secret_key)
        .expect("rust-minisign reads our secret key text (same layout, same checksum)")
}

fn their_sign(msg: &[u8], trusted: &str) -> String {
    rust_minisign::sign(
        Some(&their_public()),
        &their_secret(),
        Cursor::new(msg),
        Some(trusted),
        Some("rust-minisign"),
    )
    .expect("rust-minisign signs")
    .into_string()
}

#[test]
fn rust_minisign_verifies_our_golden_signatures() {
    let msg = golden::minisign_message();
    for (name, text) in golden::golden_minisigs() {
        let sig = rust_minisign::SignatureBox::from_string(&text).expect(name);
        rust_minisign::verify(&their_public(), &sig, Cursor::new(&msg), true, false, false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut tampered = msg.clone();
        tampered[12345] ^= 1;
        assert!(
            rust_minisign::verify(
                &their_public(),
                &sig,
                Cursor::new(&tampered),
                true,
                false,
                false
            )
            .is_err(),
            "{name}"
        );
    }
}

#[test]
fn we_verify_rust_minisign_signatures_made_with_our_secret_key_file() {
    let msg = golden::minisign_message();
    let text = their_sign(&msg, "kit=demo seq=9");
    let sig = SignatureBox::from_text(text);
    assert_eq!(
        sig.parse().expect("parse").algorithm(),
        Algorithm::Prehashed
    );
    let trust = TrustRoot::single(golden::vendor_key().public());
    let v = minisign::verify_reader(&trust, &sig, &msg[..], &VerifyOptions::default())
        .expect("rust-minisign's signature verifies");
    assert_eq!(v.trusted_comment, "kit=demo seq=9");
    let err = minisign::verify_reader(&trust, &sig, &msg[1..], &VerifyOptions::default())
        .expect_err("tampered");
    assert!(matches!(err, SigningError::BadSignature), "{err}");
}

#[test]
fn rust_minisign_signatures_are_randomised_so_kits_would_not_be_reproducible() {
    let msg = b"same key, same data, same comment";
    let (a, b) = (their_sign(msg, "t"), their_sign(msg, "t"));
    assert_ne!(
        a, b,
        "rust-minisign signed deterministically: reconsider using it"
    );
    // ours: the same bytes every time
    let opts = SignOptions {
        trusted_comment: Some("t"),
        untrusted_comment: Some("rust-minisign"),
        ..SignOptions::default()
    };
    let k = golden::vendor_key();
    let ours = minisign::sign_reader(&k, &msg[..], &opts).expect("sign");
    assert_eq!(
        ours,
        minisign::sign_reader(&k, &msg[..], &opts).expect("sign")
    );
}

#[test]
fn rust_minisign_public_key_text_is_not_the_stock_tools() {
    let theirs = their_public().to_box().expect("box").into_string();
    let ours = golden::vendor_key().public().to_box().as_str().to_string();
    assert_eq!(theirs.lines().nth(1), ours.lines().nth(1), "same key line");
    assert_eq!(
        theirs.lines().next(),
        Some("untrusted comment: minisign public key: 0123456789ABCDEF")
    );
    assert_eq!(
        ours.lines().next(),
        Some("untrusted comment: minisign public key 0123456789ABCDEF")
    );
}

#[test]
fn rust_minisign_refuses_the_zero_checksum_that_minisign_0_11_writes() {
    let text = golden::vendor_key().to_secret_text();
    let mut bin = B64
        .decode(text.lines().nth(1).expect("key line"))
        .expect("b64");
    let n = bin.len();
    bin[n - 32..].fill(0);
    let zeroed = format!("untrusted comment: x\n{}\n", B64.encode(&bin));
    assert!(
        rust_minisign::SecretKeyBox::from_string(&zeroed)
            .and_then(rust_minisign::SecretKeyBox::into_unencrypted_secret_key)
            .is_err()
    );
    // we load it (and check the public half against the seed instead)
    let back = signing::KeyPair::from_secret_text(&zeroed).expect("zero checksum");
    assert_eq!(back.public(), golden::vendor_key().public());
}
