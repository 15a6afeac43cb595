//! The kit import: ten numbered checks, cheapest refusal first, then atomic activation.
//!
//! | # | check | refuses |
//! |---|-------|---------|
//! | 1 | file size cap | a kit file larger than the limit, before reading a byte |
//! | 2 | detached signature | a missing, malformed or foreign `.minisig`, or one that does not verify against a pinned key |
//! | 3 | manifest signatures | a manifest that is not first, not canonical, malformed, or signed by fewer pinned keys than the threshold |
//! | 4 | format version | a format or format version this importer does not implement |
//! | 5 | site binding | a kit bound to another site |
//! | 6 | rollback | a sequence below the last accepted one (equal = already imported, a no-op) |
//! | 7 | freshness | an expired kit, a clock earlier than the latest trusted time, a kit from the future |
//! | 8 | entry integrity | an entry whose size or sha256 differs from the signed manifest, truncation, bombs, unlisted or missing entries |
//! | 9 | path safety | absolute paths, `..`, links, devices, directories, duplicate names |
//! | 10 | content | advisories that do not parse, client tokens that do not verify with a pinned vendor key, OCI blobs whose names are not their digests |
//!
//! Nothing outside `audit/` changes unless every check passed: the kit streams into a
//! staging directory that is removed on any refusal (see [`crate::activate`]), and the
//! switch to the new kit is one atomic rename.
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use bundles::model::JsonlReader;
use bundles::path::media_types;
use bundles::tokens::{
    CLIENTS_PATH, ClientTokens, MAX_CLIENTS, MAX_REVOKED, MAX_TOKEN_BYTES, REVOKED_PATH,
    Revocations, valid_client_id,
};
use bundles::{KitError, KitReader, Limits, VerifiedManifest};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use signing::minisign::{self, SignatureBox, VerifyOptions};
use signing::{KeyPair, TrustRoot, jwt};
use time::{Duration, OffsetDateTime};

use crate::activate::{self, Activation, KitHistory, Staging};
use crate::datadir::{DataDir, rfc3339, write_json_atomic};

/// Where the kit's entries live inside a kit directory (`kits/<SEQ>-<ID>/content/`), apart
/// from the importer's own files so that no entry name can collide with them.
pub const CONTENT_DIR: &str = "content";
/// The re-signed client tokens and the revocation list (`kits/<dir>/tokens.json`).
pub const TOKENS_FILE: &str = "tokens.json";
/// The import report kept beside the kit (`kits/<dir>/import.json`).
pub const REPORT_FILE: &str = "import.json";
/// The appliance's signed statement that it verified and activated the kit
/// (`kits/<dir>/import.dsse.json`): an in-toto Statement v1 in a DSSE envelope.
pub const IMPORT_STATEMENT_FILE: &str = "import.dsse.json";
/// `predicateType` of the import statement.
pub const IMPORT_PREDICATE_TYPE: &str = "https://stella-ops.org/attestations/kit-import/v1";
/// Largest `.minisig` file read.
const MAX_SIG_BYTES: u64 = 16 * 1024;
/// Largest `tokens/*.json` entry parsed.
const MAX_TOKENS_FILE: u64 = 64 << 20;
/// Largest OCI `index.json` parsed.
const MAX_OCI_INDEX: u64 = 4 << 20;

/// The numbered checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// 1: the kit file is no larger than the cap.
    FileSize,
    /// 2: the detached `.minisig` verifies against a pinned vendor key.
    DetachedSignature,
    /// 3: the manifest is well-formed and signed by at least `threshold` pinned keys.
    ManifestSignatures,
    /// 4: the format and format version are implemented here.
    FormatVersion,
    /// 5: the kit is not bound to another site.
    SiteBinding,
    /// 6: the sequence is above the last accepted one.
    Rollback,
    /// 7: the kit has not expired and the clock has not gone back.
    Freshness,
    /// 8: every entry matches the manifest's size and sha256.
    EntryIntegrity,
    /// 9: every entry is a plain file at a safe path.
    PathSafety,
    /// 10: the content parses and its tokens verify.
    Content,
}

impl Check {
    /// Every check, in order.
    pub const ALL: [Check; 10] = [
        Check::FileSize,
        Check::DetachedSignature,
        Check::ManifestSignatures,
        Check::FormatVersion,
        Check::SiteBinding,
        Check::Rollback,
        Check::Freshness,
        Check::EntryIntegrity,
        Check::PathSafety,
        Check::Content,
    ];

    /// The check's number (1–10), as printed in refusals.
    pub fn number(self) -> u8 {
        match self {
            Check::FileSize => 1,
            Check::DetachedSignature => 2,
            Check::ManifestSignatures => 3,
            Check::FormatVersion => 4,
            Check::SiteBinding => 5,
            Check::Rollback => 6,
            Check::Freshness => 7,
            Check::EntryIntegrity => 8,
            Check::PathSafety => 9,
            Check::Content => 10,
        }
    }

    /// A short name for reports.
    pub fn title(self) -> &'static str {
        match self {
            Check::FileSize => "file size cap",
            Check::DetachedSignature => "detached signature",
            Check::ManifestSignatures => "manifest signatures",
            Check::FormatVersion => "format version",
            Check::SiteBinding => "site binding",
            Check::Rollback => "rollback",
            Check::Freshness => "expiry and clock",
            Check::EntryIntegrity => "entry size and sha256",
            Check::PathSafety => "path safety",
            Check::Content => "content validation",
        }
    }
}

/// Why check 7 refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FreshnessProblem {
    /// `expires_at` is not after the appliance clock.
    Expired {
        /// The kit's expiry (RFC 3339).
        expires_at: String,
        /// The appliance clock (RFC 3339).
        now: String,
    },
    /// The appliance clock is earlier than a time it has already trusted.
    ClockBehind {
        /// The appliance clock (RFC 3339).
        now: String,
        /// The latest trusted time (RFC 3339).
        trusted: String,
    },
    /// The kit claims to be created after the appliance clock (plus the allowed skew).
    CreatedInFuture {
        /// The kit's creation time (RFC 3339).
        created_at: String,
        /// The appliance clock (RFC 3339).
        now: String,
    },
}

/// A refused kit: exactly one variant per numbered check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Check 1.
    #[error("the kit file is {size} bytes, larger than the {limit}-byte cap")]
    FileSize {
        /// The file's size.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// Check 2.
    #[error("detached signature {path}: {reason}")]
    DetachedSignature {
        /// The `.minisig` file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Check 3.
    #[error("manifest: {0}")]
    ManifestSignatures(String),
    /// Check 4.
    #[error("{0}")]
    FormatVersion(String),
    /// Check 5.
    #[error("{}", site_message(.kit_site, .appliance_site.as_deref()))]
    SiteBinding {
        /// The site the kit is bound to.
        kit_site: String,
        /// This appliance's site (None = no site configured).
        appliance_site: Option<String>,
    },
    /// Check 6.
    #[error("{}", rollback_message(*.sequence, *.last_accepted, .active_kit_id.as_deref()))]
    Rollback {
        /// The kit's sequence.
        sequence: u64,
        /// The last accepted sequence.
        last_accepted: u64,
        /// Set when the same sequence was accepted before with a different kit id (a
        /// replay of a re-built kit): that kit's id.
        active_kit_id: Option<String>,
    },
    /// Check 7.
    #[error("{}", freshness_message(.0))]
    Freshness(FreshnessProblem),
    /// Check 8.
    #[error("{0}")]
    EntryIntegrity(String),
    /// Check 9.
    #[error("{0}")]
    PathSafety(String),
    /// Check 10.
    #[error("{path}: {reason}")]
    Content {
        /// The entry at fault.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn site_message(kit: &str, appliance: Option<&str>) -> String {
    match appliance {
        Some(a) => format!("the kit is bound to site {kit:?}, this appliance is site {a:?}"),
        None => format!(
            "the kit is bound to site {kit:?}, this appliance has no site id (set at init with --site)"
        ),
    }
}

fn rollback_message(sequence: u64, last: u64, other: Option<&str>) -> String {
    match other {
        Some(id) => format!(
            "kit sequence {sequence} was already accepted as kit {id} — a different kit with the same sequence is a replay"
        ),
        None => format!(
            "kit sequence {sequence} is older than the last accepted kit ({last}) — possible rollback"
        ),
    }
}

fn freshness_message(p: &FreshnessProblem) -> String {
    match p {
        FreshnessProblem::Expired { expires_at, now } => {
            format!("the kit expired at {expires_at} (appliance clock {now})")
        }
        FreshnessProblem::ClockBehind { now, trusted } => format!(
            "the appliance clock ({now}) is earlier than the latest trusted time ({trusted}) — fix the clock"
        ),
        FreshnessProblem::CreatedInFuture { created_at, now } => format!(
            "the kit was created at {created_at}, after the appliance clock ({now}) — fix the clock"
        ),
    }
}

impl Refusal {
    /// The check that refused.
    pub fn check(&self) -> Check {
        match self {
            Refusal::FileSize { .. } => Check::FileSize,
            Refusal::DetachedSignature { .. } => Check::DetachedSignature,
            Refusal::ManifestSignatures(_) => Check::ManifestSignatures,
            Refusal::FormatVersion(_) => Check::FormatVersion,
            Refusal::SiteBinding { .. } => Check::SiteBinding,
            Refusal::Rollback { .. } => Check::Rollback,
            Refusal::Freshness(_) => Check::Freshness,
            Refusal::EntryIntegrity(_) => Check::EntryIntegrity,
            Refusal::PathSafety(_) => Check::PathSafety,
            Refusal::Content { .. } => Check::Content,
        }
    }

    /// The one line printed to the operator:
    /// `refused at check 6 (rollback): kit sequence 41 is older … — nothing was changed`.
    pub fn one_line(&self) -> String {
        let c = self.check();
        format!(
            "refused at check {} ({}): {}; nothing was changed",
            c.number(),
            c.title(),
            self
        )
    }

    /// Sorts a kit-format error into the check it belongs to.
    fn from_kit(e: KitError) -> Refusal {
        use KitError as K;
        match e {
            K::UnsupportedFormat { .. } | K::UnsupportedFormatVersion { .. } => {
                Refusal::FormatVersion(e.to_string())
            }
            K::ManifestNotFirst { .. }
            | K::ManifestTooLarge { .. }
            | K::ManifestTooDeep { .. }
            | K::ManifestJson(_)
            | K::ManifestSchema(_)
            | K::ManifestNotCanonical
            | K::InvalidManifest { .. }
            | K::BadSignature { .. }
            | K::SignatureThresholdNotMet { .. }
            | K::ManifestNotSorted { .. }
            | K::DuplicateManifestEntry { .. } => Refusal::ManifestSignatures(e.to_string()),
            K::InvalidPath { .. }
            | K::AbsolutePath { .. }
            | K::ParentTraversal { .. }
            | K::Symlink { .. }
            | K::HardLink { .. }
            | K::SpecialFile { .. }
            | K::Directory { .. }
            | K::UnsupportedEntryType { .. }
            | K::DuplicateEntry { .. }
            | K::UnlistedEntry { .. } => Refusal::PathSafety(e.to_string()),
            _ => Refusal::EntryIntegrity(e.to_string()),
        }
    }
}

/// What went wrong with an import.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The kit was refused by a check. Nothing outside `audit/` changed.
    #[error("{}", .refusal.one_line())]
    Refused {
        /// Why.
        refusal: Refusal,
        /// The checks run, passed ones first, the failed one last.
        report: Box<ImportReport>,
    },
    /// Another import is running on this data directory.
    #[error("another import is running on this data directory; try again when it finishes")]
    Busy,
    /// The kit file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The data directory is unusable.
    #[error(transparent)]
    DataDir(#[from] crate::datadir::DataDirError),
    /// Staging or activation failed (disk full, permissions).
    #[error(transparent)]
    Activate(#[from] activate::ActivateError),
    /// The audit log could not be written or does not verify.
    #[error("audit log: {0}")]
    Audit(#[from] crate::audit::AuditError),
    /// The signed import statement could not be produced.
    #[error("import statement: {0}")]
    Statement(String),
}

impl ImportError {
    /// The refusal, if the kit was refused.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            ImportError::Refused { refusal, .. } => Some(refusal),
            _ => None,
        }
    }
}

/// Options of [`import`].
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The appliance clock (the library never reads the clock itself).
    pub now: OffsetDateTime,
    /// Caps applied while reading the kit.
    pub limits: Limits,
    /// The detached signature; default `<kit>.minisig`.
    pub signature: Option<PathBuf>,
    /// How far a kit's creation time may be ahead of the appliance clock.
    pub clock_skew: Duration,
    /// Name recorded in the audit log (an upload's file name); default the file name.
    pub source_name: Option<String>,
    /// Who asked (`cli`, or the operator's name for console uploads).
    pub actor: String,
}

impl ImportOptions {
    /// Defaults for `now`.
    pub fn new(now: OffsetDateTime) -> Self {
        ImportOptions {
            now,
            limits: Limits::default(),
            signature: None,
            clock_skew: Duration::minutes(10),
            source_name: None,
            actor: "cli".into(),
        }
    }
}

/// The status of one check in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// 1–10.
    pub number: u8,
    /// The check.
    pub check: Check,
    /// Its title.
    pub title: String,
    /// `true` when it passed.
    pub passed: bool,
    /// What was checked, or why it failed.
    pub detail: String,
}

/// How an import ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The kit was verified and is now active.
    Activated,
    /// This exact kit was imported before; nothing changed.
    AlreadyImported,
    /// Refused; nothing changed.
    Refused,
}

/// What an import did, for the CLI summary, the console and `import.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportReport {
    /// How it ended.
    pub outcome: Outcome,
    /// The file imported (as given or uploaded).
    pub source: String,
    /// SHA-256 of the kit file, when it was read.
    pub kit_sha256: Option<String>,
    /// Kit id, once the manifest was read.
    pub kit_id: Option<String>,
    /// Sequence, once the manifest was read.
    pub sequence: Option<u64>,
    /// Creation time, once the manifest was read.
    pub created_at: Option<String>,
    /// Expiry, once the manifest was read.
    pub expires_at: Option<String>,
    /// The checks run.
    pub checks: Vec<CheckRecord>,
    /// Advisories per kit file (`advisories/PyPI.jsonl` → count).
    pub advisories: BTreeMap<String, u64>,
    /// Client ids whose tokens were re-signed.
    pub clients: Vec<String>,
    /// Revoked token ids carried by the kit.
    pub revoked: usize,
    /// OCI artifacts carried by the kit (`oci/<name>`).
    pub oci: Vec<String>,
    /// Things worth knowing that did not refuse the kit.
    pub warnings: Vec<String>,
    /// The activated kit directory.
    pub dir: Option<PathBuf>,
    /// The version of the trust root this kit pinned (`trust/root.json`), if it rotated it.
    #[serde(default)]
    pub rotated_root: Option<u64>,
}

impl ImportReport {
    fn new(source: String) -> Self {
        ImportReport {
            outcome: Outcome::Refused,
            source,
            kit_sha256: None,
            kit_id: None,
            sequence: None,
            created_at: None,
            expires_at: None,
            checks: Vec::new(),
            advisories: BTreeMap::new(),
            clients: Vec::new(),
            revoked: 0,
            oci: Vec::new(),
            warnings: Vec::new(),
            dir: None,
            rotated_root: None,
        }
    }

    fn pass(&mut self, check: Check, detail: impl Into<String>) {
        self.checks.push(CheckRecord {
            number: check.number(),
            check,
            title: check.title().into(),
            passed: true,
            detail: detail.into(),
        });
    }

    fn fail(&mut self, r: &Refusal) {
        let check = r.check();
        // A check that passed earlier in part (e.g. 8 per entry) is replaced by the failure.
        self.checks.retain(|c| c.check != check);
        self.checks.push(CheckRecord {
            number: check.number(),
            check,
            title: check.title().into(),
            passed: false,
            detail: r.to_string(),
        });
    }
}

/// One client in `tokens.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResignedClient {
    /// Client id (`sub`).
    pub id: String,
    /// The appliance-signed token.
    pub token: String,
    /// The token id.
    pub jti: Option<String>,
    /// Tier (`Free`).
    pub tier: String,
    /// Daily scan quota.
    pub max_scans_per_day: u32,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Not before (unix seconds).
    pub nbf: Option<i64>,
}

/// `kits/<dir>/tokens.json`: the appliance-signed tokens of the kit and its revocations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensFile {
    /// The issuer of the re-signed tokens (the appliance id).
    pub issuer: String,
    /// Clients, sorted by id.
    pub clients: Vec<ResignedClient>,
    /// Revoked `jti` values, sorted.
    pub revoked: Vec<String>,
}

/// Default daily quota when a token does not say (the seeds' Free tier).
pub const DEFAULT_MAX_SCANS_PER_DAY: u32 = 333;

/// Reads `tokens.json` of a kit directory.
pub fn read_tokens(kit_dir: &Path) -> Result<TokensFile, crate::datadir::DataDirError> {
    crate::datadir::read_json(&kit_dir.join(TOKENS_FILE), MAX_TOKENS_FILE)
}

/// Rebuilds the activation record of a kit that became `current` just before a crash
/// (between the switch and the marker): everything was verified before the switch, and
/// the import report written into the kit directory says what the kit is.
pub fn complete_activation(dir: &Path, now: OffsetDateTime) -> Option<Activation> {
    let r: ImportReport = crate::datadir::read_json(&dir.join(REPORT_FILE), 16 << 20).ok()?;
    Some(Activation {
        sequence: r.sequence?,
        kit_id: r.kit_id?,
        kit_sha256: r.kit_sha256?,
        created_at: r.created_at?,
        expires_at: r.expires_at?,
        imported_at: rfc3339(now),
    })
}

/// Hashes everything read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Holds the import lock (`audit/.import.lock`, inside the only directory a refusal may
/// change).
struct ImportLock(#[allow(dead_code)] File);

fn lock(dd: &DataDir) -> Result<ImportLock, ImportError> {
    let dir = dd.audit_dir();
    std::fs::create_dir_all(&dir).map_err(|source| ImportError::Read {
        path: dir.clone(),
        source,
    })?;
    let path = dir.join(".import.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| ImportError::Read {
            path: path.clone(),
            source,
        })?;
    match f.try_lock() {
        Ok(()) => Ok(ImportLock(f)),
        Err(std::fs::TryLockError::WouldBlock) => Err(ImportError::Busy),
        Err(std::fs::TryLockError::Error(source)) => Err(ImportError::Read { path, source }),
    }
}

/// Imports the kit at `kit` into the data directory: runs the ten checks, stages the
/// content, re-signs the client tokens, activates atomically and audits the attempt.
///
/// Returns the report on success (`Activated` or `AlreadyImported`);
/// [`ImportError::Refused`] names the failed check.
pub fn import(dd: &DataDir, kit: &Path, opts: &ImportOptions) -> Result<ImportReport, ImportError> {
    let _lock = lock(dd)?;
    let key = dd.appliance_key()?;
    activate::recover(dd, |dir| complete_activation(dir, opts.now))?;
    let source = opts.source_name.clone().unwrap_or_else(|| {
        kit.file_name().map_or_else(
            || kit.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    });
    let mut report = ImportReport::new(source);
    let result = run(dd, &key, kit, opts, &mut report);
    let now = rfc3339(opts.now);
    let mut event = serde_json::json!({
        "actor": opts.actor,
        "source": report.source,
        "kit_sha256": report.kit_sha256,
        "kit_id": report.kit_id,
        "sequence": report.sequence,
    });
    match &result {
        Ok(()) => {
            event["result"] = serde_json::json!(match report.outcome {
                Outcome::AlreadyImported => "already-imported",
                _ => "accepted",
            });
            if report.outcome == Outcome::Activated {
                event["clients"] = serde_json::json!(report.clients);
                event["advisories"] = serde_json::json!(report.advisories);
                if let Some(v) = report.rotated_root {
                    event["rotated_trust_root"] = serde_json::json!(v);
                }
            }
        }
        Err(Failure::Refused(r)) => {
            event["result"] = serde_json::json!("refused");
            event["check"] = serde_json::json!(r.check().number());
            event["check_name"] = serde_json::json!(r.check().title());
            event["reason"] = serde_json::json!(r.to_string());
        }
        Err(Failure::Other(e)) => {
            event["result"] = serde_json::json!("error");
            event["reason"] = serde_json::json!(e.to_string());
        }
    }
    dd.audit().append(&key, &now, "import", event)?;
    match result {
        Ok(()) => Ok(report),
        Err(Failure::Refused(refusal)) => {
            report.fail(&refusal);
            report.outcome = Outcome::Refused;
            Err(ImportError::Refused {
                refusal,
                report: Box::new(report),
            })
        }
        Err(Failure::Other(e)) => Err(e),
    }
}

enum Failure {
    Refused(Refusal),
    Other(ImportError),
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

impl<E: Into<ImportError>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Other(e.into())
    }
}

fn read_err(path: &Path) -> impl FnOnce(io::Error) -> Failure + '_ {
    move |source| {
        Failure::Other(ImportError::Read {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn run(
    dd: &DataDir,
    key: &KeyPair,
    kit: &Path,
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Result<(), Failure> {
    let trust = dd.trust_root()?;
    let trust_file = dd.trust_file()?;
    let history = KitHistory::load(dd)?;

    // 1. size cap, from the file system, before reading a byte.
    let meta = std::fs::metadata(kit).map_err(read_err(kit))?;
    if !meta.is_file() {
        return Err(read_err(kit)(io::Error::other("not a regular file")));
    }
    let limit = opts.limits.kit_bytes();
    if meta.len() > limit {
        return Err(Refusal::FileSize {
            size: meta.len(),
            limit,
        }
        .into());
    }
    report.pass(
        Check::FileSize,
        format!("{} bytes, cap {limit}", meta.len()),
    );

    // 2. detached signature over the whole file, against the pinned keys; the same pass
    // computes the file's sha256.
    let sig_path = opts.signature.clone().unwrap_or_else(|| {
        let mut p = kit.as_os_str().to_owned();
        p.push(".minisig");
        PathBuf::from(p)
    });
    let sig_refusal = |reason: String| Refusal::DetachedSignature {
        path: sig_path.display().to_string(),
        reason,
    };
    let sig_text = match read_capped(&sig_path, MAX_SIG_BYTES) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(
                sig_refusal("missing — copy the .minisig file next to the kit".into()).into(),
            );
        }
        Err(e) => return Err(sig_refusal(e.to_string()).into()),
    };
    let sig_box = SignatureBox::from_text(String::from_utf8_lossy(&sig_text).into_owned());
    let file = File::open(kit).map_err(read_err(kit))?;
    let mut tee = HashingReader {
        inner: BufReader::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let verified = minisign::verify_reader(&trust, &sig_box, &mut tee, &VerifyOptions::default())
        .map_err(|e| sig_refusal(e.to_string()))?;
    // Read whatever the verifier left (it normally reads to the end).
    io::copy(&mut tee, &mut io::sink()).map_err(read_err(kit))?;
    let file_sha = hex::encode(tee.hasher.finalize());
    report.kit_sha256 = Some(file_sha.clone());
    report.pass(
        Check::DetachedSignature,
        format!("signed by pinned key {}", verified.key_id),
    );

    // 3 + 4. the manifest, verified before any payload is read.
    let file = File::open(kit).map_err(read_err(kit))?;
    let second = HashingReader {
        inner: BufReader::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut reader = KitReader::open(second, &trust, opts.limits).map_err(Refusal::from_kit)?;
    let manifest: VerifiedManifest = reader.manifest().clone();
    report.kit_id = Some(manifest.kit_id.clone());
    report.sequence = Some(manifest.sequence);
    report.created_at = Some(manifest.created_at.to_string());
    report.expires_at = Some(manifest.expires_at.to_string());
    let signers: Vec<String> = manifest.signed_by().iter().map(|k| k.to_string()).collect();
    report.pass(
        Check::ManifestSignatures,
        format!(
            "{} of {} required pinned key(s): {}",
            signers.len(),
            trust.threshold(),
            signers.join(", ")
        ),
    );
    report.pass(
        Check::FormatVersion,
        format!(
            "{} version {}",
            bundles::manifest::FORMAT,
            bundles::manifest::FORMAT_VERSION
        ),
    );

    // 5. site binding.
    match (&manifest.site, &trust_file.site) {
        (Some(k), Some(a)) if k == a => report.pass(Check::SiteBinding, format!("site {k}")),
        (Some(k), a) => {
            return Err(Refusal::SiteBinding {
                kit_site: k.clone(),
                appliance_site: a.clone(),
            }
            .into());
        }
        (None, _) => report.pass(Check::SiteBinding, "kit not bound to a site"),
    }

    // 6. rollback.
    if let Some(last) = history.last_accepted_sequence() {
        if manifest.sequence < last {
            return Err(Refusal::Rollback {
                sequence: manifest.sequence,
                last_accepted: last,
                active_kit_id: None,
            }
            .into());
        }
        if manifest.sequence == last {
            let same = history
                .kits
                .iter()
                .filter(|k| k.sequence == last)
                .filter_map(|k| k.activation.as_ref())
                .find(|a| a.kit_id == manifest.kit_id && a.kit_sha256 == file_sha);
            if same.is_some() {
                report.pass(
                    Check::Rollback,
                    format!("sequence {last} is already imported: nothing to do"),
                );
                report.outcome = Outcome::AlreadyImported;
                return Ok(());
            }
            let other = history
                .kits
                .iter()
                .filter(|k| k.sequence == last)
                .find_map(|k| k.activation.as_ref())
                .map(|a| a.kit_id.clone());
            return Err(Refusal::Rollback {
                sequence: manifest.sequence,
                last_accepted: last,
                active_kit_id: Some(other.unwrap_or_else(|| "(unknown)".into())),
            }
            .into());
        }
        report.pass(
            Check::Rollback,
            format!("sequence {} > last accepted {last}", manifest.sequence),
        );
    } else {
        report.pass(
            Check::Rollback,
            format!("sequence {} (first kit)", manifest.sequence),
        );
    }

    // 7. freshness and clock.
    let now = opts.now;
    let trusted = history
        .latest_trusted_time()
        .into_iter()
        .chain(dd.initialized_at().ok())
        .max();
    if let Some(t) = trusted
        && now + opts.clock_skew < t
    {
        return Err(Refusal::Freshness(FreshnessProblem::ClockBehind {
            now: rfc3339(now),
            trusted: rfc3339(t),
        })
        .into());
    }
    let created = manifest.created_at.as_offset_date_time();
    let expires = manifest.expires_at.as_offset_date_time();
    if created > now + opts.clock_skew {
        return Err(Refusal::Freshness(FreshnessProblem::CreatedInFuture {
            created_at: manifest.created_at.to_string(),
            now: rfc3339(now),
        })
        .into());
    }
    if expires <= now {
        return Err(Refusal::Freshness(FreshnessProblem::Expired {
            expires_at: manifest.expires_at.to_string(),
            now: rfc3339(now),
        })
        .into());
    }
    let days_left = (expires - now).whole_days();
    report.pass(
        Check::Freshness,
        format!(
            "expires {} ({days_left} days left), created {}",
            manifest.expires_at, manifest.created_at
        ),
    );
    if days_left < 7 {
        report.warnings.push(format!(
            "the kit expires in {days_left} day(s): bring a newer one soon"
        ));
    }

    // 8 + 9. stream every entry into the staging directory.
    let staging = Staging::new(dd)?;
    let content = staging.path().join(CONTENT_DIR);
    std::fs::create_dir_all(&content).map_err(read_err(&content))?;
    let mut files = 0u64;
    let mut bytes = 0u64;
    loop {
        let entry = match reader.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => return Err(Refusal::from_kit(e).into()),
        };
        let rel = entry.path().as_str().to_string();
        let dest = content.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Refusal::PathSafety(format!("entry {rel} conflicts with another entry: {e}"))
            })?;
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(|e| {
                Refusal::PathSafety(format!("entry {rel} conflicts with another entry: {e}"))
            })?;
        let mut entry = entry;
        let n = copy_entry(&mut entry, &mut out, &dest)?;
        entry.finish().map_err(Refusal::from_kit)?;
        bytes += n;
        files += 1;
    }
    activate::crash_point("after-entries");
    // The file must not have changed between the signature pass and this one (a USB
    // stick swapped or rewritten mid-import).
    let mut src = reader
        .into_source()
        .ok_or_else(|| Refusal::EntryIntegrity("the kit did not end cleanly".into()))?;
    io::copy(&mut src, &mut io::sink()).map_err(read_err(kit))?;
    let second_sha = hex::encode(src.hasher.finalize());
    if second_sha != file_sha {
        return Err(Refusal::EntryIntegrity(format!(
            "the kit file changed while it was being read (sha256 {file_sha} then {second_sha})"
        ))
        .into());
    }
    report.pass(
        Check::EntryIntegrity,
        format!(
            "{files} entries, {bytes} bytes, every size and sha256 matches the signed manifest"
        ),
    );
    report.pass(
        Check::PathSafety,
        "only listed regular files at safe relative paths",
    );

    // 10. content.
    let mut rotation = None;
    validate_content(
        dd,
        key,
        &trust,
        &manifest,
        &content,
        staging.path(),
        opts,
        report,
        &mut rotation,
    )?;
    report.pass(
        Check::Content,
        format!(
            "{} advisories in {} files, {} client token(s) re-signed, {} revoked, {} OCI artifact(s)",
            report.advisories.values().sum::<u64>(),
            report.advisories.len(),
            report.clients.len(),
            report.revoked,
            report.oci.len()
        ),
    );
    activate::crash_point("after-content");

    // Everything verified: keep the manifest and the report beside the content, then
    // switch atomically.
    std::fs::write(
        staging.path().join(activate::MANIFEST),
        manifest
            .manifest()
            .to_json_bytes()
            .map_err(|e| Refusal::ManifestSignatures(e.to_string()))?,
    )
    .map_err(read_err(staging.path()))?;
    report.outcome = Outcome::Activated;
    let final_name = activate::kit_dir_name(manifest.sequence, &manifest.kit_id);
    report.dir = Some(dd.kits_dir().join(&final_name));
    write_json_atomic(&staging.path().join(REPORT_FILE), &*report)?;
    // Signed in staging, so it becomes visible with the kit or not at all.
    let statement = import_statement(key, report, &manifest, &file_sha, now)?;
    std::fs::write(staging.path().join(IMPORT_STATEMENT_FILE), statement)
        .map_err(read_err(staging.path()))?;
    let activation = Activation {
        sequence: manifest.sequence,
        kit_id: manifest.kit_id.clone(),
        kit_sha256: file_sha,
        created_at: manifest.created_at.to_string(),
        expires_at: manifest.expires_at.to_string(),
        imported_at: rfc3339(now),
    };
    if let Some(tf) = &rotation {
        // Verified with the pinned root above; pinned now, just before the switch, so
        // the next kit is checked against the new keys.
        write_json_atomic(&dd.root().join("trust.json"), tf)?;
    }
    activate::crash_point("before-activate");
    let dir = staging.activate(dd, &activation)?;
    report.dir = Some(dir);
    Ok(())
}

/// The in-toto statement "this appliance verified and activated this kit", subject = the
/// kit file by its sha256, signed with the appliance key into a DSSE envelope (JSON).
fn import_statement(
    key: &KeyPair,
    report: &ImportReport,
    manifest: &VerifiedManifest,
    file_sha: &str,
    now: OffsetDateTime,
) -> Result<Vec<u8>, Failure> {
    let checks: Vec<serde_json::Value> = report
        .checks
        .iter()
        .filter(|c| c.passed)
        .map(|c| serde_json::json!({"number": c.number, "check": c.check, "title": c.title}))
        .collect();
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": report.source, "digest": {"sha256": file_sha}}],
        "predicateType": IMPORT_PREDICATE_TYPE,
        "predicate": {
            "verified": true,
            "activated": true,
            "kit_id": manifest.kit_id,
            "sequence": manifest.sequence,
            "created_at": manifest.created_at.to_string(),
            "expires_at": manifest.expires_at.to_string(),
            "manifest_sha256": hex::encode(Sha256::digest(
                manifest
                    .manifest()
                    .to_json_bytes()
                    .map_err(|e| Refusal::ManifestSignatures(e.to_string()))?,
            )),
            "checks_passed": checks,
            "appliance_id": crate::datadir::appliance_id_for(&key.public()),
            "imported_at": rfc3339(now),
        },
    });
    let payload = serde_json::to_vec(&statement)
        .map_err(|e| Failure::Other(ImportError::Statement(format!("serialising: {e}"))))?;
    let env = signing::dsse::sign(signing::dsse::IN_TOTO_PAYLOAD_TYPE, &payload, &[key])
        .map_err(|e| Failure::Other(ImportError::Statement(format!("signing: {e}"))))?;
    Ok(env.to_json())
}

/// Copies an entry into its staging file, mapping a digest or size failure (carried in
/// the I/O error) back to its refusal.
fn copy_entry<R: Read>(entry: &mut R, out: &mut File, dest: &Path) -> Result<u64, Failure> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Refusal::from_kit(KitError::from_io(e)).into()),
        };
        out.write_all(&buf[..n]).map_err(read_err(dest))?;
        total += n as u64;
    }
    Ok(total)
}

fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let f = File::open(path)?;
    let mut buf = Vec::new();
    f.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(io::Error::other(format!("larger than {cap} bytes")));
    }
    Ok(buf)
}

#[allow(clippy::too_many_arguments)]
fn validate_content(
    dd: &DataDir,
    key: &KeyPair,
    trust: &TrustRoot,
    manifest: &VerifiedManifest,
    content: &Path,
    staging: &Path,
    opts: &ImportOptions,
    report: &mut ImportReport,
    rotation: &mut Option<crate::datadir::TrustFile>,
) -> Result<(), Failure> {
    let content_err = |path: &str, reason: String| Refusal::Content {
        path: path.to_string(),
        reason,
    };
    let mut oci_names = std::collections::BTreeSet::new();
    for e in &manifest.entries {
        let p = e.path.as_str();
        let mt = e.media_type.as_str();
        if let Some(rest) = p.strip_prefix("advisories/") {
            if mt != media_types::ADVISORIES_JSONL
                || !rest.ends_with(".jsonl")
                || rest.contains('/')
            {
                return Err(content_err(
                    p,
                    format!(
                        "advisory files are advisories/<Ecosystem>.jsonl of type {}",
                        media_types::ADVISORIES_JSONL
                    ),
                )
                .into());
            }
            let f = File::open(content.join(p)).map_err(read_err(&content.join(p)))?;
            let mut count = 0u64;
            let mut previous: Option<String> = None;
            for (i, adv) in JsonlReader::new(BufReader::new(f)).enumerate() {
                let adv = adv.map_err(|err| content_err(p, format!("line {}: {err}", i + 1)))?;
                let id = adv.id().to_string();
                if previous.as_ref().is_some_and(|prev| prev >= &id) {
                    return Err(content_err(
                        p,
                        format!(
                            "line {}: advisory {id} is out of order or duplicated",
                            i + 1
                        ),
                    )
                    .into());
                }
                previous = Some(id);
                count += 1;
            }
            report.advisories.insert(p.to_string(), count);
        } else if p == CLIENTS_PATH || p == REVOKED_PATH {
            // handled below, once both are known
        } else if let Some(rest) = p.strip_prefix("oci/") {
            let Some((name, inner)) = rest.split_once('/') else {
                return Err(content_err(p, "OCI artifacts live in oci/<name>/…".into()).into());
            };
            oci_names.insert(name.to_string());
            if let Some(hexd) = inner.strip_prefix("blobs/sha256/") {
                if hexd != e.sha256.to_hex() {
                    return Err(content_err(
                        p,
                        format!(
                            "OCI blob name does not match its sha256 {}",
                            e.sha256.to_hex()
                        ),
                    )
                    .into());
                }
            } else if inner == "index.json" {
                let bytes = read_capped(&content.join(p), MAX_OCI_INDEX)
                    .map_err(|err| content_err(p, err.to_string()))?;
                check_oci_index(&bytes, name, manifest).map_err(|reason| content_err(p, reason))?;
            } else if inner != "oci-layout" {
                return Err(content_err(p, "unexpected file in an OCI image layout".into()).into());
            }
        } else if p == bundles::trustroot::ROOT_PATH {
            let bytes = read_capped(&content.join(p), bundles::trustroot::MAX_ROOT_BYTES as u64)
                .map_err(|err| content_err(p, err.to_string()))?;
            let doc = bundles::trustroot::RootDoc::parse(&bytes)
                .map_err(|err| content_err(p, err.to_string()))?;
            let pinned = dd.trust_file()?;
            doc.verify(trust, pinned.root_version)
                .map_err(|err| content_err(p, err.to_string()))?;
            report.warnings.push(format!(
                "this kit rotates the pinned trust root to version {} ({} key(s), threshold {}); it takes effect with the kit",
                doc.root_version,
                doc.keys.len(),
                doc.threshold
            ));
            report.rotated_root = Some(doc.root_version);
            rotation.replace(crate::datadir::TrustFile {
                version: pinned.version,
                keys: doc.keys.clone(),
                threshold: doc.threshold,
                site: pinned.site.clone(),
                root_version: doc.root_version,
            });
        } else if p.starts_with("nvd/") {
            // NVD records enrich advisories at build time; they are kept for reference only.
        } else {
            return Err(content_err(p, "not a kind of entry this appliance knows".into()).into());
        }
    }
    for name in &oci_names {
        for required in ["index.json", "oci-layout"] {
            let p = format!("oci/{name}/{required}");
            if manifest.entry(&p).is_none() {
                return Err(content_err(&p, "missing from the OCI image layout".into()).into());
            }
        }
    }
    report.oci = oci_names.into_iter().map(|n| format!("oci/{n}")).collect();

    // Tokens: verify each with the pinned vendor keys, re-sign with the appliance key.
    let issuer = dd.appliance_id()?;
    let mut out = TokensFile {
        issuer: issuer.clone(),
        ..TokensFile::default()
    };
    if manifest.entry(REVOKED_PATH).is_some() {
        let bytes = read_capped(&content.join(REVOKED_PATH), MAX_TOKENS_FILE)
            .map_err(|e| content_err(REVOKED_PATH, e.to_string()))?;
        let r: Revocations =
            serde_json::from_slice(&bytes).map_err(|e| content_err(REVOKED_PATH, e.to_string()))?;
        if r.revoked.len() > MAX_REVOKED {
            return Err(
                content_err(REVOKED_PATH, format!("more than {MAX_REVOKED} revoked ids")).into(),
            );
        }
        let mut v = r.revoked;
        v.sort();
        v.dedup();
        out.revoked = v;
    }
    report.revoked = out.revoked.len();
    if manifest.entry(CLIENTS_PATH).is_some() {
        let bytes = read_capped(&content.join(CLIENTS_PATH), MAX_TOKENS_FILE)
            .map_err(|e| content_err(CLIENTS_PATH, e.to_string()))?;
        let c: ClientTokens =
            serde_json::from_slice(&bytes).map_err(|e| content_err(CLIENTS_PATH, e.to_string()))?;
        if c.clients.len() > MAX_CLIENTS {
            return Err(
                content_err(CLIENTS_PATH, format!("more than {MAX_CLIENTS} clients")).into(),
            );
        }
        let validation = jwt::Validation {
            now: opts.now.unix_timestamp(),
            leeway_secs: 60,
            issuer: None,
            audience: manifest.site.clone(),
        };
        let mut seen = std::collections::BTreeSet::new();
        for ct in &c.clients {
            if !valid_client_id(&ct.id) {
                return Err(
                    content_err(CLIENTS_PATH, format!("invalid client id {:?}", ct.id)).into(),
                );
            }
            if !seen.insert(ct.id.clone()) {
                return Err(
                    content_err(CLIENTS_PATH, format!("client {} listed twice", ct.id)).into(),
                );
            }
            if ct.token.len() > MAX_TOKEN_BYTES {
                return Err(content_err(
                    CLIENTS_PATH,
                    format!(
                        "token of client {} is larger than {MAX_TOKEN_BYTES} bytes",
                        ct.id
                    ),
                )
                .into());
            }
            let claims = match jwt::verify(&ct.token, trust, &validation) {
                Ok(c) => c,
                Err(jwt::JwtError::Expired { .. }) => {
                    report.warnings.push(format!(
                        "the token of client {} in this kit has already expired: not re-signed",
                        ct.id
                    ));
                    continue;
                }
                Err(e) => {
                    return Err(content_err(
                        CLIENTS_PATH,
                        format!(
                            "token of client {} does not verify with a pinned vendor key: {e}",
                            ct.id
                        ),
                    )
                    .into());
                }
            };
            if claims.sub != ct.id {
                return Err(content_err(
                    CLIENTS_PATH,
                    format!(
                        "token listed for client {} is issued to {:?}",
                        ct.id, claims.sub
                    ),
                )
                .into());
            }
            if claims
                .jti
                .as_ref()
                .is_some_and(|j| out.revoked.binary_search(j).is_ok())
            {
                report.warnings.push(format!(
                    "the token of client {} is revoked by this kit",
                    ct.id
                ));
                continue;
            }
            let token = jwt::resign(&claims, &issuer, key).map_err(|e| {
                content_err(
                    CLIENTS_PATH,
                    format!("re-signing the token of {}: {e}", ct.id),
                )
            })?;
            out.clients.push(ResignedClient {
                id: ct.id.clone(),
                token,
                jti: claims.jti.clone(),
                tier: claims.tier.clone().unwrap_or_else(|| "Free".into()),
                max_scans_per_day: claims
                    .max_scans_per_day
                    .unwrap_or(DEFAULT_MAX_SCANS_PER_DAY),
                exp: claims.exp,
                nbf: claims.nbf,
            });
        }
        out.clients.sort_by(|a, b| a.id.cmp(&b.id));
        report.clients = out.clients.iter().map(|c| c.id.clone()).collect();
    }
    write_json_atomic(&staging.join(TOKENS_FILE), &out)?;
    Ok(())
}

/// Checks that an OCI `index.json` parses and that every manifest it references is a
/// blob of the same layout listed in the signed manifest.
fn check_oci_index(bytes: &[u8], name: &str, manifest: &VerifiedManifest) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Index {
        #[serde(rename = "schemaVersion")]
        schema_version: u32,
        manifests: Vec<Descriptor>,
    }
    #[derive(Deserialize)]
    struct Descriptor {
        digest: String,
        size: u64,
    }
    let idx: Index = serde_json::from_slice(bytes).map_err(|e| format!("index.json: {e}"))?;
    if idx.schema_version != 2 {
        return Err(format!(
            "index.json schemaVersion {} (expected 2)",
            idx.schema_version
        ));
    }
    for d in &idx.manifests {
        let Some(hexd) = d.digest.strip_prefix("sha256:") else {
            return Err(format!("unsupported digest {}", d.digest));
        };
        let p = format!("oci/{name}/blobs/sha256/{hexd}");
        match manifest.entry(&p) {
            Some(e) if e.size == d.size => {}
            Some(e) => {
                return Err(format!(
                    "index.json says {} is {} bytes, the blob is {}",
                    d.digest, d.size, e.size
                ));
            }
            None => {
                return Err(format!(
                    "index.json references {} which the kit does not carry",
                    d.digest
                ));
            }
        }
    }
    Ok(())
}
