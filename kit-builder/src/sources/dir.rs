//! `dir`: a local mirror directory — the OSV layout (`<dir>/<Ecosystem>/all.zip`, what
//! `osv` with a `file://` base URL reads) and/or an OCI image layout for an artifact.
use std::path::PathBuf;

use super::oci::{OciLimits, PulledArtifact, read_oci_layout};
use super::osv::{OsvDump, OsvSource, ZipLimits};
use super::{Origin, SourceError, SourceErrorKind};
use crate::fetch::Fetcher;

/// A `dir` source.
#[derive(Clone, Debug)]
pub struct DirSource {
    /// Name used in errors and the kit.
    pub name: String,
    /// The mirror directory.
    pub path: PathBuf,
    /// OSV ecosystems to take from `<path>/<Ecosystem>/all.zip`.
    pub ecosystems: Vec<String>,
    /// An OCI image layout below `path` to carry as an artifact.
    pub oci_layout: Option<DirLayout>,
    /// Caps on the OSV zips.
    pub zip_limits: ZipLimits,
    /// Caps on the artifact.
    pub oci_limits: OciLimits,
}

/// The OCI image layout of a [`DirSource`].
#[derive(Clone, Debug)]
pub struct DirLayout {
    /// The layout directory, relative to the source's `path`.
    pub path: PathBuf,
    /// The tag to take from it (default: its only manifest).
    pub tag: Option<String>,
    /// The repository name the appliance serves the artifact under (`trivy-db`).
    pub repository: String,
}

impl DirSource {
    fn origin(&self) -> Origin {
        Origin {
            name: self.name.clone(),
            kind: "dir",
            target: self.path.display().to_string(),
        }
    }

    /// The directory seen as an OSV source (`file://` base URL).
    pub fn as_osv(&self) -> Result<OsvSource, SourceError> {
        let abs = std::path::absolute(&self.path).map_err(|source| {
            self.origin().err(SourceErrorKind::Io {
                path: self.path.clone(),
                source,
            })
        })?;
        let url = reqwest::Url::from_directory_path(&abs).map_err(|()| {
            self.origin()
                .err(SourceErrorKind::Config("not an absolute directory".into()))
        })?;
        Ok(OsvSource {
            name: self.name.clone(),
            base_url: url.to_string(),
            ecosystems: self.ecosystems.clone(),
            limits: self.zip_limits,
        })
    }

    /// The OSV dumps found in the directory (read in place).
    pub fn osv_dumps(&self, fetcher: &Fetcher) -> Result<Vec<OsvDump>, SourceError> {
        if self.ecosystems.is_empty() {
            return Ok(Vec::new());
        }
        self.as_osv()?.fetch(fetcher).map_err(|mut e| {
            e.kind = "dir";
            e.target = self.path.display().to_string();
            e
        })
    }

    /// The OCI artifact in the layout, verified; `None` if no layout is configured.
    pub fn artifact(&self) -> Result<Option<PulledArtifact>, SourceError> {
        let Some(layout) = &self.oci_layout else {
            return Ok(None);
        };
        read_oci_layout(
            &self.path.join(&layout.path),
            layout.tag.as_deref(),
            &layout.repository,
            &self.oci_limits,
        )
        .map(Some)
        .map_err(|e| self.origin().err(e))
    }
}
