//! Findings: the JSON the scan API returns, their canonical order and their digest.
//!
//! ```
//! use scanner::findings::{findings_digest, Finding, FindingPackage};
//! use scanner::severity::Severity;
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

use sha2::{Digest, Sha256};

use super::severity::{Cvss, Severity};

/// The package a finding is about, as the SBOM names it.
///
/// Fields are declared in name order (see [`canonical_json`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct FindingPackage {
    /// The OSV ecosystem the component was matched in (`PyPI`, `Debian:12`).
    pub ecosystem: String,
    /// The component name as the SBOM gives it (a Debian binary package such as `libssl3`
    /// even when the advisory names the source package `openssl`).
    pub name: String,
    /// The component purl, if any.
    pub purl: Option<String>,
    /// The component version as the SBOM gives it.
    pub version: String,
}

/// One vulnerability of one component (records about the same vulnerability merged).
///
/// Fields are declared in name order, so that serialising a finding gives its canonical
/// JSON directly (see [`canonical_json`]); a test keeps it so.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Finding {
    /// Every other id of the merged records (record ids, aliases, upstream ids), sorted.
    pub aliases: Vec<String>,
    /// The CVSS vector behind [`Finding::severity`], if it came from one.
    pub cvss: Option<Cvss>,
    /// Versions that fix it (above the installed one), deduplicated, in the ecosystem's
    /// order, lowest first. Empty when no fix is published.
    pub fixed_versions: Vec<String>,
    /// The primary id: a CVE when one of the merged records is a CVE record, else a GHSA,
    /// else the smallest record id.
    pub id: String,
    /// The image layer that introduced the component, when the SBOM says.
    pub layer: Option<String>,
    /// The mute rule's reason, when muted.
    pub mute_reason: Option<String>,
    /// Set by the mute policy after the scan.
    pub muted: bool,
    /// The affected component.
    pub package: FindingPackage,
    /// Where the component was found, when the SBOM says.
    pub path: Option<String>,
    /// Reference URLs of the merged records, deduplicated.
    pub references: Vec<String>,
    /// The highest severity of the merged records.
    pub severity: Severity,
    /// One-line summary (of the primary record when it has one).
    pub summary: Option<String>,
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
///
/// [`Finding`], [`FindingPackage`] and [`Cvss`] declare their fields in name order and
/// hold no maps, so serde writes the canonical form directly, without building and
/// re-sorting a `serde_json::Value` (which cost ~4 ms of a 467-finding scan);
/// `serialising_a_finding_is_its_canonical_json` holds the two paths equal.
pub fn canonical_json(findings: &[Finding]) -> Vec<u8> {
    // Every field serialises to plain JSON (strings, bools, finite floats): this cannot
    // fail; fall back to `null` rather than panic all the same.
    serde_json::to_vec(findings).unwrap_or_else(|_| b"null".to_vec())
}

/// [`canonical_json`] as a `String` (JSON is UTF-8).
pub fn canonical_json_string(findings: &[Finding]) -> String {
    serde_json::to_string(findings).unwrap_or_else(|_| "null".to_owned())
}

/// The digest of an already canonical findings JSON text (see [`findings_digest`]).
pub fn digest_of_canonical(json: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(json)))
}

/// `"sha256:" + hex(sha256(canonical JSON of the findings array))`. The array is hashed in
/// the order given: the engine returns findings in [`canonical_order`].
pub fn findings_digest(findings: &[Finding]) -> String {
    digest_of_canonical(&canonical_json(findings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::CvssVersion;

    fn finding(all: bool) -> Finding {
        let some = |s: &str| all.then(|| s.to_owned());
        Finding {
            aliases: vec!["GHSA-aaaa-bbbb-cccc".into(), "Ünïcode \"quoted\"".into()],
            cvss: all.then(|| Cvss {
                score: 9.8,
                vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into(),
                version: CvssVersion::V3_1,
            }),
            fixed_versions: vec!["1.0.1".into(), "2.0.0".into()],
            id: "CVE-2024-0001".into(),
            layer: some("sha256:00"),
            mute_reason: some("not reachable\n(tab\t)"),
            muted: all,
            package: FindingPackage {
                ecosystem: "npm".into(),
                name: "demo".into(),
                purl: some("pkg:npm/demo@1.0.0"),
                version: "1.0.0".into(),
            },
            path: some("/app/node_modules/demo"),
            references: vec!["https://example.test/a?b=c&d".into()],
            severity: Severity::Critical,
            summary: some("</script> & co"),
        }
    }

    #[test]
    fn serialising_a_finding_is_its_canonical_json() {
        for fs in [
            vec![],
            vec![finding(true)],
            vec![finding(false), finding(true)],
        ] {
            let sorted = bundles::evidence::canonical_findings_json(
                serde_json::to_value(&fs).expect("value"),
            );
            let direct = canonical_json(&fs);
            assert_eq!(
                String::from_utf8_lossy(&direct),
                String::from_utf8_lossy(&sorted),
                "a field of Finding, FindingPackage or Cvss is out of name order"
            );
            assert_eq!(canonical_json_string(&fs).as_bytes(), &direct[..]);
            assert_eq!(
                findings_digest(&fs),
                bundles::evidence::findings_digest_of_value(
                    serde_json::to_value(&fs).expect("value")
                )
            );
        }
    }
}
