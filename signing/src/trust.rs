//! Pinned trust roots with k-of-n thresholds.
//!
//! [`count_valid`] is the *only* place in the product that counts signatures against a
//! set of keys: the kit manifest, DSSE envelopes and trust-root rotation all call it, so
//! the rules (distinct key ids, unknown keys ignored, each key counted once) cannot drift
//! between copies.
use std::collections::{BTreeMap, BTreeSet};

use crate::SigningError;
use crate::keys::{KeyId, PublicKey};

/// One signature to be counted: the key id it claims (if any) and the raw bytes.
#[derive(Clone, Copy, Debug)]
pub struct SignatureRef<'a> {
    /// The key id the signer named. `None` means "try every trusted key" (DSSE allows
    /// signatures without a key id).
    pub keyid: Option<KeyId>,
    /// The raw signature bytes (64 for Ed25519; anything else never verifies).
    pub sig: &'a [u8],
}

/// A set of pinned public keys and how many of them must sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustRoot {
    keys: BTreeMap<KeyId, PublicKey>,
    threshold: usize,
}

impl TrustRoot {
    /// Builds a trust root. Refuses an empty key set, duplicate key ids, and a threshold
    /// of zero or above the number of keys.
    pub fn new(keys: Vec<PublicKey>, threshold: usize) -> Result<Self, SigningError> {
        let mut map = BTreeMap::new();
        for k in keys {
            if map.insert(k.id(), k.clone()).is_some() {
                return Err(SigningError::InvalidTrustRoot(format!(
                    "key id {} appears twice",
                    k.id()
                )));
            }
        }
        if map.is_empty() {
            return Err(SigningError::InvalidTrustRoot("no keys".into()));
        }
        if threshold == 0 || threshold > map.len() {
            return Err(SigningError::InvalidTrustRoot(format!(
                "threshold {threshold} must be between 1 and the number of keys ({})",
                map.len()
            )));
        }
        Ok(TrustRoot {
            keys: map,
            threshold,
        })
    }

    /// A one-key root with threshold 1.
    pub fn single(key: PublicKey) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(key.id(), key);
        TrustRoot { keys, threshold: 1 }
    }

    /// The threshold k.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The pinned keys, ordered by key id.
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.values()
    }

    /// The key with this id, if pinned.
    pub fn key(&self, id: &KeyId) -> Option<&PublicKey> {
        self.keys.get(id)
    }

    /// Verifies that at least `threshold` distinct pinned keys signed `msg`. Returns the
    /// ids of the keys whose signatures verified.
    pub fn verify_threshold<'a>(
        &self,
        msg: &[u8],
        sigs: impl IntoIterator<Item = SignatureRef<'a>>,
    ) -> Result<BTreeSet<KeyId>, SigningError> {
        let valid = count_valid(self, msg, sigs);
        if valid.len() >= self.threshold {
            Ok(valid)
        } else {
            Err(SigningError::ThresholdNotMet {
                valid: valid.len(),
                required: self.threshold,
            })
        }
    }
}

/// Returns the set of distinct pinned keys that produced a valid signature over `msg`.
///
/// - a signature naming an unknown key id is ignored (it never counts);
/// - a signature naming a known key id is checked against that key only;
/// - a signature with no key id is checked against every pinned key, and counts for the
///   first that verifies;
/// - several signatures by the same key count once.
pub fn count_valid<'a>(
    root: &TrustRoot,
    msg: &[u8],
    sigs: impl IntoIterator<Item = SignatureRef<'a>>,
) -> BTreeSet<KeyId> {
    let mut valid = BTreeSet::new();
    for s in sigs {
        match s.keyid {
            Some(id) => {
                if valid.contains(&id) {
                    continue;
                }
                if let Some(k) = root.keys.get(&id)
                    && k.verify_slice(msg, s.sig).is_ok()
                {
                    valid.insert(id);
                }
            }
            None => {
                if let Some(k) = root
                    .keys
                    .values()
                    .filter(|k| !valid.contains(&k.id()))
                    .find(|k| k.verify_slice(msg, s.sig).is_ok())
                {
                    valid.insert(k.id());
                }
            }
        }
    }
    valid
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;

    fn kp(n: u8) -> KeyPair {
        KeyPair::from_seed(KeyId([n; 8]), &[n; 32])
    }

    fn sref(id: Option<KeyId>, sig: &[u8]) -> SignatureRef<'_> {
        SignatureRef { keyid: id, sig }
    }

    #[test]
    fn two_of_three_passes_with_two_distinct_keys() {
        let (a, b, c) = (kp(1), kp(2), kp(3));
        let root = TrustRoot::new(vec![a.public(), b.public(), c.public()], 2).expect("root");
        let (sa, sb) = (a.sign(b"m"), b.sign(b"m"));
        let ok = root
            .verify_threshold(b"m", [sref(Some(a.id()), &sa), sref(Some(b.id()), &sb)])
            .expect("2 of 3");
        assert_eq!(ok.len(), 2);
    }

    #[test]
    fn duplicate_signatures_by_one_key_count_once() {
        let (a, b) = (kp(1), kp(2));
        let root = TrustRoot::new(vec![a.public(), b.public()], 2).expect("root");
        let sa = a.sign(b"m");
        let err = root
            .verify_threshold(
                b"m",
                [
                    sref(Some(a.id()), &sa),
                    sref(Some(a.id()), &sa),
                    sref(None, &sa),
                ],
            )
            .expect_err("one key only");
        assert!(matches!(
            err,
            SigningError::ThresholdNotMet {
                valid: 1,
                required: 2
            }
        ));
    }

    #[test]
    fn unknown_keys_never_count_even_if_their_signature_is_valid() {
        let (a, stranger) = (kp(1), kp(9));
        let root = TrustRoot::single(a.public());
        let ss = stranger.sign(b"m");
        assert!(count_valid(&root, b"m", [sref(Some(stranger.id()), &ss)]).is_empty());
        assert!(count_valid(&root, b"m", [sref(None, &ss)]).is_empty());
    }

    #[test]
    fn a_signature_claiming_another_keys_id_does_not_count() {
        let (a, b) = (kp(1), kp(2));
        let root = TrustRoot::new(vec![a.public(), b.public()], 1).expect("root");
        let sb = b.sign(b"m");
        // b's signature labelled as a's: checked against a only, fails.
        assert!(count_valid(&root, b"m", [sref(Some(a.id()), &sb)]).is_empty());
    }

    #[test]
    fn wrong_message_and_truncated_signatures_fail() {
        let a = kp(1);
        let root = TrustRoot::single(a.public());
        let sa = a.sign(b"m");
        assert!(count_valid(&root, b"other", [sref(Some(a.id()), &sa)]).is_empty());
        assert!(count_valid(&root, b"m", [sref(Some(a.id()), &sa[..63])]).is_empty());
    }

    #[test]
    fn invalid_roots_are_refused() {
        let a = kp(1);
        let refused = |keys: Vec<PublicKey>, threshold: usize, why: &str| {
            let e = TrustRoot::new(keys, threshold).expect_err(why);
            assert!(
                matches!(&e, SigningError::InvalidTrustRoot(m) if m.contains(why)),
                "{e:?} (expected {why:?})"
            );
        };
        refused(vec![], 1, "no keys");
        refused(vec![a.public()], 0, "threshold 0 must be between 1 and");
        refused(vec![a.public()], 2, "threshold 2 must be between 1 and");
        refused(vec![a.public(), a.public()], 1, "appears twice");
    }
}
