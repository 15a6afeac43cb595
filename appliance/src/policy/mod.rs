//! Scan policy: mute rules and verdict thresholds, written as YAML.
//!
//! A policy is one YAML document, stored as numbered versions in the
//! [`Store`](crate::store::Store) (every change is a new version and an audit record).
//! The digest recorded in evidence is the sha256 of the exact stored YAML text.
//!
//! ```yaml
//! version: 1
//! fail_on: high            # critical | high | medium | low | unknown | none
//! undecided: count         # count (default) | ignore: findings the engine could not decide
//! max_feed_age_days: 14    # optional: older feeds add a stale-feed warning
//! mutes:
//!   - id: mute-1           # assigned by the appliance when absent
//!     advisory: GHSA-xxxx-xxxx-xxxx   # an advisory id or any of its aliases
//!     purl: "pkg:pypi/django@*"       # `*` matches any run of characters
//!     layer: "sha256:…"    # optional: only findings from this layer
//!     path: "/app/*"       # optional: only findings at this path
//!     reason: not reachable from our code
//!     author: alice
//!     expires_at: 2026-12-31T00:00:00Z  # optional: the rule stops applying then
//! rego: |                  # optional: one Rego module (see [`rego`])
//!   package stella
//!   mute := "dev-only tooling" if input.package.ecosystem == "npm"
//! ```
//!
//! Severity order is `critical > high > medium > low > unknown`; `fail_on: X` fails the
//! verdict on any unmuted finding of severity X or above. `unknown` therefore fails only
//! with `fail_on: unknown` (an advisory without a score is not presumed high), and
//! `none` never fails.
//!
//! A finding marked `undecided` (the engine could not compare the installed version with
//! the advisory's ranges) is counted like any other, at the severity the advisory gives:
//! a scanner that cannot decide must not pass a build quietly. `undecided: ignore` leaves
//! such findings out of the verdict (they are still reported).
//!
//! ```
//! use appliance::policy::{FindingFacts, Policy};
//! use time::macros::datetime;
//!
//! let p = Policy::from_yaml(
//!     "fail_on: critical\nmutes:\n  - advisory: CVE-2024-1\n    reason: test only\n    author: a\n",
//! )
//! .expect("valid policy");
//! let f = FindingFacts { id: "GHSA-1", aliases: &["CVE-2024-1".to_owned()], purl: "pkg:pypi/x@1", layer: None, path: None };
//! let rule = p.mute_for(&f, datetime!(2026-11-22 0:00 UTC)).expect("muted");
//! assert_eq!(rule.reason, "test only");
//! ```

pub mod rego;

use bundles::model::Severity;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

/// Largest policy document accepted (bytes).
pub const MAX_POLICY_BYTES: usize = 256 * 1024;
/// Most mute rules in one policy (each scan checks every finding against each rule).
pub const MAX_MUTES: usize = 2_000;
/// Longest text field of a rule.
pub const MAX_FIELD: usize = 1_024;

/// Why a policy document or a rule was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The document is larger than [`MAX_POLICY_BYTES`].
    #[error("policy is {size} bytes, larger than the {limit}-byte limit")]
    TooLarge {
        /// Size received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not valid YAML, or not the policy schema.
    #[error("policy is not valid YAML for the policy schema: {0}")]
    Yaml(String),
    /// The document's `version` is not one this appliance reads.
    #[error("policy version {0} is not supported (supported: 1)")]
    Version(u32),
    /// A mute rule is invalid.
    #[error("mute rule {index} ({id}): {msg}")]
    Rule {
        /// Position in `mutes` (0-based).
        index: usize,
        /// The rule's id (or `<new>`).
        id: String,
        /// What is wrong.
        msg: String,
    },
    /// More rules than [`MAX_MUTES`].
    #[error("policy has {count} mute rules, more than the limit of {limit}")]
    TooManyMutes {
        /// Rules received.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The `rego` module is refused (see [`rego`]).
    #[error("rego module: {0}")]
    Rego(#[from] rego::RegoError),
    /// Serialising the policy back to YAML failed.
    #[error("writing the policy as YAML: {0}")]
    Write(String),
}

/// The `fail_on` threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Fail on critical findings.
    Critical,
    /// Fail on high or critical findings (the default).
    #[default]
    High,
    /// Fail on medium and above.
    Medium,
    /// Fail on low and above.
    Low,
    /// Fail on any finding, including unscored ones.
    Unknown,
    /// Never fail.
    None,
}

impl FailOn {
    /// Whether an unmuted finding of severity `level` fails the verdict.
    pub fn fails(self, level: Severity) -> bool {
        let min = match self {
            Self::Critical => Severity::Critical,
            Self::High => Severity::High,
            Self::Medium => Severity::Medium,
            Self::Low => Severity::Low,
            Self::Unknown => Severity::Unknown,
            Self::None => return false,
        };
        level >= min
    }

    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
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

/// What the verdict does with findings the engine could not decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Undecided {
    /// Counted like decided findings, at the advisory's severity (the default).
    #[default]
    Count,
    /// Reported, but never fail the verdict.
    Ignore,
}

impl Undecided {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Ignore => "ignore",
        }
    }

    fn is_count(&self) -> bool {
        *self == Self::Count
    }
}

fn default_version() -> u32 {
    1
}

/// A policy document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Schema version (1).
    #[serde(default = "default_version")]
    pub version: u32,
    /// Threshold of the verdict.
    #[serde(default)]
    pub fail_on: FailOn,
    /// Whether undecided findings count toward the verdict.
    #[serde(default, skip_serializing_if = "Undecided::is_count")]
    pub undecided: Undecided,
    /// Feeds older than this many days add a stale-feed warning to every verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_feed_age_days: Option<u32>,
    /// Mute rules.
    #[serde(default)]
    pub mutes: Vec<MuteRule>,
    /// Optional Rego rules (`mute`, `deny`) for what mute rules cannot say (see [`rego`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rego: Option<rego::RegoModule>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            version: 1,
            fail_on: FailOn::High,
            undecided: Undecided::Count,
            max_feed_age_days: Some(30),
            mutes: Vec::new(),
            rego: None,
        }
    }
}

/// One mute rule. At least one of `advisory` and `purl` is set, so a rule never mutes
/// everything by accident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuteRule {
    /// Stable id (used to delete the rule); assigned when absent.
    #[serde(default)]
    pub id: String,
    /// An advisory id or alias (exact, case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
    /// A purl pattern; `*` matches any run of characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Only findings from this layer digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Only findings at this path (pattern with `*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why the finding is muted (required: shown with every muted finding).
    pub reason: String,
    /// Who muted it.
    #[serde(default)]
    pub author: String,
    /// When the rule was made.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<OffsetDateTime>,
    /// When the rule stops applying.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
}

impl MuteRule {
    /// Whether the rule is in force at `now` (not expired).
    pub fn active(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }

    fn validate(&self) -> Result<(), String> {
        if self.advisory.is_none() && self.purl.is_none() {
            return Err("needs an `advisory` or a `purl` (a rule must not mute everything)".into());
        }
        if self.reason.trim().is_empty() {
            return Err("needs a non-empty `reason`".into());
        }
        for (name, v) in [
            ("id", Some(&self.id)),
            ("advisory", self.advisory.as_ref()),
            ("purl", self.purl.as_ref()),
            ("layer", self.layer.as_ref()),
            ("path", self.path.as_ref()),
            ("reason", Some(&self.reason)),
            ("author", Some(&self.author)),
        ] {
            if let Some(v) = v {
                if v.len() > MAX_FIELD {
                    return Err(format!("`{name}` is longer than {MAX_FIELD} bytes"));
                }
                if v.chars().any(|c| c.is_control() && c != '\t') {
                    return Err(format!("`{name}` contains control characters"));
                }
            }
        }
        if let Some(a) = &self.advisory
            && a.trim().is_empty()
        {
            return Err("`advisory` is empty".into());
        }
        if let Some(p) = &self.purl
            && p.trim_matches('*').is_empty()
        {
            return Err("`purl` pattern matches everything; name at least a package type".into());
        }
        Ok(())
    }

    fn matches(&self, f: &FindingFacts<'_>) -> bool {
        if let Some(a) = &self.advisory
            && !f.id.eq_ignore_ascii_case(a)
            && !f.aliases.iter().any(|x| x.eq_ignore_ascii_case(a))
        {
            return false;
        }
        if let Some(p) = &self.purl
            && !wildcard_match(p, f.purl)
        {
            return false;
        }
        if let Some(l) = &self.layer
            && f.layer != Some(l.as_str())
        {
            return false;
        }
        if let Some(p) = &self.path
            && !f.path.is_some_and(|fp| wildcard_match(p, fp))
        {
            return false;
        }
        true
    }
}

/// What the policy looks at in one finding.
#[derive(Clone, Copy, Debug)]
pub struct FindingFacts<'a> {
    /// Advisory id.
    pub id: &'a str,
    /// Its aliases.
    pub aliases: &'a [String],
    /// The component's purl (empty when it has none).
    pub purl: &'a str,
    /// The layer the component came from, if known.
    pub layer: Option<&'a str>,
    /// The path the component was found at, if known.
    pub path: Option<&'a str>,
}

impl<'a> FindingFacts<'a> {
    /// The facts of a finding.
    pub fn of(f: &'a bundles::model::Finding) -> Self {
        FindingFacts {
            id: &f.id,
            aliases: &f.aliases,
            purl: f.package.purl.as_deref().unwrap_or(""),
            layer: f.layer.as_deref(),
            path: f.path.as_deref(),
        }
    }
}

impl Policy {
    /// Parses and validates a YAML policy.
    pub fn from_yaml(text: &str) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                size: text.len(),
                limit: MAX_POLICY_BYTES,
            });
        }
        // An empty document means "all defaults" rather than a parse error.
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let p: Self = serde_norway::from_str(text).map_err(|e| PolicyError::Yaml(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// Checks every rule (see [`MuteRule`]) and the limits.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.version != 1 {
            return Err(PolicyError::Version(self.version));
        }
        if self.mutes.len() > MAX_MUTES {
            return Err(PolicyError::TooManyMutes {
                count: self.mutes.len(),
                limit: MAX_MUTES,
            });
        }
        if let Some(r) = &self.rego {
            r.check()?;
        }
        let mut ids = std::collections::BTreeSet::new();
        for (index, r) in self.mutes.iter().enumerate() {
            let id = if r.id.is_empty() {
                "<new>".to_owned()
            } else {
                r.id.clone()
            };
            r.validate().map_err(|msg| PolicyError::Rule {
                index,
                id: id.clone(),
                msg,
            })?;
            if !r.id.is_empty() && !ids.insert(r.id.as_str()) {
                return Err(PolicyError::Rule {
                    index,
                    id,
                    msg: "duplicate id".into(),
                });
            }
        }
        Ok(())
    }

    /// Gives every rule without an id a fresh one (`mute-N`, N above every existing
    /// `mute-N`), so rules can be deleted by id.
    pub fn assign_ids(&mut self) {
        let mut next = self
            .mutes
            .iter()
            .filter_map(|r| r.id.strip_prefix("mute-")?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        for r in &mut self.mutes {
            if r.id.is_empty() {
                next += 1;
                r.id = format!("mute-{next}");
            }
        }
    }

    /// The YAML text of the policy.
    pub fn to_yaml(&self) -> Result<String, PolicyError> {
        serde_norway::to_string(self).map_err(|e| PolicyError::Write(e.to_string()))
    }

    /// The first rule in force at `now` that mutes `finding`.
    pub fn mute_for(&self, finding: &FindingFacts<'_>, now: OffsetDateTime) -> Option<&MuteRule> {
        self.mutes
            .iter()
            .find(|r| r.active(now) && r.matches(finding))
    }
}

/// The sha256 (hex) of a policy's stored YAML text: the policy digest of evidence.
pub fn policy_digest_hex(yaml: &str) -> String {
    hex::encode(Sha256::digest(yaml.as_bytes()))
}

/// `*`-only glob match over bytes: `*` matches any run (including empty); everything
/// else matches itself. Linear-time greedy algorithm with one backtrack point, so a
/// hostile pattern cannot cause exponential work.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<usize> = None;
    let mut mark = 0usize;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecided_is_counted_by_default_and_ignore_round_trips() {
        let p = Policy::from_yaml("fail_on: high\n").expect("valid");
        assert_eq!(p.undecided, Undecided::Count);
        let p = Policy::from_yaml("fail_on: high\nundecided: ignore\n").expect("valid");
        assert_eq!(p.undecided, Undecided::Ignore);
        let e = Policy::from_yaml("undecided: maybe\n").expect_err("bad value");
        assert!(e.to_string().contains("undecided"), "{e}");
        assert_eq!(Undecided::Ignore.as_str(), "ignore");
    }
    use time::macros::datetime;

    fn facts<'a>(id: &'a str, aliases: &'a [String], purl: &'a str) -> FindingFacts<'a> {
        FindingFacts {
            id,
            aliases,
            purl,
            layer: None,
            path: None,
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("pkg:pypi/*", "pkg:pypi/django@4.2"));
        assert!(wildcard_match("*django*", "pkg:pypi/django@4.2"));
        assert!(wildcard_match("pkg:pypi/django@*", "pkg:pypi/django@"));
        assert!(!wildcard_match("pkg:pypi/django@*", "pkg:pypi/djangox@1"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
        assert!(wildcard_match("exact", "exact"));
        assert!(!wildcard_match("exact", "exactly"));
        // Pathological input stays fast (linear algorithm).
        let long = "a".repeat(10_000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!wildcard_match(&pattern, &long));
    }

    #[test]
    fn thresholds_order_severities() {
        assert!(FailOn::High.fails(Severity::Critical));
        assert!(FailOn::High.fails(Severity::High));
        assert!(!FailOn::High.fails(Severity::Medium));
        assert!(!FailOn::Low.fails(Severity::Unknown));
        assert!(FailOn::Unknown.fails(Severity::Unknown));
        assert!(!FailOn::None.fails(Severity::Critical));
        assert_eq!(Severity::from_label("MODERATE"), Some(Severity::Medium));
        assert_eq!(Severity::lenient("weird"), Severity::Unknown);
    }

    #[test]
    fn rules_match_by_id_alias_purl_and_expire() {
        let p = Policy::from_yaml(
            "fail_on: medium\nmax_feed_age_days: 7\nmutes:\n\
             - advisory: cve-2024-1\n  reason: r1\n  author: a\n  expires_at: 2026-12-01T00:00:00Z\n\
             - purl: 'pkg:npm/left-pad@*'\n  reason: r2\n",
        )
        .expect("valid");
        assert_eq!(p.fail_on, FailOn::Medium);
        assert_eq!(p.max_feed_age_days, Some(7));
        let aliases = vec!["CVE-2024-1".to_owned()];
        let before = datetime!(2026-11-22 0:00 UTC);
        let after = datetime!(2026-12-01 0:00 UTC);
        let f = facts("GHSA-x", &aliases, "pkg:pypi/a@1");
        assert_eq!(
            p.mute_for(&f, before).map(|r| r.reason.as_str()),
            Some("r1")
        );
        assert!(
            p.mute_for(&f, after).is_none(),
            "expired rules stop applying"
        );
        let g = facts("GHSA-y", &[], "pkg:npm/left-pad@1.0.0");
        assert_eq!(p.mute_for(&g, after).map(|r| r.reason.as_str()), Some("r2"));
        let h = facts("GHSA-y", &[], "pkg:npm/right-pad@1.0.0");
        assert!(p.mute_for(&h, before).is_none());
    }

    #[test]
    fn layer_and_path_narrow_a_rule() {
        let p = Policy::from_yaml(
            "mutes:\n- advisory: A\n  layer: sha256:aa\n  path: /opt/*\n  reason: r\n",
        )
        .expect("valid");
        let now = datetime!(2026-11-22 0:00 UTC);
        let mut f = facts("A", &[], "pkg:pypi/a@1");
        assert!(
            p.mute_for(&f, now).is_none(),
            "finding without a layer is not muted"
        );
        f.layer = Some("sha256:aa");
        f.path = Some("/opt/app/x");
        assert!(p.mute_for(&f, now).is_some());
        f.path = Some("/usr/x");
        assert!(p.mute_for(&f, now).is_none());
    }

    #[test]
    fn invalid_policies_are_refused_with_the_reason() {
        let e = Policy::from_yaml("mutes:\n- reason: r\n").expect_err("no selector");
        assert!(e.to_string().contains("advisory"), "{e}");
        let e = Policy::from_yaml("mutes:\n- advisory: A\n  reason: ''\n").expect_err("no reason");
        assert!(e.to_string().contains("reason"), "{e}");
        let e = Policy::from_yaml("mutes:\n- purl: '**'\n  reason: r\n").expect_err("match all");
        assert!(e.to_string().contains("everything"), "{e}");
        let e = Policy::from_yaml("fail_on: severe\n").expect_err("bad level");
        assert!(matches!(e, PolicyError::Yaml(_)), "{e}");
        let e = Policy::from_yaml("unknown_key: 1\n").expect_err("unknown key");
        assert!(matches!(e, PolicyError::Yaml(_)), "{e}");
        let e = Policy::from_yaml("version: 2\n").expect_err("version");
        assert!(matches!(e, PolicyError::Version(2)), "{e}");
        let big = "#".repeat(MAX_POLICY_BYTES + 1);
        assert!(matches!(
            Policy::from_yaml(&big),
            Err(PolicyError::TooLarge { .. })
        ));
        let e = Policy::from_yaml(
            "mutes:\n- {id: x, advisory: A, reason: r}\n- {id: x, advisory: B, reason: r}\n",
        )
        .expect_err("dup");
        assert!(e.to_string().contains("duplicate"), "{e}");
    }

    #[test]
    fn yaml_round_trips_and_ids_are_assigned() {
        let mut p = Policy::from_yaml(
            "mutes:\n- {id: mute-4, advisory: A, reason: r}\n- {advisory: B, reason: s, expires_at: 2027-01-01T00:00:00Z}\n",
        )
        .expect("valid");
        p.assign_ids();
        assert_eq!(p.mutes[1].id, "mute-5");
        let text = p.to_yaml().expect("yaml");
        let back = Policy::from_yaml(&text).expect("reparse");
        assert_eq!(back, p);
        assert_eq!(Policy::from_yaml("").expect("empty"), Policy::default());
    }
}
