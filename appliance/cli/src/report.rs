//! The scan result as the appliance returns it (`POST /api/v1/scan`), and the local policy
//! threshold.
//!
//! Parsing is lenient about additions (unknown fields are ignored, unknown severities read
//! as `unknown`) so a newer appliance does not break an older client, but strict about the
//! fields the exit code depends on (`verdict`, `findings[].severity`, `findings[].muted`).

use serde::Deserialize;
use std::fmt;

// The finding and its vocabulary are the workspace's one (`bundles::model`): the client
// reads exactly what the engine wrote, leniently where a newer appliance may say more.

pub use bundles::model::{
    Cvss, Finding, FindingPackage as Package, Severity, SeverityCounts, Verdict,
};

/// The policy threshold: findings at or above it fail the scan; `none` never fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Fail on critical findings only.
    Critical,
    /// Fail on high or critical findings.
    High,
    /// Fail on medium, high or critical findings.
    Medium,
    /// Fail on any finding with a known severity.
    Low,
    /// Fail on any finding, those without a severity (`unknown`) included.
    Unknown,
    /// Never fail on findings (report only).
    None,
}

impl FailOn {
    /// Parses the server's `summary.fail_on` string.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "critical" => Some(Self::Critical),
            "high" => Some(Self::High),
            "medium" => Some(Self::Medium),
            "low" => Some(Self::Low),
            "unknown" => Some(Self::Unknown),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// The lowest severity that fails, or `None` for `none`.
    #[must_use]
    pub fn min_severity(self) -> Option<Severity> {
        match self {
            Self::Critical => Some(Severity::Critical),
            Self::High => Some(Severity::High),
            Self::Medium => Some(Severity::Medium),
            Self::Low => Some(Severity::Low),
            Self::Unknown => Some(Severity::Unknown),
            Self::None => None,
        }
    }

    /// Whether an (unmuted) finding of this severity fails the policy, as the appliance's
    /// policy decides it. A finding of `unknown` severity fails only under `unknown`: it
    /// has no rank to compare, and failing every build on feed gaps by default would make
    /// the gate useless; the table and SARIF still show those findings.
    #[must_use]
    pub fn fails(self, severity: Severity) -> bool {
        match self {
            Self::None => false,
            Self::Unknown => true,
            _ => self
                .min_severity()
                .is_some_and(|min| severity != Severity::Unknown && severity >= min),
        }
    }

    /// The lower-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Unknown => "unknown",
            Self::None => "none",
        }
    }
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the exit code needs of a finding: its severity, whether it is muted, and whether
/// the engine could decide it.
pub trait Marked {
    /// Severity.
    fn severity(&self) -> Severity;
    /// Muted by a site policy.
    fn muted(&self) -> bool;
    /// The engine could not compare the version with the advisory's ranges.
    fn undecided(&self) -> bool;
}

impl Marked for Finding {
    fn severity(&self) -> Severity {
        self.severity
    }
    fn muted(&self) -> bool {
        self.muted
    }
    fn undecided(&self) -> bool {
        self.undecided
    }
}

/// A finding read for its severity and mute state only (the rest of it is skipped, not
/// copied): what `--format json` needs, since it prints the server's bytes.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Mark {
    /// Severity (an unknown word reads as `unknown`, as in [`Finding`]).
    #[serde(deserialize_with = "Severity::deserialize_lenient")]
    pub severity: Severity,
    /// Muted by a site policy.
    pub muted: bool,
    /// Undecided by the engine.
    #[serde(default)]
    pub undecided: bool,
}

impl Marked for Mark {
    fn severity(&self) -> Severity {
        self.severity
    }
    fn muted(&self) -> bool {
        self.muted
    }
    fn undecided(&self) -> bool {
        self.undecided
    }
}

/// The scan summary.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// Components in the SBOM.
    pub components: u64,
    /// Findings (muted included).
    pub findings: u64,
    /// Muted findings.
    pub muted: u64,
    /// Unmuted findings per severity.
    pub by_severity: SeverityCounts,
    /// The appliance's threshold.
    pub fail_on: Option<String>,
    /// Whether the appliance's feeds are older than its staleness limit.
    pub stale_feed: bool,
    /// Unmuted findings the engine could not decide.
    pub undecided: u64,
    /// The appliance's policy says `undecided: ignore`: they do not fail the verdict.
    pub undecided_ignored: bool,
}

/// The kit whose feeds produced the findings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct KitInfo {
    /// Kit id.
    pub id: String,
    /// Kit sequence number.
    pub sequence: u64,
    /// Kit creation time (RFC 3339).
    pub created_at: String,
}

/// The answer to `POST /api/v1/scan`; `F` is [`Finding`] (everything) or [`Mark`]
/// (severity and mute state only).
#[derive(Debug, Clone, Deserialize)]
pub struct ScanReport<F = Finding> {
    /// Scan id (ULID).
    pub scan_id: String,
    /// The appliance's verdict under its own threshold.
    pub verdict: Verdict,
    /// Counts.
    #[serde(default)]
    pub summary: Summary,
    /// All findings, muted included.
    pub findings: Vec<F>,
    /// Warnings about the SBOM or the feeds.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The active kit.
    #[serde(default)]
    pub kit: Option<KitInfo>,
    /// `sha256:` digest of the canonical findings JSON.
    #[serde(default)]
    pub findings_digest: Option<String>,
    /// Where the signed evidence is.
    #[serde(default)]
    pub evidence_url: Option<String>,
}

impl<F: Marked + serde::de::DeserializeOwned> ScanReport<F> {
    /// Parses the response body.
    ///
    /// # Errors
    /// The JSON error, with the path to the offending field.
    pub fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

impl<F: Marked> ScanReport<F> {
    /// Unmuted findings that fail under `threshold` (undecided ones too, unless the
    /// appliance's policy ignores them).
    pub fn failing(&self, threshold: FailOn) -> impl Iterator<Item = &F> {
        let ignore_undecided = self.summary.undecided_ignored;
        self.findings
            .iter()
            .filter(move |f| counts(*f, threshold, ignore_undecided))
    }

    /// The verdict recomputed locally under `threshold`.
    #[must_use]
    pub fn verdict_under(&self, threshold: FailOn) -> Verdict {
        if self.failing(threshold).next().is_some() {
            Verdict::Fail
        } else {
            Verdict::Pass
        }
    }

    /// The server's threshold, when it named a valid one.
    #[must_use]
    pub fn server_threshold(&self) -> Option<FailOn> {
        self.summary.fail_on.as_deref().and_then(FailOn::parse)
    }
}

fn counts<F: Marked>(f: &F, threshold: FailOn, ignore_undecided: bool) -> bool {
    let left_out = f.muted() || (ignore_undecided && f.undecided());
    !left_out && threshold.fails(f.severity())
}

/// The policy decision the exit code follows: the threshold in force and the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Threshold in force (`--fail-on`, else the server's, else `high`).
    pub threshold: FailOn,
    /// Final verdict.
    pub verdict: Verdict,
    /// Whether the verdict was recomputed locally (`--fail-on` given).
    pub local: bool,
    /// The appliance's policy leaves undecided findings out of the verdict.
    pub ignore_undecided: bool,
}

impl Decision {
    /// `--fail-on` recomputes the verdict locally from unmuted findings; without it the
    /// server's verdict stands (the appliance's policy is the source of truth).
    #[must_use]
    pub fn new<F: Marked>(report: &ScanReport<F>, fail_on: Option<FailOn>) -> Self {
        match fail_on {
            Some(threshold) => Self {
                threshold,
                verdict: report.verdict_under(threshold),
                local: true,
                ignore_undecided: report.summary.undecided_ignored,
            },
            None => Self {
                threshold: report.server_threshold().unwrap_or(FailOn::High),
                verdict: report.verdict,
                local: false,
                ignore_undecided: report.summary.undecided_ignored,
            },
        }
    }

    /// Whether one finding fails under this decision (what the `!` of the table, JUnit's
    /// `<failure>` and SARIF's `failsPolicy` say).
    #[must_use]
    pub fn fails<F: Marked>(&self, f: &F) -> bool {
        counts(f, self.threshold, self.ignore_undecided)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(findings: serde_json::Value, verdict: &str) -> ScanReport {
        let v = serde_json::json!({
            "scan_id": "01J0000000000000000000000",
            "verdict": verdict,
            "summary": {"components": 3, "findings": 2, "muted": 0, "fail_on": "high"},
            "findings": findings,
        });
        ScanReport::from_json(v.to_string().as_bytes()).expect("valid report")
    }

    fn finding(sev: &str, muted: bool) -> serde_json::Value {
        serde_json::json!({"id": "GHSA-x", "package": {"name": "p", "version": "1", "purl": "pkg:npm/p@1", "ecosystem": "npm"},
            "severity": sev, "muted": muted})
    }

    #[test]
    fn undecided_findings_fail_locally_unless_the_appliance_policy_ignores_them() {
        let mut f = finding("high", false);
        f["undecided"] = serde_json::json!(true);
        let r = report(serde_json::json!([f.clone()]), "fail");
        assert!(r.findings[0].undecided);
        assert_eq!(r.verdict_under(FailOn::High), Verdict::Fail);
        let d = Decision::new(&r, Some(FailOn::High));
        assert!(d.fails(&r.findings[0]));

        let v = serde_json::json!({
            "scan_id": "01J0000000000000000000000",
            "verdict": "pass",
            "summary": {"components": 1, "findings": 1, "muted": 0, "fail_on": "high",
                        "undecided": 1, "undecided_ignored": true},
            "findings": [f],
        });
        let r: ScanReport = ScanReport::from_json(v.to_string().as_bytes()).expect("valid");
        assert_eq!(r.verdict_under(FailOn::High), Verdict::Pass);
        let d = Decision::new(&r, None);
        assert!(d.ignore_undecided && !d.fails(&r.findings[0]));
        // the severity-and-mute reader sees it too
        let m: ScanReport<Mark> = ScanReport::from_json(v.to_string().as_bytes()).expect("valid");
        assert!(m.findings[0].undecided);
    }

    #[test]
    fn unknown_severity_strings_read_as_unknown() {
        let r = report(serde_json::json!([finding("moderate", false)]), "pass");
        assert_eq!(r.findings[0].severity, Severity::Unknown);
    }

    #[test]
    fn threshold_ordering() {
        assert!(FailOn::High.fails(Severity::Critical));
        assert!(FailOn::High.fails(Severity::High));
        assert!(!FailOn::High.fails(Severity::Medium));
        assert!(FailOn::Low.fails(Severity::Low));
        assert!(!FailOn::Low.fails(Severity::Unknown));
        assert!(FailOn::Unknown.fails(Severity::Unknown));
        assert!(FailOn::Unknown.fails(Severity::Low));
        assert!(!FailOn::None.fails(Severity::Critical));
        // The server's `fail_on: unknown` is understood, not replaced by `high`.
        assert_eq!(FailOn::parse("unknown"), Some(FailOn::Unknown));
        for t in [
            FailOn::Critical,
            FailOn::High,
            FailOn::Medium,
            FailOn::Low,
            FailOn::Unknown,
            FailOn::None,
        ] {
            assert_eq!(FailOn::parse(t.as_str()), Some(t));
        }
        assert!(!FailOn::None.fails(Severity::Critical));
    }

    #[test]
    fn local_verdict_ignores_muted_findings() {
        let r = report(
            serde_json::json!([finding("critical", true), finding("medium", false)]),
            "fail",
        );
        assert_eq!(r.verdict_under(FailOn::High), Verdict::Pass);
        assert_eq!(r.verdict_under(FailOn::Medium), Verdict::Fail);
        let d = Decision::new(&r, Some(FailOn::High));
        assert_eq!((d.verdict, d.local), (Verdict::Pass, true));
        let d = Decision::new(&r, None);
        assert_eq!(
            (d.verdict, d.threshold, d.local),
            (Verdict::Fail, FailOn::High, false)
        );
    }

    #[test]
    fn missing_verdict_is_an_error() {
        let body = br#"{"scan_id":"x","findings":[]}"#;
        let e = ScanReport::<Finding>::from_json(body).expect_err("no verdict");
        assert!(e.to_string().contains("missing field `verdict`"), "{e}");
        let e = ScanReport::<Mark>::from_json(body).expect_err("no verdict");
        assert!(e.to_string().contains("missing field `verdict`"), "{e}");
    }
}
