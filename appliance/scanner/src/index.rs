//! The advisory index: the active kit's advisories, keyed for the scan engine's hot path.
//!
//! The importer builds one [`AdvisoryIndex`] from the kit's `advisories/*.jsonl` files
//! ([`AdvisoryIndex::from_jsonl_dir`]); the scan engine asks it, once per SBOM component,
//! which affected-package entries name that component ([`AdvisoryIndex::lookup`]). Nothing
//! is parsed per scan: ranges, versions and severities are already validated values.
//!
//! # Keys: ecosystem and normalised name
//!
//! Entries are keyed by base ecosystem and a normalised package name, the same
//! normalisation being applied to the advisory side and to the component side
//! ([`normalize_name`]):
//!
//! | ecosystem | name rule | why |
//! | --- | --- | --- |
//! | PyPI | PEP 503 (`Foo_Bar.baz` → `foo-bar-baz`) | PyPI treats those spellings as one project |
//! | NuGet | ASCII-lowercased | NuGet package ids are case-insensitive |
//! | Packagist | ASCII-lowercased | Composer package names are lowercase by rule; GHSA sometimes capitalises |
//! | npm, Go, crates.io, RubyGems, Hex, Pub | as OSV stores it (case-sensitive) | these registries are case-sensitive (Go module paths, npm names) |
//! | Maven | `group:artifact`, as stored | Maven coordinates are case-sensitive |
//! | Debian, Ubuntu, Alpine | **source** package name, as stored | distros publish advisories per source package; the SBOM mapper already resolved the source name |
//! | Red Hat family | binary (RPM) name, as stored | Red Hat OSV names binary RPMs |
//!
//! # Releases
//!
//! An affected entry whose ecosystem has a release applies only to components of that
//! release ([`release_matches`]):
//!
//! - **Debian** (`Debian:12`), **Alpine** (`Alpine:v3.19`), **Rocky Linux** (`Rocky Linux:9`),
//!   **AlmaLinux** (`AlmaLinux:9`) and any other OS ecosystem: the release must be equal.
//!   `Debian:12` never matches a `Debian:11` component.
//! - **Ubuntu**: OSV spells releases `22.04:LTS`, `Pro:18.04:LTS`, `24.10`. The words `LTS`
//!   and `Pro` are dropped and the remaining `X.Y` must equal the component's. `Pro`
//!   (Expanded Security Maintenance) records *do* apply: the package is vulnerable whether
//!   or not the site subscribes to ESM, and for end-of-life releases the Pro record is
//!   often the only one; its fixed version simply needs Ubuntu Pro. Any other word
//!   (`Pro:FIPS:22.04:LTS`, `FIPS-updates`) names a separate package stream and does not
//!   match a standard release.
//! - **Red Hat**: OSV releases are CPE suffixes (`enterprise_linux:9::appstream`,
//!   `rhel_eus:9.2::baseos`). The component side carries the RHEL major (`Red Hat:9`, which
//!   the scan engine derives from the purl `distro=` qualifier or the `.elN` release tag);
//!   an entry matches when the CPE's version field has that major. A component without a
//!   major matches only release-less Red Hat entries.
//! - An affected entry **without** a release applies to every release of its base
//!   (`Wolfi`, `Chainguard`, and all language ecosystems).
//! - Language ecosystems ignore the release suffix (`Maven:https://repo.example/maven2`
//!   names an alternative repository of the same coordinates).
//!
//! # Withdrawn records
//!
//! Records with a `withdrawn` time are left out, whatever that time is. The index must not
//! depend on the clock (same kit → same index → same findings digest), and OSV writes
//! `withdrawn` only once a record has been withdrawn.
//!
//! ```
//! use scanner::index::AdvisoryIndex;
//! use bundles::model::{Advisory, Ecosystem};
//!
//! let adv = Advisory::from_osv_json(br#"{"id": "GHSA-aaaa-bbbb-cccc",
//!   "modified": "2024-01-01T00:00:00Z",
//!   "affected": [{"package": {"ecosystem": "PyPI", "name": "Django"},
//!                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.2.8"}]}]}]}"#)?;
//! let index = AdvisoryIndex::from_advisories([adv]);
//! assert_eq!(index.len(), 1);
//! let pypi: Ecosystem = "PyPI".parse()?;
//! let hits: Vec<_> = index.lookup(&pypi, "DJANGO").collect();
//! assert_eq!(hits.len(), 1);
//! assert_eq!(hits[0].advisory.id().as_str(), "GHSA-aaaa-bbbb-cccc");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Mutex, PoisonError};

use bundles::model::{
    Advisory, AdvisoryId, Affected, BaseEcosystem, Ecosystem, JsonlReader, ModelError,
    SeverityScore, Timestamp, pep503_normalize,
};

/// Bounds applied while loading a kit's advisories.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexLimits {
    /// Most advisories accepted in total (default 2,000,000; all of OSV is ~500k).
    pub max_advisories: usize,
    /// Largest accepted `*.jsonl` file in bytes (default 4 GiB).
    pub max_file_bytes: u64,
    /// Most `*.jsonl` files accepted (default 256; OSV has ~50 base ecosystems).
    pub max_files: usize,
    /// Largest accepted JSONL line in bytes (default: the model's per-advisory cap).
    pub max_line_bytes: usize,
    /// Where to keep the records' details ([`AdvisoryIndex::details`]): an unlinked
    /// temporary file in this directory, or memory when `None` (the default). The
    /// appliance passes the kit's directory, so a 200,000-record index keeps only what
    /// matching needs on the heap.
    pub spill_dir: Option<PathBuf>,
}

impl Default for IndexLimits {
    fn default() -> Self {
        IndexLimits {
            max_advisories: 2_000_000,
            max_file_bytes: 4 * 1024 * 1024 * 1024,
            max_files: 256,
            max_line_bytes: bundles::model::limits::MAX_ADVISORY_JSON_BYTES,
            spill_dir: None,
        }
    }
}

impl IndexLimits {
    /// Sets the total advisory cap.
    pub fn max_advisories(mut self, n: usize) -> Self {
        self.max_advisories = n;
        self
    }

    /// Sets the per-file byte cap.
    pub fn max_file_bytes(mut self, n: u64) -> Self {
        self.max_file_bytes = n;
        self
    }

    /// Keeps record details in an unlinked file in `dir` (see [`IndexLimits::spill_dir`]).
    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Sets the file count cap.
    pub fn max_files(mut self, n: usize) -> Self {
        self.max_files = n;
        self
    }
}

/// Why a kit's advisories could not be loaded. Each variant names the file (and line).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The kit has no `advisories/` directory.
    #[error("{path}: advisory directory missing or not a directory")]
    MissingDirectory {
        /// The directory that was expected.
        path: PathBuf,
    },
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// One JSONL line is not a valid canonical advisory.
    #[error("{path}, line {line}: {source}")]
    Record {
        /// The JSONL file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong with the record.
        #[source]
        source: ModelError,
    },
    /// A `*.jsonl` file is larger than [`IndexLimits::max_file_bytes`].
    #[error("{path}: {size} bytes, larger than the limit of {limit} bytes")]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More `*.jsonl` files than [`IndexLimits::max_files`].
    #[error("{path}: more than {limit} advisory files")]
    TooManyFiles {
        /// The advisory directory.
        path: PathBuf,
        /// The limit.
        limit: usize,
    },
    /// A record's details could not be read back from the details store.
    #[error("advisory record {record}: details unreadable: {source}")]
    Details {
        /// The record position.
        record: usize,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// More advisories than [`IndexLimits::max_advisories`].
    #[error("{path}: more than {limit} advisories in the kit")]
    TooManyAdvisories {
        /// The file being read when the limit was passed.
        path: PathBuf,
        /// The limit.
        limit: usize,
    },
}

/// The matching half of an advisory, which the index keeps in memory: its id and its
/// affected entries (moved out of the parsed [`Advisory`], exact-size).
///
/// What a finding *shows* (aliases, summary, severities, references) is the bulk of a
/// record and is needed only for the few records a scan matches, so it lives in the
/// index's details store ([`AdvisoryIndex::details`]); see [`IndexLimits::spill_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedAdvisory {
    id: AdvisoryId,
    affected: Box<[Affected]>,
}

impl IndexedAdvisory {
    /// The record id.
    pub fn id(&self) -> &AdvisoryId {
        &self.id
    }
    /// Affected packages.
    pub fn affected(&self) -> &[Affected] {
        &self.affected
    }
}

/// What a finding shows about one advisory ([`AdvisoryIndex::details`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct AdvisoryDetails {
    /// Last modification time (canonical UTC text).
    pub modified: String,
    /// Ids of the same vulnerability elsewhere.
    pub aliases: Vec<AdvisoryId>,
    /// Ids this record was derived from (Debian, Alpine put their CVE here).
    pub upstream: Vec<AdvisoryId>,
    /// One-line summary.
    pub summary: Option<String>,
    /// Top-level severities.
    pub severity: Vec<SeverityScore>,
    /// The source database's own rating (GHSA `LOW`…`CRITICAL`).
    pub database_severity: Option<String>,
    /// Reference URLs, in record order.
    pub references: Vec<String>,
}

/// A parsed record while the index is built: what stays in memory, and where its
/// details block went.
#[derive(Debug)]
struct Parsed {
    id: AdvisoryId,
    modified: Timestamp,
    affected: Box<[Affected]>,
    at: Loc,
}

/// Where one record's details block is: part (one per loaded file) and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Loc {
    part: u32,
    len: u32,
    from: u64,
}

/// Where detail blocks are written while a file loads: memory, or an unlinked file in
/// the spill directory.
enum Sink {
    Memory(Vec<u8>),
    #[cfg(unix)]
    File(std::io::BufWriter<fs::File>, u64),
}

impl Sink {
    fn new(spill_dir: Option<&Path>) -> Sink {
        #[cfg(unix)]
        if let Some(f) = spill_dir.and_then(|d| tempfile::tempfile_in(d).ok()) {
            return Sink::File(std::io::BufWriter::with_capacity(1 << 20, f), 0);
        }
        let _ = spill_dir;
        Sink::Memory(Vec::new())
    }

    /// Appends a block; returns its start.
    fn put(&mut self, block: &[u8]) -> std::io::Result<u64> {
        match self {
            Sink::Memory(m) => {
                let from = m.len() as u64;
                m.extend_from_slice(block);
                Ok(from)
            }
            #[cfg(unix)]
            Sink::File(w, len) => {
                use std::io::Write as _;
                let from = *len;
                w.write_all(block)?;
                *len += block.len() as u64;
                Ok(from)
            }
        }
    }

    fn finish(self) -> std::io::Result<Part> {
        Ok(match self {
            Sink::Memory(mut m) => {
                m.shrink_to_fit();
                Part::Memory(m)
            }
            #[cfg(unix)]
            Sink::File(w, _) => Part::File(w.into_inner().map_err(|e| e.into_error())?),
        })
    }
}

/// One finished part of the details store.
#[derive(Debug)]
enum Part {
    Memory(Vec<u8>),
    #[cfg(unix)]
    File(fs::File),
}

impl Part {
    fn read(&self, from: u64, len: u32) -> std::io::Result<Cow<'_, [u8]>> {
        let bad =
            || std::io::Error::new(std::io::ErrorKind::InvalidData, "detail block out of range");
        let len = usize::try_from(len).map_err(|_| bad())?;
        match self {
            Part::Memory(m) => {
                let from = usize::try_from(from).map_err(|_| bad())?;
                let to = from.checked_add(len).ok_or_else(bad)?;
                m.get(from..to).map(Cow::Borrowed).ok_or_else(bad)
            }
            #[cfg(unix)]
            Part::File(f) => {
                use std::os::unix::fs::FileExt as _;
                let mut buf = vec![0u8; len];
                f.read_exact_at(&mut buf, from)?;
                Ok(Cow::Owned(buf))
            }
        }
    }
}

/// One index hit: an affected-package entry naming the looked-up package.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// Position of the advisory in [`AdvisoryIndex::advisories`] (stable for one index).
    pub record: usize,
    /// The advisory.
    pub advisory: &'a IndexedAdvisory,
    /// The affected entry that names the package.
    pub affected: &'a Affected,
}

/// Counts for one base ecosystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EcosystemStats {
    /// Advisories with at least one affected entry in this ecosystem.
    pub advisories: usize,
    /// Distinct (normalised) package names.
    pub packages: usize,
    /// The newest `modified` among them.
    pub newest_modified: Option<String>,
}

/// Index statistics for the dashboard's feed tiles.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexStats {
    /// Advisories in the index (withdrawn ones excluded, duplicates counted once).
    pub advisories: usize,
    /// Withdrawn advisories left out.
    pub withdrawn: usize,
    /// The newest `modified` of any indexed advisory.
    pub newest_modified: Option<String>,
    /// Per base ecosystem (OSV spelling, e.g. `Debian`, `PyPI`).
    pub ecosystems: BTreeMap<String, EcosystemStats>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    record: u32,
    affected: u32,
}

/// The advisory index. Build it once per active kit, share it (`Arc`) between scans.
#[derive(Debug, Default)]
pub struct AdvisoryIndex {
    records: Vec<IndexedAdvisory>,
    by_package: HashMap<BaseEcosystem, HashMap<Box<str>, Vec<Entry>>>,
    stats: IndexStats,
    /// The details store: one part per loaded file.
    parts: Vec<Part>,
    /// Where record `i`'s details block is.
    details_at: Vec<Loc>,
}

/// The lookup name of `name` in `base` (see the module table). Borrowed when unchanged.
///
/// ```
/// use scanner::index::normalize_name;
/// use bundles::model::BaseEcosystem;
/// assert_eq!(normalize_name(&BaseEcosystem::PyPI, "Zope.Interface"), "zope-interface");
/// assert_eq!(normalize_name(&BaseEcosystem::NuGet, "Newtonsoft.Json"), "newtonsoft.json");
/// assert_eq!(normalize_name(&BaseEcosystem::Npm, "JSONStream"), "JSONStream");
/// ```
pub fn normalize_name<'a>(base: &BaseEcosystem, name: &'a str) -> Cow<'a, str> {
    match base {
        BaseEcosystem::PyPI => {
            let n = pep503_normalize(name);
            if n == name {
                Cow::Borrowed(name)
            } else {
                Cow::Owned(n)
            }
        }
        BaseEcosystem::NuGet | BaseEcosystem::Packagist
            if name.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            Cow::Owned(name.to_ascii_lowercase())
        }
        _ => Cow::Borrowed(name),
    }
}

/// Whether the base is an operating-system distribution (release suffixes matter).
fn is_os(base: &BaseEcosystem) -> bool {
    matches!(
        base,
        BaseEcosystem::Debian
            | BaseEcosystem::Ubuntu
            | BaseEcosystem::Alpine
            | BaseEcosystem::RedHat
            | BaseEcosystem::RockyLinux
            | BaseEcosystem::AlmaLinux
            | BaseEcosystem::Wolfi
            | BaseEcosystem::Chainguard
            | BaseEcosystem::OpenSuse
            | BaseEcosystem::Suse
    ) || matches!(base, BaseEcosystem::Other(_))
}

/// `22.04:LTS`, `Pro:22.04:LTS` → `22.04`; `None` for a stream other than the standard
/// one (`Pro:FIPS:22.04:LTS`).
fn ubuntu_release(r: &str) -> Option<&str> {
    let mut release = None;
    for token in r.split(':') {
        match token {
            "LTS" | "Pro" => {}
            t if release.is_none()
                && t.contains('.')
                && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') =>
            {
                release = Some(t);
            }
            _ => return None,
        }
    }
    release
}

/// The RHEL major of a Red Hat OSV CPE suffix (`enterprise_linux:9::appstream` → `9`,
/// `rhel_eus:9.2::baseos` → `9`).
fn redhat_major(r: &str) -> Option<&str> {
    let version = r.split(':').nth(1)?;
    let major = version.split('.').next()?;
    (!major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())).then_some(major)
}

/// Whether an affected entry of release `affected` applies to a component of release
/// `component` in `base` (the rules are in the module documentation).
///
/// ```
/// use scanner::index::release_matches;
/// use bundles::model::BaseEcosystem;
/// assert!(release_matches(&BaseEcosystem::Debian, Some("12"), Some("12")));
/// assert!(!release_matches(&BaseEcosystem::Debian, Some("12"), Some("11")));
/// assert!(release_matches(&BaseEcosystem::Ubuntu, Some("Pro:22.04:LTS"), Some("22.04")));
/// assert!(release_matches(&BaseEcosystem::RedHat, Some("enterprise_linux:9::appstream"), Some("9")));
/// assert!(release_matches(&BaseEcosystem::Wolfi, None, None));
/// ```
pub fn release_matches(
    base: &BaseEcosystem,
    affected: Option<&str>,
    component: Option<&str>,
) -> bool {
    let Some(affected) = affected else {
        return true;
    };
    if !is_os(base) {
        return true;
    }
    let Some(component) = component else {
        return false;
    };
    match base {
        BaseEcosystem::Ubuntu => match (ubuntu_release(affected), ubuntu_release(component)) {
            (Some(a), Some(c)) => a == c,
            _ => false,
        },
        BaseEcosystem::RedHat => {
            let comp = component.split('.').next().unwrap_or(component);
            redhat_major(affected) == Some(comp)
        }
        _ => affected == component,
    }
}

impl AdvisoryIndex {
    /// Builds the index from advisories in any order. Withdrawn records are skipped;
    /// when an id occurs twice, the newer `modified` wins (equal: the one whose indexed
    /// form's JSON sorts first), so the result does not depend on the input order.
    pub fn from_advisories(advisories: impl IntoIterator<Item = Advisory>) -> AdvisoryIndex {
        let mut b = Builder::new(None);
        for a in advisories {
            // In memory, writing a block cannot fail (no record reaches 4 GiB).
            let _ = b.add(a);
        }
        match b.seal() {
            Ok(sealed) => assemble(vec![sealed]),
            Err(_) => AdvisoryIndex::default(),
        }
    }

    /// Loads every `advisories/*.jsonl` file under an unpacked kit directory `kit_dir`
    /// (files written by [`bundles::model::write_jsonl`], one per OSV base ecosystem), in
    /// file-name order. Other files are ignored.
    ///
    /// # Errors
    ///
    /// [`IndexError`] naming the file (and line) that failed or the limit passed.
    pub fn from_jsonl_dir(
        kit_dir: &Path,
        limits: &IndexLimits,
    ) -> Result<AdvisoryIndex, IndexError> {
        let dir = kit_dir.join("advisories");
        if !dir.is_dir() {
            return Err(IndexError::MissingDirectory { path: dir });
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| IndexError::Io { path, source }
        };
        let mut files = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let path = entry.path();
            let is_jsonl = path.extension().is_some_and(|e| e == "jsonl");
            if is_jsonl && entry.file_type().map_err(io(&path))?.is_file() {
                files.push(path);
                if files.len() > limits.max_files {
                    return Err(IndexError::TooManyFiles {
                        path: dir,
                        limit: limits.max_files,
                    });
                }
            }
        }
        files.sort();
        // One file per task on up to one thread per core: parsing and validating JSON is
        // the bulk of a load. Results are merged in file order, and the first error in
        // file order is the one reported, so the outcome does not depend on scheduling.
        let count = AtomicUsize::new(0);
        let next = AtomicUsize::new(0);
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(files.len())
            .max(1);
        let slots: Vec<Mutex<Option<Result<Sealed, IndexError>>>> =
            files.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, AtomicOrdering::Relaxed);
                        let Some(path) = files.get(i) else { break };
                        let r = load_file(path, limits, &count);
                        let failed = r.is_err();
                        if let Some(slot) = slots.get(i) {
                            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
                        }
                        if failed {
                            // Later files cannot change the answer: stop taking new ones.
                            next.store(files.len(), AtomicOrdering::Relaxed);
                        }
                    }
                });
            }
        });
        let mut loaded = Vec::with_capacity(files.len());
        for slot in slots {
            match slot.into_inner().unwrap_or_else(PoisonError::into_inner) {
                Some(Ok(part)) => loaded.push(part),
                Some(Err(e)) => return Err(e),
                // Not loaded because an earlier error stopped the workers: that error
                // comes first in file order or already returned above.
                None => {}
            }
        }
        Ok(assemble(loaded))
    }

    /// Number of indexed advisories.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the index holds no advisory.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Statistics for the dashboard.
    pub fn stats(&self) -> &IndexStats {
        &self.stats
    }

    /// Bytes of record details held in memory rather than in a spill file: all of them
    /// without [`IndexLimits::spill_dir`], and with it whatever could not be spilled (a
    /// read-only directory). 0 when everything went to the spill file.
    pub fn details_in_memory(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Memory(m) => m.len() as u64,
                #[cfg(unix)]
                Part::File(_) => 0,
            })
            .sum()
    }

    /// What a finding shows about record `record` (a [`Hit::record`]): read from the
    /// details store, so call it only for the records a scan matched.
    ///
    /// # Errors
    ///
    /// [`IndexError::Details`] when the record does not exist or the store cannot be read.
    pub fn details(&self, record: usize) -> Result<AdvisoryDetails, IndexError> {
        let err = |source| IndexError::Details { record, source };
        let missing = || {
            err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such record",
            ))
        };
        let at = *self.details_at.get(record).ok_or_else(missing)?;
        let part = self.parts.get(at.part as usize).ok_or_else(missing)?;
        let block = part.read(at.from, at.len).map_err(err)?;
        decode_details(&block).ok_or_else(|| {
            err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "details block does not decode",
            ))
        })
    }

    /// Every indexed advisory, sorted by id.
    pub fn advisories(&self) -> &[IndexedAdvisory] {
        &self.records
    }

    /// The affected entries that name package `name` in `ecosystem` and apply to its
    /// release. `name` is normalised with [`normalize_name`] first. Hits come in index
    /// order (advisory id, then the record's affected order).
    pub fn lookup<'a>(
        &'a self,
        ecosystem: &'a Ecosystem,
        name: &str,
    ) -> impl Iterator<Item = Hit<'a>> + 'a {
        let base = ecosystem.base();
        let entries: &[Entry] = self
            .by_package
            .get(base)
            .and_then(|m| m.get(normalize_name(base, name).as_ref()))
            .map_or(&[], Vec::as_slice);
        entries.iter().filter_map(move |e| {
            let advisory = self.records.get(e.record as usize)?;
            let affected = advisory.affected.get(e.affected as usize)?;
            let release = affected.package().ecosystem().release();
            release_matches(base, release, ecosystem.release()).then_some(Hit {
                record: e.record as usize,
                advisory,
                affected,
            })
        })
    }
}

struct Builder {
    records: Vec<Parsed>,
    withdrawn: usize,
    sink: Sink,
    block: Vec<u8>,
}

/// A loaded file: its records (whose `at.part` is 0), withdrawn count and details part.
struct Sealed {
    records: Vec<Parsed>,
    withdrawn: usize,
    part: Part,
}

impl Builder {
    fn new(spill_dir: Option<&Path>) -> Builder {
        Builder {
            records: Vec::new(),
            withdrawn: 0,
            sink: Sink::new(spill_dir),
            block: Vec::new(),
        }
    }

    fn add(&mut self, a: Advisory) -> std::io::Result<()> {
        if a.withdrawn().is_some() {
            self.withdrawn += 1;
            return Ok(());
        }
        // Slim at once: the details block is written out and the full record dropped
        // here, so what stays on the heap is only what matching needs, allocated in
        // order (no holes left by freed details between live records).
        let p = a.into_index_parts();
        let details = AdvisoryDetails {
            modified: String::new(),
            aliases: p.aliases,
            upstream: p.upstream,
            summary: p.summary,
            severity: p.severity,
            database_severity: p.database_severity,
            references: p.references.into_iter().map(|r| r.into_url()).collect(),
        };
        self.block.clear();
        encode_details(&details, p.modified.as_str(), &mut self.block);
        let len = u32::try_from(self.block.len()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "record too large")
        })?;
        let from = self.sink.put(&self.block)?;
        self.records.push(Parsed {
            id: p.id,
            modified: p.modified,
            affected: p.affected.into_boxed_slice(),
            at: Loc { part: 0, len, from },
        });
        Ok(())
    }

    /// Closes the details sink.
    fn seal(self) -> std::io::Result<Sealed> {
        Ok(Sealed {
            records: self.records,
            withdrawn: self.withdrawn,
            part: self.sink.finish()?,
        })
    }
}

/// Builds the index from loaded files, in file order.
fn assemble(files: Vec<Sealed>) -> AdvisoryIndex {
    let mut parsed = Vec::with_capacity(files.iter().map(|f| f.records.len()).sum());
    let mut parts = Vec::with_capacity(files.len());
    let mut withdrawn = 0;
    for f in files {
        let part = u32::try_from(parts.len()).unwrap_or(u32::MAX);
        parsed.extend(f.records.into_iter().map(|mut r| {
            r.at.part = part;
            r
        }));
        parts.push(f.part);
        withdrawn += f.withdrawn;
    }
    // Same id twice: keep the preferred one (sorted first), whatever the input order.
    parsed.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| preference(a, b, &parts)));
    parsed.dedup_by(|later, kept| later.id == kept.id);
    let mut by_package: HashMap<BaseEcosystem, HashMap<Box<str>, Vec<Entry>>> = HashMap::new();
    let mut stats = IndexStats {
        withdrawn,
        ..IndexStats::default()
    };
    let mut newest: Option<&Timestamp> = None;
    let mut eco_newest: BTreeMap<String, &Timestamp> = BTreeMap::new();
    for (i, a) in parsed.iter().enumerate() {
        // Ids beyond u32 cannot occur: the loader caps advisories far below that.
        let Ok(record) = u32::try_from(i) else { break };
        let mut seen_bases: Vec<&BaseEcosystem> = Vec::new();
        for (j, aff) in a.affected.iter().enumerate() {
            let Ok(affected) = u32::try_from(j) else {
                break;
            };
            let base = aff.package().ecosystem().base();
            let name = normalize_name(base, aff.package().name());
            let names = by_package.entry(base.clone()).or_default();
            match names.get_mut(name.as_ref()) {
                Some(v) => v.push(Entry { record, affected }),
                None => {
                    names.insert(name.into(), vec![Entry { record, affected }]);
                }
            }
            if !seen_bases.contains(&base) {
                seen_bases.push(base);
                let s = stats
                    .ecosystems
                    .entry(base.as_str().to_string())
                    .or_default();
                s.advisories += 1;
                let n = eco_newest
                    .entry(base.as_str().to_string())
                    .or_insert(&a.modified);
                if a.modified.datetime() > n.datetime() {
                    *n = &a.modified;
                }
            }
        }
        if newest.is_none_or(|n| a.modified.datetime() > n.datetime()) {
            newest = Some(&a.modified);
        }
    }
    for names in by_package.values_mut() {
        for entries in names.values_mut() {
            entries.shrink_to_fit();
        }
    }
    for (base, names) in &by_package {
        if let Some(s) = stats.ecosystems.get_mut(base.as_str()) {
            s.packages = names.len();
        }
    }
    for (eco, t) in eco_newest {
        if let Some(s) = stats.ecosystems.get_mut(&eco) {
            s.newest_modified = Some(t.as_str().to_string());
        }
    }
    stats.advisories = parsed.len();
    stats.newest_modified = newest.map(|t| t.as_str().to_string());
    let mut records = Vec::with_capacity(parsed.len());
    let mut details_at = Vec::with_capacity(parsed.len());
    for p in parsed {
        details_at.push(p.at);
        records.push(IndexedAdvisory {
            id: p.id,
            affected: p.affected,
        });
    }
    AdvisoryIndex {
        records,
        by_package,
        stats,
        parts,
        details_at,
    }
}

/// Appends one record's details: each string as a little-endian `u32` length and its
/// bytes; each list as a `u32` count and its strings; an absent optional string as
/// `u32::MAX`. Only [`decode_details`] reads it, in the same process.
fn encode_details(d: &AdvisoryDetails, modified: &str, out: &mut Vec<u8>) {
    fn put(out: &mut Vec<u8>, s: &str) {
        // Every string is bounded far below 4 GiB by the model's limits.
        out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX - 1).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    fn opt(out: &mut Vec<u8>, s: Option<&str>) {
        match s {
            Some(s) => put(out, s),
            None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
        }
    }
    fn count(out: &mut Vec<u8>, n: usize) {
        out.extend_from_slice(&u32::try_from(n).unwrap_or(0).to_le_bytes());
    }
    put(out, modified);
    count(out, d.aliases.len());
    for a in &d.aliases {
        put(out, a.as_str());
    }
    count(out, d.upstream.len());
    for a in &d.upstream {
        put(out, a.as_str());
    }
    opt(out, d.summary.as_deref());
    count(out, d.severity.len());
    for s in &d.severity {
        put(out, s.kind().as_str());
        put(out, s.score());
    }
    opt(out, d.database_severity.as_deref());
    count(out, d.references.len());
    for r in &d.references {
        put(out, r);
    }
}

struct Decoder<'a>(&'a [u8]);

impl<'a> Decoder<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_le_bytes(*head))
    }
    fn str_of_len(&mut self, n: u32) -> Option<&'a str> {
        let n = usize::try_from(n).ok()?;
        if n > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        std::str::from_utf8(s).ok()
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()?;
        self.str_of_len(n)
    }
    fn opt(&mut self) -> Option<Option<&'a str>> {
        match self.u32()? {
            u32::MAX => Some(None),
            n => self.str_of_len(n).map(Some),
        }
    }
    fn ids(&mut self) -> Option<Vec<AdvisoryId>> {
        let n = self.u32()?;
        (0..n).map(|_| AdvisoryId::new(self.str()?).ok()).collect()
    }
}

/// Reads back what [`encode_details`] wrote; `None` for anything else.
fn decode_details(block: &[u8]) -> Option<AdvisoryDetails> {
    let mut d = Decoder(block);
    let modified = d.str()?.to_owned();
    let aliases = d.ids()?;
    let upstream = d.ids()?;
    let summary = d.opt()?.map(str::to_owned);
    let n = d.u32()?;
    let severity = (0..n)
        .map(|_| SeverityScore::new(d.str()?, d.str()?).ok())
        .collect::<Option<Vec<_>>>()?;
    let database_severity = d.opt()?.map(str::to_owned);
    let n = d.u32()?;
    let references = (0..n)
        .map(|_| d.str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()?;
    d.0.is_empty().then_some(AdvisoryDetails {
        modified,
        aliases,
        upstream,
        summary,
        severity,
        database_severity,
        references,
    })
}

/// Parses one `*.jsonl` file into a partial index, counting records into `count` (shared
/// by all files, for [`IndexLimits::max_advisories`]).
fn load_file(path: &Path, limits: &IndexLimits, count: &AtomicUsize) -> Result<Sealed, IndexError> {
    let io = |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limits.max_file_bytes {
        return Err(IndexError::FileTooLarge {
            path: path.to_path_buf(),
            size,
            limit: limits.max_file_bytes,
        });
    }
    let reader = JsonlReader::new(BufReader::with_capacity(1 << 16, file))
        .max_line_bytes(limits.max_line_bytes);
    let mut b = Builder::new(limits.spill_dir.as_deref());
    for item in reader {
        let advisory = item.map_err(|e| match e {
            ModelError::Line { line, source } => IndexError::Record {
                path: path.to_path_buf(),
                line,
                source: *source,
            },
            other => IndexError::Record {
                path: path.to_path_buf(),
                line: 0,
                source: other,
            },
        })?;
        if count.fetch_add(1, AtomicOrdering::Relaxed) >= limits.max_advisories {
            return Err(IndexError::TooManyAdvisories {
                path: path.to_path_buf(),
                limit: limits.max_advisories,
            });
        }
        b.add(advisory).map_err(io)?;
    }
    b.seal().map_err(io)
}

/// The order among records of one id: the newer `modified` first; on a tie, the one whose
/// indexed form (affected entries as JSON, then details block) sorts first. A total
/// order, so the record kept does not depend on the input order. (Ties differing only in
/// what the index drops, such as `details`, keep an identical indexed form either way.)
fn preference(a: &Parsed, b: &Parsed, parts: &[Part]) -> std::cmp::Ordering {
    b.modified
        .datetime()
        .cmp(&a.modified.datetime())
        .then_with(|| {
            // Serialising plain validated values cannot fail; an empty key still orders.
            let key = |x: &Parsed| {
                let mut k = serde_json::to_vec(&x.affected).unwrap_or_default();
                if let Some(Ok(block)) = parts
                    .get(x.at.part as usize)
                    .map(|p| p.read(x.at.from, x.at.len))
                {
                    k.extend_from_slice(&block);
                }
                k
            };
            key(a).cmp(&key(b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bundles::model::write_jsonl;

    fn adv(json: &str) -> Advisory {
        Advisory::from_osv_json(json.as_bytes()).expect("valid test record")
    }

    fn rec(id: &str, modified: &str, eco: &str, name: &str, extra: &str) -> Advisory {
        adv(&format!(
            r#"{{"id":"{id}","modified":"{modified}"{extra},
              "affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},
                "ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"2"}}]}}]}}]}}"#
        ))
    }

    fn ids(index: &AdvisoryIndex, eco: &str, name: &str) -> Vec<String> {
        let e: Ecosystem = eco.parse().expect("ecosystem");
        index
            .lookup(&e, name)
            .map(|h| h.advisory.id().to_string())
            .collect()
    }

    #[test]
    fn names_are_normalised_per_ecosystem() {
        let index = AdvisoryIndex::from_advisories([
            rec("A-1", "2024-01-01T00:00:00Z", "PyPI", "Django", ""),
            rec(
                "A-2",
                "2024-01-01T00:00:00Z",
                "NuGet",
                "Newtonsoft.Json",
                "",
            ),
            rec("A-3", "2024-01-01T00:00:00Z", "npm", "JSONStream", ""),
            rec(
                "A-4",
                "2024-01-01T00:00:00Z",
                "Packagist",
                "Symfony/Http-Kernel",
                "",
            ),
            rec(
                "A-5",
                "2024-01-01T00:00:00Z",
                "Maven",
                "org.Example:Lib",
                "",
            ),
        ]);
        assert_eq!(ids(&index, "PyPI", "django"), ["A-1"]);
        assert_eq!(ids(&index, "PyPI", "DJANGO"), ["A-1"]);
        assert_eq!(ids(&index, "NuGet", "newtonsoft.json"), ["A-2"]);
        assert_eq!(ids(&index, "npm", "JSONStream"), ["A-3"]);
        assert!(
            ids(&index, "npm", "jsonstream").is_empty(),
            "npm is case-sensitive"
        );
        assert_eq!(ids(&index, "Packagist", "symfony/http-kernel"), ["A-4"]);
        assert_eq!(ids(&index, "Maven", "org.Example:Lib"), ["A-5"]);
        assert!(ids(&index, "Maven", "org.example:lib").is_empty());
        assert!(ids(&index, "crates.io", "django").is_empty());
    }

    #[test]
    fn releases_are_respected() {
        let index = AdvisoryIndex::from_advisories([
            rec("D-12", "2024-01-01T00:00:00Z", "Debian:12", "openssl", ""),
            rec("D-11", "2024-01-01T00:00:00Z", "Debian:11", "openssl", ""),
            rec(
                "U-LTS",
                "2024-01-01T00:00:00Z",
                "Ubuntu:22.04:LTS",
                "openssl",
                "",
            ),
            rec(
                "U-PRO",
                "2024-01-01T00:00:00Z",
                "Ubuntu:Pro:22.04:LTS",
                "openssl",
                "",
            ),
            rec(
                "U-FIPS",
                "2024-01-01T00:00:00Z",
                "Ubuntu:Pro:FIPS:22.04:LTS",
                "openssl",
                "",
            ),
            rec(
                "U-20",
                "2024-01-01T00:00:00Z",
                "Ubuntu:20.04:LTS",
                "openssl",
                "",
            ),
            rec("AL", "2024-01-01T00:00:00Z", "Alpine:v3.19", "openssl", ""),
            rec(
                "RH9",
                "2024-01-01T00:00:00Z",
                "Red Hat:enterprise_linux:9::appstream",
                "openssl",
                "",
            ),
            rec(
                "RH8",
                "2024-01-01T00:00:00Z",
                "Red Hat:rhel_eus:8.6::baseos",
                "openssl",
                "",
            ),
            rec("RK", "2024-01-01T00:00:00Z", "Rocky Linux:9", "openssl", ""),
            rec("W", "2024-01-01T00:00:00Z", "Wolfi", "openssl", ""),
        ]);
        assert_eq!(ids(&index, "Debian:12", "openssl"), ["D-12"]);
        assert_eq!(ids(&index, "Debian:11", "openssl"), ["D-11"]);
        assert!(ids(&index, "Debian:13", "openssl").is_empty());
        assert_eq!(ids(&index, "Ubuntu:22.04", "openssl"), ["U-LTS", "U-PRO"]);
        assert_eq!(ids(&index, "Ubuntu:20.04", "openssl"), ["U-20"]);
        assert_eq!(ids(&index, "Alpine:v3.19", "openssl"), ["AL"]);
        assert!(ids(&index, "Alpine:v3.20", "openssl").is_empty());
        assert_eq!(ids(&index, "Red Hat:9", "openssl"), ["RH9"]);
        assert_eq!(ids(&index, "Red Hat:8", "openssl"), ["RH8"]);
        assert!(ids(&index, "Red Hat", "openssl").is_empty());
        assert_eq!(ids(&index, "Rocky Linux:9", "openssl"), ["RK"]);
        assert!(ids(&index, "Rocky Linux:8", "openssl").is_empty());
        assert_eq!(ids(&index, "Wolfi", "openssl"), ["W"]);
    }

    #[test]
    fn withdrawn_and_duplicates() {
        let older = rec(
            "X-1",
            "2024-01-01T00:00:00Z",
            "npm",
            "a",
            r#","summary":"old""#,
        );
        let newer_rec = rec(
            "X-1",
            "2024-02-01T00:00:00Z",
            "npm",
            "a",
            r#","summary":"new""#,
        );
        let gone = rec(
            "X-2",
            "2024-01-01T00:00:00Z",
            "npm",
            "a",
            r#","withdrawn":"2024-01-02T00:00:00Z""#,
        );
        for order in [
            vec![older.clone(), newer_rec.clone(), gone.clone()],
            vec![gone.clone(), newer_rec.clone(), older.clone()],
        ] {
            let index = AdvisoryIndex::from_advisories(order);
            assert_eq!(index.len(), 1);
            assert_eq!(
                index.details(0).expect("details").summary.as_deref(),
                Some("new")
            );
            assert_eq!(index.stats().withdrawn, 1);
            assert_eq!(ids(&index, "npm", "a"), ["X-1"]);
        }
    }

    #[test]
    fn details_come_back_the_same_from_memory_and_from_the_spill_file() {
        let full = rec(
            "GHSA-aaaa-bbbb-cccc",
            "2024-01-01T00:00:00Z",
            "npm",
            "a",
            r#","aliases":["CVE-2024-1"],"upstream":["CVE-2024-2","CVE-2024-3"],
               "summary":"Ünïcode summary","details":"long text not kept",
               "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
               "database_specific":{"severity":"HIGH"},
               "references":[{"type":"WEB","url":"https://example.test/1"},{"type":"ADVISORY","url":"https://example.test/2"}]"#,
        );
        let bare = rec("X-1", "2024-01-02T00:00:00Z", "npm", "b", "");
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("advisories")).expect("mkdir");
        let mut buf = Vec::new();
        write_jsonl(&mut buf, [&full, &bare]).expect("write");
        fs::write(dir.path().join("advisories/npm.jsonl"), &buf).expect("write");
        let memory = AdvisoryIndex::from_advisories([full.clone(), bare.clone()]);
        let spilled = AdvisoryIndex::from_jsonl_dir(
            dir.path(),
            &IndexLimits::default().spill_dir(dir.path()),
        )
        .expect("load");
        assert!(matches!(spilled.parts[..], [Part::File(_)]));
        assert!(matches!(memory.parts[..], [Part::Memory(_)]));
        assert_eq!(spilled.details_in_memory(), 0);
        assert!(memory.details_in_memory() > 0);
        // A spill directory that cannot take the file: details stay in memory, and say so.
        let unusable = AdvisoryIndex::from_jsonl_dir(
            dir.path(),
            &IndexLimits::default().spill_dir(dir.path().join("no-such-dir")),
        )
        .expect("load");
        assert!(unusable.details_in_memory() > 0);
        assert_eq!(
            unusable.details(0).expect("details"),
            spilled.details(0).expect("d")
        );
        let d = memory.details(0).expect("details");
        assert_eq!(d.aliases, [AdvisoryId::new("CVE-2024-1").expect("id")]);
        assert_eq!(d.upstream.len(), 2);
        assert_eq!(d.summary.as_deref(), Some("Ünïcode summary"));
        assert_eq!(d.severity.len(), 1);
        assert_eq!(
            d.references,
            ["https://example.test/1", "https://example.test/2"]
        );
        assert_eq!(d.modified, "2024-01-01T00:00:00Z");
        for i in 0..2 {
            assert_eq!(
                memory.details(i).expect("m"),
                spilled.details(i).expect("s")
            );
        }
        assert_eq!(memory.details(1).expect("bare").summary, None);
        assert!(matches!(
            spilled.details(2),
            Err(IndexError::Details { record: 2, .. })
        ));
        // Anything but an encoded block is refused, never misread.
        let mut block = Vec::new();
        encode_details(&d, &d.modified, &mut block);
        assert_eq!(decode_details(&block), Some(d));
        for cut in 0..block.len() {
            assert_eq!(decode_details(&block[..cut]), None, "cut at {cut}");
        }
        block.push(0);
        assert_eq!(decode_details(&block), None);
    }

    #[test]
    fn stats_count_per_base_ecosystem() {
        let index = AdvisoryIndex::from_advisories([
            rec("A-1", "2024-01-01T00:00:00Z", "Debian:12", "openssl", ""),
            rec("A-2", "2024-03-01T00:00:00Z", "Debian:11", "glibc", ""),
            rec("A-3", "2024-02-01T00:00:00Z", "PyPI", "django", ""),
        ]);
        let s = index.stats();
        assert_eq!(s.advisories, 3);
        assert_eq!(s.newest_modified.as_deref(), Some("2024-03-01T00:00:00Z"));
        let deb = &s.ecosystems["Debian"];
        assert_eq!((deb.advisories, deb.packages), (2, 2));
        assert_eq!(deb.newest_modified.as_deref(), Some("2024-03-01T00:00:00Z"));
        assert_eq!(s.ecosystems["PyPI"].advisories, 1);
    }

    #[test]
    fn loads_a_kit_directory_and_names_bad_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let adv_dir = dir.path().join("advisories");
        fs::create_dir(&adv_dir).expect("mkdir");
        let a = rec("A-1", "2024-01-01T00:00:00Z", "PyPI", "django", "");
        let b = rec("B-1", "2024-01-01T00:00:00Z", "Debian:12", "openssl", "");
        let mut buf = Vec::new();
        write_jsonl(&mut buf, [&a]).expect("write");
        fs::write(adv_dir.join("PyPI.jsonl"), &buf).expect("write");
        let mut buf = Vec::new();
        write_jsonl(&mut buf, [&b]).expect("write");
        fs::write(adv_dir.join("Debian.jsonl"), &buf).expect("write");
        fs::write(adv_dir.join("README.txt"), "ignored").expect("write");
        let index =
            AdvisoryIndex::from_jsonl_dir(dir.path(), &IndexLimits::default()).expect("load");
        assert_eq!(index.len(), 2);

        let too_few = IndexLimits::default().max_advisories(1);
        assert!(matches!(
            AdvisoryIndex::from_jsonl_dir(dir.path(), &too_few),
            Err(IndexError::TooManyAdvisories { limit: 1, .. })
        ));

        buf.extend_from_slice(b"{\"id\":\"C-1\"}\n");
        fs::write(adv_dir.join("Debian.jsonl"), &buf).expect("write");
        let err = AdvisoryIndex::from_jsonl_dir(dir.path(), &IndexLimits::default())
            .expect_err("bad line");
        match &err {
            IndexError::Record { path, line, .. } => {
                assert!(path.ends_with("Debian.jsonl"), "{path:?}");
                assert_eq!(*line, 2);
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert!(err.to_string().contains("Debian.jsonl, line 2"), "{err}");

        let empty = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            AdvisoryIndex::from_jsonl_dir(empty.path(), &IndexLimits::default()),
            Err(IndexError::MissingDirectory { .. })
        ));
    }
}
