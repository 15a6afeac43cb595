//! The bounded, streaming kit reader (`docs/ouk-format.md` §9).
//!
//! Decompression runs on a helper thread that feeds 1 MiB chunks through a bounded
//! channel, so zstd and SHA-256 run on two cores at once. The tar side is a strict
//! ustar framer written against the refusal list: it uses the `tar` crate's `Header` to
//! decode fields but does its own block framing, because the `tar` crate's archive
//! iterator silently applies PAX/GNU path overrides, stops at the first zero block
//! without looking at what follows, and cannot be paused after the first entry to verify
//! the manifest before any payload is read.
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use sha2::{Digest as _, Sha256};
use signing::TrustRoot;

use crate::error::KitError;
use crate::limits::Limits;
use crate::manifest::{Manifest, ManifestEntry, VerifiedManifest};
use crate::path::{Digest, EntryPath, MANIFEST_NAME};

/// Size of the chunks passed from the decompression thread.
const CHUNK: usize = 1 << 20;
/// Chunks in flight (bounds the reader's memory to a few MiB).
const IN_FLIGHT: usize = 4;
/// Zero padding tolerated after the end-of-archive marker: tar writers may pad the
/// archive to a 10 KiB record.
const RECORD_SLACK: u64 = 10_240;
/// zstd window cap (32 MiB): bounds the decoder's memory on hostile frames. Kits are
/// written at a level whose window is far smaller.
const WINDOW_LOG_MAX: u32 = 25;
const BLOCK: u64 = 512;

enum Msg {
    Data(Vec<u8>),
    End,
    Fail(KitError),
}

fn pad(n: u64) -> u64 {
    (BLOCK - n % BLOCK) % BLOCK
}

/// The decompressed byte stream, as chunks from the helper thread.
struct Stream<R> {
    rx: Receiver<Msg>,
    recycle: SyncSender<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
    /// Decompressed bytes consumed so far (for error offsets).
    offset: u64,
    /// The helper sent `End`: the zstd frame ended cleanly with nothing after it.
    done: bool,
    handle: Option<JoinHandle<Option<R>>>,
}

/// What a tar header says, once it passed the path and type checks.
struct Header {
    path: String,
    size: u64,
}

impl<R> Stream<R> {
    /// Makes the current chunk non-empty; `false` at the end of the stream.
    fn fill(&mut self) -> Result<bool, KitError> {
        while self.pos >= self.chunk.len() {
            if self.done {
                return Ok(false);
            }
            match self.rx.recv() {
                Ok(Msg::Data(d)) => {
                    let old = std::mem::replace(&mut self.chunk, d);
                    // Hand the buffer back so the helper does not fault in fresh pages.
                    let _ = self.recycle.try_send(old);
                    self.pos = 0;
                }
                Ok(Msg::End) => {
                    self.done = true;
                    return Ok(false);
                }
                Ok(Msg::Fail(e)) => return Err(e),
                Err(_) => {
                    return Err(KitError::Io(io::Error::other(
                        "the decompression thread stopped unexpectedly",
                    )));
                }
            }
        }
        Ok(true)
    }

    /// The next contiguous slice of at most `max` bytes (empty at the end).
    fn slice(&mut self, max: u64) -> Result<&[u8], KitError> {
        if !self.fill()? {
            return Ok(&[]);
        }
        let avail = self.chunk.len() - self.pos;
        let n = usize::try_from(max).map_or(avail, |m| m.min(avail));
        let s = &self.chunk[self.pos..self.pos + n];
        self.pos += n;
        self.offset += n as u64;
        Ok(s)
    }

    fn read_exact_into(&mut self, buf: &mut [u8], what: &str) -> Result<(), KitError> {
        let mut filled = 0;
        while filled < buf.len() {
            let s = self.slice((buf.len() - filled) as u64)?;
            if s.is_empty() {
                return Err(KitError::Truncated {
                    context: format!("stream ended inside {what}"),
                });
            }
            let n = s.len();
            buf[filled..filled + n].copy_from_slice(s);
            filled += n;
        }
        Ok(())
    }

    fn skip(&mut self, mut n: u64, what: &str) -> Result<(), KitError> {
        while n > 0 {
            let got = self.slice(n)?.len() as u64;
            if got == 0 {
                return Err(KitError::Truncated {
                    context: format!("stream ended inside {what}"),
                });
            }
            n -= got;
        }
        Ok(())
    }

    /// Reads one 512-byte header; `None` for a zero block (end of archive).
    fn read_header(&mut self) -> Result<Option<Header>, KitError> {
        let at = self.offset;
        let mut block = [0u8; BLOCK as usize];
        self.read_exact_into(&mut block, "a tar header")?;
        if block.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        parse_header(&block, at).map(Some)
    }

    /// After the first zero block: a second one, then only zero padding up to the end of
    /// the zstd frame (the helper bounds how much padding there can be).
    fn finish_archive(&mut self) -> Result<Option<R>, KitError> {
        let at = self.offset;
        let mut block = [0u8; BLOCK as usize];
        self.read_exact_into(&mut block, "the end-of-archive marker (two zero blocks)")?;
        if let Some(i) = block.iter().position(|b| *b != 0) {
            return Err(KitError::TrailingData {
                offset: at + i as u64,
            });
        }
        loop {
            let at = self.offset;
            let s = self.slice(u64::MAX)?;
            if s.is_empty() {
                break;
            }
            if let Some(i) = s.iter().position(|b| *b != 0) {
                return Err(KitError::TrailingData {
                    offset: at + i as u64,
                });
            }
        }
        let src = self.handle.take().and_then(|h| h.join().ok()).flatten();
        Ok(src)
    }
}

/// Decodes and checks one non-zero header block.
fn parse_header(block: &[u8; BLOCK as usize], at: u64) -> Result<Header, KitError> {
    let bad = |reason: String| KitError::BadTarHeader { offset: at, reason };
    let h = tar::Header::from_byte_slice(block);
    // Checksum: sum of all bytes with the checksum field counted as spaces.
    let sum: u32 = block[..148]
        .iter()
        .chain(&block[156..])
        .map(|b| u32::from(*b))
        .sum::<u32>()
        + 8 * u32::from(b' ');
    match h.cksum() {
        Ok(c) if c == sum => {}
        Ok(c) => return Err(bad(format!("checksum {c} != computed {sum}"))),
        Err(e) => return Err(bad(format!("checksum field: {e}"))),
    }
    if h.as_ustar().is_none() {
        return Err(bad("not a POSIX ustar header (GNU or v7 tar)".into()));
    }
    let path = String::from_utf8_lossy(&h.path_bytes()).into_owned();
    // Path safety first, so traversal is reported as such whatever the entry type.
    if path.starts_with('/') {
        return Err(KitError::AbsolutePath { path });
    }
    if path.split('/').any(|c| c == "..") {
        return Err(KitError::ParentTraversal { path });
    }
    let target = || {
        h.link_name_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    match h.entry_type() {
        tar::EntryType::Regular => {}
        tar::EntryType::Symlink => {
            return Err(KitError::Symlink {
                target: target(),
                path,
            });
        }
        tar::EntryType::Link => {
            return Err(KitError::HardLink {
                target: target(),
                path,
            });
        }
        tar::EntryType::Char => {
            return Err(KitError::SpecialFile {
                path,
                kind: "character device",
            });
        }
        tar::EntryType::Block => {
            return Err(KitError::SpecialFile {
                path,
                kind: "block device",
            });
        }
        tar::EntryType::Fifo => return Err(KitError::SpecialFile { path, kind: "fifo" }),
        tar::EntryType::Directory => return Err(KitError::Directory { path }),
        other => {
            return Err(KitError::UnsupportedEntryType {
                path,
                type_flag: char::from(other.as_byte()),
            });
        }
    }
    let size = h
        .entry_size()
        .map_err(|e| bad(format!("size field: {e}")))?;
    if path != MANIFEST_NAME {
        EntryPath::new(path.clone())?;
    }
    Ok(Header { path, size })
}

/// The decompression thread: source → (size cap) → zstd → (bomb cap) → chunks.
/// Returns the source so the caller can get it back.
fn pump<R: Read>(
    src: R,
    kit_limit: u64,
    cap: &AtomicU64,
    tx: &SyncSender<Msg>,
    recycled: &Receiver<Vec<u8>>,
) -> Option<R> {
    let counting = Counting::new(src, kit_limit);
    let mut dec = match zstd::stream::read::Decoder::new(counting) {
        Ok(d) => d.single_frame(),
        Err(e) => {
            let _ = tx.send(Msg::Fail(KitError::Io(e)));
            return None;
        }
    };
    if let Err(e) = dec.window_log_max(WINDOW_LOG_MAX) {
        let _ = tx.send(Msg::Fail(KitError::Io(e)));
        return None;
    }
    let mut total: u64 = 0;
    loop {
        let mut buf = match recycled.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Vec::with_capacity(CHUNK),
        };
        buf.resize(CHUNK, 0);
        let mut filled = 0;
        while filled < CHUNK {
            match dec.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let e = match classify(e) {
                        // The first bytes are no zstd magic: the file is no kit, not a
                        // damaged one.
                        KitError::Decompress(e) if dec.get_ref().get_ref().not_zstd() => {
                            KitError::NotAKit {
                                detail: e.to_string(),
                            }
                        }
                        other => other,
                    };
                    let _ = tx.send(Msg::Fail(e));
                    return Some(dec.finish().into_inner().inner);
                }
            }
        }
        total = total.saturating_add(filled as u64);
        let limit = cap.load(Ordering::Relaxed);
        if total > limit {
            let _ = tx.send(Msg::Fail(KitError::DecompressionBomb { limit }));
            return Some(dec.finish().into_inner().inner);
        }
        if filled == 0 {
            // End of the zstd frame: nothing may follow it in the file.
            let mut rest = dec.finish();
            let msg = match io::BufRead::fill_buf(&mut rest) {
                Ok([]) => Msg::End,
                Ok(b) => Msg::Fail(KitError::TrailingCompressedData {
                    count: b.len() as u64,
                }),
                Err(e) => Msg::Fail(classify(e)),
            };
            let _ = tx.send(msg);
            return Some(rest.into_inner().inner);
        }
        buf.truncate(filled);
        if tx.send(Msg::Data(buf)).is_err() {
            // The reader was dropped: stop quietly.
            return Some(dec.finish().into_inner().inner);
        }
    }
}

/// Maps an error out of the decoder: ours (size cap, source I/O) pass through; an
/// unexpected end is a truncated kit; anything else is corrupt compression.
fn classify(e: io::Error) -> KitError {
    if e.get_ref().is_some_and(|i| i.is::<KitError>()) {
        return KitError::from_io(e);
    }
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return KitError::Truncated {
            context: format!("zstd frame incomplete ({e})"),
        };
    }
    KitError::Decompress(e)
}

struct Counting<R> {
    inner: R,
    count: u64,
    limit: u64,
    /// The file's first bytes (up to 4), to tell "not a kit" from "a damaged kit".
    head: Vec<u8>,
}

/// The zstd frame magic (0xFD2FB528, little-endian) every kit starts with.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

impl<R> Counting<R> {
    fn new(inner: R, limit: u64) -> Self {
        Counting {
            inner,
            count: 0,
            limit,
            head: Vec::with_capacity(4),
        }
    }

    /// Whether the file does not start with the zstd magic (or is shorter than it).
    fn not_zstd(&self) -> bool {
        self.head != ZSTD_MAGIC
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .inner
            .read(buf)
            .map_err(|e| io::Error::other(KitError::Io(e)))?;
        let want = 4usize.saturating_sub(self.head.len()).min(n);
        self.head.extend_from_slice(&buf[..want]);
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::other(KitError::KitTooLarge {
                limit: self.limit,
            }));
        }
        Ok(n)
    }
}

struct Current {
    index: usize,
    remaining: u64,
    hasher: Sha256,
    verified: bool,
}

/// Reads a kit: verifies the manifest first, then hands out entries one by one, each
/// checked against the manifest's size and digest while it streams.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use bundles::{KitReader, Limits};
/// # let trust: signing::TrustRoot = todo!();
/// let file = std::fs::File::open("kit.ouk")?;
/// let mut kit = KitReader::open(file, &trust, Limits::default())?;
/// println!("kit sequence {}", kit.manifest().sequence);
/// while let Some(mut entry) = kit.next_entry()? {
///     // (write into a staging directory, never straight into place)
///     let mut out = std::fs::File::create(entry.path().as_str())?;
///     std::io::copy(&mut entry, &mut out)?; // fails on a digest or size mismatch
///     entry.finish()?;
/// }
/// # Ok(()) }
/// ```
pub struct KitReader<R> {
    stream: Stream<R>,
    manifest: VerifiedManifest,
    /// Index of the next manifest entry the tar must contain.
    next: usize,
    current: Option<Current>,
    failed: bool,
    /// Set once the archive ended cleanly.
    source: Option<Option<R>>,
}

impl<R> std::fmt::Debug for KitReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KitReader")
            .field("kit_id", &self.manifest.kit_id)
            .field("offset", &self.stream.offset)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl<R: Read + Send + 'static> KitReader<R> {
    /// Starts reading the compressed kit from `src`, reads the first tar entry and
    /// verifies it as the manifest against `trust` and `limits`, before any payload is
    /// read. `src` comes back from [`KitReader::into_source`] once the kit has been read
    /// to its end, so a caller can tee the raw bytes into its own hasher.
    pub fn open(src: R, trust: &TrustRoot, limits: Limits) -> Result<Self, KitError> {
        // Until the manifest is known: the most the limits could ever allow.
        let loose = (2 * BLOCK + RECORD_SLACK)
            .saturating_add(limits.manifest_bytes())
            .saturating_add(limits.total_bytes())
            .saturating_add(limits.entries().saturating_add(1).saturating_mul(2 * BLOCK));
        let cap = Arc::new(AtomicU64::new(loose));
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let (recycle, recycled) = sync_channel(IN_FLIGHT + 2);
        let thread_cap = Arc::clone(&cap);
        let kit_limit = limits.kit_bytes();
        let handle = std::thread::Builder::new()
            .name("kit-unzstd".into())
            .spawn(move || pump(src, kit_limit, &thread_cap, &tx, &recycled))
            .map_err(KitError::Io)?;
        let mut stream = Stream {
            rx,
            recycle,
            chunk: Vec::new(),
            pos: 0,
            offset: 0,
            done: false,
            handle: Some(handle),
        };
        let manifest = read_manifest(&mut stream, trust, &limits)?;
        // The exact tar size is now known: tighten the decompression bound to it.
        let exact = manifest.entries.iter().fold(
            stream.offset.saturating_add(2 * BLOCK + RECORD_SLACK),
            |acc, e| {
                acc.saturating_add(BLOCK)
                    .saturating_add(e.size)
                    .saturating_add(pad(e.size))
            },
        );
        cap.store(exact, Ordering::Relaxed);
        Ok(KitReader {
            stream,
            manifest,
            next: 0,
            current: None,
            failed: false,
            source: None,
        })
    }
}

fn read_manifest<R>(
    stream: &mut Stream<R>,
    trust: &TrustRoot,
    limits: &Limits,
) -> Result<VerifiedManifest, KitError> {
    let Some(h) = stream.read_header()? else {
        return Err(KitError::ManifestNotFirst {
            found: "(empty archive)".into(),
        });
    };
    if h.path != MANIFEST_NAME {
        return Err(KitError::ManifestNotFirst { found: h.path });
    }
    // The header's size is untrusted: cap it before allocating.
    let too_large = KitError::ManifestTooLarge {
        size: h.size,
        limit: limits.manifest_bytes(),
    };
    if h.size > limits.manifest_bytes() {
        return Err(too_large);
    }
    let len = usize::try_from(h.size).map_err(|_| too_large)?;
    let mut bytes = vec![0u8; len];
    stream.read_exact_into(&mut bytes, "manifest.json")?;
    stream.skip(pad(h.size), "manifest.json padding")?;
    Manifest::parse_and_verify(&bytes, trust, limits)
}

impl<R> KitReader<R> {
    /// The verified manifest.
    pub fn manifest(&self) -> &VerifiedManifest {
        &self.manifest
    }

    /// Decompressed bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.stream.offset
    }

    /// The source reader, once the kit has been read to its end (after
    /// [`KitReader::next_entry`] returned `None`).
    pub fn into_source(self) -> Option<R> {
        self.source.flatten()
    }

    /// The next entry, in manifest order, or `None` once the archive has ended cleanly:
    /// every listed entry seen, the end-of-archive marker, nothing but zero padding after
    /// it, nothing after the zstd frame. An unfinished previous entry is drained and
    /// verified first. After any error the reader refuses to go on
    /// ([`KitError::Aborted`]).
    pub fn next_entry(&mut self) -> Result<Option<KitEntry<'_, R>>, KitError> {
        if self.failed {
            return Err(KitError::Aborted);
        }
        match self.advance() {
            Ok(true) => Ok(Some(KitEntry { reader: self })),
            Ok(false) => Ok(None),
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// Reads every remaining entry, verifying each, then the end of the archive.
    pub fn verify_all(&mut self) -> Result<(), KitError> {
        while self.next_entry()?.is_some() {}
        Ok(())
    }

    fn advance(&mut self) -> Result<bool, KitError> {
        if self.current.as_ref().is_some_and(|c| !c.verified) {
            self.drain_current()?;
        }
        self.current = None;
        if self.source.is_some() {
            return Ok(false);
        }
        let Some(h) = self.stream.read_header()? else {
            if self.next < self.manifest.entries.len() {
                return Err(KitError::MissingEntries {
                    first: self.manifest.entries[self.next].path.to_string(),
                    count: self.manifest.entries.len() - self.next,
                });
            }
            self.source = Some(self.stream.finish_archive()?);
            return Ok(false);
        };
        if h.path == MANIFEST_NAME {
            return Err(KitError::DuplicateEntry { path: h.path });
        }
        let entries = &self.manifest.entries;
        let Some(index) = self.manifest.entry_index(&h.path) else {
            return Err(KitError::UnlistedEntry { path: h.path });
        };
        if index < self.next {
            return Err(KitError::DuplicateEntry { path: h.path });
        }
        if index > self.next {
            return Err(KitError::OutOfOrder {
                path: h.path,
                expected: entries[self.next].path.to_string(),
            });
        }
        let size = entries[index].size;
        if h.size != size {
            return Err(KitError::SizeMismatch {
                path: h.path,
                manifest: size,
                tar: h.size,
            });
        }
        self.next += 1;
        self.current = Some(Current {
            index,
            remaining: size,
            hasher: Sha256::new(),
            verified: false,
        });
        if size == 0 {
            self.complete_current()?;
        }
        Ok(true)
    }

    /// Reads the rest of the current entry, hashing straight from the chunks.
    fn drain_current(&mut self) -> Result<(), KitError> {
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        if cur.verified {
            // Read to its end already: the digest was checked then.
            return Ok(());
        }
        while cur.remaining > 0 {
            let s = self.stream.slice(cur.remaining)?;
            if s.is_empty() {
                let path = self.manifest.entries[cur.index].path.to_string();
                return Err(KitError::Truncated {
                    context: format!("stream ended inside entry {path}"),
                });
            }
            cur.hasher.update(s);
            cur.remaining -= s.len() as u64;
        }
        self.complete_current()
    }

    /// All bytes of the current entry were read: check the digest, skip the padding.
    fn complete_current(&mut self) -> Result<(), KitError> {
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        let entry: &ManifestEntry = &self.manifest.entries[cur.index];
        let found = Digest::from_bytes(std::mem::take(&mut cur.hasher).finalize().into());
        if found != entry.sha256 {
            return Err(KitError::DigestMismatch {
                path: entry.path.to_string(),
                expected: entry.sha256.to_hex(),
                found: found.to_hex(),
            });
        }
        cur.verified = true;
        let what = format!("the padding of {}", entry.path);
        self.stream.skip(pad(entry.size), &what)
    }

    fn read_current(&mut self, buf: &mut [u8]) -> Result<usize, KitError> {
        if self.failed {
            return Err(KitError::Aborted);
        }
        let Some(cur) = self.current.as_mut() else {
            return Ok(0);
        };
        if cur.verified || buf.is_empty() {
            return Ok(0);
        }
        let want = cur.remaining.min(buf.len() as u64);
        let s = self.stream.slice(want)?;
        if s.is_empty() {
            let path = self.manifest.entries[cur.index].path.to_string();
            return Err(KitError::Truncated {
                context: format!("stream ended inside entry {path}"),
            });
        }
        let n = s.len();
        cur.hasher.update(s);
        buf[..n].copy_from_slice(s);
        cur.remaining -= n as u64;
        if cur.remaining == 0 {
            // The last byte is only handed out once the digest has matched.
            self.complete_current()?;
        }
        Ok(n)
    }
}

/// One entry being read. Its bytes are hashed as they stream; the read that reaches the
/// end fails (with a [`KitError`] inside the `io::Error`, see [`KitError::from_io`]) if
/// the SHA-256 differs from the signed manifest's.
pub struct KitEntry<'a, R> {
    reader: &'a mut KitReader<R>,
}

impl<R> std::fmt::Debug for KitEntry<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KitEntry({})", self.entry().path)
    }
}

impl<R> KitEntry<'_, R> {
    /// The manifest's record of this entry (path, size, digest, media type).
    pub fn entry(&self) -> &ManifestEntry {
        let i = self.reader.current.as_ref().map_or(0, |c| c.index);
        &self.reader.manifest.entries[i]
    }

    /// The entry's path.
    pub fn path(&self) -> &EntryPath {
        &self.entry().path
    }

    /// Reads the rest of the entry and checks its digest.
    pub fn finish(self) -> Result<(), KitError> {
        if self.reader.failed {
            return Err(KitError::Aborted);
        }
        let r = self.reader.drain_current();
        if r.is_err() {
            self.reader.failed = true;
        }
        r
    }
}

impl<R> Read for KitEntry<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read_current(buf).map_err(|e| {
            if !matches!(e, KitError::Aborted) {
                self.reader.failed = true;
            }
            io::Error::other(e)
        })
    }
}

/// Reads only the first entry of a kit and parses it as a manifest, **without checking
/// any signature**: for `stella-kit inspect` and for naming a kit in diagnostics. The
/// manifest size cap of `limits` applies; nothing beyond the manifest is decompressed.
pub fn peek_manifest<R: Read>(src: R, limits: &Limits) -> Result<Manifest, KitError> {
    let mut dec = zstd::stream::read::Decoder::new(Counting::new(src, u64::MAX))
        .map_err(KitError::Decompress)?;
    dec.window_log_max(WINDOW_LOG_MAX)
        .map_err(KitError::Decompress)?;
    let mut block = [0u8; BLOCK as usize];
    dec.read_exact(&mut block).map_err(|e| match classify(e) {
        KitError::Decompress(e) if dec.get_ref().get_ref().not_zstd() => KitError::NotAKit {
            detail: e.to_string(),
        },
        KitError::Truncated { .. } => KitError::Truncated {
            context: "the kit ends before its first tar header".into(),
        },
        other => other,
    })?;
    let header = tar::Header::from_byte_slice(&block);
    let name = String::from_utf8_lossy(&header.path_bytes()).into_owned();
    if name != MANIFEST_NAME {
        return Err(KitError::ManifestNotFirst { found: name });
    }
    let size = header.entry_size().map_err(|e| KitError::Truncated {
        context: format!("manifest header size: {e}"),
    })?;
    if size > limits.manifest_bytes() {
        return Err(KitError::ManifestTooLarge {
            size,
            limit: limits.manifest_bytes(),
        });
    }
    let mut bytes = Vec::new();
    dec.take(size)
        .read_to_end(&mut bytes)
        .map_err(KitError::Decompress)?;
    if bytes.len() as u64 != size {
        return Err(KitError::Truncated {
            context: "stream ended inside manifest.json".into(),
        });
    }
    Manifest::parse_unverified(&bytes, limits)
}
