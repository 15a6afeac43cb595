//! The advisory, its affected packages, and the one validation path every input takes.
//!
//! Both the lenient OSV reader ([`Advisory::from_osv_json`]) and the strict canonical
//! reader ([`Advisory::from_canonical_json`], serde's `Deserialize`) produce a
//! [`RawAdvisory`] and convert it with the same `TryFrom`, so the rules cannot drift.
use time::OffsetDateTime;

use super::ecosystem::{BaseEcosystem, Ecosystem};
use super::error::ModelError;
use super::limits::{
    MAX_ADVISORY_JSON_BYTES, MAX_AFFECTED, MAX_CWES, MAX_DETAILS_LEN, MAX_IDS, MAX_LABEL_LEN,
    MAX_NAME_LEN, MAX_RANGES, MAX_REFERENCES, MAX_SEVERITIES, MAX_SUMMARY_LEN, MAX_URL_LEN,
    MAX_VERSION_LEN, MAX_VERSIONS, check_count, check_len, check_token,
};
use super::range::{Evaluation, Event, Orderings, Range};
use super::types::{AdvisoryId, Reference, SeverityScore, Timestamp};

/// A package as OSV names it: ecosystem, name and optional purl (without `@version`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Package {
    ecosystem: Ecosystem,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
}

impl Package {
    /// Validates a package. The name is taken as given (the OSV reader normalises PyPI
    /// names before calling this).
    pub fn new(
        ecosystem: Ecosystem,
        name: impl Into<String>,
        purl: Option<String>,
    ) -> Result<Package, ModelError> {
        let name = name.into();
        check_token("name", &name, MAX_NAME_LEN)?;
        if let Some(p) = &purl {
            check_token("purl", p, MAX_URL_LEN)?;
        }
        Ok(Package {
            ecosystem,
            name,
            purl,
        })
    }

    /// The ecosystem (with its release, e.g. `Debian:12`).
    pub fn ecosystem(&self) -> &Ecosystem {
        &self.ecosystem
    }

    /// The package name (PEP 503-normalised for PyPI).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The package URL, if the record gave one.
    pub fn purl(&self) -> Option<&str> {
        self.purl.as_deref()
    }
}

/// PEP 503 name normalisation: lowercase, and every run of `-`, `_`, `.` becomes one `-`.
///
/// ```
/// assert_eq!(bundles::model::pep503_normalize("Jinja2"), "jinja2");
/// assert_eq!(bundles::model::pep503_normalize("zope.interface__X"), "zope-interface-x");
/// ```
pub fn pep503_normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}

/// One affected package: its ranges, its enumerated versions and (optionally) its own
/// severity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Affected {
    package: Package,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ranges: Vec<Range>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    versions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    severity: Vec<SeverityScore>,
}

impl Affected {
    /// Validates an affected entry.
    pub fn new(
        package: Package,
        ranges: Vec<Range>,
        versions: Vec<String>,
        severity: Vec<SeverityScore>,
    ) -> Result<Affected, ModelError> {
        check_count("ranges", ranges.len(), MAX_RANGES)?;
        check_count("versions", versions.len(), MAX_VERSIONS)?;
        check_count("severity", severity.len(), MAX_SEVERITIES)?;
        for (i, v) in versions.iter().enumerate() {
            check_token(&format!("versions[{i}]"), v, MAX_VERSION_LEN)?;
        }
        Ok(Affected {
            package,
            ranges,
            versions,
            severity,
        })
    }

    /// The package.
    pub fn package(&self) -> &Package {
        &self.package
    }

    /// The ranges.
    pub fn ranges(&self) -> &[Range] {
        &self.ranges
    }

    /// The enumerated affected versions.
    pub fn versions(&self) -> &[String] {
        &self.versions
    }

    /// The per-package severity (empty when the advisory's top-level severity applies).
    pub fn severity(&self) -> &[SeverityScore] {
        &self.severity
    }

    /// Evaluates `version` per the spec's `IsVulnerable` for this package: listed in
    /// `versions` (exact string match, as the spec says), or inside any range. `GIT`
    /// ranges never match a version; a range the orderings cannot decide makes the result
    /// [`Evaluation::Undecidable`] unless another rule already says affected.
    pub fn evaluate(&self, version: &str, orderings: Orderings<'_>) -> Evaluation {
        if self.versions.iter().any(|v| v == version) {
            return Evaluation::Affected;
        }
        let mut undecidable = false;
        for r in &self.ranges {
            match r.contains(version, orderings) {
                Some(true) => return Evaluation::Affected,
                Some(false) => {}
                None => undecidable = true,
            }
        }
        if undecidable {
            Evaluation::Undecidable
        } else {
            Evaluation::NotAffected
        }
    }

    /// Whether `version` is affected: [`Affected::evaluate`] says
    /// [`Evaluation::Affected`].
    ///
    /// ```
    /// use std::cmp::Ordering;
    /// use bundles::model::{Advisory, Orderings};
    ///
    /// let adv = Advisory::from_osv_json(br#"{"id": "EX-1", "modified": "2024-01-01T00:00:00Z",
    ///   "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
    ///     "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.3"}]}]}]}"#)
    ///     .expect("valid record");
    /// // A toy ordering on single numbers; the scan engine supplies real ones.
    /// let num = |a: &str, b: &str| a.parse::<f64>().ok()?.partial_cmp(&b.parse::<f64>().ok()?);
    /// let orderings = Orderings { semver: &num, ecosystem: &num };
    /// let affected = &adv.affected()[0];
    /// assert!(affected.affects("1.2", orderings));
    /// assert!(!affected.affects("1.3", orderings));
    /// assert_eq!(affected.fixed_versions(), vec!["1.3"]);
    /// ```
    pub fn affects(&self, version: &str, orderings: Orderings<'_>) -> bool {
        self.evaluate(version, orderings) == Evaluation::Affected
    }

    /// The `fixed` versions of all `SEMVER` and `ECOSYSTEM` ranges, deduplicated, in record
    /// order (remediation hints; `GIT` commits are not versions).
    pub fn fixed_versions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for v in self.ranges.iter().flat_map(Range::fixed_versions) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }
}

/// One advisory in the canonical model. Construct it with [`Advisory::from_osv_json`] or
/// [`Advisory::from_canonical_json`]; every instance satisfies the validation rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawAdvisory")]
pub struct Advisory {
    id: AdvisoryId,
    modified: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    published: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    withdrawn: Option<Timestamp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    aliases: Vec<AdvisoryId>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    upstream: Vec<AdvisoryId>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related: Vec<AdvisoryId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    severity: Vec<SeverityScore>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    affected: Vec<Affected>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cwe_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_severity: Option<String>,
}

/// What [`Advisory::into_index_parts`] moves out: the parts a scan index keeps.
#[allow(missing_docs)] // each field is the advisory field of the same name
pub struct IndexParts {
    pub id: AdvisoryId,
    pub modified: Timestamp,
    pub aliases: Vec<AdvisoryId>,
    pub upstream: Vec<AdvisoryId>,
    pub summary: Option<String>,
    pub severity: Vec<SeverityScore>,
    pub database_severity: Option<String>,
    pub references: Vec<Reference>,
    pub affected: Vec<Affected>,
}

impl Advisory {
    /// The id.
    pub fn id(&self) -> &AdvisoryId {
        &self.id
    }
    /// Last modification time.
    pub fn modified(&self) -> &Timestamp {
        &self.modified
    }
    /// Publication time.
    pub fn published(&self) -> Option<&Timestamp> {
        self.published.as_ref()
    }
    /// Withdrawal time, if the advisory was withdrawn.
    pub fn withdrawn(&self) -> Option<&Timestamp> {
        self.withdrawn.as_ref()
    }
    /// Ids of the same vulnerability in other databases.
    pub fn aliases(&self) -> &[AdvisoryId] {
        &self.aliases
    }
    /// Ids this advisory was derived from (OSV 1.7 `upstream`; Alpine and Debian records
    /// put their CVE here rather than in `aliases`).
    pub fn upstream(&self) -> &[AdvisoryId] {
        &self.upstream
    }
    /// Ids of related but distinct vulnerabilities.
    pub fn related(&self) -> &[AdvisoryId] {
        &self.related
    }
    /// One-line summary.
    pub fn summary(&self) -> Option<&str> {
        self.summary.as_deref()
    }
    /// Long description (Markdown in most sources).
    pub fn details(&self) -> Option<&str> {
        self.details.as_deref()
    }
    /// Top-level severities (empty when set per affected package).
    pub fn severity(&self) -> &[SeverityScore] {
        &self.severity
    }
    /// Affected packages.
    pub fn affected(&self) -> &[Affected] {
        &self.affected
    }
    /// Reference links.
    pub fn references(&self) -> &[Reference] {
        &self.references
    }
    /// CWE ids (`CWE-502`), from GHSA's `database_specific.cwe_ids`.
    pub fn cwe_ids(&self) -> &[String] {
        &self.cwe_ids
    }
    /// The source database's own severity label (GHSA `database_specific.severity`:
    /// `LOW`, `MODERATE`, `HIGH`, `CRITICAL`), the fallback when no CVSS vector exists.
    pub fn database_severity(&self) -> Option<&str> {
        self.database_severity.as_deref()
    }

    /// Moves out the parts a scan index keeps (the `scanner` crate's `IndexedAdvisory`),
    /// dropping the rest (`details`, the bulk of a real record) without copying anything.
    pub fn into_index_parts(self) -> IndexParts {
        IndexParts {
            id: self.id,
            modified: self.modified,
            aliases: self.aliases,
            upstream: self.upstream,
            summary: self.summary,
            severity: self.severity,
            database_severity: self.database_severity,
            references: self.references,
            affected: self.affected,
        }
    }

    /// Adds what an enrichment source (NVD) knows and the advisory lacks: severity
    /// entries of a kind the advisory does not carry yet, and the long description when
    /// it has none. Upstream data always wins; the advisory stays valid (the severity
    /// entries were validated by [`SeverityScore::new`]).
    pub fn enrich(
        &mut self,
        severity: impl IntoIterator<Item = SeverityScore>,
        details: Option<String>,
    ) {
        for s in severity {
            if self.severity.len() < super::limits::MAX_SEVERITIES
                && !self.severity.iter().any(|have| have.kind() == s.kind())
            {
                self.severity.push(s);
            }
        }
        if self.details.is_none()
            && let Some(d) = details
            && d.len() <= super::limits::MAX_DETAILS_LEN
        {
            self.details = Some(d);
        }
    }

    /// Whether the advisory is withdrawn at `now` (withdrawal time not after `now`).
    /// Withdrawn advisories must not produce findings.
    pub fn is_withdrawn(&self, now: OffsetDateTime) -> bool {
        self.withdrawn.as_ref().is_some_and(|w| w.datetime() <= now)
    }

    /// Parses the kit's canonical form: strict (unknown fields are an error at every
    /// level), same validation as the OSV reader.
    pub fn from_canonical_json(bytes: &[u8]) -> Result<Advisory, ModelError> {
        if bytes.len() > MAX_ADVISORY_JSON_BYTES {
            return Err(ModelError::InputTooLarge {
                what: "canonical advisory",
                actual: bytes.len(),
                limit: MAX_ADVISORY_JSON_BYTES,
            });
        }
        let raw: RawAdvisory =
            serde_json::from_slice(bytes).map_err(|source| ModelError::Json { source })?;
        Advisory::try_from(raw)
    }
}

/// The canonical form before validation. Field names are OSV's; `deny_unknown_fields`
/// everywhere, because a kit that carries fields this version does not know was made by
/// a different schema and must be refused, not half-read.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdvisory {
    pub(crate) id: String,
    pub(crate) modified: String,
    #[serde(default)]
    pub(crate) published: Option<String>,
    #[serde(default)]
    pub(crate) withdrawn: Option<String>,
    #[serde(default)]
    pub(crate) aliases: Vec<String>,
    #[serde(default)]
    pub(crate) upstream: Vec<String>,
    #[serde(default)]
    pub(crate) related: Vec<String>,
    #[serde(default)]
    pub(crate) summary: Option<String>,
    #[serde(default)]
    pub(crate) details: Option<String>,
    #[serde(default)]
    pub(crate) severity: Vec<RawSeverity>,
    #[serde(default)]
    pub(crate) affected: Vec<RawAffected>,
    #[serde(default)]
    pub(crate) references: Vec<RawReference>,
    #[serde(default)]
    pub(crate) cwe_ids: Vec<String>,
    #[serde(default)]
    pub(crate) database_severity: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSeverity {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) score: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReference {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) url: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPackage {
    pub(crate) ecosystem: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) purl: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAffected {
    pub(crate) package: RawPackage,
    #[serde(default)]
    pub(crate) ranges: Vec<RawRange>,
    #[serde(default)]
    pub(crate) versions: Vec<String>,
    #[serde(default)]
    pub(crate) severity: Vec<RawSeverity>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRange {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) repo: Option<String>,
    pub(crate) events: Vec<RawEvent>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEvent {
    #[serde(default)]
    pub(crate) introduced: Option<String>,
    #[serde(default)]
    pub(crate) fixed: Option<String>,
    #[serde(default)]
    pub(crate) last_affected: Option<String>,
    #[serde(default)]
    pub(crate) limit: Option<String>,
}

/// Reads a list of ids. Surrounding whitespace is not part of an id (real records carry
/// it: Drupal's `DRUPAL-CONTRIB-2026-040` lists `" CVE-2026-49977 "`); refusing the whole
/// record for it would lose every finding the record gives.
fn ids(field: &str, raw: Vec<String>) -> Result<Vec<AdvisoryId>, ModelError> {
    check_count(field, raw.len(), MAX_IDS)?;
    raw.into_iter()
        .enumerate()
        .map(|(i, s)| {
            let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
            let s = if t.len() == s.len() { s } else { t.to_owned() };
            AdvisoryId::new(s).map_err(|e| e.at(&format!("{field}[{i}]")))
        })
        .collect()
}

fn timestamp(field: &str, raw: Option<String>) -> Result<Option<Timestamp>, ModelError> {
    raw.map(|s| Timestamp::parse(&s).map_err(|e| e.at(field)))
        .transpose()
}

/// Empty free text carries nothing; folding it into `None` keeps one representation.
fn text(field: &str, raw: Option<String>, limit: usize) -> Result<Option<String>, ModelError> {
    match raw {
        Some(s) if !s.is_empty() => {
            check_len(field, &s, limit)?;
            Ok(Some(s))
        }
        _ => Ok(None),
    }
}

fn severities(field: &str, raw: Vec<RawSeverity>) -> Result<Vec<SeverityScore>, ModelError> {
    check_count(field, raw.len(), MAX_SEVERITIES)?;
    raw.into_iter()
        .enumerate()
        .map(|(i, s)| {
            SeverityScore::new(&s.kind, s.score).map_err(|e| e.at(&format!("{field}[{i}]")))
        })
        .collect()
}

fn affected_entry(raw: RawAffected) -> Result<Affected, ModelError> {
    let ecosystem: Ecosystem =
        raw.package
            .ecosystem
            .parse()
            .map_err(|source| ModelError::InvalidEcosystem {
                field: "package.ecosystem".into(),
                source,
            })?;
    let package =
        Package::new(ecosystem, raw.package.name, raw.package.purl).map_err(|e| e.at("package"))?;
    check_count("ranges", raw.ranges.len(), MAX_RANGES)?;
    let mut ranges = Vec::with_capacity(raw.ranges.len());
    for (i, r) in raw.ranges.into_iter().enumerate() {
        let at = format!("ranges[{i}]");
        check_count("events", r.events.len(), super::limits::MAX_EVENTS).map_err(|e| e.at(&at))?;
        let events = r
            .events
            .into_iter()
            .enumerate()
            .map(|(j, e)| {
                Event::from_keys(e.introduced, e.fixed, e.last_affected, e.limit)
                    .map_err(|err| err.at(&format!("events[{j}]")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.at(&at))?;
        ranges.push(Range::from_parts(&r.kind, r.repo, events).map_err(|e| e.at(&at))?);
    }
    let severity = severities("severity", raw.severity)?;
    Affected::new(package, ranges, raw.versions, severity)
}

impl TryFrom<RawAdvisory> for Advisory {
    type Error = ModelError;

    fn try_from(raw: RawAdvisory) -> Result<Advisory, ModelError> {
        let id = AdvisoryId::new(raw.id).map_err(|e| e.at("id"))?;
        let modified = Timestamp::parse(&raw.modified).map_err(|e| e.at("modified"))?;
        let severity = severities("severity", raw.severity)?;
        check_count("affected", raw.affected.len(), MAX_AFFECTED)?;
        let mut affected = Vec::with_capacity(raw.affected.len());
        for (i, a) in raw.affected.into_iter().enumerate() {
            let at = format!("affected[{i}]");
            let a = affected_entry(a).map_err(|e| e.at(&at))?;
            // The spec: if any package-level severity is set, the top level must not be.
            if !a.severity.is_empty() && !severity.is_empty() {
                return Err(ModelError::SeverityConflict { field: at });
            }
            affected.push(a);
        }
        check_count("references", raw.references.len(), MAX_REFERENCES)?;
        let references = raw
            .references
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                Reference::new(&r.kind, r.url).map_err(|e| e.at(&format!("references[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_count("cwe_ids", raw.cwe_ids.len(), MAX_CWES)?;
        for (i, c) in raw.cwe_ids.iter().enumerate() {
            check_token(&format!("cwe_ids[{i}]"), c, MAX_LABEL_LEN)?;
        }
        if let Some(s) = &raw.database_severity {
            check_token("database_severity", s, MAX_LABEL_LEN)?;
        }
        Ok(Advisory {
            id,
            modified,
            published: timestamp("published", raw.published)?,
            withdrawn: timestamp("withdrawn", raw.withdrawn)?,
            aliases: ids("aliases", raw.aliases)?,
            upstream: ids("upstream", raw.upstream)?,
            related: ids("related", raw.related)?,
            summary: text("summary", raw.summary, MAX_SUMMARY_LEN)?,
            details: text("details", raw.details, MAX_DETAILS_LEN)?,
            severity,
            affected,
            references,
            cwe_ids: raw.cwe_ids,
            database_severity: raw.database_severity,
        })
    }
}

/// PyPI names are compared PEP 503-normalised everywhere (FORMATS.md §3); doing it once on
/// ingest means the index and the matcher never disagree.
pub(crate) fn normalize_package_name(ecosystem: &str, name: String) -> String {
    let is_pypi = ecosystem
        .parse::<Ecosystem>()
        .is_ok_and(|e| *e.base() == BaseEcosystem::PyPI);
    if is_pypi {
        pep503_normalize(&name)
    } else {
        name
    }
}
