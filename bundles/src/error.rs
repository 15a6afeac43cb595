//! The errors of the kit format: one variant per check, each naming what failed.
use signing::KeyId;

/// Everything that can make a kit (or a part of it) unacceptable.
///
/// Each refusal of `docs/ouk-format.md` §9 has its own variant, so the importer can name
/// the failed check in one line and tests can assert the exact reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KitError {
    // ---- values -------------------------------------------------------------------
    /// An entry path breaks the path rules.
    #[error("invalid entry path {path:?}: {reason}")]
    InvalidPath {
        /// The offending path (as found).
        path: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A digest is not 64 lower-case hex digits.
    #[error("invalid sha256 digest {value:?}: {reason}")]
    InvalidDigest {
        /// The offending value (truncated).
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A media type is not a lower-case `type/subtype`.
    #[error("invalid media type {value:?}: {reason}")]
    InvalidMediaType {
        /// The offending value (truncated).
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    // ---- manifest -----------------------------------------------------------------
    /// The manifest is larger than the limit (checked before parsing).
    #[error("manifest is {size} bytes, the limit is {limit}")]
    ManifestTooLarge {
        /// Declared or actual size.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The manifest nests JSON arrays/objects deeper than allowed.
    #[error("manifest JSON nests deeper than {limit} levels")]
    ManifestTooDeep {
        /// The depth limit.
        limit: usize,
    },
    /// The manifest is not well-formed JSON.
    #[error("manifest is not valid JSON: {0}")]
    ManifestJson(#[source] serde_json::Error),
    /// The `format` member is missing or not `stella-ouk`.
    #[error("not a Stella Offline Update Kit manifest (format {found:?}, expected \"stella-ouk\")")]
    UnsupportedFormat {
        /// What the manifest says (empty if missing).
        found: String,
    },
    /// The `format_version` is not one this reader implements.
    #[error("unsupported kit format_version {found} (this reader supports {supported})")]
    UnsupportedFormatVersion {
        /// What the manifest says (as JSON text).
        found: String,
        /// The version this reader implements.
        supported: u32,
    },
    /// The manifest does not match the version-1 schema (missing, unknown or mistyped
    /// member; invalid path, digest, media type or timestamp).
    #[error("manifest does not match the schema: {0}")]
    ManifestSchema(String),
    /// The manifest bytes are not in canonical form (docs/ouk-format.md §5).
    #[error("manifest.json is not in canonical form (sorted keys, no whitespace)")]
    ManifestNotCanonical,
    /// A manifest field has an invalid value.
    #[error("manifest field `{field}`: {reason}")]
    InvalidManifest {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A signature from a pinned key does not verify over the manifest.
    #[error("manifest signature by trusted key {keyid} does not verify (tampered manifest?)")]
    BadSignature {
        /// The key the signature claims.
        keyid: KeyId,
    },
    /// Fewer distinct pinned keys signed the manifest than the trust root requires.
    #[error("manifest has {valid} valid signature(s) from trusted keys, {required} required")]
    SignatureThresholdNotMet {
        /// Distinct pinned keys with a valid signature.
        valid: usize,
        /// The trust root's threshold.
        required: usize,
    },
    /// Signing the manifest was asked for with no key.
    #[error("a kit must be signed by at least one key")]
    NoSigners,
    /// The manifest lists more entries than the limit.
    #[error("manifest lists {count} entries, the limit is {limit}")]
    TooManyEntries {
        /// Entries listed.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// An entry is larger than the per-entry limit (declared in the manifest).
    #[error("entry {path} is {size} bytes, the per-entry limit is {limit}")]
    EntryTooLarge {
        /// The entry.
        path: String,
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The entries add up to more than the total limit.
    #[error("entries add up to {total} bytes, the limit is {limit}")]
    TotalTooLarge {
        /// The declared total (saturating).
        total: u64,
        /// The limit.
        limit: u64,
    },
    /// The manifest's entries are not strictly sorted by path.
    #[error("manifest entries not sorted by path: {path} comes after {previous}")]
    ManifestNotSorted {
        /// The entry out of place.
        path: String,
        /// The entry before it.
        previous: String,
    },
    /// The manifest lists one path twice.
    #[error("manifest lists {path} twice")]
    DuplicateManifestEntry {
        /// The path.
        path: String,
    },

    // ---- stream -------------------------------------------------------------------
    /// The compressed kit is larger than the limit.
    #[error("compressed kit exceeds {limit} bytes")]
    KitTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The file does not even start as a kit: its first bytes are no zstd frame (a
    /// kit is one zstd-compressed tar archive). Most often some other file was given.
    #[error(
        "not a kit: the file does not start with a zstd frame, as every .ouk does (zstd: {detail})"
    )]
    NotAKit {
        /// What the decoder said.
        detail: String,
    },
    /// The zstd stream is corrupt (bad frame, checksum mismatch, ...).
    #[error("zstd decompression failed: {0}")]
    Decompress(#[source] std::io::Error),
    /// More data decompressed than the signed manifest (or the limits) allow.
    #[error("decompressed data exceeds {limit} bytes (decompression bomb?)")]
    DecompressionBomb {
        /// The bound in force.
        limit: u64,
    },
    /// Bytes follow the single zstd frame.
    #[error("{count}+ byte(s) of trailing data after the zstd frame")]
    TrailingCompressedData {
        /// Bytes seen (at least).
        count: u64,
    },
    /// Reading the kit's source failed.
    #[error("reading the kit failed: {0}")]
    Io(#[source] std::io::Error),
    /// The stream ended early.
    #[error("kit is truncated: {context}")]
    Truncated {
        /// Where it ended.
        context: String,
    },
    /// A tar header is malformed (bad checksum, not POSIX ustar, bad number field).
    #[error("bad tar header at offset {offset}: {reason}")]
    BadTarHeader {
        /// Byte offset of the header in the decompressed stream.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The first tar entry is not `manifest.json`.
    #[error("the first tar entry must be manifest.json, found {found:?}")]
    ManifestNotFirst {
        /// The first entry's name.
        found: String,
    },
    /// A tar entry has an absolute path.
    #[error("tar entry has an absolute path: {path:?}")]
    AbsolutePath {
        /// The path.
        path: String,
    },
    /// A tar entry path contains a `..` component.
    #[error("tar entry path escapes with `..`: {path:?}")]
    ParentTraversal {
        /// The path.
        path: String,
    },
    /// A tar entry is a symbolic link.
    #[error("tar entry {path:?} is a symlink to {target:?}")]
    Symlink {
        /// The path.
        path: String,
        /// The link target.
        target: String,
    },
    /// A tar entry is a hard link.
    #[error("tar entry {path:?} is a hard link to {target:?}")]
    HardLink {
        /// The path.
        path: String,
        /// The link target.
        target: String,
    },
    /// A tar entry is a character or block device or a FIFO.
    #[error("tar entry {path:?} is a {kind}")]
    SpecialFile {
        /// The path.
        path: String,
        /// "character device", "block device" or "fifo".
        kind: &'static str,
    },
    /// A tar entry is a directory (kits contain files only).
    #[error("tar entry {path:?} is a directory")]
    Directory {
        /// The path.
        path: String,
    },
    /// A tar entry uses an extension (PAX, GNU long name, sparse, ...).
    #[error("tar entry {path:?} has unsupported type {type_flag:?} (only plain ustar files)")]
    UnsupportedEntryType {
        /// The path.
        path: String,
        /// The type flag byte, as a character.
        type_flag: char,
    },
    /// A tar entry appears twice (or a second `manifest.json`).
    #[error("tar entry {path:?} appears twice")]
    DuplicateEntry {
        /// The path.
        path: String,
    },
    /// A tar entry is not listed in the signed manifest.
    #[error("tar entry {path:?} is not listed in the signed manifest")]
    UnlistedEntry {
        /// The path.
        path: String,
    },
    /// A tar entry comes before an entry the manifest lists earlier.
    #[error("tar entry {path:?} is out of order: expected {expected:?} first")]
    OutOfOrder {
        /// The entry found.
        path: String,
        /// The entry the manifest order requires next.
        expected: String,
    },
    /// The archive ended before every listed entry was seen.
    #[error("{count} entr(y/ies) listed in the manifest missing from the kit, first {first:?}")]
    MissingEntries {
        /// The first missing path.
        first: String,
        /// How many are missing.
        count: usize,
    },
    /// Non-zero bytes follow the tar end-of-archive marker.
    #[error("non-zero data after the tar end-of-archive marker at offset {offset}")]
    TrailingData {
        /// Offset of the first non-zero byte in the decompressed stream.
        offset: u64,
    },
    /// A tar header's size differs from the manifest's.
    #[error("entry {path:?}: tar header says {tar} bytes, manifest says {manifest}")]
    SizeMismatch {
        /// The entry.
        path: String,
        /// The size in the signed manifest.
        manifest: u64,
        /// The size in the tar header.
        tar: u64,
    },
    /// An entry's content does not hash to the manifest's digest.
    #[error("entry {path:?}: sha256 {found} does not match the manifest's {expected}")]
    DigestMismatch {
        /// The entry.
        path: String,
        /// From the signed manifest.
        expected: String,
        /// Computed over the content.
        found: String,
    },
    /// The reader already failed; a kit is never read past its first error.
    #[error("the kit reader stopped at an earlier error")]
    Aborted,

    // ---- writer -------------------------------------------------------------------
    /// The same path was added twice to a writer.
    #[error("entry {path} added twice")]
    DuplicateInput {
        /// The path.
        path: String,
    },
    /// An input file changed between the hashing pass and the writing pass.
    #[error("input for {path} changed while the kit was being written")]
    InputChanged {
        /// The entry.
        path: String,
    },
    /// Reading an input file or writing the output failed.
    #[error("{context}: {source}")]
    WriteIo {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl KitError {
    /// Extracts a [`KitError`] carried inside an [`std::io::Error`] (entry readers report
    /// digest and size failures through `io::Read`), or wraps the I/O error.
    pub fn from_io(e: std::io::Error) -> KitError {
        if e.get_ref().is_some_and(|inner| inner.is::<KitError>()) {
            match e.into_inner().map(|b| b.downcast::<KitError>()) {
                Some(Ok(k)) => return *k,
                Some(Err(other)) => return KitError::Io(std::io::Error::other(other)),
                None => return KitError::Io(std::io::Error::other("unknown I/O error")),
            }
        }
        KitError::Io(e)
    }
}

/// The one line a command-line tool prints for a failure: the error and its causes, each
/// cause only when the message so far does not already say it (most error types in this
/// workspace embed their source in their own message, and `anyhow`'s `{:#}` would print
/// it twice: "No such file or directory (os error 2): No such file or directory (os error 2)").
#[must_use]
pub fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}
