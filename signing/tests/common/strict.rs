//! Ed25519 vectors that ed25519-dalek's plain `verify` accepts and its `verify_strict`
//! refuses, and the minisign signatures built from them. Raw bytes only (no `signing`
//! types), so the crate's unit tests (`src/strict_tests.rs`) and the integration tests
//! both include this file. Test keys only.
//!
//! In ed25519-dalek 2.2 the two differ in exactly one respect: `verify_strict` refuses a
//! public key A or a signature R of small order. Both refuse S ≥ L (the
//! `legacy_compatibility` feature, off here, would relax that), both compare R by its
//! bytes (so a non-canonical R never verifies), and both accept a non-canonical A. So:
//!
//! - [`small_order_r_signature`]: a real key's signature with R = the identity point
//!   (s = k·a, so \[s\]B − \[k\]A = 0 = R). Only the key holder can make one;
//! - [`forge_for_weak_key`]: a "signature" for the small-order key [`order2_key`] made
//!   with no secret at all (R = B, s = 1; it verifies whenever the challenge k is even,
//!   for about half of all messages);
//! - [`add_l_to_s`]: S + L, refused by both (kept as a regression vector).
#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use blake2::{Blake2b512, Digest as _};
use curve25519_dalek::constants::{ED25519_BASEPOINT_COMPRESSED, EIGHT_TORSION};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::Sha512;

/// The encoding of the identity point (order 1).
pub const IDENTITY: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 1;
    b
};

/// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
pub const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The seed of the honest test key whose signatures get a small-order R.
pub const SEED: [u8; 32] = [0x5e; 32];
/// The key id used for [`SEED`] and for the weak key.
pub const KEY_ID: [u8; 8] = *b"strict!!";

/// The Ed25519 challenge k = SHA-512(R ‖ A ‖ M) mod L.
pub fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(msg);
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

/// The secret scalar a of the key made from `seed` (RFC 8032 §5.1.5).
pub fn secret_scalar(seed: &[u8; 32]) -> Scalar {
    let h: [u8; 64] = Sha512::digest(seed).into();
    let mut a = [0u8; 32];
    a.copy_from_slice(&h[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    Scalar::from_bytes_mod_order(a)
}

/// The public key of `seed`.
pub fn public_key(seed: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(seed).verifying_key().to_bytes()
}

/// An ordinary (RFC 8032) signature by `seed`.
pub fn sign(seed: &[u8; 32], msg: &[u8]) -> [u8; 64] {
    SigningKey::from_bytes(seed).sign(msg).to_bytes()
}

/// A signature by `seed` over `msg` whose R is the identity point.
pub fn small_order_r_signature(seed: &[u8; 32], msg: &[u8]) -> [u8; 64] {
    let k = challenge(&IDENTITY, &public_key(seed), msg);
    let s = k * secret_scalar(seed);
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&IDENTITY);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// The point of order 2 (x = 0, y = −1): a small-order public key.
pub fn order2_key() -> [u8; 32] {
    EIGHT_TORSION[4].compress().to_bytes()
}

/// A forgery under [`order2_key`] for `msg`, made without any secret, when `msg`'s
/// challenge is even (about half of all messages); `None` otherwise.
pub fn forge_for_weak_key(msg: &[u8]) -> Option<[u8; 64]> {
    let r = ED25519_BASEPOINT_COMPRESSED.to_bytes();
    // [1]B − [k]A = B exactly when [k]A = 0, i.e. k even (A has order 2)
    if challenge(&r, &order2_key(), msg).as_bytes()[0] & 1 != 0 {
        return None;
    }
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r);
    sig[32] = 1;
    Some(sig)
}

/// `sig` with L added to S (the same signature under a non-canonical S ≥ L).
pub fn add_l_to_s(sig: &[u8; 64]) -> [u8; 64] {
    let mut out = *sig;
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(out[32 + i]) + u16::from(L[i]) + carry;
        out[32 + i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0, "S + L fits in 253 bits");
    out
}

/// Every 32-byte string that ed25519-dalek decodes to a point of small order: the eight
/// torsion points, plus their non-canonical encodings (sign bit set with x = 0, y ≥ p).
pub fn small_order_encodings() -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = EIGHT_TORSION
        .iter()
        .map(|p| p.compress().to_bytes())
        .collect();
    for t in EIGHT_TORSION.iter().map(|p| p.compress().to_bytes()) {
        let mut flipped = t;
        flipped[31] ^= 0x80;
        out.push(flipped);
    }
    out.extend(non_canonical_y_encodings());
    out.sort();
    out.dedup();
    out.retain(|b| VerifyingKey::from_bytes(b).is_ok_and(|k| k.is_weak()));
    out
}

/// Encodings with y ≥ p (y = p + 0 … p + 18, either sign bit) that decode to a point.
pub fn non_canonical_y_encodings() -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for add in 0u8..19 {
        for sign in [0u8, 0x80] {
            // p = 2^255 − 19: little-endian ed ff … ff 7f
            let mut b = [0xffu8; 32];
            b[0] = 0xed + add;
            b[31] = 0x7f | sign;
            if VerifyingKey::from_bytes(&b).is_ok() {
                out.push(b);
            }
        }
    }
    out
}

/// A minisign key id as minisign prints it.
fn key_id_text(id: &[u8; 8]) -> String {
    format!("{:016X}", u64::from_le_bytes(*id))
}

/// The minisign public key text of a raw key.
pub fn minisign_pub_text(id: &[u8; 8], raw: &[u8; 32]) -> String {
    let mut bin = b"Ed".to_vec();
    bin.extend_from_slice(id);
    bin.extend_from_slice(raw);
    format!(
        "untrusted comment: minisign public key {}\n{}\n",
        key_id_text(id),
        B64.encode(bin)
    )
}

/// A prehashed `.minisig` text from its parts.
pub fn minisig_text(id: &[u8; 8], sig: &[u8; 64], trusted: &str, global: &[u8; 64]) -> String {
    let mut bin = b"ED".to_vec();
    bin.extend_from_slice(id);
    bin.extend_from_slice(sig);
    format!(
        "untrusted comment: strict-Ed25519 test vector\n{}\ntrusted comment: {trusted}\n{}\n",
        B64.encode(bin),
        B64.encode(global)
    )
}

/// The minisign global message: sig ‖ trusted comment.
pub fn global_message(sig: &[u8; 64], trusted: &str) -> Vec<u8> {
    let mut m = sig.to_vec();
    m.extend_from_slice(trusted.as_bytes());
    m
}

/// Which of the two minisign signatures gets the small-order R.
#[derive(Clone, Copy, Debug)]
pub enum Part {
    /// The signature over BLAKE2b-512(data).
    Message,
    /// The global signature over sig ‖ trusted comment.
    Global,
}

/// A `.minisig` by [`SEED`] over `data` (prehashed) where `part` has a small-order R and
/// the other signature is ordinary.
pub fn small_order_r_minisig(data: &[u8], trusted: &str, part: Part) -> String {
    let digest: [u8; 64] = Blake2b512::digest(data).into();
    let sig = match part {
        Part::Message => small_order_r_signature(&SEED, &digest),
        Part::Global => sign(&SEED, &digest),
    };
    let global = match part {
        Part::Message => sign(&SEED, &global_message(&sig, trusted)),
        Part::Global => small_order_r_signature(&SEED, &global_message(&sig, trusted)),
    };
    minisig_text(&KEY_ID, &sig, trusted, &global)
}

/// A minisign forgery under [`order2_key`], made without a secret: `(data, .minisig
/// text, .pub text)`. Searches data and trusted comment until both challenges are even.
pub fn forged_minisig() -> (Vec<u8>, String, String) {
    let (data, sig) = (0u32..)
        .find_map(|i| {
            let data = format!("forged kit #{i}").into_bytes();
            let digest: [u8; 64] = Blake2b512::digest(&data).into();
            forge_for_weak_key(&digest).map(|s| (data, s))
        })
        .expect("a message with an even challenge");
    let (trusted, global) = (0u32..)
        .find_map(|j| {
            let t = format!("timestamp:1700000000\tfile:forged-{j}.ouk\thashed");
            forge_for_weak_key(&global_message(&sig, &t)).map(|g| (t, g))
        })
        .expect("a trusted comment with an even challenge");
    let text = minisig_text(&KEY_ID, &sig, &trusted, &global);
    (data, text, minisign_pub_text(&KEY_ID, &order2_key()))
}
