//! Trust-root rotation (KIT-SECURITY row 8): a kit may carry `trust/root.json`, a new
//! set of vendor keys and threshold, signed by the threshold of the **currently pinned**
//! root. The importer verifies it with the pinned root and, when the kit is accepted,
//! pins the new root. Its version must grow, so an old rotation cannot be replayed.
//!
//! ```
//! use bundles::trustroot::RootDoc;
//! use signing::{KeyId, KeyPair, TrustRoot};
//! let old = KeyPair::from_seed(KeyId([1; 8]), &[1; 32]);
//! let new = KeyPair::from_seed(KeyId([2; 8]), &[2; 32]);
//! let doc = RootDoc::signed(2, &[new.public()], 1, &[&old])?;
//! let bytes = doc.to_json()?;
//! let parsed = RootDoc::parse(&bytes)?;
//! let pinned = TrustRoot::single(old.public());
//! let next = parsed.verify(&pinned, 1)?;
//! assert!(next.key(&new.id()).is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
use serde::{Deserialize, Serialize};
use signing::trust::SignatureRef;
use signing::{KeyId, KeyPair, PublicKey, TrustRoot};

use crate::manifest::canonical_json;

/// Entry path of a trust-root rotation document.
pub const ROOT_PATH: &str = "trust/root.json";
/// Its media type.
pub const ROOT_MEDIA_TYPE: &str = "application/vnd.stella.trust-root.v1+json";
/// Largest document accepted.
pub const MAX_ROOT_BYTES: usize = 64 * 1024;
/// Most keys in a root.
pub const MAX_ROOT_KEYS: usize = 16;

/// Why a rotation document is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootError {
    /// Not the schema, too large, or a bad key.
    #[error("trust/root.json: {0}")]
    Invalid(String),
    /// Not signed by enough keys of the pinned root.
    #[error("trust/root.json is not signed by the pinned trust root: {0}")]
    NotSigned(String),
    /// Not newer than the pinned root.
    #[error(
        "trust/root.json has version {found}, the pinned root is version {pinned}: a rotation must increase it"
    )]
    NotNewer {
        /// The document's version.
        found: u64,
        /// The pinned version.
        pinned: u64,
    },
}

/// One signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootSignature {
    /// Key id of the signer.
    pub keyid: KeyId,
    /// Base64 Ed25519 signature.
    pub sig: String,
}

/// `trust/root.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootDoc {
    /// Strictly increasing.
    pub root_version: u64,
    /// New vendor keys (minisign base64 lines).
    pub keys: Vec<String>,
    /// New threshold.
    pub threshold: usize,
    /// Signatures by the pinned root over the canonical bytes without this member.
    #[serde(default)]
    pub signatures: Vec<RootSignature>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl RootDoc {
    fn signed_bytes(&self) -> Result<Vec<u8>, RootError> {
        let mut v = serde_json::to_value(self).map_err(|e| RootError::Invalid(e.to_string()))?;
        if let serde_json::Value::Object(m) = &mut v {
            m.remove("signatures");
        }
        canonical_json(&v).map_err(|e| RootError::Invalid(e.to_string()))
    }

    /// A document for `keys`/`threshold`, signed by `signers` (the current root's keys).
    pub fn signed(
        root_version: u64,
        keys: &[PublicKey],
        threshold: usize,
        signers: &[&KeyPair],
    ) -> Result<RootDoc, RootError> {
        use base64::Engine as _;
        let mut doc = RootDoc {
            root_version,
            keys: keys.iter().map(PublicKey::to_base64).collect(),
            threshold,
            signatures: Vec::new(),
        };
        doc.new_root()?;
        let msg = doc.signed_bytes()?;
        doc.signatures = signers
            .iter()
            .map(|k| RootSignature {
                keyid: k.id(),
                sig: b64().encode(k.sign(&msg)),
            })
            .collect();
        doc.signatures.sort_by_key(|s| s.keyid);
        Ok(doc)
    }

    /// Canonical JSON (what goes into the kit).
    pub fn to_json(&self) -> Result<Vec<u8>, RootError> {
        let v = serde_json::to_value(self).map_err(|e| RootError::Invalid(e.to_string()))?;
        canonical_json(&v).map_err(|e| RootError::Invalid(e.to_string()))
    }

    /// Parses a document (size-capped, strict schema).
    pub fn parse(bytes: &[u8]) -> Result<RootDoc, RootError> {
        if bytes.len() > MAX_ROOT_BYTES {
            return Err(RootError::Invalid(format!(
                "larger than {MAX_ROOT_BYTES} bytes"
            )));
        }
        serde_json::from_slice(bytes).map_err(|e| RootError::Invalid(e.to_string()))
    }

    /// The trust root this document describes (keys parse, 1 ≤ threshold ≤ keys).
    pub fn new_root(&self) -> Result<TrustRoot, RootError> {
        if self.keys.is_empty() || self.keys.len() > MAX_ROOT_KEYS {
            return Err(RootError::Invalid(format!(
                "1 to {MAX_ROOT_KEYS} keys required"
            )));
        }
        let keys = self
            .keys
            .iter()
            .map(|k| PublicKey::from_base64(k).map_err(|e| RootError::Invalid(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        TrustRoot::new(keys, self.threshold).map_err(|e| RootError::Invalid(e.to_string()))
    }

    /// Verifies the document with the pinned root (its threshold of distinct pinned keys)
    /// and that it is newer than `pinned_version`; returns the new root.
    pub fn verify(&self, pinned: &TrustRoot, pinned_version: u64) -> Result<TrustRoot, RootError> {
        use base64::Engine as _;
        if self.root_version <= pinned_version {
            return Err(RootError::NotNewer {
                found: self.root_version,
                pinned: pinned_version,
            });
        }
        let next = self.new_root()?;
        if self.signatures.len() > MAX_ROOT_KEYS * 2 {
            return Err(RootError::Invalid("too many signatures".into()));
        }
        let msg = self.signed_bytes()?;
        let decoded: Vec<(KeyId, Vec<u8>)> = self
            .signatures
            .iter()
            .map(|s| (s.keyid, b64().decode(&s.sig).unwrap_or_default()))
            .collect();
        pinned
            .verify_threshold(
                &msg,
                decoded.iter().map(|(k, s)| SignatureRef {
                    keyid: Some(*k),
                    sig: s,
                }),
            )
            .map_err(|e| RootError::NotSigned(e.to_string()))?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: u8) -> KeyPair {
        KeyPair::from_seed(KeyId([n; 8]), &[n; 32])
    }

    #[test]
    fn refuses_foreign_signers_old_versions_and_tampering() {
        let pinned = TrustRoot::single(k(1).public());
        let good = RootDoc::signed(2, &[k(2).public()], 1, &[&k(1)]).expect("doc");
        assert!(good.verify(&pinned, 1).is_ok());
        assert!(matches!(
            good.verify(&pinned, 2),
            Err(RootError::NotNewer { .. })
        ));
        let foreign = RootDoc::signed(2, &[k(2).public()], 1, &[&k(3)]).expect("doc");
        assert!(matches!(
            foreign.verify(&pinned, 1),
            Err(RootError::NotSigned(_))
        ));
        let mut tampered = good.clone();
        tampered.keys.push(k(3).public().to_base64());
        assert!(matches!(
            tampered.verify(&pinned, 1),
            Err(RootError::NotSigned(_))
        ));
        let two = TrustRoot::new(vec![k(1).public(), k(4).public()], 2).expect("root");
        assert!(
            matches!(good.verify(&two, 1), Err(RootError::NotSigned(_))),
            "needs both co-signers"
        );
        // the same co-signer twice is one
        let mut twice = good.clone();
        twice.signatures.push(twice.signatures[0].clone());
        assert!(matches!(
            twice.verify(&two, 1),
            Err(RootError::NotSigned(_))
        ));
        let both = RootDoc::signed(2, &[k(2).public()], 1, &[&k(1), &k(4)]).expect("doc");
        assert!(both.verify(&two, 1).is_ok());
        let bytes = both.to_json().expect("json");
        assert_eq!(RootDoc::parse(&bytes).expect("parse"), both);
        assert!(
            matches!(
                RootDoc::signed(2, &[k(2).public()], 2, &[&k(1)]),
                Err(RootError::Invalid(_))
            ),
            "threshold > keys"
        );
    }
}
