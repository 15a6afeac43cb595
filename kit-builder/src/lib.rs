//! `stella-kit` as a library: the connected side that snapshots feeds into an Offline Update Kit.
//!
//! - [`fetch`]: the network layer — a blocking HTTP client with timeouts, retries with
//!   exponential backoff (honouring `Retry-After`), resumable downloads and a content-keyed
//!   download cache that also serves an offline rebuild.
//! - [`config`]: the `kit.toml` schema and its validation.
//! - [`build`]: the build itself — advisories, OCI artifacts, tokens, the signed kit.
//! - [`sources`]: the feed sources named in `kit.toml` — OSV dumps (`osv`), NVD 2.0 pages
//!   (`nvd`), OCI artifacts such as the Trivy DB (`oci`) and local mirrors (`dir`).
//!
//! ```
//! use kit_builder::sources::oci::Reference;
//! let r: Reference = "ghcr.io/aquasecurity/trivy-db:2".parse().expect("valid reference");
//! assert_eq!(r.repository(), "aquasecurity/trivy-db");
//! ```
#![forbid(unsafe_code)]

pub mod build;
pub mod config;
pub mod fetch;
pub mod sources;
