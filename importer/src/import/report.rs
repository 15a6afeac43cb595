//! What an import did: [`ImportReport`] (printed by the CLI, shown by the console, kept as
//! `kits/<dir>/import.json`), one [`CheckRecord`] per check run, and the [`Outcome`].
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::refusal::{Check, Refusal};

/// The status of one check in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// 1–10.
    pub number: u8,
    /// The check.
    pub check: Check,
    /// Its title.
    pub title: String,
    /// `true` when it passed.
    pub passed: bool,
    /// What was checked, or why it failed.
    pub detail: String,
}

/// How an import ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The kit was verified and is now active.
    Activated,
    /// This exact kit was imported before; nothing changed.
    AlreadyImported,
    /// Refused; nothing changed.
    Refused,
}

/// What an import did, for the CLI summary, the console and `import.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportReport {
    /// How it ended.
    pub outcome: Outcome,
    /// The file imported (as given or uploaded).
    pub source: String,
    /// SHA-256 of the kit file, when it was read.
    pub kit_sha256: Option<String>,
    /// Kit id, once the manifest was read.
    pub kit_id: Option<String>,
    /// Sequence, once the manifest was read.
    pub sequence: Option<u64>,
    /// Creation time, once the manifest was read.
    pub created_at: Option<String>,
    /// Expiry, once the manifest was read.
    pub expires_at: Option<String>,
    /// The checks run.
    pub checks: Vec<CheckRecord>,
    /// Advisories per kit file (`advisories/PyPI.jsonl` → count).
    pub advisories: BTreeMap<String, u64>,
    /// Client ids whose tokens were re-signed.
    pub clients: Vec<String>,
    /// Revoked token ids carried by the kit.
    pub revoked: usize,
    /// OCI artifacts carried by the kit (`oci/<name>`).
    pub oci: Vec<String>,
    /// Things worth knowing that did not refuse the kit.
    pub warnings: Vec<String>,
    /// The activated kit directory.
    pub dir: Option<PathBuf>,
    /// The version of the trust root this kit pinned (`trust/root.json`), if it rotated it.
    #[serde(default)]
    pub rotated_root: Option<u64>,
}

impl ImportReport {
    pub(super) fn new(source: String) -> Self {
        ImportReport {
            outcome: Outcome::Refused,
            source,
            kit_sha256: None,
            kit_id: None,
            sequence: None,
            created_at: None,
            expires_at: None,
            checks: Vec::new(),
            advisories: BTreeMap::new(),
            clients: Vec::new(),
            revoked: 0,
            oci: Vec::new(),
            warnings: Vec::new(),
            dir: None,
            rotated_root: None,
        }
    }

    pub(super) fn pass(&mut self, check: Check, detail: impl Into<String>) {
        self.checks.push(CheckRecord {
            number: check.number(),
            check,
            title: check.title().into(),
            passed: true,
            detail: detail.into(),
        });
    }

    /// Adds to the detail of a check that passed.
    pub(super) fn amend(&mut self, check: Check, more: &str) {
        if let Some(c) = self.checks.iter_mut().find(|c| c.check == check) {
            c.detail.push_str(more);
        }
    }

    pub(super) fn fail(&mut self, r: &Refusal) {
        let check = r.check();
        // A check that passed earlier in part (e.g. 8 per entry) is replaced by the failure.
        self.checks.retain(|c| c.check != check);
        self.checks.push(CheckRecord {
            number: check.number(),
            check,
            title: check.title().into(),
            passed: false,
            detail: r.to_string(),
        });
    }
}
