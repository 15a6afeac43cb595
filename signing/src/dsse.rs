//! DSSE envelopes, v1.0.2 (FORMATS.md §7): the signed wrapper of our evidence
//! (in-toto Statements), verifiable with standard DSSE / in-toto libraries.
//!
//! ```json
//! {"payload":"<base64 body>","payloadType":"application/vnd.in-toto+json",
//!  "signatures":[{"keyid":"<KeyId>","sig":"<base64 Ed25519 over PAE>"}]}
//! ```
//!
//! Signatures cover [`pae`]`(payloadType, body)`, never the JSON, so the envelope can be
//! re-serialised freely. Verification hands back the exact bytes that were verified
//! ([`VerifiedPayload::body`]) — parse *those*, never the envelope's payload again.
//!
//! Input is read liberally where the spec asks for it: standard and URL-safe base64,
//! with or without padding; unknown fields ignored; `keyid` optional. Thresholds are
//! counted by [`crate::trust::count_valid`] (through [`TrustRoot::verify_threshold`]):
//! a `keyid` in our [`KeyId`] form selects that pinned key; an empty or foreign `keyid`
//! (e.g. securesystemslib's SHA-256 key ids) is an unauthenticated hint we cannot use,
//! so every pinned key is tried, as DSSE allows.
//!
//! ```
//! use signing::dsse::{self, Envelope, IN_TOTO_PAYLOAD_TYPE};
//! use signing::keys::{KeyId, KeyPair};
//! use signing::TrustRoot;
//!
//! let key = KeyPair::from_seed(KeyId([3; 8]), &[3; 32]);
//! let env = dsse::sign(IN_TOTO_PAYLOAD_TYPE, br#"{"_type":"https://in-toto.io/Statement/v1"}"#, &[&key])?;
//! let json = env.to_json();
//! let back = Envelope::from_json(&json)?;
//! let verified = dsse::verify(&back, &TrustRoot::single(key.public()))?;
//! assert_eq!(verified.payload_type, IN_TOTO_PAYLOAD_TYPE);
//! assert!(verified.keys.contains(&key.id()));
//! assert_eq!(dsse::pae("t", b"ab"), b"DSSEv1 1 t 2 ab".to_vec());
//! # Ok::<(), signing::SigningError>(())
//! ```
use std::collections::BTreeSet;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD as B64;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};

use crate::SigningError;
use crate::keys::{KeyId, KeyPair};
use crate::trust::{SignatureRef, TrustRoot};

/// The DSSE `payloadType` of in-toto Statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Largest envelope accepted by [`Envelope::from_json`] (and largest base64 payload
/// accepted by [`verify`]).
pub const MAX_ENVELOPE_BYTES: usize = 16 * 1024 * 1024;
/// Most signatures an envelope may carry: a signature without a usable key id is tried
/// against every pinned key, so the work must be bounded.
pub const MAX_SIGNATURES: usize = 64;

/// Padding-indifferent decoding; DSSE says verifiers must accept both alphabets.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_encode_padding(true)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STD_ANY: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_ANY: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// A DSSE envelope. Field names serialise as `payload`, `payloadType`, `signatures`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The base64 body.
    pub payload: String,
    /// How to interpret the body, e.g. [`IN_TOTO_PAYLOAD_TYPE`].
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures over [`pae`]`(payload_type, body)`.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Unauthenticated hint naming the key: our [`KeyId`] text; empty when absent.
    #[serde(default)]
    pub keyid: String,
    /// The base64 signature.
    pub sig: String,
}

/// What [`verify`] established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPayload {
    /// The (signed) payload type.
    pub payload_type: String,
    /// The exact body bytes the signatures cover.
    pub body: Vec<u8>,
    /// The distinct pinned keys whose signatures verified.
    pub keys: BTreeSet<KeyId>,
}

impl Envelope {
    /// Parses an envelope (at most [`MAX_ENVELOPE_BYTES`]); unknown fields are ignored.
    pub fn from_json(bytes: &[u8]) -> Result<Self, SigningError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(SigningError::TooLarge {
                what: "DSSE envelope",
                limit: MAX_ENVELOPE_BYTES as u64,
            });
        }
        serde_json::from_slice(bytes).map_err(|e| SigningError::MalformedEnvelope(e.to_string()))
    }

    /// The compact JSON form (fields in the order `payload`, `payloadType`, `signatures`).
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising strings and vectors of strings cannot fail; the fallback is never
        // taken but keeps this function panic-free.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let t = payload_type.as_bytes();
    let mut out = Vec::with_capacity(32 + t.len() + body.len());
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(t.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(t);
    out.push(b' ');
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(body);
    out
}

/// Signs `body` with each key (duplicates signed once); `keyid` is the [`KeyId`] text.
/// Deterministic: same keys, type and body give the same envelope.
pub fn sign(payload_type: &str, body: &[u8], keys: &[&KeyPair]) -> Result<Envelope, SigningError> {
    if keys.is_empty() {
        return Err(SigningError::MalformedEnvelope(
            "at least one signing key is required".into(),
        ));
    }
    let msg = pae(payload_type, body);
    let mut seen = BTreeSet::new();
    let signatures = keys
        .iter()
        .filter(|k| seen.insert(k.id()))
        .map(|k| EnvelopeSignature {
            keyid: k.id().to_string(),
            sig: B64.encode(k.sign(&msg)),
        })
        .collect();
    Ok(Envelope {
        payload: B64.encode(body),
        payload_type: payload_type.to_string(),
        signatures,
    })
}

/// Verifies that at least the trust root's threshold of distinct pinned keys signed the
/// envelope, and returns the verified payload.
pub fn verify(env: &Envelope, trust: &TrustRoot) -> Result<VerifiedPayload, SigningError> {
    if env.payload.len() > MAX_ENVELOPE_BYTES {
        return Err(SigningError::TooLarge {
            what: "DSSE payload",
            limit: MAX_ENVELOPE_BYTES as u64,
        });
    }
    if env.signatures.len() > MAX_SIGNATURES {
        return Err(SigningError::MalformedEnvelope(format!(
            "{} signatures, at most {MAX_SIGNATURES} are accepted",
            env.signatures.len()
        )));
    }
    let body = decode_b64(&env.payload)
        .map_err(|e| SigningError::MalformedEnvelope(format!("payload base64: {e}")))?;
    let sigs = env
        .signatures
        .iter()
        .enumerate()
        .map(|(i, s)| {
            decode_b64(&s.sig)
                .map_err(|e| SigningError::MalformedEnvelope(format!("signature {i} base64: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let msg = pae(&env.payload_type, &body);
    let refs = env
        .signatures
        .iter()
        .zip(&sigs)
        .map(|(s, raw)| SignatureRef {
            // Only our own key-id form can select a key; anything else is a hint we cannot
            // use, so every pinned key is tried.
            keyid: s.keyid.parse::<KeyId>().ok(),
            sig: raw,
        });
    let keys = trust.verify_threshold(&msg, refs)?;
    Ok(VerifiedPayload {
        payload_type: env.payload_type.clone(),
        body,
        keys,
    })
}

/// [`verify`], then require the payload type (e.g. [`IN_TOTO_PAYLOAD_TYPE`]).
pub fn verify_typed(
    env: &Envelope,
    trust: &TrustRoot,
    payload_type: &str,
) -> Result<VerifiedPayload, SigningError> {
    let v = verify(env, trust)?;
    if v.payload_type != payload_type {
        return Err(SigningError::PayloadTypeMismatch {
            expected: payload_type.to_string(),
            found: v.payload_type,
        });
    }
    Ok(v)
}

/// Standard or URL-safe alphabet, padded or not (a string cannot mix the alphabets).
fn decode_b64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if s.contains(['-', '_']) {
        URL_ANY.decode(s)
    } else {
        STD_ANY.decode(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

    fn kp(n: u8) -> KeyPair {
        KeyPair::from_seed(KeyId([n; 8]), &[n; 32])
    }

    #[test]
    fn pae_matches_the_spec_example() {
        // DSSE protocol.md test vector
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn round_trip_and_exact_field_names() {
        let k = kp(1);
        let env = sign(IN_TOTO_PAYLOAD_TYPE, b"{}", &[&k]).expect("sign");
        let json = String::from_utf8(env.to_json()).expect("utf8");
        assert_eq!(
            json,
            format!(
                r#"{{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{{"keyid":"{}","sig":"{}"}}]}}"#,
                k.id(),
                env.signatures[0].sig
            )
        );
        assert_eq!(sign(IN_TOTO_PAYLOAD_TYPE, b"{}", &[&k]).expect("sign"), env);
        let v = verify(
            &Envelope::from_json(json.as_bytes()).expect("parse"),
            &TrustRoot::single(k.public()),
        )
        .expect("verify");
        assert_eq!(v.body, b"{}");
        assert_eq!(v.keys, BTreeSet::from([k.id()]));
    }

    #[test]
    fn url_safe_and_unpadded_base64_are_accepted() {
        let k = kp(1);
        // a body whose base64 contains '+' / '/' in the standard alphabet
        let body: Vec<u8> = (0u8..=255).collect();
        let env = sign("t", &body, &[&k]).expect("sign");
        let sig = STD_ANY.decode(&env.signatures[0].sig).expect("sig");
        let trust = TrustRoot::single(k.public());
        for engine in [
            &URL_SAFE,
            &URL_SAFE_NO_PAD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
        ] {
            let e = Envelope {
                payload: engine.encode(&body),
                payload_type: "t".into(),
                signatures: vec![EnvelopeSignature {
                    keyid: String::new(),
                    sig: engine.encode(&sig),
                }],
            };
            assert_eq!(verify(&e, &trust).expect("verify").body, body);
        }
    }

    #[test]
    fn unknown_fields_ignored_missing_keyid_allowed() {
        let k = kp(1);
        let env = sign("t", b"x", &[&k]).expect("sign");
        let json = format!(
            r#"{{"extra":1,"payloadType":"t","payload":"{}","signatures":[{{"sig":"{}","other":true}}]}}"#,
            env.payload, env.signatures[0].sig
        );
        let e = Envelope::from_json(json.as_bytes()).expect("parse");
        assert_eq!(e.signatures[0].keyid, "");
        assert!(verify(&e, &TrustRoot::single(k.public())).is_ok());
    }

    #[test]
    fn tampering_fails_the_threshold() {
        let k = kp(1);
        let trust = TrustRoot::single(k.public());
        let env = sign("t", b"body", &[&k]).expect("sign");
        let mut e = env.clone();
        e.payload = B64.encode(b"bodY");
        assert!(matches!(
            verify(&e, &trust),
            Err(SigningError::ThresholdNotMet {
                valid: 0,
                required: 1
            })
        ));
        let mut e = env.clone();
        e.payload_type = "u".into();
        assert!(matches!(
            verify(&e, &trust),
            Err(SigningError::ThresholdNotMet { .. })
        ));
        let mut e = env.clone();
        e.signatures.clear();
        assert!(matches!(
            verify(&e, &trust),
            Err(SigningError::ThresholdNotMet { .. })
        ));
        // signed by a key that is not pinned, with or without its key id
        let other = sign("t", b"body", &[&kp(2)]).expect("sign");
        assert!(matches!(
            verify(&other, &trust),
            Err(SigningError::ThresholdNotMet { .. })
        ));
        let mut e = other.clone();
        e.signatures[0].keyid.clear();
        assert!(matches!(
            verify(&e, &trust),
            Err(SigningError::ThresholdNotMet { .. })
        ));
        // a valid signature relabelled with another pinned key's id does not count
        let trust2 = TrustRoot::new(vec![k.public(), kp(2).public()], 1).expect("root");
        let mut e = other;
        e.signatures[0].keyid = k.id().to_string();
        assert!(matches!(
            verify(&e, &trust2),
            Err(SigningError::ThresholdNotMet { .. })
        ));
    }

    #[test]
    fn thresholds_count_distinct_keys() {
        let (a, b, c) = (kp(1), kp(2), kp(3));
        let trust = TrustRoot::new(vec![a.public(), b.public(), c.public()], 2).expect("root");
        let env = sign("t", b"m", &[&a, &b]).expect("sign");
        assert_eq!(verify(&env, &trust).expect("2 of 3").keys.len(), 2);
        // the same key twice is one signature
        let env = sign("t", b"m", &[&a, &a]).expect("sign");
        assert_eq!(env.signatures.len(), 1);
        let mut dup = env.clone();
        dup.signatures.push(env.signatures[0].clone());
        dup.signatures.push(EnvelopeSignature {
            keyid: String::new(),
            sig: env.signatures[0].sig.clone(),
        });
        assert!(matches!(
            verify(&dup, &trust),
            Err(SigningError::ThresholdNotMet {
                valid: 1,
                required: 2
            })
        ));
    }

    #[test]
    fn malformed_and_oversized_envelopes_are_refused() {
        let k = kp(1);
        let trust = TrustRoot::single(k.public());
        for bad in [
            &b"not json"[..],
            br#"{"payload":"e30="}"#,
            br#"{"payload":1,"payloadType":"t","signatures":[]}"#,
            br#"{"payload":"e30=","payloadType":"t","signatures":[{"keyid":"x"}]}"#,
            br#"{"payload":"e30=","payload":"e30=","payloadType":"t","signatures":[]}"#,
        ] {
            assert!(
                matches!(
                    Envelope::from_json(bad),
                    Err(SigningError::MalformedEnvelope(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let big = vec![b' '; MAX_ENVELOPE_BYTES + 1];
        assert!(matches!(
            Envelope::from_json(&big),
            Err(SigningError::TooLarge { .. })
        ));
        let env = sign("t", b"x", &[&k]).expect("sign");
        let mut e = env.clone();
        e.payload = "!!!".into();
        assert!(
            matches!(verify(&e, &trust), Err(SigningError::MalformedEnvelope(m)) if m.contains("payload"))
        );
        let mut e = env.clone();
        e.signatures[0].sig = "a+b_".into();
        assert!(
            matches!(verify(&e, &trust), Err(SigningError::MalformedEnvelope(m)) if m.contains("signature 0"))
        );
        let mut e = env.clone();
        e.signatures = vec![env.signatures[0].clone(); MAX_SIGNATURES + 1];
        assert!(matches!(
            verify(&e, &trust),
            Err(SigningError::MalformedEnvelope(_))
        ));
        let mut e = env.clone();
        e.payload = "A".repeat(MAX_ENVELOPE_BYTES + 1);
        assert!(matches!(
            verify(&e, &trust),
            Err(SigningError::TooLarge { .. })
        ));
        assert!(matches!(
            sign("t", b"x", &[]),
            Err(SigningError::MalformedEnvelope(_))
        ));
    }

    #[test]
    fn payload_type_can_be_required() {
        let k = kp(1);
        let trust = TrustRoot::single(k.public());
        let env = sign("text/plain", b"x", &[&k]).expect("sign");
        assert!(verify_typed(&env, &trust, "text/plain").is_ok());
        assert!(matches!(
            verify_typed(&env, &trust, IN_TOTO_PAYLOAD_TYPE),
            Err(SigningError::PayloadTypeMismatch { .. })
        ));
    }
}
