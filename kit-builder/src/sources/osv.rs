//! OSV dumps: `{base_url}/{Ecosystem}/all.zip` per ecosystem (FORMATS.md §3).
//!
//! The zip is untrusted input: entry count, per-entry and total uncompressed sizes are
//! capped ([`ZipLimits`]), sizes are enforced on the bytes actually inflated (not on what
//! the central directory claims), and entry names with `..`, absolute paths or backslashes
//! are refused. Every `*.json` entry is yielded as a raw [`OsvDocument`];
//! [`collect_advisories`] turns them into the canonical model.
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use bundles::model::Advisory;

use super::{Origin, SourceError, SourceErrorKind};
use crate::fetch::Fetcher;

/// Caps on one `all.zip`. The defaults are several times the largest real dump.
#[derive(Clone, Copy, Debug)]
pub struct ZipLimits {
    /// Largest download (compressed) in bytes.
    pub max_download_bytes: u64,
    /// Most entries in the archive.
    pub max_entries: usize,
    /// Largest uncompressed entry in bytes (an OSV record; matches the model's cap).
    pub max_entry_bytes: u64,
    /// Largest total of uncompressed bytes read from the archive.
    pub max_total_bytes: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_download_bytes: 4 << 30,
            max_entries: 2_000_000,
            max_entry_bytes: bundles::model::limits::MAX_ADVISORY_JSON_BYTES as u64,
            max_total_bytes: 16 << 30,
        }
    }
}

/// One `*.json` file from an OSV dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsvDocument {
    /// The ecosystem whose dump held it.
    pub ecosystem: String,
    /// The entry's file name (`GHSA-xxxx.json`).
    pub file_name: String,
    /// The raw JSON.
    pub bytes: Vec<u8>,
}

/// An `osv` source: `{base_url}/{Ecosystem}/all.zip` for each listed ecosystem.
#[derive(Clone, Debug)]
pub struct OsvSource {
    /// Name used in error messages and the kit summary.
    pub name: String,
    /// `https://osv-vulnerabilities.storage.googleapis.com`, a mirror, or `file:///dir`.
    pub base_url: String,
    /// OSV ecosystem names exactly as published (`PyPI`, `npm`, `Debian`, `crates.io`).
    pub ecosystems: Vec<String>,
    /// Caps on each dump.
    pub limits: ZipLimits,
}

/// A downloaded dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsvDump {
    /// The ecosystem.
    pub ecosystem: String,
    /// The URL it came from.
    pub url: String,
    /// The local `all.zip` (in the cache, or in place for `file://`).
    pub path: PathBuf,
}

impl OsvSource {
    fn origin(&self) -> Origin {
        Origin {
            name: self.name.clone(),
            kind: "osv",
            target: self.base_url.clone(),
        }
    }

    /// The URL of one ecosystem's dump. Ecosystem names are path segments, so they are
    /// percent-encoded (`Red Hat` → `Red%20Hat`) and may not contain `/`.
    pub fn dump_url(&self, ecosystem: &str) -> Result<String, SourceError> {
        if ecosystem.is_empty() || ecosystem.contains('/') || ecosystem == ".." || ecosystem == "."
        {
            return Err(self.origin().err(SourceErrorKind::Config(format!(
                "invalid ecosystem name {ecosystem:?}"
            ))));
        }
        let mut url = reqwest::Url::parse(&format!("{}/", self.base_url.trim_end_matches('/')))
            .map_err(|e| {
                self.origin()
                    .err(SourceErrorKind::Config(format!("base_url: {e}")))
            })?;
        url.path_segments_mut()
            .map_err(|()| {
                self.origin()
                    .err(SourceErrorKind::Config("base_url cannot be a base".into()))
            })?
            .pop_if_empty()
            .push(ecosystem)
            .push("all.zip");
        Ok(url.to_string())
    }

    /// Downloads (or revalidates in the cache) every listed ecosystem's `all.zip`.
    pub fn fetch(&self, fetcher: &Fetcher) -> Result<Vec<OsvDump>, SourceError> {
        if self.ecosystems.is_empty() {
            return Err(self
                .origin()
                .err(SourceErrorKind::Config("no ecosystems listed".into())));
        }
        self.ecosystems
            .iter()
            .map(|eco| {
                let url = self.dump_url(eco)?;
                let path = fetcher
                    .fetch_url(&url, self.limits.max_download_bytes)
                    .map_err(|e| self.origin().err(e))?;
                Ok(OsvDump {
                    ecosystem: eco.clone(),
                    url,
                    path,
                })
            })
            .collect()
    }

    /// Opens one fetched dump for reading.
    pub fn open(&self, dump: &OsvDump) -> Result<OsvZipReader, SourceError> {
        OsvZipReader::open(&dump.path, &dump.ecosystem, self.limits)
            .map_err(|e| self.origin().err(e))
    }
}

/// Reads the `*.json` entries of one `all.zip`, bounded by [`ZipLimits`].
pub struct OsvZipReader {
    archive: zip::ZipArchive<File>,
    path: PathBuf,
    ecosystem: String,
    limits: ZipLimits,
    next: usize,
    total: u64,
}

impl std::fmt::Debug for OsvZipReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsvZipReader")
            .field("path", &self.path)
            .field("entries", &self.archive.len())
            .field("next", &self.next)
            .finish()
    }
}

/// Checks a zip entry name: a relative path of plain components with forward slashes.
fn check_entry_name(name: &str) -> Result<(), &'static str> {
    if name.contains('\\') {
        return Err("backslash in name");
    }
    if name.contains('\0') {
        return Err("NUL in name");
    }
    if name.starts_with('/') {
        return Err("absolute path");
    }
    if name.split('/').any(|c| c == "..") {
        return Err("parent directory component (..)");
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return Err("drive-letter path");
    }
    Ok(())
}

impl OsvZipReader {
    /// Opens `path` (the dump of `ecosystem`) and checks the entry count and names up front,
    /// so a hostile archive is refused before anything is inflated.
    pub fn open(
        path: &Path,
        ecosystem: &str,
        limits: ZipLimits,
    ) -> Result<OsvZipReader, SourceErrorKind> {
        let file = File::open(path).map_err(|source| SourceErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let archive = zip::ZipArchive::new(file).map_err(|e| SourceErrorKind::Zip {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if archive.len() > limits.max_entries {
            return Err(SourceErrorKind::Limit {
                what: format!("{}: zip entries", path.display()),
                actual: archive.len() as u64,
                limit: limits.max_entries as u64,
            });
        }
        for name in archive.file_names() {
            let name = name.map_err(|e| SourceErrorKind::Zip {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            check_entry_name(&name).map_err(|reason| SourceErrorKind::UnsafeZipPath {
                path: path.to_path_buf(),
                name: name.to_string(),
                reason,
            })?;
        }
        Ok(OsvZipReader {
            archive,
            path: path.to_path_buf(),
            ecosystem: ecosystem.to_string(),
            limits,
            next: 0,
            total: 0,
        })
    }

    /// Number of entries (JSON or not) in the archive.
    pub fn len(&self) -> usize {
        self.archive.len()
    }

    /// True when the archive has no entries.
    pub fn is_empty(&self) -> bool {
        self.archive.len() == 0
    }

    fn read_entry(&mut self, index: usize) -> Result<Option<OsvDocument>, SourceErrorKind> {
        let zip_err = |e: zip::result::ZipError, path: &Path| SourceErrorKind::Zip {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let entry = self
            .archive
            .by_index(index)
            .map_err(|e| zip_err(e, &self.path))?;
        let name = entry
            .name()
            .map_err(|e| zip_err(e, &self.path))?
            .to_string();
        if entry.is_dir() || !name.ends_with(".json") {
            return Ok(None);
        }
        let declared = entry.size();
        let cap = self.limits.max_entry_bytes;
        if declared > cap {
            return Err(SourceErrorKind::Limit {
                what: format!(
                    "{}: zip entry {name} uncompressed bytes",
                    self.path.display()
                ),
                actual: declared,
                limit: cap,
            });
        }
        // The declared size is only a hint from the attacker: read at most cap+1 bytes.
        let mut bytes = Vec::with_capacity(declared.min(cap) as usize);
        entry
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| SourceErrorKind::Zip {
                path: self.path.clone(),
                reason: format!("entry {name}: {e}"),
            })?;
        let read = bytes.len() as u64;
        if read > cap {
            return Err(SourceErrorKind::Limit {
                what: format!(
                    "{}: zip entry {name} uncompressed bytes",
                    self.path.display()
                ),
                actual: read,
                limit: cap,
            });
        }
        self.total += read;
        if self.total > self.limits.max_total_bytes {
            return Err(SourceErrorKind::Limit {
                what: format!("{}: total uncompressed bytes", self.path.display()),
                actual: self.total,
                limit: self.limits.max_total_bytes,
            });
        }
        let file_name = name.rsplit('/').next().unwrap_or(&name).to_string();
        Ok(Some(OsvDocument {
            ecosystem: self.ecosystem.clone(),
            file_name,
            bytes,
        }))
    }
}

impl Iterator for OsvZipReader {
    type Item = Result<OsvDocument, SourceErrorKind>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.next < self.archive.len() {
            let index = self.next;
            self.next += 1;
            match self.read_entry(index) {
                Ok(Some(doc)) => return Some(Ok(doc)),
                Ok(None) => continue,
                Err(e) => {
                    // A limit or corruption ends the archive: do not keep inflating.
                    self.next = self.archive.len();
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// The result of turning raw OSV documents into advisories.
#[derive(Debug, Default)]
pub struct OsvCollection {
    /// Valid, not withdrawn, one per id (the newest `modified` wins), sorted by id.
    pub advisories: Vec<Advisory>,
    /// Documents the model refused: `(ecosystem/file name, reason)`. Reported, not fatal,
    /// so one odd upstream record does not stop the nightly kit.
    pub rejected: Vec<(String, String)>,
    /// How many withdrawn advisories were dropped.
    pub withdrawn: usize,
    /// How many older duplicates were dropped.
    pub duplicates: usize,
}

/// Parses documents with [`Advisory::from_osv_json`], drops those withdrawn at `now`, and
/// de-duplicates by id keeping the newest `modified` (ties keep the first seen).
pub fn collect_advisories<I>(documents: I, now: time::OffsetDateTime) -> OsvCollection
where
    I: IntoIterator<Item = OsvDocument>,
{
    let mut out = OsvCollection::default();
    let mut by_id: BTreeMap<String, Advisory> = BTreeMap::new();
    for doc in documents {
        let adv = match Advisory::from_osv_json(&doc.bytes) {
            Ok(a) => a,
            Err(e) => {
                let what = format!("{}/{}", doc.ecosystem, doc.file_name);
                tracing::warn!(document = %what, error = %e, "OSV record refused");
                out.rejected.push((what, e.to_string()));
                continue;
            }
        };
        if adv.is_withdrawn(now) {
            out.withdrawn += 1;
            continue;
        }
        let id = adv.id().as_str().to_string();
        match by_id.get(&id) {
            Some(prev) if prev.modified().datetime() >= adv.modified().datetime() => {
                out.duplicates += 1
            }
            Some(_) => {
                out.duplicates += 1;
                by_id.insert(id, adv);
            }
            None => {
                by_id.insert(id, adv);
            }
        }
    }
    out.advisories = by_id.into_values().collect();
    out
}

#[cfg(test)]
mod tests {
    use super::check_entry_name;

    #[test]
    fn entry_names() {
        assert!(check_entry_name("GHSA-1.json").is_ok());
        assert!(check_entry_name("sub/GHSA-1.json").is_ok());
        assert_eq!(
            check_entry_name("../x.json"),
            Err("parent directory component (..)")
        );
        assert_eq!(
            check_entry_name("a/../../x.json"),
            Err("parent directory component (..)")
        );
        assert_eq!(check_entry_name("/etc/x.json"), Err("absolute path"));
        assert_eq!(check_entry_name("a\\..\\x.json"), Err("backslash in name"));
        assert_eq!(check_entry_name("C:x.json"), Err("drive-letter path"));
    }
}
