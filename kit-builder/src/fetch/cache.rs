//! The download cache.
//!
//! ```text
//! <root>/blobs/sha256/<hex>      verified blobs and manifests (the OCI image-layout blob store)
//! <root>/partial/sha256-<hex>    a blob download in progress (resumed with Range)
//! <root>/urls/<key>              a complete URL download; <key> = sha256 of the URL
//! <root>/urls/<key>.json         its record: URL, size, SHA-256, ETag, Last-Modified
//! <root>/urls/<key>.part[.json]  a URL download in progress and its validator
//! <root>/refs/<key>.json         an OCI tag resolved to a manifest digest; <key> = sha256 of the reference
//! ```
//! Everything is written to a temporary name and renamed, so a crash never leaves a file
//! that looks complete but is not.
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::FetchError;
use super::http::sha256_file;

/// What the cache knows about a completed URL download.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UrlRecord {
    /// The URL.
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// `sha256:<hex>` of the content.
    pub sha256: String,
    /// The `ETag` the server sent, for revalidation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The `Last-Modified` the server sent, for revalidation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// A resolved OCI tag: which manifest it named when last pulled online.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct RefRecord {
    pub reference: String,
    pub digest: String,
    pub media_type: String,
}

/// The download cache rooted at one directory (see the module docs for the layout).
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

/// The hex part of a `sha256:<64 hex>` digest, or `None` if it is not one. Checked before a
/// digest ever becomes part of a path.
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

fn key(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Cache {
    /// Opens (creating if needed) a cache at `root`.
    pub fn open(root: PathBuf) -> Result<Cache, FetchError> {
        for sub in ["blobs/sha256", "partial", "urls", "refs"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| FetchError::io(&dir, e))?;
        }
        Ok(Cache { root })
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the verified blob `digest` lives (whether or not it exists yet).
    pub fn blob_path(&self, digest: &str) -> Option<PathBuf> {
        sha256_hex(digest).map(|hex| self.root.join("blobs/sha256").join(hex))
    }

    pub(crate) fn blob_partial_path(&self, digest: &str) -> Option<PathBuf> {
        sha256_hex(digest).map(|hex| self.root.join("partial").join(format!("sha256-{hex}")))
    }

    /// The cached blob if it exists and still has the right size and digest. A corrupt copy
    /// is deleted (so it gets downloaded again) rather than trusted.
    pub(crate) fn verified_blob(
        &self,
        digest: &str,
        size: u64,
    ) -> Result<Option<PathBuf>, FetchError> {
        let Some(path) = self.blob_path(digest) else {
            return Err(FetchError::DigestMismatch {
                what: "blob",
                expected: digest.to_string(),
                actual: "(not a sha256 digest)".into(),
            });
        };
        let Ok(meta) = fs::metadata(&path) else {
            return Ok(None);
        };
        if meta.len() == size && sha256_file(&path)? == digest {
            return Ok(Some(path));
        }
        tracing::warn!(path = %path.display(), "cached blob is corrupt; downloading it again");
        fs::remove_file(&path).map_err(|e| FetchError::io(&path, e))?;
        Ok(None)
    }

    /// Stores `bytes` as a verified blob under its own digest and returns the path.
    pub fn put_blob_bytes(&self, bytes: &[u8]) -> Result<(String, PathBuf), FetchError> {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        let path = self
            .blob_path(&digest)
            .ok_or_else(|| FetchError::Client("internal: computed digest is not sha256".into()))?;
        write_atomic(&path, bytes)?;
        Ok((digest, path))
    }

    pub(crate) fn url_paths(&self, url: &str) -> (PathBuf, PathBuf) {
        let k = key(url);
        let dir = self.root.join("urls");
        (dir.join(&k), dir.join(format!("{k}.json")))
    }

    pub(crate) fn url_record(&self, url: &str) -> Option<UrlRecord> {
        let (_, rec) = self.url_paths(url);
        let bytes = fs::read(rec).ok()?;
        serde_json::from_slice::<UrlRecord>(&bytes)
            .ok()
            .filter(|r| r.url == url)
    }

    pub(crate) fn put_url_record(&self, record: &UrlRecord) -> Result<(), FetchError> {
        let (_, rec) = self.url_paths(&record.url);
        let bytes =
            serde_json::to_vec_pretty(record).map_err(|e| FetchError::io(&rec, e.into()))?;
        write_atomic(&rec, &bytes)
    }

    /// Offline: the cached copy of `url`, checked against its record.
    pub(crate) fn cached_url(&self, url: &str) -> Result<PathBuf, FetchError> {
        let not_cached = || FetchError::NotCached {
            what: url.to_string(),
            cache: self.root.clone(),
        };
        let record = self.url_record(url).ok_or_else(not_cached)?;
        let (body, _) = self.url_paths(url);
        if !body.is_file() {
            return Err(not_cached());
        }
        let actual = sha256_file(&body)?;
        if actual != record.sha256 {
            return Err(FetchError::DigestMismatch {
                what: "cached download",
                expected: record.sha256,
                actual,
            });
        }
        Ok(body)
    }

    pub(crate) fn ref_record(&self, reference: &str) -> Option<RefRecord> {
        let path = self
            .root
            .join("refs")
            .join(format!("{}.json", key(reference)));
        let bytes = fs::read(path).ok()?;
        serde_json::from_slice::<RefRecord>(&bytes)
            .ok()
            .filter(|r| r.reference == reference)
    }

    pub(crate) fn put_ref_record(&self, record: &RefRecord) -> Result<(), FetchError> {
        let path = self
            .root
            .join("refs")
            .join(format!("{}.json", key(&record.reference)));
        let bytes =
            serde_json::to_vec_pretty(record).map_err(|e| FetchError::io(&path, e.into()))?;
        write_atomic(&path, &bytes)
    }
}

/// Writes through a temporary file in the same directory and renames it into place.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    let tmp = path.with_extension("tmp-write");
    let mut f = fs::File::create(&tmp).map_err(|e| FetchError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| FetchError::io(&tmp, e))?;
    f.sync_all().map_err(|e| FetchError::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| FetchError::io(path, e))
}
