//! The evidence bundle of one scan (`GET /api/v1/scans/{id}/bundle`, the console's
//! "Evidence bundle" download, `stella-appliance evidence export`): a deterministic
//! `.tar.zst` (format and caps in [`bundles::evidence`]) holding everything an auditor
//! needs to check a verdict off-line:
//!
//! | entry | what |
//! |-------|------|
//! | `sbom.json` | the SBOM, the exact bytes uploaded (its sha256 is the statement subject) |
//! | `findings.json` | the findings in canonical JSON (its sha256 is `findings_digest`) |
//! | `policy.yaml` | the policy version whose digest the scan recorded |
//! | `evidence.dsse.json` | the signed scan-verdict statement (DSSE envelope) |
//! | `appliance.pub` | the appliance public key (minisign format) |
//! | `kit/manifest.json` | the signed manifest of the kit the scan used, with the vendor signatures |
//! | `audit.jsonl` | the audit records of the scan and of its kit's import |
//! | `README.txt` | how to verify it with stock tools |
//!
//! Every input is cross-checked before it goes in (SBOM digest, policy digest, manifest
//! digest), so a bundle that builds is a bundle that verifies.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bundles::evidence as fmt;
use importer::activate::{self, KitHistory};
use importer::datadir::DataDir;
use serde_json::Value;

use super::{EvidenceError, Statement};
use crate::store::{PolicyVersion, ScanId, ScanRecord, Sha256Digest, Store, StoreError};

/// Why a bundle (or a replay) could not be put together.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The scan has no signed evidence (scans stored before evidence existed).
    #[error("scan {0} has no signed evidence")]
    NoEvidence(String),
    /// The stored envelope is unreadable.
    #[error("scan {scan}: {source}")]
    Evidence {
        /// Scan id.
        scan: String,
        /// Cause.
        #[source]
        source: EvidenceError,
    },
    /// The SBOM blob is gone.
    #[error("scan {scan}: the SBOM {digest} is no longer stored")]
    SbomMissing {
        /// Scan id.
        scan: String,
        /// Its digest.
        digest: String,
    },
    /// No stored policy version has the recorded digest.
    #[error(
        "scan {scan}: no stored policy version has the recorded digest sha256:{sha256} (version {version})"
    )]
    PolicyMissing {
        /// Scan id.
        scan: String,
        /// Recorded version.
        version: u64,
        /// Recorded digest (hex).
        sha256: String,
    },
    /// The kit the scan used is no longer retained under `kits/`.
    #[error(
        "scan {scan}: kit {kit_id} (sequence {sequence}) is no longer retained under kits/ (it was pruned)"
    )]
    KitPruned {
        /// Scan id.
        scan: String,
        /// Kit id.
        kit_id: String,
        /// Kit sequence.
        sequence: u64,
    },
    /// The retained kit directory does not hold the manifest the scan recorded.
    #[error(
        "scan {scan}: kits/{dir}/manifest.json has sha256 {found}, the evidence recorded {expected}"
    )]
    KitManifestMismatch {
        /// Scan id.
        scan: String,
        /// Kit directory name.
        dir: String,
        /// Recorded digest.
        expected: String,
        /// Digest on disk.
        found: String,
    },
    /// A file of the data directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Another data-directory problem (kits, audit log).
    #[error("{0}")]
    DataDir(String),
    /// A stored JSON document is corrupt.
    #[error("scan {scan}: stored {what} is not valid JSON: {reason}")]
    Corrupt {
        /// Scan id.
        scan: String,
        /// Which document.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// Writing the archive failed.
    #[error(transparent)]
    Write(#[from] fmt::EvidenceBundleError),
}

/// A finished bundle.
#[derive(Debug, Clone)]
pub struct EvidenceBundle {
    /// `scan-<ID>.evidence.tar.zst`.
    pub file_name: String,
    /// The `.tar.zst` bytes.
    pub bytes: Vec<u8>,
}

/// What a scan recorded, read back and checked against the store and the data directory.
/// Shared by the bundle and by replay, so both find the same inputs the same way.
#[derive(Debug, Clone)]
pub struct ScanInputs {
    /// The stored scan.
    pub record: ScanRecord,
    /// The statement of its evidence (read from the appliance's own store).
    pub statement: Statement,
    /// The SBOM bytes (digest checked by the store).
    pub sbom: Vec<u8>,
    /// The policy version with the recorded digest.
    pub policy: PolicyVersion,
    /// The retained kit directory of the recorded kit sequence and id.
    pub kit_dir: PathBuf,
}

/// Newest policy versions searched for a digest when the recorded version number does
/// not match (the store's history call is capped at 200).
const POLICY_SEARCH: u32 = 200;

/// Finds the stored inputs of scan `id`. `Ok(None)`: no such scan.
pub fn scan_inputs(
    store: &dyn Store,
    dd: &DataDir,
    id: &ScanId,
) -> Result<Option<ScanInputs>, BundleError> {
    let Some(record) = store.get_scan(id)? else {
        return Ok(None);
    };
    let scan = id.to_string();
    let envelope = record
        .scan
        .evidence_json
        .as_deref()
        .ok_or_else(|| BundleError::NoEvidence(scan.clone()))?;
    let statement =
        Statement::from_envelope_unverified(envelope).map_err(|source| BundleError::Evidence {
            scan: scan.clone(),
            source,
        })?;
    let sbom =
        store
            .get_sbom(&record.scan.sbom_sha256)?
            .ok_or_else(|| BundleError::SbomMissing {
                scan: scan.clone(),
                digest: record.scan.sbom_sha256.to_string(),
            })?;
    let policy = find_policy(
        store,
        statement.predicate.policy.version,
        &record.scan.policy_digest,
    )?
    .ok_or_else(|| BundleError::PolicyMissing {
        scan: scan.clone(),
        version: statement.predicate.policy.version,
        sha256: record.scan.policy_digest.hex(),
    })?;
    let kit = &statement.predicate.kit;
    let kit_dir =
        retained_kit_dir(dd, &kit.id, kit.sequence)?.ok_or_else(|| BundleError::KitPruned {
            scan: scan.clone(),
            kit_id: kit.id.clone(),
            sequence: kit.sequence,
        })?;
    Ok(Some(ScanInputs {
        record,
        statement,
        sbom,
        policy,
        kit_dir,
    }))
}

/// The policy version with `digest`: the recorded version number first, then the history.
fn find_policy(
    store: &dyn Store,
    version: u64,
    digest: &Sha256Digest,
) -> Result<Option<PolicyVersion>, BundleError> {
    if let Some(p) = store.get_policy(version)?
        && p.sha256 == *digest
    {
        return Ok(Some(p));
    }
    Ok(store
        .policy_history(POLICY_SEARCH)?
        .into_iter()
        .find(|p| p.sha256 == *digest))
}

/// The retained, activated kit directory with this sequence and kit id.
pub fn retained_kit_dir(
    dd: &DataDir,
    kit_id: &str,
    sequence: u64,
) -> Result<Option<PathBuf>, BundleError> {
    let hist = KitHistory::load(dd).map_err(|e| BundleError::DataDir(e.to_string()))?;
    Ok(hist
        .kits
        .into_iter()
        .find(|k| {
            k.sequence == sequence && k.activation.as_ref().is_some_and(|a| a.kit_id == kit_id)
        })
        .map(|k| k.dir))
}

/// Builds the bundle of scan `id`. `Ok(None)`: no such scan.
pub fn build(
    store: &dyn Store,
    dd: &DataDir,
    id: &ScanId,
) -> Result<Option<EvidenceBundle>, BundleError> {
    let Some(inputs) = scan_inputs(store, dd, id)? else {
        return Ok(None);
    };
    let scan = id.to_string();
    let s = &inputs.record.scan;
    let read = |p: PathBuf| std::fs::read(&p).map_err(|source| BundleError::Io { path: p, source });

    // The kit manifest must be the one the verdict names (by digest).
    let manifest = read(inputs.kit_dir.join(activate::MANIFEST))?;
    let found = Sha256Digest::of(&manifest).hex();
    let expected = &inputs.statement.predicate.kit.manifest_sha256;
    if !found.eq_ignore_ascii_case(expected) {
        return Err(BundleError::KitManifestMismatch {
            scan,
            dir: inputs
                .kit_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            expected: expected.clone(),
            found,
        });
    }
    let findings: Value =
        serde_json::from_str(&s.findings_json).map_err(|e| BundleError::Corrupt {
            scan: scan.clone(),
            what: "findings",
            reason: e.to_string(),
        })?;
    let audit = audit_lines(dd, &scan, &inputs.statement)?;
    let envelope = s.evidence_json.clone().unwrap_or_default();

    let mut entries: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    entries.insert(fmt::SBOM.into(), inputs.sbom.clone());
    entries.insert(fmt::FINDINGS.into(), fmt::canonical_findings_json(findings));
    entries.insert(fmt::POLICY.into(), inputs.policy.yaml.clone().into_bytes());
    entries.insert(fmt::ENVELOPE.into(), envelope.into_bytes());
    entries.insert(fmt::APPLIANCE_PUB.into(), read(dd.appliance_pub_path())?);
    entries.insert(fmt::KIT_MANIFEST.into(), manifest);
    entries.insert(fmt::AUDIT.into(), audit);
    entries.insert(fmt::README.into(), readme(&scan, &inputs).into_bytes());
    let mtime = u64::try_from(s.created_at.unix_timestamp()).unwrap_or(0);
    let bytes = fmt::write_bundle(Vec::new(), &entries, mtime)?;
    Ok(Some(EvidenceBundle {
        file_name: format!("scan-{scan}.evidence.tar.zst"),
        bytes,
    }))
}

/// The audit records about this scan (`event.scan_id`) and the accepted import of its kit,
/// as stored (JSON lines), so each record's hash can be recomputed by the auditor.
fn audit_lines(dd: &DataDir, scan: &str, st: &Statement) -> Result<Vec<u8>, BundleError> {
    let records = dd
        .audit()
        .records()
        .map_err(|e| BundleError::DataDir(format!("audit log: {e}")))?;
    let kit = &st.predicate.kit;
    let mut out = Vec::new();
    for r in records {
        let ev = &r.event;
        let about_scan = ev.get("scan_id").and_then(Value::as_str) == Some(scan);
        let kit_import = r.kind == "import"
            && ev.get("result").and_then(Value::as_str) == Some("accepted")
            && ev.get("sequence").and_then(Value::as_u64) == Some(kit.sequence)
            && ev.get("kit_id").and_then(Value::as_str) == Some(kit.id.as_str());
        if about_scan || kit_import {
            let line = serde_json::to_vec(&r).map_err(|e| BundleError::Corrupt {
                scan: scan.to_owned(),
                what: "audit record",
                reason: e.to_string(),
            })?;
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
    }
    Ok(out)
}

fn readme(scan: &str, inputs: &ScanInputs) -> String {
    let p = &inputs.statement.predicate;
    format!(
        "Evidence bundle of scan {scan}
verdict {verdict}, scanned {scanned} by {appliance}
kit {kit} (sequence {seq}), policy version {pv}

Check it with the stella client (offline):

  stella verify-evidence --bundle scan-{scan}.evidence.tar.zst --vendor-pub vendor.pub \\
      [--pub appliance.pub]

Or with stock tools:

1. Unpack: tar --zstd -xf scan-{scan}.evidence.tar.zst
2. The envelope evidence.dsse.json is DSSE v1 (payloadType application/vnd.in-toto+json)
   signed with Ed25519 by the key in appliance.pub (minisign public key format: the
   second line is base64 of 2 bytes \"Ed\", the 8-byte key id, the 32-byte key). Verify
   it with any DSSE / in-toto verifier, e.g. securesystemslib or in-toto-attestation.
   Compare the key with the appliance key you obtained independently.
3. sha256sum sbom.json        == the statement subject digest
   sha256sum findings.json    == predicate.findings_digest (without \"sha256:\")
   sha256sum policy.yaml      == predicate.policy.sha256
   sha256sum kit/manifest.json == predicate.kit.manifest_sha256
4. kit/manifest.json carries the vendor's Ed25519 signatures over its canonical form
   (the manifest without \"signatures\"); check them against the vendor key you trust.
5. audit.jsonl holds the appliance's hash-chained audit records of this scan and of the
   import of its kit: each record's hash is the sha256 of its canonical JSON without
   \"hash\".
",
        verdict = p.verdict,
        scanned = p.scanned_at,
        appliance = p.appliance.id,
        kit = p.kit.id,
        seq = p.kit.sequence,
        pv = inputs.policy.version,
    )
}
