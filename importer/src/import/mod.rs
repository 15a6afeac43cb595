//! The kit import: ten numbered checks, cheapest refusal first, then atomic activation.
//!
//! | # | check | refuses |
//! |---|-------|---------|
//! | 1 | file size cap | a kit file larger than the limit, before reading a byte; a kit that does not fit on the disk (once the verified manifest says how large it unpacks, before anything is written) |
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
//!
//! The modules: [`refusal`] (the checks and their refusals), `checks` (checks 1–9),
//! `content` (check 10 and the re-signed tokens), [`report`] (what an import did),
//! `statement` (the signed import statement); this one holds the [`Importer`] builder
//! that runs them.
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bundles::{Limits, VerifiedManifest};
use signing::KeyPair;
use time::{Duration, OffsetDateTime};

use crate::activate::{self, Activation, KitHistory, Staging};
use crate::datadir::{DataDir, TrustFile, rfc3339, write_json_atomic};

mod checks;
mod content;
pub mod refusal;
pub mod report;
mod statement;

pub use content::{
    DEFAULT_MAX_SCANS_PER_DAY, ResignedClient, TOKENS_FILE, TokensFile, read_tokens,
};
pub use refusal::{Check, FreshnessProblem, Refusal};
pub use report::{CheckRecord, ImportReport, Outcome};
pub use statement::{IMPORT_PREDICATE_TYPE, IMPORT_STATEMENT_FILE};

/// Where the kit's entries live inside a kit directory (`kits/<SEQ>-<ID>/content/`), apart
/// from the importer's own files so that no entry name can collide with them.
pub const CONTENT_DIR: &str = "content";
/// The import report kept beside the kit (`kits/<dir>/import.json`).
pub const REPORT_FILE: &str = "import.json";

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

/// Imports kits into one data directory.
///
/// The defaults are the safe ones: the system clock, [`Limits::default`], ten minutes of
/// allowed clock skew, the signature beside the kit, [`DEFAULT_KEEP_FREE`] bytes left
/// free on the disk. Each loosening is an explicit call ([`Importer::limits`] for larger
/// caps, [`Importer::clock`] for a fixed clock in tests and benches,
/// [`Importer::keep_free`] for a smaller reserve).
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use importer::datadir::DataDir;
/// use importer::import::{Importer, Outcome};
/// let dd = DataDir::open("/var/lib/stella".as_ref())?;
/// let report = Importer::new(&dd).actor("operator").import("/media/usb/kit-42.ouk".as_ref())?;
/// assert_ne!(report.outcome, Outcome::Refused);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "an Importer does nothing until .import(kit) is called"]
pub struct Importer {
    dd: DataDir,
    clock: Option<OffsetDateTime>,
    limits: Limits,
    signature: Option<PathBuf>,
    clock_skew: Duration,
    source_name: Option<String>,
    actor: String,
    keep_free: u64,
}

/// Default of [`Importer::keep_free`]: room for the audit log, the stores and the logs
/// of a running appliance after the kit is staged.
pub const DEFAULT_KEEP_FREE: u64 = 256 << 20;

impl Importer {
    /// An importer for `dd` with the safe defaults.
    pub fn new(dd: &DataDir) -> Self {
        Importer {
            dd: dd.clone(),
            clock: None,
            limits: Limits::default(),
            signature: None,
            clock_skew: Duration::minutes(10),
            source_name: None,
            actor: "cli".into(),
            keep_free: DEFAULT_KEEP_FREE,
        }
    }

    /// Caps applied while reading the kit (default [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Uses `now` as the appliance clock instead of reading the system clock at import
    /// (tests, benches, replays). Expiry and the clock-rollback guard are checked against
    /// it, so never set it from anything a kit or a user supplies.
    pub fn clock(mut self, now: OffsetDateTime) -> Self {
        self.clock = Some(now);
        self
    }

    /// How far a kit's creation time may be ahead of the appliance clock, and the clock
    /// behind the latest trusted time (default 10 minutes).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// The detached signature; `None` (the default) = `<kit>.minisig`.
    pub fn signature(mut self, path: impl Into<Option<PathBuf>>) -> Self {
        self.signature = path.into();
        self
    }

    /// The name recorded in the report and the audit log (an upload's file name);
    /// default the kit's file name.
    pub fn source_name(mut self, name: impl Into<String>) -> Self {
        self.source_name = Some(name.into());
        self
    }

    /// Who asked, for the audit log (default `cli`; the operator's name for console
    /// uploads).
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// Bytes that must stay free on the data directory's file system once the kit is
    /// staged (default [`DEFAULT_KEEP_FREE`]); a kit that does not fit is refused at
    /// check 1 before anything is written.
    pub fn keep_free(mut self, bytes: u64) -> Self {
        self.keep_free = bytes;
        self
    }

    /// Imports the kit at `kit`: runs the ten checks, stages the content, re-signs the
    /// client tokens, activates atomically and audits the attempt.
    ///
    /// Returns the report on success (`Activated` or `AlreadyImported`);
    /// [`ImportError::Refused`] names the failed check.
    #[tracing::instrument(skip_all, fields(kit = %kit.display()))]
    pub fn import(&self, kit: &Path) -> Result<ImportReport, ImportError> {
        let now = self.clock.unwrap_or_else(OffsetDateTime::now_utc);
        let dd = &self.dd;
        let _lock = lock(dd)?;
        let key = dd.appliance_key()?;
        // Every attempt is audited: an import that could not be recorded (a log that does
        // not verify against its signed head) is not started, so nothing changes unseen.
        dd.audit().check_appendable(&key)?;
        recover_locked(dd, now)?;
        let source = self.source_name.clone().unwrap_or_else(|| {
            kit.file_name().map_or_else(
                || kit.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        });
        let mut report = ImportReport::new(source);
        let result = self.run(&key, kit, now, &mut report);
        let mut event = serde_json::json!({
            "actor": self.actor,
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
        dd.audit().append(&key, &rfc3339(now), "import", event)?;
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

    /// The ten checks, in order, then the activation.
    fn run(
        &self,
        key: &KeyPair,
        kit: &Path,
        now: OffsetDateTime,
        report: &mut ImportReport,
    ) -> Result<(), Failure> {
        let dd = &self.dd;
        let trust = dd.trust_root()?;
        let pinned = dd.trust_file()?;
        let history = KitHistory::load(dd)?;

        checks::file_size(kit, &self.limits, report)?;
        let file_sha = checks::detached_signature(kit, self.signature.as_deref(), &trust, report)?;
        let reader = checks::manifest(kit, &trust, self.limits, report)?;
        let manifest = reader.manifest().clone();
        checks::site_binding(&manifest, &pinned, report)?;
        if checks::rollback(&manifest, &history, &file_sha, report)?
            == checks::Sequence::AlreadyImported
        {
            report.outcome = Outcome::AlreadyImported;
            return Ok(());
        }
        checks::freshness(&manifest, &history, dd, now, self.clock_skew, report)?;
        checks::disk_space(dd, &manifest, self.keep_free, report)?;
        let staging = Staging::new(dd)?;
        checks::stage_entries(reader, kit, &staging, &file_sha, report)?;

        // 10. content.
        let rotation = content::validate(
            &content::Inputs {
                dd,
                key,
                trust: &trust,
                manifest: &manifest,
                content: &staging.path().join(CONTENT_DIR),
                staging: staging.path(),
                now,
            },
            report,
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
        activate_staged(dd, key, staging, &manifest, file_sha, rotation, now, report)
    }
}

/// Everything verified: keeps the manifest, the report and the signed statement beside
/// the content, then switches atomically.
#[allow(clippy::too_many_arguments)]
fn activate_staged(
    dd: &DataDir,
    key: &KeyPair,
    staging: Staging,
    manifest: &VerifiedManifest,
    file_sha: String,
    rotation: Option<TrustFile>,
    now: OffsetDateTime,
    report: &mut ImportReport,
) -> Result<(), Failure> {
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
    let statement = statement::sign(key, report, manifest, &file_sha, now)
        .map_err(|e| Failure::Other(ImportError::Statement(e)))?;
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
        // Verified with the pinned root above. Staged with the kit, it takes effect with
        // the switch (`DataDir::trust_file`), never before it.
        write_json_atomic(&staging.path().join(activate::TRUST_PIN), tf)?;
    }
    activate::crash_point("before-activate");
    let dir = staging.activate(dd, &activation)?;
    activate::crash_point("after-activate");
    activate::complete_trust(dd)?;
    report.dir = Some(dir);
    Ok(())
}

/// Brings the data directory back to a consistent state after a crash — removes
/// leftover staging directories (up to a kit's size each) and never-activated kit
/// directories, completes an activation marker and a trust rotation cut short by the
/// crash (see [`activate::recover`]). Run it when the appliance starts; every import
/// runs it too.
///
/// Takes the import lock: while an import runs its staging directory is live, so this
/// returns [`ImportError::Busy`] and changes nothing.
pub fn recover(dd: &DataDir) -> Result<activate::Recovery, ImportError> {
    let _lock = lock(dd)?;
    recover_locked(dd, OffsetDateTime::now_utc())
}

/// [`recover`] under the import lock already held.
fn recover_locked(dd: &DataDir, now: OffsetDateTime) -> Result<activate::Recovery, ImportError> {
    let r = activate::recover(dd, |dir| complete_activation(dir, now))?;
    if r != activate::Recovery::default() {
        tracing::info!(
            staging_removed = r.staging_removed,
            orphans_removed = r.orphans_removed,
            completed_activation = r.completed_activation,
            completed_trust = r.completed_trust,
            "data directory recovered after an interrupted import"
        );
    }
    Ok(r)
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

/// A check refused the kit, or something else went wrong.
pub(crate) enum Failure {
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

/// Reads at most `cap` bytes of `path`; more is an error.
fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let f = File::open(path)?;
    let mut buf = Vec::new();
    f.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(io::Error::other(format!("larger than {cap} bytes")));
    }
    Ok(buf)
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
