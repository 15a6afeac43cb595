//! The lenient OSV reader: real feed records in, validated [`Advisory`] out.
//!
//! Lenient where the real data is: unknown fields are ignored (`credits`,
//! `ecosystem_specific`, `schema_version`, …), `null` is accepted wherever a field is
//! optional, `database_specific` of any shape is tolerated, affected entries without a
//! `package` (GIT-only entries, allowed since OSV 1.6) are dropped because they can never
//! match a package. Strict where the spec is: `id` and `modified` are required, events
//! follow the spec's rules, and everything goes through the same validation as the
//! canonical form.
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::advisory::{
    Advisory, RawAdvisory, RawAffected, RawEvent, RawPackage, RawRange, RawReference, RawSeverity,
    normalize_package_name,
};
use super::error::ModelError;
use super::limits::MAX_ADVISORY_JSON_BYTES;

#[derive(Deserialize)]
struct OsvRecord {
    id: String,
    modified: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default)]
    upstream: Option<Vec<String>>,
    #[serde(default)]
    related: Option<Vec<String>>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    severity: Option<Vec<OsvSeverity>>,
    #[serde(default)]
    affected: Option<Vec<OsvAffected>>,
    #[serde(default)]
    references: Option<Vec<OsvReference>>,
    #[serde(default)]
    database_specific: Option<Lenient<OsvDatabaseSpecific>>,
}

/// A value of the expected shape, or anything else (ignored). For `database_specific`,
/// whose content each database defines as it likes.
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Known(T),
    Other(IgnoredAny),
}

impl<T> Lenient<T> {
    fn known(self) -> Option<T> {
        match self {
            Lenient::Known(t) => Some(t),
            Lenient::Other(_) => None,
        }
    }
}

#[derive(Deserialize)]
struct OsvDatabaseSpecific {
    #[serde(default)]
    severity: Option<Lenient<String>>,
    #[serde(default)]
    cwe_ids: Option<Lenient<Vec<String>>>,
}

#[derive(Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct OsvReference {
    #[serde(rename = "type")]
    kind: String,
    url: String,
}

#[derive(Deserialize)]
struct OsvAffected {
    #[serde(default)]
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Option<Vec<OsvRange>>,
    #[serde(default)]
    versions: Option<Vec<String>>,
    #[serde(default)]
    severity: Option<Vec<OsvSeverity>>,
}

#[derive(Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    repo: Option<String>,
    events: Vec<OsvEvent>,
}

#[derive(Deserialize)]
struct OsvEvent {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

fn severities(raw: Option<Vec<OsvSeverity>>) -> Vec<RawSeverity> {
    raw.unwrap_or_default()
        .into_iter()
        .map(|s| RawSeverity {
            kind: s.kind,
            score: s.score,
        })
        .collect()
}

impl From<OsvRecord> for RawAdvisory {
    fn from(r: OsvRecord) -> RawAdvisory {
        let db = r.database_specific.and_then(Lenient::known);
        let (database_severity, cwe_ids) = match db {
            Some(d) => (
                d.severity
                    .and_then(Lenient::known)
                    .filter(|s| !s.is_empty()),
                d.cwe_ids.and_then(Lenient::known).unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        };
        let affected = r
            .affected
            .unwrap_or_default()
            .into_iter()
            .filter_map(|a| {
                let p = a.package?;
                let name = normalize_package_name(&p.ecosystem, p.name);
                Some(RawAffected {
                    package: RawPackage {
                        ecosystem: p.ecosystem,
                        name,
                        purl: p.purl.filter(|s| !s.is_empty()),
                    },
                    ranges: a
                        .ranges
                        .unwrap_or_default()
                        .into_iter()
                        .map(|rg| RawRange {
                            kind: rg.kind,
                            repo: rg.repo,
                            events: rg
                                .events
                                .into_iter()
                                .map(|e| RawEvent {
                                    introduced: e.introduced,
                                    fixed: e.fixed,
                                    last_affected: e.last_affected,
                                    limit: e.limit,
                                })
                                .collect(),
                        })
                        .collect(),
                    versions: a.versions.unwrap_or_default(),
                    severity: severities(a.severity),
                })
            })
            .collect();
        RawAdvisory {
            id: r.id,
            modified: r.modified,
            published: r.published,
            withdrawn: r.withdrawn,
            aliases: r.aliases.unwrap_or_default(),
            upstream: r.upstream.unwrap_or_default(),
            related: r.related.unwrap_or_default(),
            summary: r.summary,
            details: r.details,
            severity: severities(r.severity),
            affected,
            references: r
                .references
                .unwrap_or_default()
                .into_iter()
                .map(|x| RawReference {
                    kind: x.kind,
                    url: x.url,
                })
                .collect(),
            cwe_ids,
            database_severity,
        }
    }
}

impl Advisory {
    /// Parses one OSV record (an `<ID>.json` file of an OSV dump).
    ///
    /// ```
    /// let adv = bundles::model::Advisory::from_osv_json(br#"{
    ///   "id": "PYSEC-0000-1", "modified": "2024-05-01T10:00:00+02:00",
    ///   "some_future_field": {"ignored": true},
    ///   "affected": [{"package": {"ecosystem": "PyPI", "name": "Foo_Bar.baz"},
    ///                 "versions": ["1.0"]}]
    /// }"#).expect("valid record");
    /// assert_eq!(adv.modified().as_str(), "2024-05-01T08:00:00Z");
    /// assert_eq!(adv.affected()[0].package().name(), "foo-bar-baz");
    /// ```
    pub fn from_osv_json(bytes: &[u8]) -> Result<Advisory, ModelError> {
        if bytes.len() > MAX_ADVISORY_JSON_BYTES {
            return Err(ModelError::InputTooLarge {
                what: "OSV record",
                actual: bytes.len(),
                limit: MAX_ADVISORY_JSON_BYTES,
            });
        }
        let record: OsvRecord =
            serde_json::from_slice(bytes).map_err(|source| ModelError::Json { source })?;
        Advisory::try_from(RawAdvisory::from(record))
    }
}
