//! The deterministic kit writer (`docs/ouk-format.md` §8).
//!
//! Two passes over the inputs: the first computes each entry's size and SHA-256 so the
//! signed manifest can be written as the first tar entry; the second streams each entry
//! into the tar. File contents are never held in memory, and a file that changes between
//! the passes is detected ([`KitError::InputChanged`]).
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};
use signing::KeyPair;

use crate::error::KitError;
use crate::manifest::{Manifest, ManifestEntry, Producer, Summary, Timestamp};
use crate::path::{Digest, EntryPath, MANIFEST_NAME, MediaType};

/// The zstd level every kit is written with.
///
/// Level 9 measured on realistic content (JSON-lines advisories plus incompressible
/// blobs, `docs/PERFORMANCE.md`): the compressed size is within a few percent of level
/// 15–19 while compressing several times faster; decompression speed barely depends on
/// the level. Fixed, because the level is part of what makes kits byte-identical.
pub const ZSTD_LEVEL: i32 = 9;

/// Modification time written into every tar header: the Unix epoch. The kit's own time
/// lives in the signed manifest (`created_at`); a constant here keeps rebuilds identical.
pub const TAR_MTIME: u64 = 0;

/// Mode written into every tar header.
pub const TAR_MODE: u32 = 0o644;

const BUF: usize = 1 << 20;

/// The kit-level facts of a manifest; entries and signatures are filled in by the writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KitInfo {
    /// Unique id of the kit (`[A-Za-z0-9._:-]{1,128}`).
    pub kit_id: String,
    /// Strictly increasing per producer key.
    pub sequence: u64,
    /// Creation time (use `SOURCE_DATE_EPOCH` for reproducible builds).
    pub created_at: Timestamp,
    /// Expiry time (after `created_at`).
    pub expires_at: Timestamp,
    /// Site binding, if any.
    pub site: Option<String>,
    /// The producing tool.
    pub producer: Producer,
    /// Per-feed counts and timestamps.
    pub summary: Summary,
}

enum Source {
    Bytes(Vec<u8>),
    File(PathBuf),
}

struct Input {
    media_type: MediaType,
    source: Source,
}

/// Builds a kit from entries given as bytes or files.
///
/// The output depends only on the [`KitInfo`], the entries (paths, media types,
/// contents) and the signing keys: insertion order, file metadata, time of day and the
/// machine do not matter (for a given zstd library version, pinned by `Cargo.lock`).
pub struct KitWriter {
    info: KitInfo,
    inputs: BTreeMap<EntryPath, Input>,
}

impl KitWriter {
    /// Starts a kit.
    pub fn new(info: KitInfo) -> Self {
        KitWriter {
            info,
            inputs: BTreeMap::new(),
        }
    }

    fn add(
        &mut self,
        path: EntryPath,
        media_type: MediaType,
        source: Source,
    ) -> Result<(), KitError> {
        if self.inputs.contains_key(&path) {
            return Err(KitError::DuplicateInput {
                path: path.to_string(),
            });
        }
        self.inputs.insert(path, Input { media_type, source });
        Ok(())
    }

    /// Replaces the summary (it is signed with the manifest, so it can be filled in
    /// once the entries are known, up to [`KitWriter::write`]).
    pub fn set_summary(&mut self, summary: Summary) {
        self.info.summary = summary;
    }

    /// Adds an entry whose content is in memory.
    pub fn add_bytes(
        &mut self,
        path: EntryPath,
        media_type: MediaType,
        content: impl Into<Vec<u8>>,
    ) -> Result<(), KitError> {
        self.add(path, media_type, Source::Bytes(content.into()))
    }

    /// Adds an entry whose content is the file at `file` (read twice, streamed, never
    /// loaded whole).
    pub fn add_file(
        &mut self,
        path: EntryPath,
        media_type: MediaType,
        file: impl Into<PathBuf>,
    ) -> Result<(), KitError> {
        self.add(path, media_type, Source::File(file.into()))
    }

    /// Computes sizes and digests, signs the manifest with every key in `signers`, and
    /// writes the compressed kit to `out`. Returns the signed manifest and `out`.
    pub fn write<W: Write>(self, out: W, signers: &[&KeyPair]) -> Result<(Manifest, W), KitError> {
        // Pass 1: sizes and digests, in path order (the BTreeMap order is byte order).
        let mut entries = Vec::with_capacity(self.inputs.len());
        for (path, input) in &self.inputs {
            let (size, sha256) = match &input.source {
                Source::Bytes(b) => (b.len() as u64, Digest::from_bytes(Sha256::digest(b).into())),
                Source::File(p) => hash_reader(open(p)?, u64::MAX)
                    .map_err(|e| io_err(format!("reading {}", p.display()), e))?,
            };
            entries.push(ManifestEntry {
                path: path.clone(),
                size,
                sha256,
                media_type: input.media_type.clone(),
            });
        }
        let info = self.info;
        let mut manifest = Manifest {
            kit_id: info.kit_id,
            sequence: info.sequence,
            created_at: info.created_at,
            expires_at: info.expires_at,
            site: info.site,
            producer: info.producer,
            summary: info.summary,
            entries,
            signatures: Vec::new(),
        };
        manifest.sign(signers)?;
        let manifest_bytes = manifest.to_json_bytes()?;

        // Pass 2: the tar stream, compressed on the fly.
        let mut enc = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)
            .map_err(|e| io_err("starting zstd".into(), e))?;
        enc.include_checksum(true)
            .map_err(|e| io_err("zstd checksum flag".into(), e))?;
        enc.include_contentsize(false)
            .map_err(|e| io_err("zstd content size flag".into(), e))?;
        let mut tar = tar::Builder::new(enc);
        append(
            &mut tar,
            MANIFEST_NAME,
            &manifest_bytes[..],
            manifest_bytes.len() as u64,
        )?;
        for (entry, input) in manifest.entries.iter().zip(self.inputs.values()) {
            let path = entry.path.as_str();
            match &input.source {
                Source::Bytes(b) => append(&mut tar, path, &b[..], entry.size)?,
                Source::File(p) => {
                    // Hash again while copying: the manifest is already written, so a
                    // file that changed in between must fail the build, not ship.
                    let mut hr = HashingReader {
                        inner: open(p)?.take(entry.size),
                        hasher: Sha256::new(),
                        count: 0,
                    };
                    append(&mut tar, path, &mut hr, entry.size)?;
                    let digest = Digest::from_bytes(hr.hasher.finalize().into());
                    if hr.count != entry.size || digest != entry.sha256 {
                        return Err(KitError::InputChanged {
                            path: path.to_string(),
                        });
                    }
                }
            }
        }
        let enc = tar
            .into_inner()
            .map_err(|e| io_err("finishing the tar stream".into(), e))?;
        let out = enc
            .finish()
            .map_err(|e| io_err("finishing the zstd frame".into(), e))?;
        Ok((manifest, out))
    }
}

fn io_err(context: String, source: io::Error) -> KitError {
    KitError::WriteIo { context, source }
}

fn open(p: &std::path::Path) -> Result<File, KitError> {
    File::open(p).map_err(|e| io_err(format!("opening {}", p.display()), e))
}

/// Appends one regular file with the fixed header fields of §8.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    data: impl Read,
    size: u64,
) -> Result<(), KitError> {
    let mut h = tar::Header::new_ustar();
    // EntryPath guarantees the path fits name (+ prefix), so no extension is needed.
    h.set_path(path)
        .map_err(|e| io_err(format!("tar header for {path}"), e))?;
    h.set_size(size);
    h.set_mode(TAR_MODE);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(TAR_MTIME);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_username("")
        .map_err(|e| io_err(format!("tar header for {path}"), e))?;
    h.set_groupname("")
        .map_err(|e| io_err(format!("tar header for {path}"), e))?;
    h.set_device_major(0)
        .map_err(|e| io_err(format!("tar header for {path}"), e))?;
    h.set_device_minor(0)
        .map_err(|e| io_err(format!("tar header for {path}"), e))?;
    h.set_cksum();
    tar.append(&h, data)
        .map_err(|e| io_err(format!("writing {path}"), e))
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

fn hash_reader(r: impl Read, limit: u64) -> io::Result<(u64, Digest)> {
    let mut hr = HashingReader {
        inner: r.take(limit),
        hasher: Sha256::new(),
        count: 0,
    };
    let mut buf = vec![0u8; BUF];
    while hr.read(&mut buf)? > 0 {}
    Ok((hr.count, Digest::from_bytes(hr.hasher.finalize().into())))
}
