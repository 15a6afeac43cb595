//! The administrative commands of `stella-appliance` that do not serve HTTP: `init`,
//! `import`, `token`, `status`, `rollback`, `audit verify`. Each returns a process exit
//! code; messages go to stdout (results) and stderr (errors), one line per error.
use std::io::Write;
use std::path::{Path, PathBuf};

use importer::activate::{self, KitHistory};
use importer::audit::AuditError;
use importer::datadir::{DataDir, InitOptions, rfc3339};
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

/// Prints `stella-appliance: error: …` and returns `code`.
pub fn fail(code: u8, msg: impl std::fmt::Display) -> u8 {
    eprintln!("stella-appliance: error: {msg}");
    code
}

/// `init`.
pub fn init(data: &Path, trust: &[PathBuf], threshold: usize, site: Option<String>) -> u8 {
    let keys = match trust
        .iter()
        .map(|p| PublicKey::read(p).map_err(|e| format!("--trust {}: {e}", p.display())))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(k) => k,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let now = OffsetDateTime::now_utc();
    let (dd, key) = match DataDir::init(
        data,
        &InitOptions {
            trust: keys,
            threshold,
            site: site.clone(),
            now,
        },
    ) {
        Ok(x) => x,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let report = match crate::store::init(data, StoreOptions::default(), now) {
        Ok(r) => r,
        Err(e) => return fail(EXIT_ERROR, format!("creating the store: {e}")),
    };
    if let Err(e) = crate::store::write_operator_password_file(data, &report.admin_password) {
        return fail(EXIT_ERROR, e);
    }
    drop(report);
    let id = dd.appliance_id().unwrap_or_default();
    let _ = dd.audit().append(
        &key,
        &rfc3339(now),
        "init",
        serde_json::json!({"appliance_id": id, "site": site, "trusted_keys": trust.len(), "threshold": threshold}),
    );
    println!("initialised {}", data.display());
    println!("  appliance id   {id}");
    println!(
        "  appliance key  {} (give it to auditors: it verifies evidence)",
        dd.appliance_pub_path().display()
    );
    println!(
        "  operator       admin, password in {} (mode 0600)",
        data.join(crate::store::OPERATOR_PASSWORD_FILE).display()
    );
    println!(
        "next: stella-appliance import --data {} KIT.ouk",
        data.display()
    );
    EXIT_OK
}

fn open(data: &Path) -> Result<DataDir, u8> {
    DataDir::open(data).map_err(|e| {
        fail(
            EXIT_USAGE,
            format!(
                "{e} (create it with `stella-appliance init --data {}`)",
                data.display()
            ),
        )
    })
}

/// `import`.
pub fn import_kit(data: &Path, kit: &Path, signature: Option<PathBuf>, json: bool) -> u8 {
    let dd = match open(data) {
        Ok(d) => d,
        Err(c) => return c,
    };
    match Importer::new(&dd).signature(signature).import(kit) {
        Ok(report) => {
            if json {
                print_json(&report);
            } else {
                match report.outcome {
                    Outcome::AlreadyImported => println!(
                        "kit {} (sequence {}) is already imported: nothing changed",
                        report.kit_id.as_deref().unwrap_or("?"),
                        report.sequence.unwrap_or(0)
                    ),
                    _ => {
                        println!(
                            "imported kit {} (sequence {}), valid until {}",
                            report.kit_id.as_deref().unwrap_or("?"),
                            report.sequence.unwrap_or(0),
                            report.expires_at.as_deref().unwrap_or("?")
                        );
                        for c in &report.checks {
                            println!("  [ok] {:>2}. {}: {}", c.number, c.title, c.detail);
                        }
                    }
                }
                for w in &report.warnings {
                    eprintln!("warning: {w}");
                }
            }
            EXIT_OK
        }
        Err(ImportError::Refused { refusal, report }) => {
            if json {
                print_json(&report);
            }
            eprintln!("stella-appliance: {}", refusal.one_line());
            EXIT_REFUSED
        }
        Err(ImportError::Busy) => fail(EXIT_BUSY, ImportError::Busy),
        Err(e) => fail(EXIT_ERROR, e),
    }
}

fn print_json<T: Serialize>(v: &T) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, v);
    let _ = writeln!(out);
}

/// `token`.
pub fn token(data: &Path, client: &str) -> u8 {
    let dd = match open(data) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let hist = match KitHistory::load(&dd) {
        Ok(h) => h,
        Err(e) => return fail(EXIT_ERROR, e),
    };
    let Some(active) = hist.active() else {
        return fail(EXIT_USAGE, "no kit is active: import one first");
    };
    let tokens = match import::read_tokens(&active.dir) {
        Ok(t) => t,
        Err(e) => return fail(EXIT_ERROR, e),
    };
    let now = OffsetDateTime::now_utc();
    let c = match crate::service::clients::token_of(&tokens, client, now) {
        Ok(c) => c,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    if let Ok(key) = dd.appliance_key() {
        let _ = dd.audit().append(
            &key,
            &rfc3339(now),
            "token.issued",
            serde_json::json!({"actor": "cli", "client": client, "jti": c.jti, "kit_id": active.activation.as_ref().map(|a| a.kit_id.clone()), "via": "cli"}),
        );
    }
    println!("{}", c.token);
    EXIT_OK
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

/// `status`.
pub fn status(data: &Path, json: bool) -> u8 {
    let dd = match open(data) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let hist = match KitHistory::load(&dd) {
        Ok(h) => h,
        Err(e) => return fail(EXIT_ERROR, e),
    };
    let now = OffsetDateTime::now_utc();
    let active_kit = hist.active().and_then(|k| k.activation.as_ref()).map(|a| {
        let created = importer::datadir::parse_rfc3339(&a.created_at);
        let expires = importer::datadir::parse_rfc3339(&a.expires_at);
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
    if json {
        print_json(&st);
        return EXIT_OK;
    }
    println!("appliance  {}", st.appliance_id);
    println!("site       {}", st.site.as_deref().unwrap_or("(none)"));
    match &st.active_kit {
        Some(k) => {
            println!("kit        {} (sequence {})", k.kit_id, k.sequence);
            println!(
                "feeds      created {} ({} days old), imported {}",
                k.created_at, k.feed_age_days, k.imported_at
            );
            println!(
                "expires    {} (in {} days){}",
                k.expires_at,
                k.expires_in_days,
                if k.expires_in_days < 7 {
                    " — bring a newer kit soon"
                } else {
                    ""
                }
            );
        }
        None => println!("kit        none active: stella-appliance import --data DIR KIT.ouk"),
    }
    for c in &st.clients {
        println!(
            "client     {} ({}, {}/day), token expires {}",
            c.id, c.tier, c.max_scans_per_day, c.expires_at
        );
    }
    if st.retained.len() > 1 {
        let seqs: Vec<String> = st.retained.iter().map(|(s, _)| s.to_string()).collect();
        println!("retained   sequences {}", seqs.join(", "));
    }
    println!("audit      {} records", st.audit_records);
    EXIT_OK
}

/// `rollback`.
pub fn rollback(data: &Path, to: Option<u64>) -> u8 {
    let dd = match open(data) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let key = match dd.appliance_key() {
        Ok(k) => k,
        Err(e) => return fail(EXIT_ERROR, e),
    };
    let from = KitHistory::load(&dd)
        .ok()
        .and_then(|h| h.active().map(|k| k.sequence));
    let target = match to {
        Some(t) => t,
        None => match activate::previous_kit(&dd) {
            Ok(t) => t,
            Err(e) => return fail(EXIT_USAGE, e),
        },
    };
    let now = rfc3339(OffsetDateTime::now_utc());
    match activate::activate_retained(&dd, target) {
        Ok(dir) => {
            let _ = dd.audit().append(
                &key,
                &now,
                "rollback",
                serde_json::json!({"from": from, "to": target, "actor": "cli"}),
            );
            println!(
                "kit sequence {target} is active again ({}); a running server picks it up within seconds",
                dir.display()
            );
            EXIT_OK
        }
        Err(e) => fail(EXIT_USAGE, e),
    }
}

/// `audit verify`.
pub fn audit_verify(data: &Path) -> u8 {
    let dd = match open(data) {
        Ok(d) => d,
        Err(c) => return c,
    };
    match dd.verify_audit() {
        Ok(v) => {
            println!(
                "audit log ok: {} records, hash chain intact, head signed by the appliance key",
                v.records
            );
            EXIT_OK
        }
        Err(e @ AuditError::Io { .. }) => fail(EXIT_ERROR, e),
        Err(e) => fail(EXIT_REFUSED, format!("audit log does not verify: {e}")),
    }
}

/// Opens the embedded store for a one-shot command. While `serve` runs it holds the
/// store's exclusive lock: that case gets `busy` as its message and [`EXIT_BUSY`].
fn open_store(data: &Path, busy: &str) -> Result<crate::store::EmbeddedStore, u8> {
    match crate::store::EmbeddedStore::open(data, StoreOptions::default()) {
        Ok(s) => Ok(s),
        Err(e) => {
            let text = e.to_string();
            // sled reports its held lock as an I/O error naming the lock.
            if text.contains("could not acquire lock") || text.contains("WouldBlock") {
                Err(fail(EXIT_BUSY, busy))
            } else {
                Err(fail(EXIT_ERROR, format!("opening the store: {text}")))
            }
        }
    }
}

fn parse_scan_id(scan_id: &str) -> Result<crate::store::ScanId, u8> {
    scan_id
        .parse()
        .map_err(|e| fail(EXIT_USAGE, format!("scan id {scan_id:?}: {e}")))
}

/// `evidence export`.
pub fn evidence_export(data: &Path, scan_id: &str, out: Option<PathBuf>) -> u8 {
    let dd = match open(data) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let id = match parse_scan_id(scan_id) {
        Ok(i) => i,
        Err(c) => return c,
    };
    let store = match open_store(
        data,
        &format!(
            "the server holds the store: download it from GET /api/v1/scans/{scan_id}/bundle or the console"
        ),
    ) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let bundle = match crate::evidence::bundle::build(&store, &dd, &id) {
        Ok(Some(b)) => b,
        Ok(None) => return fail(EXIT_USAGE, format!("no scan {scan_id}")),
        Err(e) => return fail(EXIT_REFUSED, format!("cannot build the bundle: {e}")),
    };
    let out = out.unwrap_or_else(|| PathBuf::from(&bundle.file_name));
    // Write beside the target and rename: a reader never sees half a bundle.
    let mut tmp = out.clone().into_os_string();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(&bundle.bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, &out))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("writing {}: {e}", out.display())
        });
    if let Err(e) = written {
        return fail(EXIT_ERROR, e);
    }
    println!(
        "wrote {} ({} bytes, sha256 {})",
        out.display(),
        bundle.bytes.len(),
        crate::store::Sha256Digest::of(&bundle.bytes).hex()
    );
    println!(
        "verify: stella verify-evidence --bundle {} --vendor-pub vendor.pub",
        out.display()
    );
    EXIT_OK
}

/// `replay`.
pub fn replay(data: &Path, scan_id: &str) -> u8 {
    let dd = match open(data) {
        Ok(d) => d,
        Err(c) => return c,
    };
    let id = match parse_scan_id(scan_id) {
        Ok(i) => i,
        Err(c) => return c,
    };
    let store = match open_store(
        data,
        "the server holds the store: stop `stella-appliance serve` to replay (replay re-reads the kit and policy the scan recorded)",
    ) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let r = match crate::evidence::replay::replay(&store, &dd, &id) {
        Ok(r) => r,
        Err(crate::evidence::replay::ReplayError::NoSuchScan(s)) => {
            return fail(EXIT_USAGE, format!("no scan {s}"));
        }
        Err(e) => return fail(EXIT_ERROR, format!("cannot replay: {e}")),
    };
    for n in &r.notes {
        eprintln!("note: {n}");
    }
    if r.matches() {
        println!(
            "replay of scan {}: same findings digest {} and verdict {} (kit {} sequence {}, policy version {})",
            r.scan_id,
            r.replayed,
            r.replayed_verdict.as_str(),
            r.kit.0,
            r.kit.1,
            r.policy_version
        );
        return EXIT_OK;
    }
    if r.digest_matches() {
        println!(
            "replay of scan {}: same findings digest {} but the verdict differs: recorded {}, replayed {} (kit {} sequence {}, policy version {})",
            r.scan_id,
            r.replayed,
            r.recorded_verdict.as_str(),
            r.replayed_verdict.as_str(),
            r.kit.0,
            r.kit.1,
            r.policy_version
        );
        return EXIT_REFUSED;
    }
    println!(
        "replay of scan {}: findings digest differs: recorded {}, replayed {} (kit {} sequence {}, policy version {})",
        r.scan_id, r.recorded, r.replayed, r.kit.0, r.kit.1, r.policy_version
    );
    for k in &r.appeared {
        println!("  appeared:    {k}");
    }
    for k in &r.disappeared {
        println!("  disappeared: {k}");
    }
    for k in &r.changed {
        println!("  changed:     {k}");
    }
    EXIT_REFUSED
}
