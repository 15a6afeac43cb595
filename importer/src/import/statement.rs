//! The appliance's signed statement that it verified and activated a kit
//! (`kits/<dir>/import.dsse.json`): an in-toto Statement v1, subject = the kit file by its
//! sha256, in a DSSE envelope signed with the appliance key. It is written into the
//! staging directory, so it becomes visible with the kit or not at all.
use bundles::VerifiedManifest;
use sha2::{Digest as _, Sha256};
use signing::KeyPair;
use time::OffsetDateTime;

use super::report::ImportReport;
use crate::datadir::rfc3339;

/// The statement's file in a kit directory.
pub const IMPORT_STATEMENT_FILE: &str = "import.dsse.json";
/// `predicateType` of the import statement.
pub const IMPORT_PREDICATE_TYPE: &str = "https://stella-ops.org/attestations/kit-import/v1";

/// Why the statement could not be produced (the caller wraps it in an import error).
pub(super) type StatementError = String;

/// The DSSE envelope (JSON bytes) of "this appliance verified and activated this kit".
pub(super) fn sign(
    key: &KeyPair,
    report: &ImportReport,
    manifest: &VerifiedManifest,
    file_sha: &str,
    now: OffsetDateTime,
) -> Result<Vec<u8>, StatementError> {
    let checks: Vec<serde_json::Value> = report
        .checks
        .iter()
        .filter(|c| c.passed)
        .map(|c| serde_json::json!({"number": c.number, "check": c.check, "title": c.title}))
        .collect();
    let manifest_bytes = manifest
        .manifest()
        .to_json_bytes()
        .map_err(|e| format!("serialising the manifest: {e}"))?;
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": report.source, "digest": {"sha256": file_sha}}],
        "predicateType": IMPORT_PREDICATE_TYPE,
        "predicate": {
            "verified": true,
            "activated": true,
            "kit_id": manifest.kit_id,
            "sequence": manifest.sequence,
            "created_at": manifest.created_at.to_string(),
            "expires_at": manifest.expires_at.to_string(),
            "manifest_sha256": hex::encode(Sha256::digest(&manifest_bytes)),
            "checks_passed": checks,
            "appliance_id": crate::datadir::appliance_id_for(&key.public()),
            "imported_at": rfc3339(now),
        },
    });
    let payload = serde_json::to_vec(&statement).map_err(|e| format!("serialising: {e}"))?;
    let env = signing::dsse::sign(signing::dsse::IN_TOTO_PAYLOAD_TYPE, &payload, &[key])
        .map_err(|e| format!("signing: {e}"))?;
    Ok(env.to_json())
}
