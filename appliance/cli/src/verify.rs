//! `stella verify-evidence`: offline checks of a scan's signed evidence.
//!
//! The checks, in order, each failing with a message that names it:
//! 1. the envelope is a DSSE envelope ([`signing::dsse::Envelope::from_json`]);
//! 2. its signature verifies with the appliance key given by `--pub`, over the in-toto
//!    payload type ([`signing::dsse::verify_typed`] — the one DSSE verifier of the product);
//! 3. the verified payload (never the envelope's copy) is an in-toto Statement v1 with
//!    the scan-verdict predicate;
//! 4. with `--sbom`, the file's sha256 is one of the statement's subjects.
//!
//! Evidence *bundles* (`--bundle`, `--vendor-pub`) are refused as not available: their
//! format is not published by the appliance yet, and a check that silently does nothing
//! would be worse than none.

use crate::cli::VerifyArgs;
use crate::error::{CliError, EXIT_PASS};
use crate::output;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The appliance's scan-verdict predicate type.
pub const PREDICATE_TYPE: &str = "https://stella-ops.org/attestations/scan-verdict/v1";

#[derive(Debug, Deserialize)]
struct Subject {
    #[serde(default)]
    name: String,
    digest: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    type_: String,
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    #[serde(default)]
    predicate: serde_json::Value,
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Key ids that signed.
    pub keys: Vec<String>,
    /// Subjects as `name sha256:hex`.
    pub subjects: Vec<String>,
    /// The subject the `--sbom` matched, if given.
    pub sbom_subject: Option<String>,
    /// `predicate.verdict`.
    pub verdict: Option<String>,
    /// `predicate.findings_digest`.
    pub findings_digest: Option<String>,
    /// `predicate.kit.id` and `.sequence`.
    pub kit: Option<(String, u64)>,
    /// `predicate.signed_at`.
    pub signed_at: Option<String>,
}

/// Verifies `envelope` (JSON bytes) with `key`, and the SBOM bytes when given.
///
/// # Errors
/// [`CliError::Verification`] naming the failed check.
pub fn verify_envelope(
    envelope: &[u8],
    key: &signing::PublicKey,
    sbom: Option<&[u8]>,
) -> Result<Verified, CliError> {
    use signing::dsse;
    // 1. DSSE shape.
    let env = dsse::Envelope::from_json(envelope)
        .map_err(|e| CliError::Verification(format!("not a DSSE envelope: {e}")))?;
    // 2. Signature by the appliance key, over the in-toto payload type.
    let trust = signing::TrustRoot::single(key.clone());
    let payload = dsse::verify_typed(&env, &trust, dsse::IN_TOTO_PAYLOAD_TYPE).map_err(|e| {
        CliError::Verification(format!(
            "signature check with appliance key {} failed: {e}",
            key.id()
        ))
    })?;
    // 3. The verified bytes are our statement.
    let st: Statement = serde_json::from_slice(&payload.body).map_err(|e| {
        CliError::Verification(format!(
            "the signed payload is not an in-toto Statement: {e}"
        ))
    })?;
    if st.type_ != STATEMENT_TYPE {
        return Err(CliError::Verification(format!(
            "statement _type is {:?}, expected {STATEMENT_TYPE:?}",
            st.type_
        )));
    }
    if st.predicate_type != PREDICATE_TYPE {
        return Err(CliError::Verification(format!(
            "predicateType is {:?}, expected {PREDICATE_TYPE:?} (not a scan verdict)",
            st.predicate_type
        )));
    }
    if st.subject.is_empty() {
        return Err(CliError::Verification(
            "the statement has no subject".into(),
        ));
    }
    let subjects: Vec<String> = st
        .subject
        .iter()
        .map(|s| {
            let d = s
                .digest
                .get("sha256")
                .map(|h| format!("sha256:{h}"))
                .unwrap_or_else(|| "(no sha256)".into());
            format!("{} {d}", s.name)
        })
        .collect();
    // 4. The SBOM is a subject (subjects are matched by digest only, per in-toto).
    let sbom_subject = match sbom {
        None => None,
        Some(bytes) => {
            let hex = hex::encode(Sha256::digest(bytes));
            let hit = st.subject.iter().find(|s| {
                s.digest
                    .get("sha256")
                    .is_some_and(|d| d.eq_ignore_ascii_case(&hex))
            });
            match hit {
                Some(s) => Some(s.name.clone()),
                None => {
                    return Err(CliError::Verification(format!(
                        "the SBOM's sha256 {hex} is not a subject of the statement (subjects: {})",
                        subjects.join(", ")
                    )));
                }
            }
        }
    };
    let p = &st.predicate;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    Ok(Verified {
        keys: payload.keys.iter().map(ToString::to_string).collect(),
        subjects,
        sbom_subject,
        verdict: text(&p["verdict"]),
        findings_digest: text(&p["findings_digest"]),
        kit: text(&p["kit"]["id"]).zip(p["kit"]["sequence"].as_u64()),
        signed_at: text(&p["signed_at"]),
    })
}

/// `stella verify-evidence`.
///
/// # Errors
/// Unreadable inputs (exit 2), a failed check (exit 1), `--bundle` (not available, exit 2).
pub fn verify_evidence(args: &VerifyArgs) -> Result<u8, CliError> {
    if args.bundle.is_some() || args.vendor_pub.is_some() {
        return Err(CliError::NotAvailable(
            "verify-evidence --bundle/--vendor-pub (the appliance does not publish evidence bundles yet)",
        ));
    }
    let envelope = output::read_input(
        "evidence envelope",
        &args.envelope,
        signing::dsse::MAX_ENVELOPE_BYTES as u64,
    )?;
    let key = signing::PublicKey::read(&args.public_key).map_err(|e| CliError::BadInput {
        what: "appliance public key",
        path: args.public_key.clone(),
        reason: e.to_string(),
    })?;
    let sbom = match &args.sbom {
        Some(p) => Some(output::read_input("SBOM", p, output::MAX_SBOM_BYTES)?),
        None => None,
    };
    let v = verify_envelope(&envelope, &key, sbom.as_deref())?;
    let clean = |s: &str| crate::format::table::fit(s, 200);
    let mut out = String::new();
    let _ = writeln!(out, "ok  signature: appliance key {}", v.keys.join(", "));
    let _ = writeln!(out, "ok  statement: in-toto Statement v1, {PREDICATE_TYPE}");
    for s in &v.subjects {
        let _ = writeln!(out, "    subject: {}", clean(s));
    }
    match &v.sbom_subject {
        Some(name) => {
            let _ = writeln!(out, "ok  sbom: matches subject {:?}", clean(name));
        }
        None => {
            let _ = writeln!(out, "--  sbom: not checked (pass --sbom FILE)");
        }
    }
    if let Some(verdict) = &v.verdict {
        let _ = writeln!(out, "verdict: {}", clean(verdict));
    }
    if let Some(d) = &v.findings_digest {
        let _ = writeln!(out, "findings: {}", clean(d));
    }
    if let Some((id, seq)) = &v.kit {
        let _ = writeln!(out, "kit: {} (sequence {seq})", clean(id));
    }
    if let Some(t) = &v.signed_at {
        let _ = writeln!(out, "signed at: {}", clean(t));
    }
    let mut so = std::io::stdout().lock();
    so.write_all(out.as_bytes())
        .and_then(|()| so.flush())
        .map_err(|source| CliError::Write {
            path: "<stdout>".into(),
            source,
        })?;
    Ok(EXIT_PASS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use signing::keys::{KeyId, KeyPair};

    fn statement(sbom: &[u8]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "_type": STATEMENT_TYPE,
            "subject": [{"name": "bom.json", "digest": {"sha256": hex::encode(Sha256::digest(sbom))}}],
            "predicateType": PREDICATE_TYPE,
            "predicate": {"verdict": "fail", "findings_digest": "sha256:00", "kit": {"id": "k", "sequence": 7}},
        }))
        .expect("json")
    }

    fn key(n: u8) -> KeyPair {
        KeyPair::from_seed(KeyId([n; 8]), &[n; 32])
    }

    fn envelope(body: &[u8], k: &KeyPair) -> Vec<u8> {
        signing::dsse::sign(signing::dsse::IN_TOTO_PAYLOAD_TYPE, body, &[k])
            .expect("sign")
            .to_json()
    }

    #[test]
    fn verifies_signature_statement_and_sbom() {
        let k = key(1);
        let env = envelope(&statement(b"{\"sbom\":1}"), &k);
        let v = verify_envelope(&env, &k.public(), Some(b"{\"sbom\":1}")).expect("verifies");
        assert_eq!(v.verdict.as_deref(), Some("fail"));
        assert_eq!(v.sbom_subject.as_deref(), Some("bom.json"));
        assert_eq!(v.kit, Some(("k".into(), 7)));
    }

    #[test]
    fn each_check_fails_on_its_own() {
        let k = key(1);
        let env = envelope(&statement(b"A"), &k);
        // Wrong key.
        let e = verify_envelope(&env, &key(2).public(), None).expect_err("wrong key");
        assert!(e.to_string().contains("signature check"), "{e}");
        assert_eq!(e.exit_code(), 1);
        // Another SBOM.
        let e = verify_envelope(&env, &k.public(), Some(b"B")).expect_err("other sbom");
        assert!(e.to_string().contains("is not a subject"), "{e}");
        // Tampered payload: swap in another statement, keep the signature.
        let mut v: serde_json::Value = serde_json::from_slice(&env).expect("json");
        let other = envelope(&statement(b"B"), &k);
        let other: serde_json::Value = serde_json::from_slice(&other).expect("json");
        v["payload"] = other["payload"].clone();
        let tampered = serde_json::to_vec(&v).expect("json");
        assert!(verify_envelope(&tampered, &k.public(), None).is_err());
        // Signed, but not our predicate.
        let foreign = serde_json::to_vec(&serde_json::json!({"_type": STATEMENT_TYPE,
            "subject": [{"name": "x", "digest": {"sha256": "00"}}],
            "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}}))
        .expect("json");
        let e = verify_envelope(&envelope(&foreign, &k), &k.public(), None).expect_err("foreign");
        assert!(e.to_string().contains("not a scan verdict"), "{e}");
        // Not an envelope at all.
        assert!(verify_envelope(b"{}", &k.public(), None).is_err());
    }
}
