//! The administrative commands of `stella-appliance` that do not serve HTTP: `init`,
//! `import`, `token`, `status`, `rollback`, `audit verify`, `evidence export`, `replay`.
//!
//! Nothing here prints: a command returns what it produced ([`Done`]: stdout text, stderr
//! notes, refused or not) or an error whose exit class a [`Failure`] in its chain names;
//! the binary prints at the edge and maps errors to exit codes in one place
//! ([`exit_code`]), ripgrep's thin `main`.
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use importer::activate::{self, KitHistory};
use importer::audit::AuditError;
use importer::datadir::{DataDir, InitOptions, parse_rfc3339, rfc3339};
use importer::import::{self, ImportError, Importer, Outcome};
use serde::Serialize;
use signing::PublicKey;
use time::OffsetDateTime;

use crate::store::StoreOptions;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the kit was refused (or an audit chain is broken).
pub const EXIT_REFUSED: u8 = 1;
/// Exit code: usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: another import is running.
pub const EXIT_BUSY: u8 = 3;
/// Exit code: an internal or I/O error.
pub const EXIT_ERROR: u8 = 4;

/// What a command produced, for the binary to print: `out` to stdout (results),
/// `notes` to stderr (one line each: warnings, refusals), and whether it refused (exit 1)
/// rather than succeeded (exit 0). Failures are `Err`s instead (see [`exit_code`]).
#[derive(Debug, Default)]
#[must_use]
pub struct Done {
    /// Text for stdout (empty: nothing).
    pub out: String,
    /// Lines for stderr.
    pub notes: Vec<String>,
    /// The command refused, its result printed all the same.
    pub refused: bool,
}

impl Done {
    /// Only stdout text.
    pub fn text(out: impl Into<String>) -> Self {
        Done {
            out: out.into(),
            ..Done::default()
        }
    }

    fn json<T: Serialize>(v: &T) -> Self {
        Done::text(serde_json::to_string_pretty(v).unwrap_or_default() + "\n")
    }

    /// The process exit code of this outcome.
    pub fn exit_code(&self) -> u8 {
        if self.refused { EXIT_REFUSED } else { EXIT_OK }
    }
}

/// The exit class of a failure; any error without one is [`EXIT_ERROR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// [`EXIT_REFUSED`].
    Refused,
    /// [`EXIT_USAGE`].
    Usage,
    /// [`EXIT_BUSY`].
    Busy,
}

/// A failure with its exit class (carried inside an `anyhow::Error`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// The exit class.
    pub kind: Kind,
    message: String,
}

fn failure(kind: Kind, message: impl std::fmt::Display) -> anyhow::Error {
    Failure {
        kind,
        message: message.to_string(),
    }
    .into()
}

/// A usage or configuration error (exit 2).
pub fn usage(message: impl std::fmt::Display) -> anyhow::Error {
    failure(Kind::Usage, message)
}

/// The one line printed for a failure: [`bundles::error::error_line`].
pub fn error_line(e: &anyhow::Error) -> String {
    bundles::error::error_line(e.as_ref())
}

/// The one place errors become exit codes: the first [`Failure`] in the chain decides,
/// anything else is an internal or I/O error.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.chain().find_map(|c| c.downcast_ref::<Failure>()) {
        Some(f) => match f.kind {
            Kind::Refused => EXIT_REFUSED,
            Kind::Usage => EXIT_USAGE,
            Kind::Busy => EXIT_BUSY,
        },
        None => EXIT_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_exit_codes_in_one_place() {
        assert_eq!(exit_code(&usage("bad flag")), EXIT_USAGE);
        assert_eq!(exit_code(&failure(Kind::Busy, "busy")), EXIT_BUSY);
        assert_eq!(exit_code(&failure(Kind::Refused, "no")), EXIT_REFUSED);
        assert_eq!(exit_code(&anyhow!("disk on fire")), EXIT_ERROR);
        // A class survives context added on top.
        let e = usage("--trust x: not a key").context("init");
        assert_eq!(exit_code(&e), EXIT_USAGE);
        assert_eq!(error_line(&e), "init: --trust x: not a key");
        let io = std::io::Error::other("gone");
        let e = anyhow::Error::new(io).context("writing x: gone");
        assert_eq!(
            error_line(&e),
            "writing x: gone",
            "a cause already said is not repeated"
        );
    }
}

/// `init`.
pub fn init(
    data: &Path,
    trust: &[PathBuf],
    threshold: usize,
    site: Option<String>,
) -> anyhow::Result<Done> {
    let keys = trust
        .iter()
        .map(|p| PublicKey::read(p).map_err(|e| usage(format!("--trust {}: {e}", p.display()))))
        .collect::<Result<Vec<_>, _>>()?;
    let now = OffsetDateTime::now_utc();
    let (dd, key) = DataDir::init(
        data,
        &InitOptions {
            trust: keys,
            threshold,
            site: site.clone(),
            now,
        },
    )
    .map_err(usage)?;
    let report = crate::store::init(data, StoreOptions::default(), now)
        .map_err(|e| anyhow!("creating the store: {e}"))?;
    crate::store::write_operator_password_file(data, &report.admin_password)?;
    drop(report);
    let id = dd.appliance_id().unwrap_or_default();
    let _ = dd.audit().append(
        &key,
        &rfc3339(now),
        "init",
        serde_json::json!({"appliance_id": id, "site": site, "trusted_keys": trust.len(), "threshold": threshold}),
    );
    let mut out = String::new();
    let _ = writeln!(out, "initialised {}", data.display());
    let _ = writeln!(out, "  appliance id   {id}");
    let _ = writeln!(
        out,
        "  appliance key  {} (give it to auditors: it verifies evidence)",
        dd.appliance_pub_path().display()
    );
    let _ = writeln!(
        out,
        "  operator       admin, password in {} (mode 0600)",
        data.join(crate::store::OPERATOR_PASSWORD_FILE).display()
    );
    let _ = writeln!(
        out,
        "next: stella-appliance import --data {} KIT.ouk",
        data.display()
    );
    Ok(Done::text(out))
}

fn open(data: &Path) -> anyhow::Result<DataDir> {
    // The error already says how to create one.
    DataDir::open(data).map_err(usage)
}

/// `import`.
pub fn import_kit(
    data: &Path,
    kit: &Path,
    signature: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<Done> {
    let dd = open(data)?;
    match Importer::new(&dd).signature(signature).import(kit) {
        Ok(report) => {
            if json {
                return Ok(Done::json(&report));
            }
            let mut out = String::new();
            match report.outcome {
                Outcome::AlreadyImported => {
                    let _ = writeln!(
                        out,
                        "kit {} (sequence {}) is already imported: nothing changed",
                        report.kit_id.as_deref().unwrap_or("?"),
                        report.sequence.unwrap_or(0)
                    );
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "imported kit {} (sequence {}), valid until {}",
                        report.kit_id.as_deref().unwrap_or("?"),
                        report.sequence.unwrap_or(0),
                        report.expires_at.as_deref().unwrap_or("?")
                    );
                    for c in &report.checks {
                        let _ = writeln!(out, "  [ok] {:>2}. {}: {}", c.number, c.title, c.detail);
                    }
                }
            }
            Ok(Done {
                out,
                notes: report
                    .warnings
                    .iter()
                    .map(|w| format!("warning: {w}"))
                    .collect(),
                refused: false,
            })
        }
        Err(ImportError::Refused { refusal, report }) => {
            let mut done = if json {
                Done::json(&report)
            } else {
                Done::default()
            };
            done.notes
                .push(format!("stella-appliance: {}", refusal.one_line()));
            done.refused = true;
            Ok(done)
        }
        Err(ImportError::Busy) => Err(failure(Kind::Busy, ImportError::Busy)),
        Err(e) => Err(e.into()),
    }
}

/// `token`.
pub fn token(data: &Path, client: &str) -> anyhow::Result<Done> {
    let dd = open(data)?;
    let hist = KitHistory::load(&dd)?;
    let active = hist
        .active()
        .ok_or_else(|| usage("no kit is active: import one first"))?;
    let tokens = import::read_tokens(&active.dir)?;
    let now = OffsetDateTime::now_utc();
    let c = crate::service::clients::token_of(&tokens, client, now).map_err(usage)?;
    if let Ok(key) = dd.appliance_key() {
        let kit_id = active.activation.as_ref().map(|a| a.kit_id.clone());
        let _ = dd.audit().append(
            &key,
            &rfc3339(now),
            "token.issued",
            serde_json::json!({"actor": "cli", "client": client, "jti": c.jti, "kit_id": kit_id, "via": "cli"}),
        );
    }
    Ok(Done::text(format!("{}\n", c.token)))
}

/// What `status --json` prints.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Appliance id.
    pub appliance_id: String,
    /// Site.
    pub site: Option<String>,
    /// The active kit.
    pub active_kit: Option<KitStatus>,
    /// Retained kits (sequence, kit id).
    pub retained: Vec<(u64, String)>,
    /// Clients of the active kit.
    pub clients: Vec<ClientStatus>,
    /// Audit chain length.
    pub audit_records: u64,
}

/// The active kit in `status`.
#[derive(Debug, Serialize)]
pub struct KitStatus {
    /// Sequence.
    pub sequence: u64,
    /// Kit id.
    pub kit_id: String,
    /// Created.
    pub created_at: String,
    /// Expires.
    pub expires_at: String,
    /// Imported.
    pub imported_at: String,
    /// Feed age in days (now − created).
    pub feed_age_days: i64,
    /// Days until expiry.
    pub expires_in_days: i64,
}

/// A client in `status`.
#[derive(Debug, Serialize)]
pub struct ClientStatus {
    /// Client id.
    pub id: String,
    /// Tier.
    pub tier: String,
    /// Daily quota.
    pub max_scans_per_day: u32,
    /// Token expiry (RFC 3339).
    pub expires_at: String,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "appliance  {}", self.appliance_id)?;
        writeln!(f, "site       {}", self.site.as_deref().unwrap_or("(none)"))?;
        match &self.active_kit {
            Some(k) => {
                writeln!(f, "kit        {} (sequence {})", k.kit_id, k.sequence)?;
                writeln!(
                    f,
                    "feeds      created {} ({} days old), imported {}",
                    k.created_at, k.feed_age_days, k.imported_at
                )?;
                writeln!(
                    f,
                    "expires    {} (in {} days){}",
                    k.expires_at,
                    k.expires_in_days,
                    if k.expires_in_days < 7 {
                        " — bring a newer kit soon"
                    } else {
                        ""
                    }
                )?;
            }
            None => writeln!(
                f,
                "kit        none active: stella-appliance import --data DIR KIT.ouk"
            )?,
        }
        for c in &self.clients {
            writeln!(
                f,
                "client     {} ({}, {}/day), token expires {}",
                c.id, c.tier, c.max_scans_per_day, c.expires_at
            )?;
        }
        if self.retained.len() > 1 {
            let seqs: Vec<String> = self.retained.iter().map(|(s, _)| s.to_string()).collect();
            writeln!(f, "retained   sequences {}", seqs.join(", "))?;
        }
        writeln!(f, "audit      {} records", self.audit_records)
    }
}

/// `status`.
pub fn status(data: &Path, json: bool) -> anyhow::Result<Done> {
    let dd = open(data)?;
    let hist = KitHistory::load(&dd)?;
    let now = OffsetDateTime::now_utc();
    let active_kit = hist.active().and_then(|k| k.activation.as_ref()).map(|a| {
        let created = parse_rfc3339(&a.created_at);
        let expires = parse_rfc3339(&a.expires_at);
        KitStatus {
            sequence: a.sequence,
            kit_id: a.kit_id.clone(),
            created_at: a.created_at.clone(),
            expires_at: a.expires_at.clone(),
            imported_at: a.imported_at.clone(),
            feed_age_days: created.map_or(0, |c| (now - c).whole_days()),
            expires_in_days: expires.map_or(0, |e| (e - now).whole_days()),
        }
    });
    let clients = hist
        .active()
        .and_then(|k| import::read_tokens(&k.dir).ok())
        .map(|t| {
            t.clients
                .iter()
                .map(|c| ClientStatus {
                    id: c.id.clone(),
                    tier: c.tier.clone(),
                    max_scans_per_day: c.max_scans_per_day,
                    expires_at: OffsetDateTime::from_unix_timestamp(c.exp)
                        .map(rfc3339)
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let st = Status {
        appliance_id: dd.appliance_id().unwrap_or_default(),
        site: dd.trust_file().ok().and_then(|t| t.site),
        active_kit,
        retained: hist
            .kits
            .iter()
            .filter_map(|k| {
                k.activation
                    .as_ref()
                    .map(|a| (a.sequence, a.kit_id.clone()))
            })
            .collect(),
        clients,
        audit_records: dd.audit().verify(None).map(|v| v.records).unwrap_or(0),
    };
    Ok(if json {
        Done::json(&st)
    } else {
        Done::text(st.to_string())
    })
}

/// `rollback`.
pub fn rollback(data: &Path, to: Option<u64>) -> anyhow::Result<Done> {
    let dd = open(data)?;
    let key = dd.appliance_key()?;
    let from = KitHistory::load(&dd)
        .ok()
        .and_then(|h| h.active().map(|k| k.sequence));
    let target = match to {
        Some(t) => t,
        None => activate::previous_kit(&dd).map_err(usage)?,
    };
    let now = rfc3339(OffsetDateTime::now_utc());
    let dir = activate::activate_retained(&dd, target).map_err(usage)?;
    let _ = dd.audit().append(
        &key,
        &now,
        "rollback",
        serde_json::json!({"from": from, "to": target, "actor": "cli"}),
    );
    Ok(Done::text(format!(
        "kit sequence {target} is active again ({}); a running server picks it up within seconds\n",
        dir.display()
    )))
}

/// `audit verify`.
pub fn audit_verify(data: &Path) -> anyhow::Result<Done> {
    let dd = open(data)?;
    match dd.verify_audit() {
        Ok(v) => Ok(Done::text(format!(
            "audit log ok: {} records, hash chain intact, head signed by the appliance key\n",
            v.records
        ))),
        Err(e @ AuditError::Io { .. }) => Err(e.into()),
        Err(e) => Err(failure(
            Kind::Refused,
            format!("audit log does not verify: {e}"),
        )),
    }
}

/// Opens the embedded store for a one-shot command. While `serve` runs it holds the
/// store's exclusive lock: that case gets `busy` as its message and [`EXIT_BUSY`].
fn open_store(data: &Path, busy: &str) -> anyhow::Result<crate::store::EmbeddedStore> {
    crate::store::EmbeddedStore::open(data, StoreOptions::default()).map_err(|e| {
        let text = e.to_string();
        // sled reports its held lock as an I/O error naming the lock.
        if text.contains("could not acquire lock") || text.contains("WouldBlock") {
            failure(Kind::Busy, busy)
        } else {
            anyhow!("opening the store: {text}")
        }
    })
}

fn parse_scan_id(scan_id: &str) -> anyhow::Result<crate::store::ScanId> {
    scan_id
        .parse()
        .map_err(|e| usage(format!("scan id {scan_id:?}: {e}")))
}

/// `evidence export`.
pub fn evidence_export(data: &Path, scan_id: &str, out: Option<PathBuf>) -> anyhow::Result<Done> {
    let dd = open(data)?;
    let id = parse_scan_id(scan_id)?;
    let store = open_store(
        data,
        &format!(
            "the server holds the store: download it from GET /api/v1/scans/{scan_id}/bundle or the console"
        ),
    )?;
    let bundle = match crate::evidence::bundle::build(&store, &dd, &id) {
        Ok(Some(b)) => b,
        Ok(None) => return Err(usage(format!("no scan {scan_id}"))),
        Err(e) => {
            return Err(failure(
                Kind::Refused,
                format!("cannot build the bundle: {e}"),
            ));
        }
    };
    let out = out.unwrap_or_else(|| PathBuf::from(&bundle.file_name));
    // Write beside the target and rename: a reader never sees half a bundle.
    let mut tmp = out.clone().into_os_string();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(&bundle.bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, &out))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            anyhow!("writing {}: {e}", out.display())
        })?;
    Ok(Done::text(format!(
        "wrote {} ({} bytes, sha256 {})\nverify: stella verify-evidence --bundle {} --vendor-pub vendor.pub\n",
        out.display(),
        bundle.bytes.len(),
        crate::store::Sha256Digest::of(&bundle.bytes).hex(),
        out.display(),
    )))
}

/// `replay`.
pub fn replay(data: &Path, scan_id: &str) -> anyhow::Result<Done> {
    let dd = open(data)?;
    let id = parse_scan_id(scan_id)?;
    let store = open_store(
        data,
        "the server holds the store: stop `stella-appliance serve` to replay (replay re-reads the kit and policy the scan recorded)",
    )?;
    let r = match crate::evidence::replay::replay(&store, &dd, &id) {
        Ok(r) => r,
        Err(crate::evidence::replay::ReplayError::NoSuchScan(s)) => {
            return Err(usage(format!("no scan {s}")));
        }
        Err(e) => return Err(anyhow!("cannot replay: {e}")),
    };
    let notes = r.notes.iter().map(|n| format!("note: {n}")).collect();
    let facts = format!(
        "(kit {} sequence {}, policy version {})",
        r.kit.0, r.kit.1, r.policy_version
    );
    let mut out = String::new();
    if r.matches() {
        let _ = writeln!(
            out,
            "replay of scan {}: same findings digest {} and verdict {} {facts}",
            r.scan_id,
            r.replayed,
            r.replayed_verdict.as_str(),
        );
    } else if r.digest_matches() {
        let _ = writeln!(
            out,
            "replay of scan {}: same findings digest {} but the verdict differs: recorded {}, replayed {} {facts}",
            r.scan_id,
            r.replayed,
            r.recorded_verdict.as_str(),
            r.replayed_verdict.as_str(),
        );
    } else {
        let _ = writeln!(
            out,
            "replay of scan {}: findings digest differs: recorded {}, replayed {} {facts}",
            r.scan_id, r.recorded, r.replayed
        );
        for (label, keys) in [
            ("appeared:   ", &r.appeared),
            ("disappeared:", &r.disappeared),
            ("changed:    ", &r.changed),
        ] {
            for k in keys {
                let _ = writeln!(out, "  {label} {k}");
            }
        }
    }
    Ok(Done {
        out,
        notes,
        refused: !r.matches(),
    })
}
