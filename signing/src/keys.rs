//! Ed25519 key pairs stored in minisign's file formats.
//!
//! A public key file is two lines: an untrusted comment and the base64 of
//! `"Ed" ‖ keynum(8) ‖ pk(32)` (FORMATS.md §6), so `minisign -V -p vendor.pub` works with
//! our keys. Secret keys are written in minisign's *unencrypted* secret-key layout (the
//! one `minisign -G -W` writes), so the stock tool can sign with a key we generated, and
//! always with mode 0600.
//!
//! The text form ([`PublicKeyBox`]) is kept apart from the parsed key ([`PublicKey`]):
//! only a successfully parsed key can verify anything, and parsing refuses weak
//! (small-order or non-canonical) keys, as libsodium does ([`PublicKey::from_raw`]).
//! Verification is ed25519-dalek's `verify_strict`.
//!
//! # Why the key files are our code, not jedisct1's `minisign` crate
//!
//! rust-minisign (0.10) reads and writes these layouts too, but not the way we need:
//!
//! - keys from a seed: it only generates random ones
//!   (`KeyPair::generate_unencrypted_keypair`); [`KeyPair::from_seed`] makes the test
//!   and fixture keys, and [`KeyPair::generate`] is two `getrandom` calls either way;
//! - the public key text: `PublicKey::to_box` writes `minisign public key: <ID>` with a
//!   colon; the stock tool and our committed `.pub` files have none;
//! - reading the stock tool's keys: minisign 0.11 `-G -W` leaves the checksum all zero,
//!   which `SecretKey::from_unencrypted_box` refuses as corrupted; we accept it and check
//!   instead that the stored public key matches the seed;
//! - secret hygiene: its `SecretKey` is not zeroized on drop;
//! - dependencies: it would bring scrypt, rpassword (terminal prompts) and a second
//!   `getrandom` into the sealed appliance's tree, for password-encrypted keys, which
//!   we refuse ([`SigningError::EncryptedKey`]).
//!
//! The unencrypted layout and its checksum are the same in both: `tests/rust_minisign.rs`
//! has rust-minisign load our secret key text and sign with it.
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::SigningError;

/// The 8-byte key number minisign stores beside every key and signature.
///
/// Displayed the way minisign displays it: the little-endian `u64` in upper-case hex,
/// 16 digits. We use this same text as `keyid` in manifests, DSSE envelopes and JWT `kid`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The raw bytes as stored in key and signature files.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = SigningError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SigningError::MalformedKey(format!(
                "key id must be 16 hex digits, got {s:?}"
            )));
        }
        let n = u64::from_str_radix(s, 16)
            .map_err(|e| SigningError::MalformedKey(format!("key id {s:?}: {e}")))?;
        Ok(KeyId(n.to_le_bytes()))
    }
}

impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A parsed, usable Ed25519 public key with its key id.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    id: KeyId,
    key: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id)
    }
}

impl PublicKey {
    /// Builds a public key from its id and raw 32 bytes.
    ///
    /// Refuses what libsodium's `crypto_sign_verify_detached` (and so the stock
    /// `minisign`) refuses as a public key, with [`SigningError::WeakKey`]:
    ///
    /// - a point of small order (the eight torsion points, identity included): anyone can
    ///   make "signatures" that verify under such a key for about every other message,
    ///   with no secret at all;
    /// - a non-canonical encoding (a y coordinate ≥ p, or x = 0 with the sign bit set):
    ///   two texts for one point would be two "different" keys.
    ///
    /// Checking here, where a [`PublicKey`] comes into existence, covers every path at
    /// once: raw signatures, DSSE, JWT, and minisign signatures, which `minisign-verify`
    /// checks without refusing small-order keys (only the identity and all-zero keys).
    pub fn from_raw(id: KeyId, raw: &[u8; 32]) -> Result<Self, SigningError> {
        let key = VerifyingKey::from_bytes(raw)
            .map_err(|e| SigningError::MalformedKey(format!("not an Ed25519 point: {e}")))?;
        if key.is_weak() {
            return Err(SigningError::WeakKey("a small-order point"));
        }
        // `from_bytes` keeps the bytes it was given; compressing the decoded point gives
        // the one canonical encoding.
        if VerifyingKey::from(key.to_edwards()).as_bytes() != raw {
            return Err(SigningError::WeakKey("a non-canonical point encoding"));
        }
        Ok(PublicKey { id, key })
    }

    /// [`PublicKey::from_raw`] without the weak-key checks, so tests can show that the
    /// verifiers refuse such keys too (defence in depth: `verify_strict`).
    #[cfg(test)]
    pub(crate) fn from_raw_unchecked(id: KeyId, raw: &[u8; 32]) -> Self {
        let key = VerifyingKey::from_bytes(raw).expect("an Ed25519 point");
        PublicKey { id, key }
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn raw(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The `ed25519-dalek` verifying key, for the other modules of this crate.
    #[allow(dead_code)]
    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Verifies a raw Ed25519 signature over `msg` (strict verification: rejects
    /// small-order keys and non-canonical signatures).
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> Result<(), SigningError> {
        let sig = Signature::from_bytes(sig);
        self.key
            .verify_strict(msg, &sig)
            .map_err(|_| SigningError::BadSignature)
    }

    /// This key as `minisign-verify` takes it (its parser reads our base64 line).
    pub(crate) fn to_minisign_verify(&self) -> Result<minisign_verify::PublicKey, SigningError> {
        minisign_verify::PublicKey::from_base64(&self.to_base64())
            .map_err(|e| SigningError::MalformedKey(format!("minisign-verify: {e}")))
    }

    /// Verifies a signature given as a byte slice of any length (wrong length → error).
    pub fn verify_slice(&self, msg: &[u8], sig: &[u8]) -> Result<(), SigningError> {
        let sig: &[u8; 64] = sig.try_into().map_err(|_| {
            SigningError::MalformedSignature(format!(
                "Ed25519 signature must be 64 bytes, got {}",
                sig.len()
            ))
        })?;
        self.verify(msg, sig)
    }

    /// The minisign text form of this key.
    pub fn to_box(&self) -> PublicKeyBox {
        let mut bin = Vec::with_capacity(42);
        bin.extend_from_slice(b"Ed");
        bin.extend_from_slice(&self.id.0);
        bin.extend_from_slice(self.key.as_bytes());
        PublicKeyBox(format!(
            "untrusted comment: minisign public key {}\n{}\n",
            self.id,
            B64.encode(bin)
        ))
    }

    /// The base64 line of the minisign public key (what `minisign -P` takes).
    pub fn to_base64(&self) -> String {
        let text = self.to_box().0;
        text.lines().nth(1).unwrap_or_default().to_string()
    }

    /// Parses the base64 line of a minisign public key (`RW...`).
    pub fn from_base64(line: &str) -> Result<Self, SigningError> {
        let bin = B64
            .decode(line.trim())
            .map_err(|e| SigningError::MalformedKey(format!("public key base64: {e}")))?;
        if bin.len() != 42 {
            return Err(SigningError::MalformedKey(format!(
                "public key must decode to 42 bytes, got {}",
                bin.len()
            )));
        }
        if &bin[..2] != b"Ed" {
            return Err(SigningError::MalformedKey(
                "public key algorithm is not Ed".into(),
            ));
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&bin[2..10]);
        let mut raw = [0u8; 32];
        raw.copy_from_slice(&bin[10..42]);
        PublicKey::from_raw(KeyId(id), &raw)
    }

    /// Reads and parses a minisign public key file.
    pub fn read(path: &Path) -> Result<Self, SigningError> {
        PublicKeyBox::read(path)?.parse()
    }
}

/// The text of a minisign public key file, not yet parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyBox(String);

/// The message for a public key file that is not one at all.
const NOT_A_PUBLIC_KEY: &str = "not a minisign public key (a .pub file is an \"untrusted comment:\" line, then a base64 line starting RW)";
/// The message for a secret key file that is not one at all.
const NOT_A_SECRET_KEY: &str = "not a minisign secret key (a .key file is an \"untrusted comment:\" line, then a base64 line starting RW)";

impl PublicKeyBox {
    /// Wraps text read from somewhere.
    pub fn from_text(text: impl Into<String>) -> Self {
        PublicKeyBox(text.into())
    }

    /// Reads a public key file (at most 4 KiB are accepted).
    pub fn read(path: &Path) -> Result<Self, SigningError> {
        let text = read_small(path, 4096)?;
        Ok(PublicKeyBox(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses the text: an optional `untrusted comment:` line, then the base64 key.
    pub fn parse(&self) -> Result<PublicKey, SigningError> {
        let mut lines = self.0.lines().map(str::trim).filter(|l| !l.is_empty());
        let first = lines
            .next()
            .ok_or_else(|| SigningError::MalformedKey("empty public key file".into()))?;
        let line = if first.starts_with("untrusted comment:") {
            lines.next().ok_or_else(|| {
                SigningError::MalformedKey("public key file has no key line".into())
            })?
        } else {
            first
        };
        // Every minisign key line is base64 of "Ed…", so it starts "RW": anything else is
        // some other file, and saying so beats a base64 decoder's complaint.
        if !line.starts_with("RW") {
            return Err(SigningError::MalformedKey(NOT_A_PUBLIC_KEY.into()));
        }
        PublicKey::from_base64(line)
    }

    /// Writes the text to `path` (mode 0644).
    pub fn write(&self, path: &Path) -> Result<(), SigningError> {
        write_file(path, self.0.as_bytes(), 0o644)
    }
}

/// An Ed25519 signing key with its key id. The secret is zeroized on drop.
pub struct KeyPair {
    id: KeyId,
    key: SigningKey,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({}, secret hidden)", self.id)
    }
}

const SECKEY_LEN: usize = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;

impl KeyPair {
    /// Generates a new key pair and a random key id from the OS random number generator.
    pub fn generate() -> Result<Self, SigningError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        let mut id = [0u8; 8];
        getrandom::fill(seed.as_mut()).map_err(|e| SigningError::Random(e.to_string()))?;
        getrandom::fill(&mut id).map_err(|e| SigningError::Random(e.to_string()))?;
        Ok(Self::from_seed(KeyId(id), &seed))
    }

    /// Builds a key pair from a 32-byte seed (deterministic; used by tests and fixtures).
    pub fn from_seed(id: KeyId, seed: &[u8; 32]) -> Self {
        KeyPair {
            id,
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `msg` with plain Ed25519.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    /// The minisign unencrypted secret-key file text.
    ///
    /// Layout (minisign.h `SeckeyStruct`): `"Ed"`, kdf `"\0\0"` (no password), `"B2"`,
    /// 32-byte salt, opslimit and memlimit (zero), keynum, the 64-byte libsodium secret
    /// key (seed ‖ public key) and a BLAKE2b-256 checksum over `"Ed" ‖ keynum ‖ sk`.
    pub fn to_secret_text(&self) -> Zeroizing<String> {
        let mut bin = Zeroizing::new(Vec::with_capacity(SECKEY_LEN));
        bin.extend_from_slice(b"Ed");
        bin.extend_from_slice(&[0, 0]);
        bin.extend_from_slice(b"B2");
        bin.extend_from_slice(&[0u8; 32 + 8 + 8]);
        bin.extend_from_slice(&self.id.0);
        bin.extend_from_slice(&self.key.to_keypair_bytes());
        let chk = secret_checksum(&self.id, &self.key.to_keypair_bytes());
        bin.extend_from_slice(&chk);
        Zeroizing::new(format!(
            "untrusted comment: minisign secret key {} (unencrypted; keep it offline)\n{}\n",
            self.id,
            B64.encode(&*bin)
        ))
    }

    /// Parses a minisign secret-key file written without a password.
    pub fn from_secret_text(text: &str) -> Result<Self, SigningError> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let mut line = lines
            .next()
            .ok_or_else(|| SigningError::MalformedKey("empty secret key file".into()))?;
        if line.starts_with("untrusted comment:") {
            line = lines.next().ok_or_else(|| {
                SigningError::MalformedKey("secret key file has no key line".into())
            })?;
        }
        if !line.starts_with("RW") {
            return Err(SigningError::MalformedKey(NOT_A_SECRET_KEY.into()));
        }
        let bin = Zeroizing::new(
            B64.decode(line)
                .map_err(|e| SigningError::MalformedKey(format!("secret key base64: {e}")))?,
        );
        if bin.len() != SECKEY_LEN {
            return Err(SigningError::MalformedKey(format!(
                "secret key must decode to {SECKEY_LEN} bytes, got {}",
                bin.len()
            )));
        }
        if &bin[0..2] != b"Ed" {
            return Err(SigningError::MalformedKey(
                "secret key algorithm is not Ed".into(),
            ));
        }
        if bin[2..4] != [0, 0] {
            return Err(SigningError::EncryptedKey);
        }
        if &bin[4..6] != b"B2" {
            return Err(SigningError::MalformedKey(
                "secret key checksum algorithm is not B2".into(),
            ));
        }
        let off = 6 + 32 + 8 + 8;
        let mut id = [0u8; 8];
        id.copy_from_slice(&bin[off..off + 8]);
        let mut sk = Zeroizing::new([0u8; 64]);
        sk.copy_from_slice(&bin[off + 8..off + 72]);
        let chk = &bin[off + 72..off + 104];
        // minisign 0.11 (Debian 12) writes an all-zero checksum for `-G -W` keys: it only
        // computes one when encrypting. Accept that, since `from_keypair_bytes` below still
        // checks that the stored public key matches the seed; any other checksum must match.
        let no_checksum = chk.iter().all(|&b| b == 0);
        if !no_checksum && secret_checksum(&KeyId(id), &sk)[..] != chk[..] {
            return Err(SigningError::KeyChecksum);
        }
        let key = SigningKey::from_keypair_bytes(&sk)
            .map_err(|e| SigningError::MalformedKey(format!("inconsistent key pair: {e}")))?;
        Ok(KeyPair { id: KeyId(id), key })
    }

    /// Reads a secret key file (at most 4 KiB).
    pub fn read(path: &Path) -> Result<Self, SigningError> {
        let text = Zeroizing::new(read_small(path, 4096)?);
        Self::from_secret_text(&text)
    }

    /// Writes the secret key to `path` with mode 0600 (created exclusively: an existing
    /// file is never overwritten).
    pub fn write_secret(&self, path: &Path) -> Result<(), SigningError> {
        let text = self.to_secret_text();
        write_file(path, text.as_bytes(), 0o600)
    }
}

/// Whether `bytes` encode an Ed25519 point of small order (one of the eight torsion
/// points, under any encoding). Bytes that are not a point at all are not small-order.
///
/// libsodium refuses signatures whose R is such a point; `minisign-verify` does not, so
/// the minisign verifier asks this. `VerifyingKey` is only the decoder here: it is what
/// ed25519-dalek offers to decompress a point and test its order.
pub(crate) fn is_small_order_point(bytes: &[u8; 32]) -> bool {
    VerifyingKey::from_bytes(bytes).is_ok_and(|p| p.is_weak())
}

fn secret_checksum(id: &KeyId, sk: &[u8; 64]) -> [u8; 32] {
    let mut h = Blake2b::<U32>::new();
    h.update(b"Ed");
    h.update(id.0);
    h.update(sk);
    h.finalize().into()
}

fn read_small(path: &Path, max: u64) -> Result<String, SigningError> {
    use std::io::Read as _;
    let io = |source| SigningError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    f.take(max + 1).read_to_string(&mut text).map_err(io)?;
    if text.len() as u64 > max {
        return Err(SigningError::MalformedKey(format!(
            "{}: larger than {max} bytes",
            path.display()
        )));
    }
    Ok(text)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SigningError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |source| SigningError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_that_is_no_key_is_said_to_be_none() {
        let e = PublicKeyBox::from_text("hello\n")
            .parse()
            .expect_err("not a key");
        assert_eq!(e.to_string(), format!("malformed key: {NOT_A_PUBLIC_KEY}"));
        let e = KeyPair::from_secret_text("untrusted comment: x\n{}\n").expect_err("not a key");
        assert_eq!(e.to_string(), format!("malformed key: {NOT_A_SECRET_KEY}"));
        // A public key given where the secret key goes is not a secret key either, but it
        // is a minisign key line: the length check names it.
        let pk = KeyPair::generate().expect("key").public().to_box();
        let e = KeyPair::from_secret_text(pk.as_str()).expect_err("a public key");
        assert!(e.to_string().contains("malformed key"), "{e}");
    }

    use super::*;

    #[test]
    fn public_key_text_round_trips() {
        let kp = KeyPair::from_seed(KeyId([1, 2, 3, 4, 5, 6, 7, 8]), &[7u8; 32]);
        let text = kp.public().to_box();
        assert!(
            text.as_str()
                .starts_with("untrusted comment: minisign public key 0807060504030201\n")
        );
        let back = text.parse().expect("parses");
        assert_eq!(back, kp.public());
        assert!(back.to_base64().starts_with("RW"));
    }

    #[test]
    fn secret_key_text_round_trips_and_detects_corruption() {
        let kp = KeyPair::from_seed(KeyId([9; 8]), &[3u8; 32]);
        let text = kp.to_secret_text();
        let back = KeyPair::from_secret_text(&text).expect("parses");
        assert_eq!(back.public(), kp.public());
        // flip one byte of the secret key part: checksum must catch it
        let line = text.lines().nth(1).expect("key line");
        let mut bin = B64.decode(line).expect("b64");
        bin[6 + 48 + 8 + 3] ^= 1;
        let bad = format!("untrusted comment: x\n{}\n", B64.encode(&bin));
        assert!(matches!(
            KeyPair::from_secret_text(&bad),
            Err(SigningError::KeyChecksum)
        ));
    }

    #[test]
    fn unencrypted_keys_with_a_zero_checksum_load_but_must_be_consistent() {
        // the layout minisign 0.11 `-G -W` writes: checksum left all zero
        let kp = KeyPair::from_seed(KeyId([9; 8]), &[3u8; 32]);
        let text = kp.to_secret_text();
        let line = text.lines().nth(1).expect("key line");
        let mut bin = B64.decode(line).expect("b64");
        let chk = SECKEY_LEN - 32;
        bin[chk..].fill(0);
        let back = KeyPair::from_secret_text(&B64.encode(&bin)).expect("zero checksum");
        assert_eq!(back.public(), kp.public());
        // ...but a corrupted secret half is still caught (public key no longer matches)
        bin[6 + 48 + 8 + 3] ^= 1;
        assert!(matches!(
            KeyPair::from_secret_text(&B64.encode(&bin)),
            Err(SigningError::MalformedKey(_))
        ));
    }

    #[test]
    fn encrypted_keys_are_refused_with_a_clear_error() {
        let kp = KeyPair::from_seed(KeyId([9; 8]), &[3u8; 32]);
        let text = kp.to_secret_text();
        let line = text.lines().nth(1).expect("key line");
        let mut bin = B64.decode(line).expect("b64");
        bin[2] = b'S';
        bin[3] = b'c';
        let enc = B64.encode(&bin);
        assert!(matches!(
            KeyPair::from_secret_text(&enc),
            Err(SigningError::EncryptedKey)
        ));
    }

    #[test]
    fn secret_key_is_written_0600_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("k.key");
        let kp = KeyPair::generate().expect("rng");
        kp.write_secret(&p).expect("write");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let e = kp.write_secret(&p).expect_err("must not overwrite");
        assert!(
            matches!(&e, SigningError::Io { path, source }
                if path == &p && source.kind() == std::io::ErrorKind::AlreadyExists),
            "{e:?}"
        );
        assert_eq!(KeyPair::read(&p).expect("read").id(), kp.id());
    }

    #[test]
    fn weak_public_keys_are_refused_at_parse() {
        let id = KeyId([7; 8]);
        let mut identity = [0u8; 32];
        identity[0] = 1;
        // y = -1, x = 0: the point of order 2
        let mut order2 = [0xffu8; 32];
        order2[0] = 0xec;
        order2[31] = 0x7f;
        // y = p + 1: a non-canonical encoding of the identity
        let mut identity_noncanonical = [0xffu8; 32];
        identity_noncanonical[0] = 0xee;
        identity_noncanonical[31] = 0x7f;
        for raw in [identity, order2, identity_noncanonical, [0u8; 32]] {
            let err = PublicKey::from_raw(id, &raw).expect_err("weak key");
            assert!(matches!(err, SigningError::WeakKey(_)), "{err}");
            let mut bin = b"Ed".to_vec();
            bin.extend_from_slice(&id.0);
            bin.extend_from_slice(&raw);
            let err =
                PublicKeyBox::from_text(format!("untrusted comment: x\n{}\n", B64.encode(bin)))
                    .parse()
                    .expect_err("weak key");
            assert!(matches!(err, SigningError::WeakKey(_)), "{err}");
        }
        // an ordinary key still parses
        let kp = KeyPair::from_seed(id, &[7; 32]);
        assert_eq!(
            PublicKey::from_raw(id, &kp.public().raw()).expect("ok"),
            kp.public()
        );
    }

    #[test]
    fn key_id_parses_its_own_display() {
        let id = KeyId([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]);
        assert_eq!(id.to_string().parse::<KeyId>().expect("parse"), id);
        let e = "xyz".parse::<KeyId>().expect_err("not hex");
        assert!(
            matches!(&e, SigningError::MalformedKey(m) if m.contains("16 hex digits")),
            "{e:?}"
        );
    }
}
