//! Scan evidence: an in-toto Statement v1 about the uploaded SBOM, in a DSSE envelope
//! signed by the appliance key (FORMATS.md §7).
//!
//! - `subject`: the SBOM, by the sha256 of the exact bytes uploaded, plus the container
//!   image by its digest when the SBOM or the request names one (subjects are matched by
//!   digest only).
//! - `predicateType`: [`PREDICATE_TYPE`].
//! - `predicate`: [`ScanPredicate`] — verdict, summary, findings digest, policy version
//!   and digest, kit id + sequence + manifest digest, appliance id + key id, engine
//!   version, timestamps.
//!
//! The statement carries only the four top-level fields of the spec, so strict verifiers
//! (the in-toto-attestation bindings reject unknown fields) accept it.

pub mod bundle;
pub mod replay;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Our predicate type: a scan verdict.
pub const PREDICATE_TYPE: &str = "https://stella-ops.org/attestations/scan-verdict/v1";

/// Why evidence could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// Serialising the statement failed.
    #[error("serialising the statement: {0}")]
    Json(#[from] serde_json::Error),
    /// Signing the envelope failed.
    #[error("DSSE envelope: {0}")]
    Dsse(String),
    /// The envelope does not verify: malformed, not signed by the appliance key, or
    /// another payload type than in-toto's (the signing crate says which).
    #[error("DSSE envelope: {0}")]
    Verify(signing::SigningError),
    /// The envelope does not carry an in-toto statement of ours.
    #[error("evidence envelope: {0}")]
    Invalid(String),
}

/// The kit a verdict was computed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitFacts {
    /// Kit id.
    pub id: String,
    /// Kit sequence.
    pub sequence: u64,
    /// sha256 (hex) of the kit's signed `manifest.json`.
    pub manifest_sha256: String,
    /// Kit creation time (RFC 3339): the feed snapshot time.
    pub created_at: String,
}

/// Who produced the verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplianceFacts {
    /// Appliance id (`stella-appliance:<KEYID>`).
    pub id: String,
    /// Key id of the signing key (minisign form, 16 hex digits).
    pub key_id: String,
}

/// Per-severity counts of unmuted findings (the predicate's `summary.by_severity`).
pub use bundles::model::SeverityCounts as BySeverity;

/// The verdict summary (also the `summary` of the scan API answer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Components in the SBOM.
    pub components: u32,
    /// Findings, muted included.
    pub findings: u32,
    /// Muted findings.
    pub muted: u32,
    /// Unmuted findings per severity.
    pub by_severity: BySeverity,
    /// The policy threshold in force.
    pub fail_on: String,
    /// Whether the feeds were older than the policy allows.
    pub stale_feed: bool,
    /// Unmuted findings the engine could not decide (also counted in `by_severity`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub undecided: u32,
    /// The policy says `undecided: ignore`: those findings did not count for the verdict.
    #[serde(default, skip_serializing_if = "is_false")]
    pub undecided_ignored: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The policy a verdict was computed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFacts {
    /// Stored policy version.
    pub version: u64,
    /// sha256 (hex) of the policy YAML text.
    pub sha256: String,
}

/// The predicate of a scan-verdict statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPredicate {
    /// `pass` or `fail`.
    pub verdict: String,
    /// Counts.
    pub summary: Summary,
    /// `sha256:<hex>` of the canonical findings JSON.
    pub findings_digest: String,
    /// Warnings attached to the verdict (stale feed, unsupported components, ...).
    pub warnings: Vec<String>,
    /// Policy in force.
    pub policy: PolicyFacts,
    /// Kit in force.
    pub kit: KitFacts,
    /// Producer.
    pub appliance: ApplianceFacts,
    /// Engine version.
    pub engine_version: String,
    /// SBOM format detected.
    pub sbom_format: String,
    /// Who asked (token subject).
    pub requested_by: String,
    /// When the scan started (RFC 3339).
    pub scanned_at: String,
    /// When the verdict was signed (RFC 3339).
    pub signed_at: String,
}

/// One subject of the statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Name (SBOM name or image reference).
    pub name: String,
    /// `{"sha256": "<hex>"}`.
    pub digest: std::collections::BTreeMap<String, String>,
}

/// An in-toto Statement v1 with our predicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub type_: String,
    /// SBOM (+ image).
    pub subject: Vec<Subject>,
    /// [`PREDICATE_TYPE`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The verdict.
    pub predicate: ScanPredicate,
}

/// The hex part of an `sha256:<64 hex>` image digest, if it is one.
fn sha256_hex(digest: &str) -> Option<String> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

impl Statement {
    /// Builds the statement: SBOM subject by `sbom_sha256_hex`, plus the image when
    /// `image_digest` is a `sha256:` digest.
    pub fn new(
        sbom_name: &str,
        sbom_sha256_hex: &str,
        image: Option<(&str, &str)>,
        predicate: ScanPredicate,
    ) -> Self {
        let mut subject = vec![Subject {
            name: if sbom_name.is_empty() {
                "sbom".to_owned()
            } else {
                sbom_name.to_owned()
            },
            digest: [("sha256".to_owned(), sbom_sha256_hex.to_owned())].into(),
        }];
        if let Some((name, digest)) = image
            && let Some(hex) = sha256_hex(digest)
        {
            subject.push(Subject {
                name: if name.is_empty() {
                    "image".to_owned()
                } else {
                    name.to_owned()
                },
                digest: [("sha256".to_owned(), hex)].into(),
            });
        }
        Self {
            type_: STATEMENT_TYPE.to_owned(),
            subject,
            predicate_type: PREDICATE_TYPE.to_owned(),
            predicate,
        }
    }

    /// Signs the statement into a DSSE envelope (JSON text).
    pub fn sign(&self, key: &signing::KeyPair) -> Result<String, EvidenceError> {
        let payload = serde_json::to_vec(self)?;
        let env = signing::dsse::sign(signing::dsse::IN_TOTO_PAYLOAD_TYPE, &payload, &[key])
            .map_err(|e| EvidenceError::Dsse(e.to_string()))?;
        String::from_utf8(env.to_json())
            .map_err(|e| EvidenceError::Dsse(format!("envelope is not UTF-8: {e}")))
    }

    /// Reads the statement out of an envelope **without verifying it** (the appliance
    /// reads back its own stored evidence; auditors use [`verify`]).
    pub fn from_envelope_unverified(envelope_json: &str) -> Result<Self, EvidenceError> {
        use base64::Engine as _;
        let v: Value = serde_json::from_str(envelope_json)?;
        let p = v
            .get("payload")
            .and_then(Value::as_str)
            .ok_or_else(|| EvidenceError::Invalid("no payload".into()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(p)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(p))
            .map_err(|e| EvidenceError::Invalid(format!("payload is not base64: {e}")))?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}

/// Verifies an envelope with the appliance public key and returns the statement.
pub fn verify(envelope_json: &str, key: &signing::PublicKey) -> Result<Statement, EvidenceError> {
    let env = signing::dsse::Envelope::from_json(envelope_json.as_bytes())
        .map_err(EvidenceError::Verify)?;
    let trust = signing::TrustRoot::single(key.clone());
    let verified = signing::dsse::verify_typed(&env, &trust, signing::dsse::IN_TOTO_PAYLOAD_TYPE)
        .map_err(EvidenceError::Verify)?;
    let st: Statement = serde_json::from_slice(&verified.body)?;
    if st.type_ != STATEMENT_TYPE || st.predicate_type != PREDICATE_TYPE {
        return Err(EvidenceError::Invalid(format!(
            "not a scan-verdict statement: _type {:?}, predicateType {:?}",
            st.type_, st.predicate_type
        )));
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn predicate() -> ScanPredicate {
        ScanPredicate {
            verdict: "fail".into(),
            summary: Summary {
                components: 3,
                findings: 2,
                muted: 0,
                by_severity: BySeverity {
                    critical: 1,
                    medium: 1,
                    ..BySeverity::default()
                },
                fail_on: "high".into(),
                stale_feed: false,
                undecided: 0,
                undecided_ignored: false,
            },
            findings_digest: format!("sha256:{}", "1".repeat(64)),
            warnings: vec![],
            policy: PolicyFacts {
                version: 1,
                sha256: "2".repeat(64),
            },
            kit: KitFacts {
                id: "kit-1".into(),
                sequence: 1,
                manifest_sha256: "3".repeat(64),
                created_at: "2026-11-22T00:00:00Z".into(),
            },
            appliance: ApplianceFacts {
                id: "stella-appliance:0000000000000044".into(),
                key_id: "0000000000000044".into(),
            },
            engine_version: "test".into(),
            sbom_format: "CycloneDX 1.5".into(),
            requested_by: "ci".into(),
            scanned_at: "2026-11-22T00:00:00Z".into(),
            signed_at: "2026-11-22T00:00:00Z".into(),
        }
    }

    #[test]
    fn sign_verify_and_tamper() {
        let key = signing::KeyPair::from_seed(signing::KeyId([0x44; 8]), &[4; 32]);
        let st = Statement::new(
            "bom.json",
            &"a".repeat(64),
            Some(("img", &format!("sha256:{}", "b".repeat(64)))),
            predicate(),
        );
        let env = st.sign(&key).expect("sign");
        // Written for the oracle check in the report (`verify_dsse.py --statement`).
        if let Ok(dir) = std::env::var("STELLA_EVIDENCE_VECTOR_DIR") {
            std::fs::write(Path::new(&dir).join("envelope.json"), &env).expect("write");
            std::fs::write(
                Path::new(&dir).join("pub.hex"),
                hex::encode(key.public().raw()),
            )
            .expect("write");
        }
        // Signing is deterministic: the envelope equals the golden one that the oracle
        // (securesystemslib + in-toto-attestation) verified (tests/data/evidence/regen.sh).
        let golden = include_str!("../../tests/data/evidence/envelope.json");
        assert_eq!(env, golden);
        let back = verify(&env, &key.public()).expect("verify");
        assert_eq!(back, st);
        assert_eq!(back.subject[1].digest["sha256"], "b".repeat(64));
        assert_eq!(Statement::from_envelope_unverified(&env).expect("read"), st);
        use signing::SigningError as S;
        // Another appliance's key: no valid signature.
        let other = signing::KeyPair::from_seed(signing::KeyId([0x45; 8]), &[5; 32]);
        let e = verify(&env, &other.public()).expect_err("foreign key");
        assert!(
            matches!(
                e,
                EvidenceError::Verify(S::ThresholdNotMet {
                    valid: 0,
                    required: 1
                })
            ),
            "{e:?}"
        );
        // The payload type is signed: edited, the signature no longer verifies.
        let mut v: Value = serde_json::from_str(&env).expect("json");
        v["payloadType"] = Value::from("application/json");
        let e = verify(&v.to_string(), &key.public()).expect_err("payload type edited");
        assert!(
            matches!(
                e,
                EvidenceError::Verify(S::ThresholdNotMet { valid: 0, .. })
            ),
            "{e:?}"
        );
        // Signed as another payload type: the type check names both.
        let plain = signing::dsse::sign(
            "application/json",
            &serde_json::to_vec(&st).expect("json"),
            &[&key],
        )
        .expect("sign");
        let e = verify(
            std::str::from_utf8(&plain.to_json()).expect("utf8"),
            &key.public(),
        )
        .expect_err("not in-toto");
        assert!(
            matches!(&e, EvidenceError::Verify(S::PayloadTypeMismatch { expected, found })
                if expected == signing::dsse::IN_TOTO_PAYLOAD_TYPE && found == "application/json"),
            "{e:?}"
        );
        // Not an envelope at all.
        let e = verify("{}", &key.public()).expect_err("not an envelope");
        assert!(
            matches!(e, EvidenceError::Verify(S::MalformedEnvelope(_))),
            "{e:?}"
        );
        // Signed in-toto, but not our predicate.
        let mut foreign = serde_json::to_value(&st).expect("json");
        foreign["predicateType"] = Value::from("https://slsa.dev/provenance/v1");
        let foreign = signing::dsse::sign(
            signing::dsse::IN_TOTO_PAYLOAD_TYPE,
            &serde_json::to_vec(&foreign).expect("json"),
            &[&key],
        )
        .expect("sign");
        let e = verify(
            std::str::from_utf8(&foreign.to_json()).expect("utf8"),
            &key.public(),
        )
        .expect_err("foreign predicate");
        assert!(
            matches!(&e, EvidenceError::Invalid(m) if m.contains("not a scan-verdict statement")
                && m.contains("https://slsa.dev/provenance/v1")),
            "{e:?}"
        );
        // Signed in-toto, but the payload is no statement.
        let junk = signing::dsse::sign(signing::dsse::IN_TOTO_PAYLOAD_TYPE, b"[1,2]", &[&key])
            .expect("sign");
        let e = verify(
            std::str::from_utf8(&junk.to_json()).expect("utf8"),
            &key.public(),
        )
        .expect_err("no statement");
        assert!(matches!(e, EvidenceError::Json(_)), "{e:?}");
        // No image subject unless the digest is a sha256 digest.
        let st2 = Statement::new("", &"a".repeat(64), Some(("img", "md5:xx")), predicate());
        assert_eq!(st2.subject.len(), 1);
        assert_eq!(st2.subject[0].name, "sbom");
    }
}
