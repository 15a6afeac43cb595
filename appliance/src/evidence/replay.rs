//! Replay (`stella-appliance replay SCAN_ID`): re-runs a stored scan from its recorded
//! inputs and confirms the same findings digest, or explains the difference.
//!
//! The inputs are the ones the verdict names, found by [`super::bundle::scan_inputs`]:
//! the stored SBOM (by digest), the advisories of the retained kit with the recorded
//! sequence and id, and the policy version with the recorded digest. The mute policy is
//! applied with the scan's own time as "now", so a mute that has expired since does not
//! change the replayed answer.
//!
//! What replay needs, and why it can always have it: kits are pruned only when no retained
//! scan references them (`importer::activate::prune` takes the set of referenced
//! sequences, see [`referenced_kit_sequences`]); SBOMs are content-addressed blobs kept
//! with their scan; policy versions are never deleted.

use std::collections::{BTreeMap, BTreeSet};

use importer::datadir::DataDir;

use super::bundle::{BundleError, ScanInputs, scan_inputs};
use crate::policy::Policy;
use crate::policy::rego::ScanFacts;
use crate::store::{PageRequest, ScanFilter, ScanId, Store, Verdict};
use bundles::model::{Finding, findings_digest};
use scanner::sbom::SbomLimits;
use scanner::{ENGINE_VERSION, load_engine};

/// Why a replay could not run (a different answer is not an error: see [`Replay`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// No scan with this id.
    #[error("no scan {0}")]
    NoSuchScan(String),
    /// A recorded input is missing or unreadable (pruned kit, missing policy, ...).
    #[error(transparent)]
    Inputs(#[from] BundleError),
    /// The stored SBOM no longer parses with this build's parser.
    #[error("scan {scan}: the stored SBOM does not parse: {reason}")]
    Sbom {
        /// Scan id.
        scan: String,
        /// Parser message.
        reason: String,
    },
    /// The recorded policy no longer parses with this build.
    #[error("scan {scan}: policy version {version} does not parse: {reason}")]
    Policy {
        /// Scan id.
        scan: String,
        /// Policy version.
        version: u64,
        /// Parser message.
        reason: String,
    },
    /// The kit's advisories could not be loaded.
    #[error("scan {scan}: loading the advisories of kit sequence {sequence}: {reason}")]
    Kit {
        /// Scan id.
        scan: String,
        /// Kit sequence.
        sequence: u64,
        /// Why.
        reason: String,
    },
}

/// One finding, identified the way the canonical order identifies it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FindingKey {
    /// Advisory id.
    pub id: String,
    /// purl, or `ecosystem/name`.
    pub package: String,
    /// Installed version.
    pub version: String,
}

impl std::fmt::Display for FindingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {} {}", self.id, self.package, self.version)
    }
}

/// The result of a replay.
#[derive(Debug, Clone)]
pub struct Replay {
    /// Scan id.
    pub scan_id: String,
    /// The digest in the signed evidence.
    pub recorded: String,
    /// The digest of the replayed findings.
    pub replayed: String,
    /// The kit (id, sequence) replayed against.
    pub kit: (String, u64),
    /// The policy version replayed with.
    pub policy_version: u64,
    /// Findings the replay has and the scan did not.
    pub appeared: Vec<FindingKey>,
    /// Findings the scan had and the replay does not.
    pub disappeared: Vec<FindingKey>,
    /// Findings in both whose details differ (severity, fix, mute state, ...).
    pub changed: Vec<FindingKey>,
    /// Notes (another engine version, a store digest that disagrees with the evidence).
    pub notes: Vec<String>,
    /// The verdict the scan recorded.
    pub recorded_verdict: Verdict,
    /// The verdict of the replay (the policy's Rego `deny` rules can fail a verdict with
    /// the same findings, so it is compared too).
    pub replayed_verdict: Verdict,
}

impl Replay {
    /// Whether the replay reproduced the scan: the same findings digest **and** the same
    /// verdict (a policy's Rego `deny` rules can fail a scan whose findings are unchanged).
    pub fn matches(&self) -> bool {
        self.digest_matches() && self.recorded_verdict == self.replayed_verdict
    }

    /// Whether the replayed findings digest equals the recorded one.
    pub fn digest_matches(&self) -> bool {
        self.recorded == self.replayed
    }
}

fn key(f: &Finding) -> FindingKey {
    FindingKey {
        id: f.id.clone(),
        package: f.sort_key(),
        version: f.package.version.clone(),
    }
}

/// Replays scan `id`.
pub fn replay(store: &dyn Store, dd: &DataDir, id: &ScanId) -> Result<Replay, ReplayError> {
    let scan = id.to_string();
    let inputs: ScanInputs =
        scan_inputs(store, dd, id)?.ok_or_else(|| ReplayError::NoSuchScan(scan.clone()))?;
    let p = &inputs.statement.predicate;
    let sbom = scanner::sbom::parse(
        &inputs.sbom,
        &SbomLimits::default().max_bytes(crate::store::MAX_SBOM_BYTES),
    )
    .map_err(|e| ReplayError::Sbom {
        scan: scan.clone(),
        reason: e.to_string(),
    })?;
    let policy = Policy::from_yaml(&inputs.policy.yaml).map_err(|e| ReplayError::Policy {
        scan: scan.clone(),
        version: inputs.policy.version,
        reason: e.to_string(),
    })?;
    let engine =
        load_engine(&inputs.kit_dir.join(importer::import::CONTENT_DIR)).map_err(|reason| {
            ReplayError::Kit {
                scan: scan.clone(),
                sequence: p.kit.sequence,
                reason,
            }
        })?;
    let mut out = engine.scan(&sbom);
    let scanned_at = inputs.record.scan.created_at;
    // The same `input.scan` as the scan had: the kit's recorded creation time, the scan's
    // own time (an unreadable time gives age 0 and a note, below).
    let kit_created = time::OffsetDateTime::parse(
        &p.kit.created_at,
        &time::format_description::well_known::Rfc3339,
    );
    let scan_facts = ScanFacts {
        sbom_name: sbom.name.clone(),
        components: u64::try_from(out.components).unwrap_or(u64::MAX),
        kit_sequence: p.kit.sequence,
        kit_age_days: kit_created
            .as_ref()
            .map_or(0, |c| (scanned_at - *c).whole_days()),
    };
    // The scan's own time is "now": mutes are judged as they were then.
    let verdict =
        crate::service::scan::apply_policy(&policy, &mut out.findings, scanned_at, &scan_facts)
            .verdict;
    let replayed = findings_digest(&out.findings);

    let mut notes = Vec::new();
    if kit_created.is_err() {
        notes.push(format!(
            "the evidence's kit created_at {:?} is not RFC 3339: Rego rules saw kit_age_days 0",
            p.kit.created_at
        ));
    }
    let recorded_verdict = inputs.record.scan.verdict;
    if verdict != recorded_verdict {
        notes.push(format!(
            "the verdict differs: recorded {}, replayed {}",
            recorded_verdict.as_str(),
            verdict.as_str()
        ));
    }
    if p.engine_version != ENGINE_VERSION {
        notes.push(format!(
            "the scan ran on engine {}, this replay on {ENGINE_VERSION}",
            p.engine_version
        ));
    }
    let stored = inputs.record.scan.findings_digest.to_string();
    if stored != p.findings_digest {
        notes.push(format!(
            "the store's findings digest {stored} differs from the signed evidence's {}",
            p.findings_digest
        ));
    }
    let recorded_findings: Vec<Finding> =
        match serde_json::from_str(&inputs.record.scan.findings_json) {
            Ok(f) => f,
            Err(e) => {
                notes.push(format!("the stored findings do not parse: {e}"));
                Vec::new()
            }
        };
    if findings_digest(&recorded_findings) != p.findings_digest {
        notes.push(
            "the stored findings do not hash to the signed findings digest (edited store?)".into(),
        );
    }
    let before: BTreeMap<FindingKey, &Finding> =
        recorded_findings.iter().map(|f| (key(f), f)).collect();
    let after: BTreeMap<FindingKey, &Finding> = out.findings.iter().map(|f| (key(f), f)).collect();
    let appeared = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .cloned()
        .collect();
    let disappeared = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .cloned()
        .collect();
    let changed = before
        .iter()
        .filter(|(k, f)| after.get(*k).is_some_and(|g| g != *f))
        .map(|(k, _)| k.clone())
        .collect();
    Ok(Replay {
        scan_id: scan,
        recorded: p.findings_digest.clone(),
        replayed,
        kit: (p.kit.id.clone(), p.kit.sequence),
        policy_version: inputs.policy.version,
        appeared,
        disappeared,
        changed,
        notes,
        recorded_verdict,
        replayed_verdict: verdict,
    })
}

/// The kit sequences referenced by retained scans: the kits replay and bundles need, which
/// `importer::activate::prune` must keep.
pub fn referenced_kit_sequences(store: &dyn Store) -> Result<BTreeSet<u64>, BundleError> {
    let mut out = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = store.list_scans(
            &ScanFilter::default(),
            PageRequest {
                limit: PageRequest::MAX_LIMIT,
                cursor,
            },
        )?;
        out.extend(
            page.items
                .iter()
                .filter_map(|s| s.kit.as_ref().map(|k| k.sequence)),
        );
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(recorded: &str, replayed: &str, before: Verdict, after: Verdict) -> Replay {
        Replay {
            scan_id: "01J0000000000000000000000".into(),
            recorded: recorded.into(),
            replayed: replayed.into(),
            kit: ("kit-1".into(), 1),
            policy_version: 1,
            appeared: Vec::new(),
            disappeared: Vec::new(),
            changed: Vec::new(),
            notes: Vec::new(),
            recorded_verdict: before,
            replayed_verdict: after,
        }
    }

    /// A replay reproduces a scan only with the same digest and the same verdict.
    #[test]
    fn a_different_verdict_is_not_a_match() {
        let same = replay("sha256:a", "sha256:a", Verdict::Fail, Verdict::Fail);
        assert!(same.matches() && same.digest_matches());
        let verdict = replay("sha256:a", "sha256:a", Verdict::Fail, Verdict::Pass);
        assert!(verdict.digest_matches());
        assert!(!verdict.matches());
        let digest = replay("sha256:a", "sha256:b", Verdict::Pass, Verdict::Pass);
        assert!(!digest.matches() && !digest.digest_matches());
    }
}
