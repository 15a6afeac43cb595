//! Findings: the JSON the scan API returns, their canonical order and their digest.
//!
//! ```
//! use appliance::scan::findings::{findings_digest, Finding, FindingPackage};
//! use appliance::scan::severity::Severity;
//!
//! let f = Finding {
//!     id: "CVE-2024-0001".into(),
//!     aliases: vec!["GHSA-aaaa-bbbb-cccc".into()],
//!     package: FindingPackage {
//!         name: "demo".into(),
//!         version: "1.0.0".into(),
//!         purl: Some("pkg:npm/demo@1.0.0".into()),
//!         ecosystem: "npm".into(),
//!     },
//!     fixed_versions: vec!["1.0.1".into()],
//!     severity: Severity::High,
//!     cvss: None,
//!     summary: None,
//!     references: vec![],
//!     layer: None,
//!     path: None,
//!     muted: false,
//!     mute_reason: None,
//! };
//! let d = findings_digest(&[f]);
//! assert!(d.starts_with("sha256:") && d.len() == 7 + 64);
//! ```
use std::cmp::Ordering;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::severity::{Cvss, Severity};

/// The package a finding is about, as the SBOM names it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct FindingPackage {
    /// The component name as the SBOM gives it (a Debian binary package such as `libssl3`
    /// even when the advisory names the source package `openssl`).
    pub name: String,
    /// The component version as the SBOM gives it.
    pub version: String,
    /// The component purl, if any.
    pub purl: Option<String>,
    /// The OSV ecosystem the component was matched in (`PyPI`, `Debian:12`).
    pub ecosystem: String,
}

/// One vulnerability of one component (records about the same vulnerability merged).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Finding {
    /// The primary id: a CVE when one of the merged records is a CVE record, else a GHSA,
    /// else the smallest record id.
    pub id: String,
    /// Every other id of the merged records (record ids, aliases, upstream ids), sorted.
    pub aliases: Vec<String>,
    /// The affected component.
    pub package: FindingPackage,
    /// Versions that fix it (above the installed one), deduplicated, in the ecosystem's
    /// order, lowest first. Empty when no fix is published.
    pub fixed_versions: Vec<String>,
    /// The highest severity of the merged records.
    pub severity: Severity,
    /// The CVSS vector behind [`Finding::severity`], if it came from one.
    pub cvss: Option<Cvss>,
    /// One-line summary (of the primary record when it has one).
    pub summary: Option<String>,
    /// Reference URLs of the merged records, deduplicated.
    pub references: Vec<String>,
    /// The image layer that introduced the component, when the SBOM says.
    pub layer: Option<String>,
    /// Where the component was found, when the SBOM says.
    pub path: Option<String>,
    /// Set by the mute policy after the scan.
    pub muted: bool,
    /// The mute rule's reason, when muted.
    pub mute_reason: Option<String>,
}

impl Finding {
    /// The first sort key: the purl, or `ecosystem/name` for a component without one.
    pub fn sort_key(&self) -> String {
        match &self.package.purl {
            Some(p) => p.clone(),
            None => format!("{}/{}", self.package.ecosystem, self.package.name),
        }
    }
}

/// The canonical order: (purl or ecosystem/name, version, id), then layer and path so that
/// the same package found twice still sorts the same way every time.
pub fn canonical_order(a: &Finding, b: &Finding) -> Ordering {
    a.sort_key()
        .cmp(&b.sort_key())
        .then_with(|| a.package.version.cmp(&b.package.version))
        .then_with(|| a.id.cmp(&b.id))
        .then_with(|| a.layer.cmp(&b.layer))
        .then_with(|| a.path.cmp(&b.path))
        .then_with(|| a.package.name.cmp(&b.package.name))
        .then_with(|| a.package.ecosystem.cmp(&b.package.ecosystem))
}

/// The canonical JSON of a findings array: keys sorted at every level, no whitespace.
/// The rule lives in [`bundles::evidence`] so that the offline verifier (`stella
/// verify-evidence --bundle`) recomputes the digest with the same code.
pub fn canonical_json(findings: &[Finding]) -> Vec<u8> {
    // Every field serialises to plain JSON (strings, bools, finite floats): this cannot
    // fail; fall back to `null` rather than panic all the same.
    bundles::evidence::canonical_findings_json(
        serde_json::to_value(findings).unwrap_or(Value::Null),
    )
}

/// `"sha256:" + hex(sha256(canonical JSON of the findings array))`. The array is hashed in
/// the order given: the engine returns findings in [`canonical_order`].
pub fn findings_digest(findings: &[Finding]) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical_json(findings)))
    )
}
