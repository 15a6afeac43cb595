//! The canonical advisory schema carried in kits (OSV-based, FORMATS.md §3).
//!
//! Shared by the producer (kit-builder: OSV JSON in → [`Advisory`] → canonical JSONL), the
//! importer (validates it) and the `scanner` crate (indexes it and evaluates ranges with
//! [`Affected::affects`]). Serde and validation only, no file or network I/O.
//!
//! Every value of these types is valid: the lenient OSV reader and the strict canonical
//! reader share one validation path (ids, RFC 3339 timestamps, OSV event rules, size caps
//! from [`limits`]), and fields are reachable only through accessors.
//!
//! ```
//! use std::cmp::Ordering;
//! use bundles::model::{Advisory, Orderings};
//!
//! let osv = br#"{
//!   "id": "GHSA-xxxx-yyyy-zzzz", "modified": "2024-03-01T12:00:00Z",
//!   "aliases": ["CVE-2024-0001"],
//!   "database_specific": {"severity": "HIGH", "cwe_ids": ["CWE-79"]},
//!   "affected": [{"package": {"ecosystem": "npm", "name": "demo"},
//!                 "ranges": [{"type": "ECOSYSTEM",
//!                             "events": [{"introduced": "0"}, {"fixed": "2"}]}]}]
//! }"#;
//! let adv = Advisory::from_osv_json(osv)?;
//! assert_eq!(adv.database_severity(), Some("HIGH"));
//!
//! // The kit stores the canonical form; reading it back gives the same advisory.
//! let line = adv.to_canonical_json();
//! assert_eq!(Advisory::from_canonical_json(&line)?, adv);
//!
//! // Range evaluation is generic over the ecosystem's version ordering.
//! let int = |a: &str, b: &str| Some(a.parse::<u32>().ok()?.cmp(&b.parse::<u32>().ok()?));
//! let orderings = Orderings { semver: &int, ecosystem: &int };
//! assert!(adv.affected()[0].affects("1", orderings));
//! assert!(!adv.affected()[0].affects("2", orderings));
//! # Ok::<(), bundles::model::ModelError>(())
//! ```

mod advisory;
mod canonical;
pub mod ecosystem;
mod error;
pub mod finding;
pub mod limits;
mod osv;
mod range;
#[cfg(test)]
mod tests;
mod types;

pub use advisory::{Advisory, Affected, IndexParts, Package, pep503_normalize};
pub use canonical::{
    JsonlReader, NonIntegerNumber, canonical_json, canonical_json_integers, to_canonical_json,
    write_jsonl,
};
pub use ecosystem::{BaseEcosystem, Ecosystem, InvalidEcosystem, VersionScheme};
pub use error::ModelError;
pub use finding::{
    Cvss, CvssVersion, Finding, FindingPackage, InvalidSeverity, Severity, SeverityCounts, Verdict,
    canonical_order, digest_of_canonical, findings_digest, findings_json,
};
pub use range::{Evaluation, Event, Events, Orderings, Range, RangeKind, RepoUrl, VersionOrdering};
pub use types::{
    AdvisoryId, Reference, ReferenceKind, ScoreKind, SeverityScore, Timestamp, parse_rfc3339,
    rfc3339,
};
