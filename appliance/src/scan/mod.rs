//! The scan engine: SBOM in, findings out.
//!
//! - [`sbom`]: CycloneDX / SPDX / Syft JSON parsing into components keyed by purl.
//! - [`versions`]: one version ordering per ecosystem.

pub mod sbom;
pub mod versions;
