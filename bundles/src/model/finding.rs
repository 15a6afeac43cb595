//! The scan vocabulary, one of each for the whole workspace: [`Severity`],
//! [`SeverityCounts`], [`Verdict`] and the [`Finding`] the engine produces — the same value
//! the service stores and signs a digest of, the console renders, the evidence bundle
//! carries and the CI client (`stella`) reads back.
//!
//! # Canonical JSON and digest
//!
//! [`Finding`], [`FindingPackage`] and [`Cvss`] declare their fields in name order and hold
//! no maps, so serde writes their canonical JSON ([`super::canonical_json`]) directly,
//! without building and re-sorting a `serde_json::Value` (which cost ~4 ms of a
//! 467-finding scan); a test holds the two paths equal. [`findings_digest`] is
//! `"sha256:" + hex(sha256(canonical JSON of the array))`.
//!
//! # Reading
//!
//! Reading is lenient where a newer appliance may say more than an older reader knows:
//! unknown fields are ignored, absent optional fields take their defaults, and a severity
//! word this build does not know reads as [`Severity::Unknown`] (it then never meets a
//! threshold it cannot rank). Parsing a severity the user typed ([`str::parse`]) is strict.
//!
//! ```
//! use bundles::model::{findings_digest, Finding, FindingPackage, Severity, SeverityCounts};
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
//!     undecided: false,
//! };
//! let d = findings_digest(std::slice::from_ref(&f));
//! assert!(d.starts_with("sha256:") && d.len() == 7 + 64);
//! let mut counts = SeverityCounts::default();
//! counts.add(f.severity);
//! assert_eq!(counts.get(Severity::High), 1);
//! assert_eq!("HIGH".parse::<Severity>(), Ok(Severity::High));
//! ```
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

/// A finding's severity. Ordered: `Unknown < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// No rating known.
    Unknown,
    /// CVSS 0.1–3.9 (and 0.0), GHSA `LOW`, Ubuntu `negligible`/`low`.
    Low,
    /// CVSS 4.0–6.9, GHSA `MODERATE`, Ubuntu `medium`.
    Medium,
    /// CVSS 7.0–8.9, GHSA `HIGH`, Ubuntu `high`.
    High,
    /// CVSS 9.0–10.0, GHSA `CRITICAL`, Ubuntu `critical`.
    Critical,
}

impl Severity {
    /// Every severity, most severe first (the display order of tables and tiles).
    pub const ALL_DESC: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
    ];

    /// The lowercase name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The qualitative band of a CVSS v3/v4 base score.
    pub fn from_score(score: f64) -> Severity {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }

    /// A database's own label: GHSA (`LOW`, `MODERATE`, `HIGH`, `CRITICAL`) or Ubuntu
    /// (`negligible`, `low`, `medium`, `high`, `critical`), case-insensitive. Unknown
    /// words (`untriaged`) give `None`.
    pub fn from_label(label: &str) -> Option<Severity> {
        match label.to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" | "important" => Some(Severity::High),
            "moderate" | "medium" => Some(Severity::Medium),
            "low" | "negligible" => Some(Severity::Low),
            _ => None,
        }
    }

    /// The reader's rule (module docs): one of the five names, case-insensitive, else
    /// [`Severity::Unknown`].
    pub fn lenient(s: &str) -> Severity {
        s.parse().unwrap_or(Severity::Unknown)
    }

    /// Deserialises with [`Severity::lenient`] (for `#[serde(deserialize_with)]`).
    pub fn deserialize_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Severity, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Severity::lenient(&s))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity word that is not one of the five names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?} (expected critical, high, medium, low or unknown)")]
pub struct InvalidSeverity(pub String);

impl FromStr for Severity {
    type Err = InvalidSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "critical" => Ok(Severity::Critical),
            "high" => Ok(Severity::High),
            "medium" => Ok(Severity::Medium),
            "low" => Ok(Severity::Low),
            "unknown" => Ok(Severity::Unknown),
            _ => Err(InvalidSeverity(s.chars().take(32).collect())),
        }
    }
}

/// Number of findings per severity (a scan's unmuted findings, a tile's totals).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct SeverityCounts {
    /// Critical findings.
    pub critical: u32,
    /// High findings.
    pub high: u32,
    /// Medium findings.
    pub medium: u32,
    /// Low findings.
    pub low: u32,
    /// Findings whose severity is unknown.
    pub unknown: u32,
}

impl SeverityCounts {
    /// Counts one finding of `severity` (saturating).
    pub fn add(&mut self, severity: Severity) {
        let c = self.slot(severity);
        *c = c.saturating_add(1);
    }

    /// The count of `severity`.
    pub fn get(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Unknown => self.unknown,
        }
    }

    /// All findings counted.
    pub fn total(&self) -> u64 {
        Severity::ALL_DESC
            .iter()
            .map(|s| u64::from(self.get(*s)))
            .sum()
    }

    fn slot(&mut self, severity: Severity) -> &mut u32 {
        match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Unknown => &mut self.unknown,
        }
    }
}

impl FromIterator<Severity> for SeverityCounts {
    fn from_iter<I: IntoIterator<Item = Severity>>(iter: I) -> Self {
        let mut c = SeverityCounts::default();
        iter.into_iter().for_each(|s| c.add(s));
        c
    }
}

/// The gate verdict of a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No unmuted finding at or above the policy threshold.
    Pass,
    /// At least one unmuted finding at or above the threshold (or a Rego deny).
    Fail,
}

impl Verdict {
    /// `pass` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "pass" => Some(Verdict::Pass),
            "fail" => Some(Verdict::Fail),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CVSS version of a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CvssVersion {
    /// CVSS v4.0.
    #[serde(rename = "4.0")]
    V4_0,
    /// CVSS v3.1.
    #[serde(rename = "3.1")]
    V3_1,
    /// CVSS v3.0.
    #[serde(rename = "3.0")]
    V3_0,
}

impl CvssVersion {
    /// `4.0`, `3.1` or `3.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            CvssVersion::V4_0 => "4.0",
            CvssVersion::V3_1 => "3.1",
            CvssVersion::V3_0 => "3.0",
        }
    }
}

impl fmt::Display for CvssVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CVSS vector a severity was computed from.
// Fields are declared in name order: see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// The base score (0.0–10.0, one decimal).
    pub score: f64,
    /// The vector as the advisory gives it.
    pub vector: String,
    /// The CVSS version.
    pub version: CvssVersion,
}

impl Cvss {
    /// Deserialises an optional CVSS object, reading one this build cannot parse (a newer
    /// CVSS version) as `None` (for `#[serde(deserialize_with)]`).
    pub fn deserialize_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cvss>, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        Ok(v.and_then(|v| serde_json::from_value(v).ok()))
    }
}

/// The package a finding is about, as the SBOM names it.
// Fields are declared in name order: see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct FindingPackage {
    /// The OSV ecosystem the component was matched in (`PyPI`, `Debian:12`).
    #[serde(default)]
    pub ecosystem: String,
    /// The component name as the SBOM gives it (a Debian binary package such as `libssl3`
    /// even when the advisory names the source package `openssl`).
    #[serde(default)]
    pub name: String,
    /// The component purl, if any.
    #[serde(default)]
    pub purl: Option<String>,
    /// The component version as the SBOM gives it.
    #[serde(default)]
    pub version: String,
}

/// One vulnerability of one component (records about the same vulnerability merged).
// Fields are declared in name order: see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Finding {
    /// Every other id of the merged records (record ids, aliases, upstream ids), sorted.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The CVSS vector behind [`Finding::severity`], if it came from one (read leniently:
    /// a vector of a CVSS version this build does not know reads as none).
    #[serde(default, deserialize_with = "Cvss::deserialize_lenient")]
    pub cvss: Option<Cvss>,
    /// Versions that fix it (above the installed one), deduplicated, in the ecosystem's
    /// order, lowest first. Empty when no fix is published.
    #[serde(default)]
    pub fixed_versions: Vec<String>,
    /// The primary id: a CVE when one of the merged records is a CVE record, else a GHSA,
    /// else the smallest record id.
    pub id: String,
    /// The image layer that introduced the component, when the SBOM says.
    #[serde(default)]
    pub layer: Option<String>,
    /// The mute rule's reason, when muted.
    #[serde(default)]
    pub mute_reason: Option<String>,
    /// Set by the mute policy after the scan.
    pub muted: bool,
    /// The affected component.
    #[serde(default)]
    pub package: FindingPackage,
    /// Where the component was found, when the SBOM says.
    #[serde(default)]
    pub path: Option<String>,
    /// Reference URLs of the merged records, deduplicated.
    #[serde(default)]
    pub references: Vec<String>,
    /// The highest severity of the merged records.
    #[serde(deserialize_with = "Severity::deserialize_lenient")]
    pub severity: Severity,
    /// One-line summary (of the primary record when it has one).
    #[serde(default)]
    pub summary: Option<String>,
    /// The engine could not decide whether the installed version is in the advisory's
    /// ranges (a version the ecosystem's ordering refuses, on either side): reported so
    /// that a policy counts it (`undecided: ignore` opts out), never dropped. Written only
    /// when true, so decided findings and their digests are as before.
    #[serde(default, skip_serializing_if = "is_false")]
    pub undecided: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Finding {
    /// The component's purl, or `""` when the SBOM gave none.
    pub fn purl(&self) -> &str {
        self.package.purl.as_deref().unwrap_or("")
    }

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

/// The canonical JSON of a findings array (module docs: serde writes it directly).
pub fn findings_json(findings: &[Finding]) -> String {
    // Every field serialises to plain JSON (strings, bools, finite floats): this cannot
    // fail; fall back to `null` rather than panic all the same.
    serde_json::to_string(findings).unwrap_or_else(|_| "null".to_owned())
}

/// `"sha256:" + hex(sha256(json))` of an already canonical JSON text.
pub fn digest_of_canonical(json: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(json)))
}

/// `"sha256:" + hex(sha256(canonical JSON of the findings array))`. The array is hashed in
/// the order given: the engine returns findings in [`canonical_order`].
pub fn findings_digest(findings: &[Finding]) -> String {
    digest_of_canonical(findings_json(findings).as_bytes())
}

/// The findings digest of any JSON value holding findings (re-indented copies of a
/// findings file give the same digest, an edited one does not).
pub fn findings_digest_of_value(v: &serde_json::Value) -> String {
    digest_of_canonical(&super::canonical_json(v))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            undecided: all,
        }
    }

    #[test]
    fn serialising_a_finding_is_its_canonical_json() {
        for fs in [
            vec![],
            vec![finding(true)],
            vec![finding(false), finding(true)],
        ] {
            let value = serde_json::to_value(&fs).expect("value");
            let sorted = super::super::canonical_json(&value);
            let direct = findings_json(&fs);
            assert_eq!(
                direct,
                String::from_utf8_lossy(&sorted),
                "a field of Finding, FindingPackage or Cvss is out of name order"
            );
            assert_eq!(findings_digest(&fs), findings_digest_of_value(&value));
            let back: Vec<Finding> = serde_json::from_str(&direct).expect("read back");
            assert_eq!(back, fs);
        }
    }

    #[test]
    fn a_decided_finding_writes_no_undecided_field_so_old_digests_stand() {
        let decided = finding(false);
        let json = findings_json(std::slice::from_ref(&decided));
        assert!(!json.contains("undecided"), "{json}");
        let mut undecided = decided.clone();
        undecided.undecided = true;
        let json = findings_json(std::slice::from_ref(&undecided));
        assert!(json.ends_with(r#","undecided":true}]"#), "{json}");
        assert_ne!(
            findings_digest(std::slice::from_ref(&decided)),
            findings_digest(&[undecided])
        );
        // a finding written before the field existed reads as decided
        let old: Finding = serde_json::from_str(
            r#"{"id":"X-1","muted":false,"severity":"low","package":{"name":"a","version":"1"}}"#,
        )
        .expect("old finding");
        assert!(!old.undecided);
    }

    #[test]
    fn readers_are_lenient_where_a_newer_appliance_may_say_more() {
        let f: Finding = serde_json::from_str(
            r#"{"id":"X-1","muted":false,"severity":"catastrophic","package":{"name":"a","version":"1"},"new_field":[1]}"#,
        )
        .expect("lenient read");
        assert_eq!(f.severity, Severity::Unknown);
        assert_eq!(f.package.purl, None);
        let f: Finding = serde_json::from_str(
            r#"{"id":"X-2","muted":true,"severity":"low","cvss":{"score":1.0,"vector":"v","version":"9.9"}}"#,
        )
        .expect("lenient cvss and package");
        assert_eq!((f.cvss, f.package.name.as_str()), (None, ""));
        assert!(f.aliases.is_empty());
        // The severity type itself is strict (what a user types).
        assert!(serde_json::from_str::<Severity>("\"catastrophic\"").is_err());
        assert!("none".parse::<Severity>().is_err());
        assert_eq!(Severity::lenient("HIGH"), Severity::High);
    }

    #[test]
    fn order_words_and_json() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Low > Severity::Unknown);
        for s in ["critical", "HIGH", "Medium", "low", "unknown"] {
            let v: Severity = s.parse().expect(s);
            assert_eq!(v.as_str(), s.to_ascii_lowercase());
        }
        assert_eq!(
            serde_json::to_string(&Severity::Critical).expect("json"),
            "\"critical\""
        );
        let c = Cvss {
            version: CvssVersion::V3_1,
            vector: "x".into(),
            score: 9.8,
        };
        assert_eq!(
            serde_json::to_string(&c).expect("json"),
            r#"{"score":9.8,"vector":"x","version":"3.1"}"#
        );
        for (s, want) in [
            (0.1, Severity::Low),
            (3.9, Severity::Low),
            (4.0, Severity::Medium),
            (6.9, Severity::Medium),
            (7.0, Severity::High),
            (8.9, Severity::High),
            (9.0, Severity::Critical),
            (10.0, Severity::Critical),
        ] {
            assert_eq!(Severity::from_score(s), want, "{s}");
        }
        assert_eq!(Verdict::parse("fail"), Some(Verdict::Fail));
        assert_eq!(Verdict::parse("FAIL"), None);
    }

    #[test]
    fn counts_add_up() {
        let c: SeverityCounts = [Severity::High, Severity::High, Severity::Unknown]
            .into_iter()
            .collect();
        assert_eq!((c.high, c.unknown, c.critical), (2, 1, 0));
        assert_eq!(c.total(), 3);
        assert_eq!(
            serde_json::to_string(&c).expect("json"),
            r#"{"critical":0,"high":2,"medium":0,"low":0,"unknown":1}"#
        );
        let partial: SeverityCounts = serde_json::from_str(r#"{"high":4}"#).expect("defaults");
        assert_eq!(partial.get(Severity::High), 4);
    }
}
