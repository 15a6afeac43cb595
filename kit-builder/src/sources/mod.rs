//! The feed sources a `kit.toml` names (`[[source]] kind = ...`).
//!
//! - [`osv`]: `{base_url}/{Ecosystem}/all.zip`, exactly as osv.dev publishes them.
//! - [`nvd`]: NVD API 2.0 CVE pages (CVSS v3.1 / v4.0 and descriptions for enrichment).
//! - [`oci`]: any OCI artifact by reference (the Trivy DB, the Java DB), kept byte for byte.
//! - [`dir`]: a local mirror directory (the OSV layout and/or an OCI image layout).
//!
//! Every failure is a [`SourceError`] whose message names the source:
//! `source "trivy-db" (oci ghcr.io/aquasecurity/trivy-db:2): blob sha256:… digest mismatch …`.

pub mod dir;
pub mod nvd;
pub mod oci;
pub mod osv;

use std::path::PathBuf;

use crate::fetch::FetchError;

/// A source failed. The message names the source, its kind and target, then the cause.
#[derive(Debug, thiserror::Error)]
#[error("source \"{name}\" ({kind} {target}): {error}")]
pub struct SourceError {
    /// The source's name in `kit.toml` (or its kind when it has none).
    pub name: String,
    /// `osv`, `nvd`, `oci` or `dir`.
    pub kind: &'static str,
    /// What it points at: a reference, URL or directory.
    pub target: String,
    /// The cause. Deliberately not `#[source]`: it is already part of the message, and
    /// `anyhow`'s `{:#}` would print it twice. Boxed to keep `Result`s small.
    pub error: Box<SourceErrorKind>,
}

/// The cause of a [`SourceError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceErrorKind {
    /// Downloading failed (HTTP status, retries exhausted, digest mismatch, not cached...).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A zip archive could not be read.
    #[error("{}: bad zip archive: {reason}", path.display())]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The zip reader's complaint.
        reason: String,
    },
    /// A zip entry has a name that could escape or is not a plain relative path.
    #[error("{}: refused zip entry {name:?}: {reason}", path.display())]
    UnsafeZipPath {
        /// The archive.
        path: PathBuf,
        /// The entry name as stored.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An archive or document exceeds one of the configured caps.
    #[error("{what} exceeds the limit: {actual} > {limit}")]
    Limit {
        /// What was counted (`zip entries`, `zip entry X uncompressed bytes`, ...).
        what: String,
        /// What was found (or at least how much was read).
        actual: u64,
        /// The cap.
        limit: u64,
    },
    /// A JSON document could not be parsed.
    #[error("{what}: invalid JSON: {reason}")]
    Json {
        /// Which document.
        what: String,
        /// The parser's message.
        reason: String,
    },
    /// The registry or the layout served something that is not a usable OCI artifact.
    #[error("{0}")]
    Oci(String),
    /// The registry demanded authentication the anonymous flow cannot satisfy.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The NVD API paging did not add up.
    #[error("NVD paging: {0}")]
    Paging(String),
    /// A local file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The source's configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
}

/// Who a [`SourceError`] is about; each source builds its errors through this.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    pub name: String,
    pub kind: &'static str,
    pub target: String,
}

impl Origin {
    pub(crate) fn err(&self, error: impl Into<SourceErrorKind>) -> SourceError {
        SourceError {
            name: self.name.clone(),
            kind: self.kind,
            target: self.target.clone(),
            error: Box::new(error.into()),
        }
    }
}
