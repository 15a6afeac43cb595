//! [`ApplianceConsole`]: the web console ([`web::Console`]) over the appliance's real
//! state — the store (operators, sessions, scans, policy versions, quotas), the data
//! directory (active kit, retained kits, audit log) and the importer.
//!
//! The `web` crate renders pages and never sees storage; this module is the only place
//! that translates between the appliance's records and the console's view models. Every
//! method blocks (SQLite, argon2, kit verification) and is called by the web layer from
//! `spawn_blocking`, as [`web::Console`] documents.
//!
//! Logins, sessions and policy changes are the service layer's ([`crate::service`]), the
//! same functions the JSON API calls, so the checks, the backoff and the audit records
//! (`login`, `policy.update`, `policy.mute`, `import`) are one trail whichever door an
//! operator used.
//!
//! [`router`] builds the console's router for `stella-appliance serve` to merge at `/`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bundles::model::{Finding, Severity};
use parking_lot::Mutex;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use web::{
    AuditEntry, AuditView, ChainStatus, ClientQuota, ClientToken, ConsoleError, DashboardData,
    Download, DownloadKind, EcosystemCount, FindingRow, ImportReport, ImportRow, ImportStatus,
    KitInfo, KitUpload, LoginOutcome, MuteInfo, MuteRequest, MuteScope, NewCritical, PolicySave,
    PolicyVersionText, PolicyView, ScanDetail, ScanPage, ScanQuery, ScanRow, Session, TokensView,
};

use crate::evidence::Statement;
use crate::policy::{FindingFacts, MuteRule, Policy};
use crate::service::operators::{self, Login};
use crate::service::policy::{Actor, PolicyChange};
use crate::service::{ServiceError, Via};
use crate::state::{ActiveKit, AppState};
use crate::store::{PageRequest, RevocationKind, ScanFilter, ScanId, ScanSummary, Store};

pub use crate::service::operators::SESSION_TTL;
/// Audit records per page of the audit viewer.
pub const AUDIT_PER_PAGE: u32 = 50;
/// Highest scan-list page served: paging walks the store's cursor, so this bounds the
/// work one request can cause (filters narrow a longer history).
pub const MAX_SCAN_PAGE: u32 = 200;
/// Largest JSON file read back from a kit directory (`manifest.json`, `import.json`).
const MAX_KIT_JSON: u64 = 64 * 1024 * 1024;
/// Scans examined for the dashboard's "new criticals" tile.
const NEW_CRITICALS_SCANS: u32 = 100;
/// Most rows on the "new criticals" tile.
const NEW_CRITICALS_MAX: usize = 50;
/// Policy versions listed on the policy page.
const POLICY_HISTORY: u32 = 100;

fn internal(e: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::Internal(e.to_string().into())
}

impl From<crate::store::StoreError> for ConsoleError {
    fn from(e: crate::store::StoreError) -> Self {
        ConsoleError::Internal(Box::new(e))
    }
}

impl From<ServiceError> for ConsoleError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(what) => ConsoleError::NotFound { what },
            ServiceError::Conflict(m) => ConsoleError::Conflict(m),
            ServiceError::Internal(m) => ConsoleError::Internal(m.into()),
            other => ConsoleError::Invalid(other.to_string()),
        }
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Builds the console router over `state`, for `stella-appliance serve` to merge with the
/// API and registry routes.
pub fn router(state: &AppState, opts: web::WebOptions) -> axum::Router {
    web::router(Arc::new(ApplianceConsole::new(state.clone())), opts)
}

/// Console options for a data directory: uploads stream to `DIR/uploads` (the same file
/// system as the kits, so nothing large crosses devices) and cookies are `Secure` when
/// the service runs behind TLS.
pub fn web_options(data: &Path, secure_cookies: bool) -> std::io::Result<web::WebOptions> {
    let upload_dir = data.join("uploads");
    std::fs::create_dir_all(&upload_dir)?;
    Ok(web::WebOptions {
        secure_cookies,
        upload_dir,
        ..web::WebOptions::default()
    })
}

/// The options plain-HTTP `stella-appliance serve` mounts the console with: see
/// [`serve_web_options`]; cookies without `Secure`, because browsers drop `Secure`
/// cookies set over plain HTTP, which would make logging in impossible.
pub fn default_web_options(state: &AppState) -> web::WebOptions {
    serve_web_options(state, false)
}

/// The options `stella-appliance serve` mounts the console with: uploads under
/// `DIR/uploads` (the system temp directory if that cannot be created), and cookies
/// `Secure` exactly when the service itself speaks TLS (`[tls]` configured), so a
/// browser never sends the session cookie over plain HTTP.
pub fn serve_web_options(state: &AppState, secure_cookies: bool) -> web::WebOptions {
    let c = &state.config;
    let timeouts = |o: web::WebOptions| web::WebOptions {
        request_timeout: std::time::Duration::from_secs(c.request_timeout_secs),
        upload_timeout: std::time::Duration::from_secs(c.upload_timeout_secs),
        ..o
    };
    timeouts(
        web_options(state.data.root(), secure_cookies).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "console uploads fall back to the temp directory");
            web::WebOptions {
                secure_cookies,
                ..web::WebOptions::default()
            }
        }),
    )
}

/// The real console. Cheap to share (`Arc`); holds the service's [`AppState`].
pub struct ApplianceConsole {
    state: AppState,
    /// Facts of the active kit, keyed by its directory (read from disk once per kit).
    kit_cache: Mutex<Option<(PathBuf, KitInfo)>>,
}

impl std::fmt::Debug for ApplianceConsole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplianceConsole")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn scan_row(s: &ScanSummary) -> ScanRow {
    ScanRow {
        id: s.id.to_string(),
        name: s.name.clone(),
        image: s.image_digest.clone(),
        created: s.created_at,
        verdict: s.verdict,
        counts: s.summary,
        client_id: s.subject.clone(),
        kit_sequence: s.kit.as_ref().map_or(0, |k| k.sequence),
    }
}

/// Reads a JSON file of a kit directory, bounded.
fn read_kit_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T, String> {
    importer::datadir::read_json(p, MAX_KIT_JSON).map_err(|e| e.to_string())
}

/// `advisories/PyPI.jsonl` → `PyPI` (the import report counts per kit file).
fn ecosystem_of_file(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".jsonl").unwrap_or(name).to_owned()
}

/// The 1-based line a YAML error message points at (`… at line 3 column 5`), or 0.
fn yaml_error_line(msg: &str) -> u32 {
    msg.split("line ")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// A short, single-line rendering of an audit event for the viewer.
fn audit_detail(kind: &str, event: &Value) -> String {
    let s = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_owned);
    let n = |k: &str| event.get(k).and_then(Value::as_u64);
    match kind {
        "import" => {
            let kit = match (s("kit_id"), n("sequence")) {
                (Some(id), Some(seq)) => format!("kit #{seq} ({id})"),
                _ => "kit".to_owned(),
            };
            let src = s("source").unwrap_or_default();
            match s("result").as_deref() {
                Some("refused") => format!(
                    "{kit} from {src} refused by check {}: {}",
                    n("check").unwrap_or(0),
                    s("reason").unwrap_or_default()
                ),
                Some(r) => format!("{kit} from {src}: {r}"),
                None => format!("{kit} from {src}"),
            }
        }
        "login" => {
            let r = s("result").unwrap_or_default();
            match s("ip") {
                Some(ip) => format!("{r} from {ip}"),
                None => r,
            }
        }
        _ => {
            // Everything but the actor (shown in its own column), as compact JSON.
            let mut e = event.clone();
            if let Some(o) = e.as_object_mut() {
                o.remove("actor");
            }
            let text = e.to_string();
            if text.chars().count() > 300 {
                let cut: String = text.chars().take(300).collect();
                format!("{cut}…")
            } else {
                text
            }
        }
    }
}

fn audit_ok(event: &Value) -> bool {
    !matches!(
        event.get("result").and_then(Value::as_str),
        Some("refused" | "error" | "failed" | "throttled")
    )
}

impl ApplianceConsole {
    /// A console over the service's state.
    pub fn new(state: AppState) -> Self {
        ApplianceConsole {
            state,
            kit_cache: Mutex::new(None),
        }
    }

    fn store(&self) -> &dyn Store {
        &*self.state.store
    }

    /// The console's facts about the active kit (cached per kit directory).
    fn kit_info(&self, kit: &ActiveKit) -> KitInfo {
        if let Some((dir, info)) = &*self.kit_cache.lock()
            && *dir == kit.dir
        {
            return info.clone();
        }
        let info = load_kit_info(kit);
        *self.kit_cache.lock() = Some((kit.dir.clone(), info.clone()));
        info
    }

    fn quota_used(&self, client: &importer::import::ResignedClient, now: OffsetDateTime) -> u32 {
        crate::service::clients::used_today(&self.state, client, now)
    }

    fn findings_of(&self, findings_json: &str) -> Result<Vec<Finding>, ConsoleError> {
        serde_json::from_str(findings_json).map_err(|e| internal(format!("stored findings: {e}")))
    }

    /// Critical, unmuted findings of the newest scan of each name run with the active kit
    /// that the newest scan of the same name under an older kit did not have.
    fn new_criticals(&self, kit: &ActiveKit) -> Result<Vec<NewCritical>, ConsoleError> {
        let store = self.store();
        let recent = store.list_scans(
            &ScanFilter::default(),
            PageRequest {
                limit: NEW_CRITICALS_SCANS,
                cursor: None,
            },
        )?;
        let mut seen_names = BTreeSet::new();
        let mut out = Vec::new();
        for s in recent
            .items
            .iter()
            .filter(|s| s.kit.as_ref().is_some_and(|k| k.sequence == kit.sequence))
        {
            if s.summary.critical == 0 || !seen_names.insert(s.name.clone()) {
                continue;
            }
            let Some(rec) = store.get_scan(&s.id)? else {
                continue;
            };
            let crit = |json: &str| -> Result<Vec<Finding>, ConsoleError> {
                Ok(self
                    .findings_of(json)?
                    .into_iter()
                    .filter(|f| f.severity == Severity::Critical && !f.muted)
                    .collect())
            };
            let current = crit(&rec.scan.findings_json)?;
            // The newest earlier scan of the same name with an older kit, if any. An
            // exact, indexed name match: a substring search scanned the whole table once
            // per project (and names containing this one could crowd it out of the page).
            let before = store.list_scans(
                &ScanFilter {
                    name: Some(s.name.clone()),
                    until: Some(s.created_at),
                    ..ScanFilter::default()
                },
                PageRequest {
                    limit: 50,
                    cursor: None,
                },
            )?;
            let prev = before.items.iter().find(|p| {
                p.name == s.name && p.kit.as_ref().is_some_and(|k| k.sequence < kit.sequence)
            });
            let old: BTreeSet<(String, Option<String>)> = match prev {
                Some(p) => match store.get_scan(&p.id)? {
                    Some(r) => crit(&r.scan.findings_json)?
                        .into_iter()
                        .map(|f| (f.id, f.package.purl))
                        .collect(),
                    None => BTreeSet::new(),
                },
                None => BTreeSet::new(),
            };
            for f in current {
                if old.contains(&(f.id.clone(), f.package.purl.clone())) {
                    continue;
                }
                out.push(NewCritical {
                    scan_id: s.id.to_string(),
                    scan_name: s.name.clone(),
                    advisory: f.id,
                    package: f.package.name,
                    version: f.package.version,
                });
                if out.len() >= NEW_CRITICALS_MAX {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// One policy change by `actor` through the service's one write path.
    fn change_policy(
        &self,
        actor: &str,
        change: PolicyChange,
    ) -> Result<crate::service::policy::Changed, ConsoleError> {
        let actor = Actor {
            username: actor,
            via: Via::Console,
        };
        Ok(crate::service::policy::change(&self.state, actor, change)?)
    }
}

/// The active kit's facts: the manifest's feed summary (advisories per ecosystem, Trivy
/// DB date, parsed once when the kit was loaded), the activation record and the import
/// report. Missing or unreadable files leave the corresponding facts empty: the kit was
/// verified at import; the dashboard must still render.
fn load_kit_info(kit: &ActiveKit) -> KitInfo {
    let activation: Option<importer::activate::Activation> =
        read_kit_json(&kit.dir.join(importer::activate::ACTIVATED)).ok();
    let mut advisory_counts: Vec<EcosystemCount> = kit
        .summary
        .feeds
        .get("osv")
        .map(|f| {
            f.counts
                .iter()
                .map(|(e, n)| EcosystemCount {
                    ecosystem: e.clone(),
                    advisories: *n,
                })
                .collect()
        })
        .unwrap_or_default();
    if advisory_counts.is_empty() {
        // Kits without an OSV summary: fall back to the importer's per-file counts.
        let report: Option<importer::import::ImportReport> =
            read_kit_json(&kit.dir.join(importer::import::REPORT_FILE)).ok();
        if let Some(r) = report {
            advisory_counts = r
                .advisories
                .iter()
                .map(|(f, n)| EcosystemCount {
                    ecosystem: ecosystem_of_file(f),
                    advisories: *n,
                })
                .collect();
        }
    }
    // Largest first: the tile lists the ecosystems that matter most at the top.
    advisory_counts.sort_by(|a, b| {
        b.advisories
            .cmp(&a.advisories)
            .then(a.ecosystem.cmp(&b.ecosystem))
    });
    let trivy_db_updated = kit
        .summary
        .feeds
        .get("trivy-db")
        .and_then(|f| f.updated_at.as_ref())
        .map(bundles::Timestamp::as_offset_date_time);
    KitInfo {
        sequence: kit.sequence,
        kit_id: kit.id.clone(),
        site: kit.site.clone(),
        created: kit.created_at,
        expires: kit.expires_at,
        activated: activation.and_then(|a| importer::datadir::parse_rfc3339(&a.imported_at)),
        advisory_counts,
        trivy_db_updated,
    }
}

fn kit_info_from_report(r: &importer::import::ImportReport) -> Option<KitInfo> {
    let parse = |s: &Option<String>| s.as_deref().and_then(importer::datadir::parse_rfc3339);
    Some(KitInfo {
        sequence: r.sequence?,
        kit_id: r.kit_id.clone()?,
        site: None,
        created: parse(&r.created_at)?,
        expires: parse(&r.expires_at)?,
        activated: None,
        advisory_counts: r
            .advisories
            .iter()
            .map(|(f, n)| EcosystemCount {
                ecosystem: ecosystem_of_file(f),
                advisories: *n,
            })
            .collect(),
        trivy_db_updated: None,
    })
}

fn checks_of(r: &importer::import::ImportReport) -> Vec<web::CheckResult> {
    r.checks
        .iter()
        .map(|c| web::CheckResult {
            number: c.number.to_string(),
            name: c.title.clone(),
            passed: c.passed,
            detail: c.detail.clone(),
        })
        .collect()
}

/// The import id the console hands out for an accepted kit: the importer activates as
/// part of a successful import (nothing is ever left half-staged), so the id names the
/// kit that became active.
fn import_id(sequence: u64) -> String {
    format!("kit-{sequence}")
}

impl web::Console for ApplianceConsole {
    fn verify_login(
        &self,
        user: &str,
        password: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<LoginOutcome, ConsoleError> {
        let now = now();
        match operators::login(&self.state, user, password, client_ip, Via::Console, now)? {
            Login::Ok { username } => {
                let s = operators::open_session(&self.state, &username, now)?;
                Ok(LoginOutcome::Success(Session {
                    token: s.token.clone(),
                    user: s.session.username.clone(),
                    csrf: s.session.csrf_secret.clone(),
                    expires: s.session.expires_at,
                }))
            }
            Login::Invalid => Ok(LoginOutcome::Invalid),
            Login::Throttled { retry_after_secs } => {
                Ok(LoginOutcome::Throttled { retry_after_secs })
            }
        }
    }

    fn session(&self, token: &str) -> Result<Option<Session>, ConsoleError> {
        Ok(
            operators::session(&self.state, token, now())?.map(|s| Session {
                token: token.to_owned(),
                user: s.username,
                csrf: s.csrf_secret,
                expires: s.expires_at,
            }),
        )
    }

    fn end_session(&self, token: &str) -> Result<(), ConsoleError> {
        Ok(operators::end_session(
            &self.state,
            token,
            Via::Console,
            now(),
        )?)
    }

    fn dashboard(&self) -> Result<DashboardData, ConsoleError> {
        let now = now();
        let policy = self.state.policy();
        let kit = self.state.kit();
        let recent = self.store().list_scans(
            &ScanFilter::default(),
            PageRequest {
                limit: 10,
                cursor: None,
            },
        )?;
        let (info, quotas, new_criticals) = match &kit {
            Some(k) => {
                let quotas = k
                    .tokens
                    .clients
                    .iter()
                    .map(|c| ClientQuota {
                        client_id: c.id.clone(),
                        used: self.quota_used(c, now),
                        limit: c.max_scans_per_day,
                        token_expires: OffsetDateTime::from_unix_timestamp(c.exp)
                            .unwrap_or(k.expires_at),
                    })
                    .collect();
                (Some(self.kit_info(k)), quotas, self.new_criticals(k)?)
            }
            None => (None, Vec::new(), Vec::new()),
        };
        Ok(DashboardData {
            now,
            max_feed_age_days: policy
                .policy
                .max_feed_age_days
                .or(Policy::default().max_feed_age_days)
                .unwrap_or(30),
            kit: info,
            quotas,
            recent_scans: recent.items.iter().map(scan_row).collect(),
            new_criticals,
        })
    }

    fn scans(&self, query: &ScanQuery) -> Result<ScanPage, ConsoleError> {
        let filter = ScanFilter {
            text: query.text.clone().filter(|t| !t.is_empty()),
            verdict: query.verdict,
            since: query.from.map(|d| d.midnight().assume_utc()),
            // `to` is inclusive: everything before the next day's midnight.
            until: query
                .to
                .and_then(|d| d.next_day())
                .map(|d| d.midnight().assume_utc()),
            ..ScanFilter::default()
        };
        let total = self.store().count_scans(&filter)?;
        let per_page = query.per_page.clamp(1, PageRequest::MAX_LIMIT);
        let page = query.page.clamp(1, MAX_SCAN_PAGE);
        let mut cursor = None;
        // Walk the cursor to the asked page (bounded by MAX_SCAN_PAGE).
        for _ in 1..page {
            let p = self.store().list_scans(
                &filter,
                PageRequest {
                    limit: per_page,
                    cursor,
                },
            )?;
            match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => {
                    return Ok(ScanPage {
                        rows: Vec::new(),
                        total,
                    });
                }
            }
        }
        let p = self.store().list_scans(
            &filter,
            PageRequest {
                limit: per_page,
                cursor,
            },
        )?;
        Ok(ScanPage {
            rows: p.items.iter().map(scan_row).collect(),
            total,
        })
    }

    fn scan(&self, scan_id: &str) -> Result<Option<ScanDetail>, ConsoleError> {
        let Ok(id) = scan_id.parse::<ScanId>() else {
            return Ok(None);
        };
        let Some(rec) = self.store().get_scan(&id)? else {
            return Ok(None);
        };
        let s = &rec.scan;
        let predicate = s
            .evidence_json
            .as_deref()
            .and_then(|e| Statement::from_envelope_unverified(e).ok())
            .map(|st| st.predicate);
        let now = now();
        let lp = self.state.policy();
        let findings = self
            .findings_of(&s.findings_json)?
            .into_iter()
            .map(|f| {
                // The policy in force says what is muted now; a rule removed since the
                // scan still explains the recorded verdict.
                let muted = match lp.policy.mute_for(&FindingFacts::of(&f), now) {
                    Some(r) => Some(MuteInfo {
                        reason: r.reason.clone(),
                        by: r.author.clone(),
                        expires: r.expires_at.map(|t| {
                            // Stored as the instant the rule stops; shown as its last day.
                            (t - Duration::seconds(1)).date()
                        }),
                        scope: if r.purl.is_some() {
                            MuteScope::Package
                        } else {
                            MuteScope::Everywhere
                        },
                    }),
                    None if f.muted => Some(MuteInfo {
                        reason: f.mute_reason.clone().unwrap_or_default(),
                        by: "policy at scan time".into(),
                        expires: None,
                        scope: MuteScope::Everywhere,
                    }),
                    None => None,
                };
                FindingRow { finding: f, muted }
            })
            .collect();
        let summary = ScanSummary {
            id: rec.id,
            created_at: s.created_at,
            subject: s.subject.clone(),
            name: s.name.clone(),
            image_digest: s.image_digest.clone(),
            format: s.format.clone(),
            verdict: s.verdict,
            summary: s.summary,
            sbom_sha256: s.sbom_sha256,
            kit: s.kit.clone(),
        };
        Ok(Some(ScanDetail {
            scan: scan_row(&summary),
            sbom_format: s.format.clone(),
            components: predicate.as_ref().map_or(0, |p| p.summary.components),
            policy_version: predicate
                .as_ref()
                .map_or(0, |p| u32::try_from(p.policy.version).unwrap_or(u32::MAX)),
            findings_digest: s.findings_digest.to_string(),
            findings,
            evidence_available: s.evidence_json.is_some(),
        }))
    }

    fn download(
        &self,
        scan_id: &str,
        kind: DownloadKind,
    ) -> Result<Option<Download>, ConsoleError> {
        let Ok(id) = scan_id.parse::<ScanId>() else {
            return Ok(None);
        };
        let Some(rec) = self.store().get_scan(&id)? else {
            return Ok(None);
        };
        let Some(envelope) = rec.scan.evidence_json.clone() else {
            return Ok(None);
        };
        match kind {
            DownloadKind::Evidence => Ok(Some(Download {
                file_name: format!("scan-{id}.dsse.json"),
                content_type: "application/json".into(),
                bytes: envelope.into_bytes(),
            })),
            DownloadKind::Bundle => {
                // The same deterministic .tar.zst as GET /api/v1/scans/{id}/bundle and
                // `stella-appliance evidence export`: one format for auditors.
                match crate::evidence::bundle::build(&*self.state.store, &self.state.data, &id)
                    .map_err(internal)?
                {
                    Some(b) => Ok(Some(Download {
                        file_name: b.file_name,
                        content_type: "application/zstd".into(),
                        bytes: b.bytes,
                    })),
                    None => Ok(None),
                }
            }
        }
    }

    fn policy(&self) -> Result<PolicyView, ConsoleError> {
        let lp = self.state.policy();
        let history = self
            .store()
            .policy_history(POLICY_HISTORY)?
            .into_iter()
            .map(|v| web::PolicyVersion {
                version: u32::try_from(v.version).unwrap_or(u32::MAX),
                author: v.author,
                created: v.created_at,
                digest: v.sha256.hex(),
            })
            .collect();
        Ok(PolicyView {
            yaml: lp.version.yaml.clone(),
            version: u32::try_from(lp.version.version).unwrap_or(u32::MAX),
            history,
        })
    }

    fn policy_version(&self, version: u32) -> Result<Option<PolicyVersionText>, ConsoleError> {
        Ok(self
            .store()
            .get_policy(u64::from(version))?
            .map(|v| PolicyVersionText {
                meta: web::PolicyVersion {
                    version,
                    author: v.author,
                    created: v.created_at,
                    digest: v.sha256.hex(),
                },
                yaml: v.yaml,
            }))
    }

    fn tokens(&self) -> Result<TokensView, ConsoleError> {
        let now = now();
        let kit = self.state.kit();
        let local = self.store().revocations()?;
        let clients = kit
            .as_ref()
            .map(|k| {
                k.tokens
                    .clients
                    .iter()
                    .map(|c| ClientToken {
                        client_id: c.id.clone(),
                        tier: c.tier.clone(),
                        used_today: self.quota_used(c, now),
                        max_scans_per_day: c.max_scans_per_day,
                        expires: OffsetDateTime::from_unix_timestamp(c.exp).unwrap_or(k.expires_at),
                        token: c.token.clone(),
                        token_id: c.jti.clone(),
                        revoked: local
                            .iter()
                            .find(|r| r.kind == RevocationKind::Client && r.id == c.id)
                            .map(|r| web::RevocationInfo {
                                by: r.actor.clone(),
                                reason: r.reason.clone(),
                                at: r.created_at,
                            }),
                        token_revoked: c.jti.as_ref().is_some_and(|j| {
                            k.revoked.contains(j)
                                || local
                                    .iter()
                                    .any(|r| r.kind == RevocationKind::Token && r.id == *j)
                        }),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(TokensView {
            now,
            kit_sequence: kit.map(|k| k.sequence),
            clients,
        })
    }

    fn audit(&self, page: u32) -> Result<AuditView, ConsoleError> {
        let log = self.state.data.audit();
        let chain = match log.verify(Some(&self.state.public)) {
            Ok(v) => ChainStatus {
                intact: true,
                records: v.records,
                message: format!(
                    "{} records; every hash link and the signed head verify (head {})",
                    v.records,
                    v.head.get(..16).unwrap_or(&v.head)
                ),
            },
            Err(e) => ChainStatus {
                intact: false,
                records: 0,
                message: e.to_string(),
            },
        };
        // A broken chain must still be inspectable: show what can be read.
        let records = log.records().unwrap_or_default();
        let total = records.len() as u64;
        let per = AUDIT_PER_PAGE as usize;
        let skip = (page.max(1) as usize - 1).saturating_mul(per);
        let entries = records
            .iter()
            .rev()
            .skip(skip)
            .take(per)
            .map(|r| AuditEntry {
                seq: r.seq,
                at: importer::datadir::parse_rfc3339(&r.time).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                actor: r
                    .event
                    .get("actor")
                    .and_then(Value::as_str)
                    .unwrap_or("system")
                    .to_owned(),
                action: r.kind.clone(),
                detail: audit_detail(&r.kind, &r.event),
                ok: audit_ok(&r.event),
                hash: r.hash.clone(),
            })
            .collect();
        Ok(AuditView {
            chain,
            entries,
            total,
            per_page: AUDIT_PER_PAGE,
        })
    }

    fn imports(&self) -> Result<Vec<ImportRow>, ConsoleError> {
        // Accepted imports: the retained kits' own reports; refusals and errors: the
        // audit log (a refused kit leaves nothing else behind). The audit record of each
        // attempt gives the time and the actor.
        let records = self.state.data.audit().records().map_err(internal)?;
        let history = importer::activate::KitHistory::load(&self.state.data).map_err(internal)?;
        let active = history.active().map(|k| k.sequence);
        let mut rows = Vec::new();
        for r in records.iter().filter(|r| r.kind == "import") {
            let e = &r.event;
            let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
            let sequence = e.get("sequence").and_then(Value::as_u64);
            let at =
                importer::datadir::parse_rfc3339(&r.time).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let (status, reason) = match s("result").as_deref() {
                Some("accepted") => {
                    let kit = sequence.and_then(|q| history.kits.iter().find(|k| k.sequence == q));
                    let report: Option<importer::import::ImportReport> = kit.and_then(|k| {
                        read_kit_json(&k.dir.join(importer::import::REPORT_FILE)).ok()
                    });
                    let checks = report.as_ref().map_or(0, |r| r.checks.len());
                    let mut reason = if checks > 0 {
                        format!("all {checks} checks passed")
                    } else {
                        "all checks passed".to_owned()
                    };
                    if sequence.is_some() && sequence == active {
                        reason.push_str("; active");
                    } else if kit.is_none() {
                        reason.push_str("; since pruned");
                    }
                    (ImportStatus::Activated, reason)
                }
                Some("already-imported") => (
                    ImportStatus::Activated,
                    "already imported; nothing changed".to_owned(),
                ),
                Some("refused") => (
                    ImportStatus::Refused,
                    format!(
                        "check {} ({}): {}",
                        e.get("check").and_then(Value::as_u64).unwrap_or(0),
                        s("check_name").unwrap_or_default(),
                        s("reason").unwrap_or_default()
                    ),
                ),
                _ => (
                    ImportStatus::Refused,
                    format!("error: {}", s("reason").unwrap_or_default()),
                ),
            };
            rows.push(ImportRow {
                at,
                actor: s("actor").unwrap_or_else(|| "cli".into()),
                file_name: s("source").unwrap_or_default(),
                sequence,
                status,
                reason,
            });
        }
        rows.reverse();
        Ok(rows)
    }

    fn mute(&self, request: &MuteRequest, actor: &str) -> Result<web::MuteRule, ConsoleError> {
        let now = now();
        let purl = match request.scope {
            MuteScope::Everywhere => None,
            MuteScope::Package => {
                // "This package, any version": the purl up to its version, then `*`.
                let base = request
                    .purl
                    .split_once('@')
                    .map_or(request.purl.as_str(), |(b, _)| b);
                if base.is_empty() {
                    return Err(ConsoleError::Invalid(
                        "this finding has no package URL; mute it everywhere instead".into(),
                    ));
                }
                Some(format!("{base}@*"))
            }
        };
        let expires_at = match request.expires {
            // The rule applies through its last day (UTC): it stops at the next midnight.
            Some(d) => Some(
                d.next_day()
                    .ok_or_else(|| ConsoleError::Invalid("expiry date out of range".into()))?
                    .midnight()
                    .assume_utc(),
            ),
            None => None,
        };
        let rule = MuteRule {
            id: String::new(),
            advisory: Some(request.advisory.clone()),
            purl,
            layer: None,
            path: None,
            reason: request.reason.clone(),
            author: String::new(),
            created_at: None,
            expires_at,
        };
        let done = self.change_policy(
            actor,
            PolicyChange::Mute {
                rule,
                scan_id: Some(request.scan_id.clone()),
            },
        )?;
        let rule = done
            .rule
            .ok_or_else(|| internal("the stored policy lost the new rule"))?;
        Ok(web::MuteRule {
            id: rule.id,
            request: request.clone(),
            created_by: actor.to_owned(),
            created: rule.created_at.unwrap_or(now),
        })
    }

    fn save_policy(&self, yaml: &str, author: &str) -> Result<PolicySave, ConsoleError> {
        let policy = match Policy::from_yaml(yaml) {
            Ok(p) => p,
            Err(e) => {
                let msg = e.to_string();
                return Ok(PolicySave::Rejected(vec![web::PolicyError {
                    line: yaml_error_line(&msg),
                    msg,
                }]));
            }
        };
        if let Err(e) = policy.validate() {
            return Ok(PolicySave::Rejected(vec![web::PolicyError {
                line: 0,
                msg: e.to_string(),
            }]));
        }
        let done = self.change_policy(
            author,
            PolicyChange::Replace {
                policy: Box::new(policy),
                text: Some(yaml.to_owned()),
            },
        )?;
        Ok(PolicySave::Saved {
            version: u32::try_from(done.policy.version.version).unwrap_or(u32::MAX),
        })
    }

    fn import_kit(&self, upload: &KitUpload, actor: &str) -> Result<ImportReport, ConsoleError> {
        // Without an uploaded signature the importer looks for `<kit>.minisig`, which
        // does not exist in the upload directory: check 2 then refuses with "missing".
        let importer = importer::Importer::new(&self.state.data)
            .signature(upload.signature.clone())
            .source_name(upload.original_name.clone())
            .actor(actor);
        match importer.import(&upload.kit) {
            Ok(report) => {
                // The importer activated the kit: serve it from now on.
                let kit = self.state.reload_kit().map_err(internal)?;
                let info = kit
                    .as_deref()
                    .map(|k| self.kit_info(k))
                    .or_else(|| kit_info_from_report(&report));
                Ok(ImportReport {
                    import_id: report.sequence.map(import_id),
                    kit: info,
                    checks: checks_of(&report),
                })
            }
            Err(importer::import::ImportError::Refused { report, .. }) => Ok(ImportReport {
                import_id: None,
                kit: kit_info_from_report(&report),
                checks: checks_of(&report),
            }),
            Err(importer::import::ImportError::Busy) => Err(ConsoleError::Conflict(
                "another import is running on this appliance; try again when it finishes".into(),
            )),
            Err(e) => Err(internal(e)),
        }
    }

    fn revoke(
        &self,
        target: web::RevokeTarget,
        id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<(), ConsoleError> {
        crate::service::clients::revoke(&self.state, actor, Via::Console, target, id, reason)?;
        Ok(())
    }

    fn lift_revocation(
        &self,
        target: web::RevokeTarget,
        id: &str,
        actor: &str,
    ) -> Result<(), ConsoleError> {
        Ok(crate::service::clients::lift(
            &self.state,
            actor,
            Via::Console,
            target,
            id,
        )?)
    }

    fn activate_kit(&self, import_id_text: &str, _actor: &str) -> Result<KitInfo, ConsoleError> {
        // A verified kit is already active (see `import_id`): confirm it still is.
        let kit = self.state.kit();
        match kit {
            Some(k) if import_id(k.sequence) == import_id_text => Ok(self.kit_info(&k)),
            _ => Err(ConsoleError::Conflict(format!(
                "{import_id_text} is not the active kit any more; see the import history"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_error_lines_are_found() {
        assert_eq!(
            yaml_error_line("fail_on: unknown variant `hgh` at line 3 column 10"),
            3
        );
        assert_eq!(yaml_error_line("no position"), 0);
        assert_eq!(yaml_error_line("at line x"), 0);
    }

    #[test]
    fn ecosystem_names_come_from_kit_files() {
        assert_eq!(ecosystem_of_file("advisories/PyPI.jsonl"), "PyPI");
        assert_eq!(ecosystem_of_file("advisories/Debian:12.jsonl"), "Debian:12");
        assert_eq!(ecosystem_of_file("odd"), "odd");
    }

    #[test]
    fn refusals_and_failed_logins_show_as_not_ok() {
        assert!(!audit_ok(&json!({"result": "refused"})));
        assert!(!audit_ok(&json!({"result": "failed"})));
        assert!(audit_ok(&json!({"result": "ok"})));
        assert!(audit_ok(&json!({"actor": "a"})));
        let d = audit_detail(
            "import",
            &json!({"result": "refused", "check": 2, "reason": "bad sig", "source": "k.ouk"}),
        );
        assert_eq!(d, "kit from k.ouk refused by check 2: bad sig");
    }
}
