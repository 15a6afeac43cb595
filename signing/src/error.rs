//! Errors of the signing crate.
use std::path::PathBuf;

use crate::keys::KeyId;

/// Everything that can go wrong while loading keys, signing or verifying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// A key or signature file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Reading a stream that was being signed or verified failed.
    #[error("reading the signed data failed: {0}")]
    Stream(#[source] std::io::Error),
    /// The operating system random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),
    /// A key file is not in the expected format.
    #[error("malformed key: {0}")]
    MalformedKey(String),
    /// An Ed25519 public key that libsodium (and so the stock `minisign`) refuses: a
    /// small-order point, under which signatures can be forged without a secret key, or a
    /// non-canonical encoding of a point.
    #[error("weak Ed25519 public key refused: {0}")]
    WeakKey(&'static str),
    /// A key file's integrity checksum does not match its content.
    #[error("key checksum mismatch (corrupted key file)")]
    KeyChecksum,
    /// The key file is encrypted with a password; only unencrypted keys are supported.
    #[error(
        "the secret key is password-protected; create it with `minisign -G -W` or `stella-kit keygen`"
    )]
    EncryptedKey,
    /// A signature was made by a key other than the one presented.
    #[error("signature key id {found} does not match the key {expected}")]
    KeyIdMismatch {
        /// The key id the verifier holds.
        expected: KeyId,
        /// The key id named by the signature.
        found: KeyId,
    },
    /// No key with this id is trusted.
    #[error("no trusted key has id {0}")]
    UnknownKey(KeyId),
    /// The signature does not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// A signature encoding is malformed.
    #[error("malformed signature: {0}")]
    MalformedSignature(String),
    /// Fewer distinct trusted keys signed than the threshold requires.
    #[error("{valid} valid signature(s) from distinct trusted keys, {required} required")]
    ThresholdNotMet {
        /// Distinct trusted keys with a valid signature.
        valid: usize,
        /// The threshold.
        required: usize,
    },
    /// A trust root is internally inconsistent (e.g. threshold 0 or above the key count).
    #[error("invalid trust root: {0}")]
    InvalidTrustRoot(String),
    /// The minisign global signature over the trusted comment does not verify: the
    /// trusted comment was edited (or the signature line swapped) after signing.
    #[error("the trusted comment's global signature does not verify (trusted comment altered)")]
    BadGlobalSignature,
    /// A legacy (`Ed`, not prehashed) minisign signature was presented but the caller did
    /// not allow legacy signatures.
    #[error(
        "legacy (non-prehashed) minisign signature refused; re-sign without `-l` or allow legacy signatures explicitly"
    )]
    LegacyNotAllowed,
    /// A legacy minisign signature covers a message larger than the caller's buffer cap
    /// (legacy signatures sign the raw message, so verifying needs all of it in memory).
    #[error(
        "legacy minisign signature over more than {limit} bytes: legacy verification buffers the whole message, so it is capped; re-sign prehashed"
    )]
    LegacyTooLarge {
        /// The cap in bytes (`VerifyOptions::max_legacy_bytes`).
        limit: u64,
    },
    /// A comment given for signing is not acceptable (control characters, too long).
    #[error("invalid {which} comment: {reason}")]
    InvalidComment {
        /// `"trusted"` or `"untrusted"`.
        which: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An input is larger than this crate accepts.
    #[error("{what} is larger than {limit} bytes")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
    /// A DSSE envelope is malformed (bad JSON, bad base64, missing fields).
    #[error("malformed DSSE envelope: {0}")]
    MalformedEnvelope(String),
    /// A verified DSSE envelope carries another payload type than the one required.
    #[error("DSSE payload type {found:?} is not the required {expected:?}")]
    PayloadTypeMismatch {
        /// The payload type the caller requires.
        expected: String,
        /// The envelope's payload type.
        found: String,
    },
}
