//! Reproducible kits: the `.minisig` bytes and key files our code makes from a fixed test
//! key, message and options are pinned here. `tests/data/minisign/*` were written by
//! `examples/golden_vectors.rs` (run by `tests/data/regen.sh`) before verification moved
//! to jedisct1's minisign-verify (signing stayed our code; `src/minisign.rs` says why);
//! the tests re-create them byte for byte, and `tests/minisign_cli.rs` has the stock CLI
//! check the same files.
mod common;

use common::golden;
use signing::minisign::{self, VerifyOptions};
use signing::{KeyPair, PublicKey, PublicKeyBox, SignatureBox, TrustRoot};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/minisign");

fn read(name: &str) -> String {
    let p = format!("{DATA}/{name}");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e} (run tests/data/regen.sh)"))
}

#[test]
fn signatures_are_byte_identical_to_the_golden_files() {
    for (name, text) in golden::golden_minisigs() {
        assert_eq!(
            text,
            read(name),
            "{name} changed: kits would not be reproducible"
        );
    }
}

#[test]
fn key_files_are_byte_identical_to_the_golden_files() {
    for (name, text) in golden::golden_key_files() {
        assert_eq!(text, read(name), "{name} changed");
    }
}

#[test]
fn sign_file_names_the_file_like_the_golden_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("kit-0001.ouk");
    std::fs::write(&p, golden::minisign_message()).expect("write");
    let opts = minisign::SignOptions {
        timestamp: 1_700_000_000,
        ..minisign::SignOptions::default()
    };
    let sig = minisign::sign_file(&golden::vendor_key(), &p, &opts).expect("sign");
    assert_eq!(sig.as_str(), read("golden-default.minisig"));
}

#[test]
fn golden_files_load_and_verify() {
    let public = PublicKeyBox::from_text(read("test-vendor.pub"))
        .parse()
        .expect("pub");
    assert_eq!(public, golden::vendor_key().public());
    let secret = KeyPair::from_secret_text(&read("test-vendor.key")).expect("key");
    assert_eq!(secret.public(), public);
    let trust = TrustRoot::single(public.clone());
    let msg = golden::minisign_message();
    for (name, _) in golden::golden_minisigs() {
        let sig = SignatureBox::from_text(read(name));
        let v = minisign::verify_reader(&trust, &sig, &msg[..], &VerifyOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.key_id, public.id());
        let v = minisign::verify_reader_with_key(
            &PublicKey::from_base64(&public.to_base64()).expect("b64"),
            &sig,
            &msg[..],
            &VerifyOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.key_id, public.id());
    }
}
