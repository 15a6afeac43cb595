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
}
