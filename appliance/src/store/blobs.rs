//! Content-addressed, zstd-compressed SBOM files: `DATA/blobs/sha256/ab/<hex>.zst`.
//!
//! Files are written to a temporary name in the same directory, fsynced, then renamed, so
//! a reader or a crash sees either no blob or the whole blob. Reads verify the digest, so
//! a damaged file is reported instead of served.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::MAX_SBOM_BYTES;
use super::error::{StoreError, StoreResult};
use super::types::Sha256Digest;

/// zstd level 3: zstd's default, ~10x on JSON SBOMs at hundreds of MB/s.
const ZSTD_LEVEL: i32 = 3;

pub(crate) struct BlobDir {
    root: PathBuf,
}

impl BlobDir {
    pub(crate) fn open(root: PathBuf) -> StoreResult<Self> {
        fs::create_dir_all(&root).map_err(|e| StoreError::io("create directory", &root, e))?;
        Ok(Self { root })
    }

    fn path_of(&self, d: &Sha256Digest) -> (PathBuf, PathBuf) {
        let hex = d.hex();
        let dir = self.root.join(&hex[..2]);
        let file = dir.join(format!("{hex}.zst"));
        (dir, file)
    }

    pub(crate) fn put(&self, bytes: &[u8]) -> StoreResult<Sha256Digest> {
        if bytes.len() > MAX_SBOM_BYTES {
            return Err(StoreError::TooLarge {
                what: "SBOM",
                limit: MAX_SBOM_BYTES as u64,
                actual: bytes.len() as u64,
            });
        }
        let digest = Sha256Digest::of(bytes);
        let (dir, file) = self.path_of(&digest);
        if file.is_file() {
            // Content-addressed: an existing file with this name already holds these bytes
            // (get() verifies that on every read).
            return Ok(digest);
        }
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("create directory", &dir, e))?;
        let compressed = zstd::bulk::compress(bytes, ZSTD_LEVEL)
            .map_err(|e| StoreError::io("compress SBOM", &file, e))?;
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|e| StoreError::Random(e.to_string()))?;
        let tmp = dir.join(format!(".{}.{}.tmp", digest.hex(), hex::encode(suffix)));
        let res = write_synced(&tmp, &compressed).and_then(|()| {
            fs::rename(&tmp, &file).map_err(|e| StoreError::io("rename blob into place", &file, e))
        });
        if res.is_err() {
            // Best effort: a leftover temp file is harmless (never read) but wastes space.
            let _ = fs::remove_file(&tmp);
        }
        res?;
        sync_dir(&dir)?;
        Ok(digest)
    }

    pub(crate) fn get(&self, digest: &Sha256Digest) -> StoreResult<Option<Vec<u8>>> {
        let (_, file) = self.path_of(digest);
        let f = match File::open(&file) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("open blob", &file, e)),
        };
        let corrupt = |reason: String| StoreError::CorruptBlob {
            digest: digest.to_string(),
            reason,
        };
        let decoder = zstd::stream::read::Decoder::new(f)
            .map_err(|e| StoreError::io("open blob decoder", &file, e))?;
        // A damaged or planted file must not make us allocate without bound.
        let mut out = Vec::new();
        decoder
            .take(MAX_SBOM_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| corrupt(format!("zstd decode of {}: {e}", file.display())))?;
        if out.len() > MAX_SBOM_BYTES {
            return Err(corrupt(format!(
                "decodes to more than {MAX_SBOM_BYTES} bytes"
            )));
        }
        let actual = Sha256Digest::of(&out);
        if actual != *digest {
            return Err(corrupt(format!("content hashes to {actual}")));
        }
        Ok(Some(out))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> StoreResult<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| StoreError::io("create blob", path, e))?;
    f.write_all(bytes)
        .map_err(|e| StoreError::io("write blob", path, e))?;
    f.sync_all()
        .map_err(|e| StoreError::io("fsync blob", path, e))
}

/// Makes a rename durable: the directory entry is only on disk once the directory is synced.
pub(crate) fn sync_dir(dir: &Path) -> StoreResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("fsync directory", dir, e))
}
