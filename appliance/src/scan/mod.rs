//! The scan engine: SBOM in, findings out.
//!
//! - [`sbom`]: CycloneDX / SPDX / Syft JSON parsing into components keyed by purl.
//! - [`versions`]: one version ordering per ecosystem.
//! - [`engine`]: the matcher (components + advisory index → findings), [`findings`]: the
//!   finding JSON and its digest, [`severity`]: CVSS / database ratings.

pub mod engine;
pub mod findings;
pub mod sbom;
pub mod severity;
pub mod versions;
