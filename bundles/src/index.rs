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
//! use bundles::index::AdvisoryIndex;
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

use crate::model::{
    Advisory, AdvisoryId, Affected, BaseEcosystem, Ecosystem, JsonlReader, ModelError, Severity,
    Timestamp, pep503_normalize,
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
}

impl Default for IndexLimits {
    fn default() -> Self {
        IndexLimits {
            max_advisories: 2_000_000,
            max_file_bytes: 4 * 1024 * 1024 * 1024,
            max_files: 256,
            max_line_bytes: crate::model::limits::MAX_ADVISORY_JSON_BYTES,
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
    /// More advisories than [`IndexLimits::max_advisories`].
    #[error("{path}: more than {limit} advisories in the kit")]
    TooManyAdvisories {
        /// The file being read when the limit was passed.
        path: PathBuf,
        /// The limit.
        limit: usize,
    },
}

/// One advisory as the index keeps it: what a finding needs, without the long `details`
/// text (kept in the kit, not in memory: it is the bulk of real OSV records). Moved out
/// of the parsed [`Advisory`] (nothing copied) into exact-size boxes (no spare
/// capacity): with 200,000 records every word per record is 1.6 MB.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndexedAdvisory {
    id: AdvisoryId,
    modified: Timestamp,
    aliases: Box<[AdvisoryId]>,
    upstream: Box<[AdvisoryId]>,
    summary: Option<Box<str>>,
    severity: Box<[Severity]>,
    database_severity: Option<Box<str>>,
    references: Box<[Box<str>]>,
    affected: Box<[Affected]>,
}

impl IndexedAdvisory {
    fn from_advisory(a: Advisory) -> Self {
        let p = a.into_index_parts();
        IndexedAdvisory {
            id: p.id,
            modified: p.modified,
            aliases: p.aliases.into_boxed_slice(),
            upstream: p.upstream.into_boxed_slice(),
            summary: p.summary.map(String::into_boxed_str),
            severity: p.severity.into_boxed_slice(),
            database_severity: p.database_severity.map(String::into_boxed_str),
            references: p
                .references
                .into_iter()
                .map(|r| r.into_url().into_boxed_str())
                .collect(),
            affected: p.affected.into_boxed_slice(),
        }
    }

    /// The record id.
    pub fn id(&self) -> &AdvisoryId {
        &self.id
    }
    /// Last modification time.
    pub fn modified(&self) -> &Timestamp {
        &self.modified
    }
    /// Ids of the same vulnerability elsewhere.
    pub fn aliases(&self) -> &[AdvisoryId] {
        &self.aliases
    }
    /// Ids this record was derived from (Debian, Alpine put their CVE here).
    pub fn upstream(&self) -> &[AdvisoryId] {
        &self.upstream
    }
    /// One-line summary.
    pub fn summary(&self) -> Option<&str> {
        self.summary.as_deref()
    }
    /// Top-level severities.
    pub fn severity(&self) -> &[Severity] {
        &self.severity
    }
    /// The source database's own rating (GHSA `LOW`…`CRITICAL`).
    pub fn database_severity(&self) -> Option<&str> {
        self.database_severity.as_deref()
    }
    /// Reference URLs, in record order.
    pub fn references(&self) -> &[Box<str>] {
        &self.references
    }
    /// Affected packages.
    pub fn affected(&self) -> &[Affected] {
        &self.affected
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
}

/// The lookup name of `name` in `base` (see the module table). Borrowed when unchanged.
///
/// ```
/// use bundles::index::normalize_name;
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
/// use bundles::index::release_matches;
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
        let mut b = Builder::default();
        for a in advisories {
            b.add(a);
        }
        b.finish()
    }

    /// Loads every `advisories/*.jsonl` file under an unpacked kit directory `kit_dir`
    /// (files written by [`crate::model::write_jsonl`], one per OSV base ecosystem), in
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
        let slots: Vec<Mutex<Option<Result<Builder, IndexError>>>> =
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
        let mut b = Builder::default();
        for slot in slots {
            match slot.into_inner().unwrap_or_else(PoisonError::into_inner) {
                Some(Ok(part)) => b.merge(part),
                Some(Err(e)) => return Err(e),
                // Not loaded because an earlier error stopped the workers: that error
                // comes first in file order or already returned above.
                None => {}
            }
        }
        Ok(b.finish())
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

#[derive(Default)]
struct Builder {
    records: Vec<IndexedAdvisory>,
    withdrawn: usize,
}

impl Builder {
    fn add(&mut self, a: Advisory) {
        if a.withdrawn().is_some() {
            self.withdrawn += 1;
            return;
        }
        // Slim at once: the full record (details and all) is dropped here, so a load never
        // holds every parsed advisory at the same time.
        self.records.push(IndexedAdvisory::from_advisory(a));
    }

    fn merge(&mut self, other: Builder) {
        self.records.extend(other.records);
        self.withdrawn += other.withdrawn;
    }

    fn finish(self) -> AdvisoryIndex {
        let mut records = self.records;
        // Same id twice: keep the preferred one (sorted first), whatever the input order.
        records.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| preference(a, b)));
        records.dedup_by(|later, kept| later.id == kept.id);
        records.shrink_to_fit();
        let mut by_package: HashMap<BaseEcosystem, HashMap<Box<str>, Vec<Entry>>> = HashMap::new();
        let mut stats = IndexStats {
            withdrawn: self.withdrawn,
            ..IndexStats::default()
        };
        let mut newest: Option<&Timestamp> = None;
        let mut eco_newest: BTreeMap<String, &Timestamp> = BTreeMap::new();
        for (i, a) in records.iter().enumerate() {
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
        stats.advisories = records.len();
        stats.newest_modified = newest.map(|t| t.as_str().to_string());
        AdvisoryIndex {
            records,
            by_package,
            stats,
        }
    }
}

/// Parses one `*.jsonl` file into a partial index, counting records into `count` (shared
/// by all files, for [`IndexLimits::max_advisories`]).
fn load_file(
    path: &Path,
    limits: &IndexLimits,
    count: &AtomicUsize,
) -> Result<Builder, IndexError> {
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
    let mut b = Builder::default();
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
        b.add(advisory);
    }
    Ok(b)
}

/// The order among records of one id: the newer `modified` first; on a tie, the one whose
/// indexed form's JSON sorts first. A total order, so the record kept does not depend on
/// the input order. (Ties differing only in what the index drops, such as `details`, keep
/// an identical indexed form either way.)
fn preference(a: &IndexedAdvisory, b: &IndexedAdvisory) -> std::cmp::Ordering {
    b.modified
        .datetime()
        .cmp(&a.modified.datetime())
        .then_with(|| {
            if a == b {
                return std::cmp::Ordering::Equal;
            }
            // Serialising plain validated values cannot fail; an empty key still orders.
            let key = |x: &IndexedAdvisory| serde_json::to_vec(x).unwrap_or_default();
            key(a).cmp(&key(b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::write_jsonl;

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
            assert_eq!(index.advisories()[0].summary(), Some("new"));
            assert_eq!(index.stats().withdrawn, 1);
            assert_eq!(ids(&index, "npm", "a"), ["X-1"]);
        }
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
