//! Signing primitives of Stella Ops Offline.
//!
//! Everything that signs or verifies in the product goes through this crate, so each
//! security check exists exactly once:
//!
//! - [`keys`]: Ed25519 key pairs with minisign-compatible key files (the text form
//!   [`keys::PublicKeyBox`] is kept apart from the parsed [`keys::PublicKey`], which
//!   refuses weak keys). Every raw Ed25519 check is ed25519-dalek's `verify_strict`.
//! - [`dsse`]: DSSE envelopes (in-toto evidence), thresholds via [`trust::count_valid`].
//! - [`jwt`]: EdDSA JSON Web Tokens (the offline client tokens), every check explicit.
//! - [`minisign`]: minisign-compatible detached signatures (prehashed, streamed), which
//!   the stock `minisign -V` accepts. Verification is jedisct1's `minisign-verify`
//!   (streamed), with our key-id, size, legacy and strictness checks around it; signing
//!   is ours (ed25519-dalek), because rust-minisign's signatures are randomised and kits
//!   must be reproducible byte for byte.
//! - [`trust`]: pinned trust roots with k-of-n thresholds; [`trust::count_valid`] is the
//!   one function that counts distinct valid signatures.
//!
//! ```
//! use signing::keys::KeyPair;
//! let kp = KeyPair::generate()?;
//! let sig = kp.sign(b"hello");
//! assert!(kp.public().verify(b"hello", &sig).is_ok());
//! assert!(kp.public().verify(b"hell0", &sig).is_err());
//! # Ok::<(), signing::SigningError>(())
//! ```
#![forbid(unsafe_code)]

pub mod dsse;
pub mod error;
pub mod jwt;
pub mod keys;
pub mod minisign;
pub mod trust;

#[cfg(test)]
mod strict_tests;
#[cfg(test)]
#[path = "../tests/common/strict.rs"]
mod strict_vectors;

pub use dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
pub use error::SigningError;
pub use jwt::JwtError;
pub use keys::{KeyId, KeyPair, PublicKey, PublicKeyBox};
pub use minisign::SignatureBox;
pub use trust::{TrustRoot, count_valid};
