//! The matcher of Stella Ops Offline: SBOM in, findings out.
//!
//! Everything between "bytes of an SBOM" and "sorted findings with a digest" lives here,
//! and nothing else: no HTTP, no storage, no policy, no async runtime (the crate depends
//! on [`bundles`] for the canonical advisory model only). The appliance wraps it in its
//! service layer; its tests, benches and fuzz targets build alone.
//!
//! - [`sbom`]: CycloneDX / SPDX / Syft JSON parsing into components, and purl →
//!   ecosystem mapping ([`sbom::purl`]).
//! - [`versions`]: one version ordering per ecosystem (SemVer, PEP 440, Maven, RubyGems,
//!   Composer, NuGet, Go, dpkg, RPM, apk).
//! - [`index`]: the active kit's advisories keyed for the hot path ([`index::AdvisoryIndex`]).
//! - [`engine`]: the matcher (components + index → findings, records of one
//!   vulnerability merged), [`severity`]: CVSS / database ratings.
//!
//! The finding it produces ([`Finding`]) and its vocabulary (severity, counts, verdict,
//! canonical JSON and digest) are [`bundles::model`]'s, shared with the service, the
//! console and the CI client.
//! - [`loader`]: the [`Scanner`] trait (the plug-in boundary the service calls) and
//!   [`load_engine`], which builds the default engine over an unpacked kit.
//!
//! ```
//! use std::sync::Arc;
//! use bundles::model::Advisory;
//! use scanner::{Engine, index::AdvisoryIndex, sbom};
//!
//! let adv = Advisory::from_osv_json(br#"{"id": "GHSA-xvch-5gv4-984h",
//!   "modified": "2024-01-01T00:00:00Z",
//!   "affected": [{"package": {"ecosystem": "npm", "name": "minimist"},
//!                 "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.6"}]}]}]}"#)?;
//! let engine = Engine::new(Arc::new(AdvisoryIndex::from_advisories([adv])));
//! let bom = sbom::parse(
//!     br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[
//!       {"type":"library","name":"minimist","version":"1.2.5","purl":"pkg:npm/minimist@1.2.5"}]}"#,
//!     &sbom::SbomLimits::default(),
//! )?;
//! let out = engine.scan(&bom);
//! assert_eq!(out.findings.len(), 1);
//! assert_eq!(out.findings[0].id, "GHSA-xvch-5gv4-984h");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod engine;
pub mod index;
pub mod loader;
pub mod sbom;
pub mod severity;
pub mod versions;

pub use bundles::model::{Finding, Severity, findings_digest};
pub use engine::{ENGINE_VERSION, Engine, ScanOutcome};
pub use loader::{Scanner, load_engine};
