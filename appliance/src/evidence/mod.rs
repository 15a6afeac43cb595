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
    /// Signing or decoding the envelope failed.
    #[error("DSSE envelope: {0}")]
    Dsse(String),
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

/// Per-severity counts of unmuted findings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BySeverity {
    /// Critical.
    pub critical: u32,
    /// High.
    pub high: u32,
    /// Medium.
    pub medium: u32,
    /// Low.
    pub low: u32,
    /// Unknown.
    pub unknown: u32,
}

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
        .map_err(|e| EvidenceError::Dsse(e.to_string()))?;
    let trust = signing::TrustRoot::single(key.clone());
    let verified = signing::dsse::verify_typed(&env, &trust, signing::dsse::IN_TOTO_PAYLOAD_TYPE)
        .map_err(|e| EvidenceError::Dsse(e.to_string()))?;
    let st: Statement = serde_json::from_slice(&verified.body)?;
    if st.type_ != STATEMENT_TYPE || st.predicate_type != PREDICATE_TYPE {
        return Err(EvidenceError::Invalid(format!(
            "not a scan-verdict statement: _type {:?}, predicateType {:?}",
            st.type_, st.predicate_type
        )));
    }
    Ok(st)
}
