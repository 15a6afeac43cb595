//! The [`Console`] trait — everything the web pages need from the appliance — and the
//! plain view-model structs it returns.
//!
//! # Why synchronous methods
//!
//! The appliance behind this trait does blocking work: SQLite/sled queries, argon2
//! password hashing (deliberately tens of milliseconds of CPU), and kit verification
//! (hashing and unpacking hundreds of megabytes). None of that may run on a Tokio worker
//! thread. So the trait is plain `fn`s, and every handler calls it inside
//! [`tokio::task::spawn_blocking`]. This keeps the trait object-safe without boxed
//! futures, keeps implementations free of async plumbing, and makes it impossible for an
//! implementation to stall the server's I/O threads by accident.
//!
//! # Times
//!
//! All times are UTC [`OffsetDateTime`]s. Each view carries the appliance's idea of `now`
//! (its trusted clock, which refuses to go backwards) so that ages, colours and expiry
//! warnings are computed against the same clock the importer uses, and so that pages
//! render deterministically in tests.

use std::net::IpAddr;
use std::path::PathBuf;

use time::{Date, OffsetDateTime};

/// The appliance's side of the web console. Implemented by `stella-appliance`; the
/// tests provide an in-memory one (`tests/support/fake.rs`).
///
/// Every method may block; the web layer only ever calls them from
/// [`tokio::task::spawn_blocking`]. Methods return [`ConsoleError`] for failures the
/// operator cannot fix by editing the form (the web layer shows 4xx variants and hides
/// the details of [`ConsoleError::Internal`]).
pub trait Console: Send + Sync + 'static {
    // ----- authentication and sessions ---------------------------------------------

    /// Checks an operator's password (argon2 in the appliance), applies the backoff after
    /// repeated failures (per user and per client address), records the attempt in the
    /// audit log, and on success opens a session.
    fn verify_login(
        &self,
        user: &str,
        password: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<LoginOutcome, ConsoleError>;

    /// Looks up a live session by the opaque token from the session cookie. Expired or
    /// unknown tokens give `Ok(None)`.
    fn session(&self, token: &str) -> Result<Option<Session>, ConsoleError>;

    /// Ends a session (logout). Unknown tokens are not an error.
    fn end_session(&self, token: &str) -> Result<(), ConsoleError>;

    // ----- read-only pages -----------------------------------------------------------

    /// Everything on the dashboard.
    fn dashboard(&self) -> Result<DashboardData, ConsoleError>;

    /// One page of the scan list, filtered as asked. `query.page` starts at 1.
    fn scans(&self, query: &ScanQuery) -> Result<ScanPage, ConsoleError>;

    /// One scan with all its findings (muted ones included, with their rule). The web
    /// layer sorts the findings itself. `Ok(None)` when there is no such scan.
    fn scan(&self, scan_id: &str) -> Result<Option<ScanDetail>, ConsoleError>;

    /// A downloadable artefact of a scan. `Ok(None)` when the scan or artefact is absent.
    fn download(&self, scan_id: &str, kind: DownloadKind)
    -> Result<Option<Download>, ConsoleError>;

    /// The current policy and its version history.
    fn policy(&self) -> Result<PolicyView, ConsoleError>;

    /// The text of one past policy version. `Ok(None)` when there is no such version.
    fn policy_version(&self, version: u32) -> Result<Option<PolicyVersionText>, ConsoleError>;

    /// Clients of the active kit with their re-signed tokens and today's usage.
    fn tokens(&self) -> Result<TokensView, ConsoleError>;

    /// One page (1-based, newest first) of the audit log and the result of verifying
    /// the whole hash chain.
    fn audit(&self, page: u32) -> Result<AuditView, ConsoleError>;

    /// Past kit imports (newest first), with the reason for each refusal.
    fn imports(&self) -> Result<Vec<ImportRow>, ConsoleError>;

    // ----- actions (each is audited by the implementation) ---------------------------

    /// Stores a mute rule. The web layer has already checked that the reason is
    /// present and the expiry (if any) lies in the future; the implementation may still
    /// refuse with [`ConsoleError::Invalid`].
    fn mute(&self, request: &MuteRequest, actor: &str) -> Result<MuteRule, ConsoleError>;

    /// Validates and, when valid, stores a new policy version.
    fn save_policy(&self, yaml: &str, author: &str) -> Result<PolicySave, ConsoleError>;

    /// Verifies an uploaded kit and stages it for activation. The files named in
    /// `upload` are temporary and are deleted when this call returns: an implementation
    /// that accepts the kit must copy or move what it needs into its own staging area.
    /// A refused kit is reported through [`ImportReport::checks`], not as an error.
    fn import_kit(&self, upload: &KitUpload, actor: &str) -> Result<ImportReport, ConsoleError>;

    /// Activates a kit staged by [`Console::import_kit`], atomically.
    fn activate_kit(&self, import_id: &str, actor: &str) -> Result<KitInfo, ConsoleError>;

    /// Revokes a client (every token of it) or one token on this appliance, with the
    /// operator's reason; in force until lifted. Revoking what already is revoked is not
    /// an error.
    fn revoke(
        &self,
        target: RevokeTarget,
        id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<(), ConsoleError>;

    /// Lifts a revocation made on this appliance ([`ConsoleError::NotFound`] when there is
    /// none).
    fn lift_revocation(
        &self,
        target: RevokeTarget,
        id: &str,
        actor: &str,
    ) -> Result<(), ConsoleError>;
}

/// A failure inside the appliance, as seen by the web layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// The named thing does not exist (HTTP 404).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `scan 01J…`.
        what: String,
    },
    /// The request is well-formed but refused; the message is shown to the operator
    /// (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the current state, e.g. activating a kit that was
    /// already superseded (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// Anything else (HTTP 500). Logged; never shown to the browser.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

// ----- authentication ---------------------------------------------------------------

/// The result of [`Console::verify_login`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LoginOutcome {
    /// Password accepted; a session was opened.
    Success(Session),
    /// Wrong user name or password (deliberately not saying which).
    Invalid,
    /// Too many recent failures: no password was checked. Try again after this many
    /// seconds.
    Throttled {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
}

/// A logged-in operator's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Opaque, unguessable token (≥ 128 bits of randomness) stored in the session cookie.
    pub token: String,
    /// Operator account name.
    pub user: String,
    /// Per-session CSRF token that every form must echo back.
    pub csrf: String,
    /// When the session stops being valid.
    pub expires: OffsetDateTime,
}

// ----- dashboard --------------------------------------------------------------------

/// Everything on the dashboard.
#[derive(Debug, Clone)]
pub struct DashboardData {
    /// The appliance's trusted current time.
    pub now: OffsetDateTime,
    /// The policy's maximum feed age; the feed-age tile turns red beyond it.
    pub max_feed_age_days: u32,
    /// The active kit, if any kit was ever activated.
    pub kit: Option<KitInfo>,
    /// Today's usage per client of the active kit.
    pub quotas: Vec<ClientQuota>,
    /// The most recent scans, newest first (the dashboard shows up to ten).
    pub recent_scans: Vec<ScanRow>,
    /// Critical findings that appeared since the last kit import (post-import re-scan).
    pub new_criticals: Vec<NewCritical>,
}

/// The active (or a staged) Offline Update Kit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitInfo {
    /// Monotonic kit sequence number.
    pub sequence: u64,
    /// Kit identifier from the signed manifest.
    pub kit_id: String,
    /// Site the kit is bound to, if any.
    pub site: Option<String>,
    /// When the kit (and so its feed snapshot) was created.
    pub created: OffsetDateTime,
    /// When the kit expires.
    pub expires: OffsetDateTime,
    /// When it was activated on this appliance (None while only staged).
    pub activated: Option<OffsetDateTime>,
    /// Advisory counts per ecosystem, in display order.
    pub advisory_counts: Vec<EcosystemCount>,
    /// Build time of the Trivy DB inside the kit, if the kit carries one.
    pub trivy_db_updated: Option<OffsetDateTime>,
}

/// Number of advisories for one ecosystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcosystemCount {
    /// OSV ecosystem name, e.g. `PyPI`, `Debian:12`.
    pub ecosystem: String,
    /// Number of advisories.
    pub advisories: u64,
}

/// One client's quota for the current UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientQuota {
    /// Client id from the kit.
    pub client_id: String,
    /// Scans used today.
    pub used: u32,
    /// Scans allowed per UTC day.
    pub limit: u32,
    /// When the client's token expires.
    pub token_expires: OffsetDateTime,
}

/// A critical finding that is new since the last kit import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCritical {
    /// Scan in which it was found.
    pub scan_id: String,
    /// Scan name (SBOM name or image reference).
    pub scan_name: String,
    /// Advisory id.
    pub advisory: String,
    /// Affected package name.
    pub package: String,
    /// Affected package version.
    pub version: String,
}

// ----- scans ------------------------------------------------------------------------

/// The scan vocabulary is the workspace's one ([`bundles::model`]): the console renders
/// the same [`Finding`] the engine produced, with the same [`Severity`], counts and
/// verdict.
pub use bundles::model::{Finding, Severity, SeverityCounts, Verdict};

/// One row of the scan list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRow {
    /// Scan id (ULID).
    pub id: String,
    /// SBOM name (document name or main component).
    pub name: String,
    /// Image reference, when the SBOM describes a container image.
    pub image: Option<String>,
    /// When the scan ran.
    pub created: OffsetDateTime,
    /// Gate verdict.
    pub verdict: Verdict,
    /// Unmuted findings per severity.
    pub counts: SeverityCounts,
    /// Client that submitted the scan.
    pub client_id: String,
    /// Sequence of the kit whose feeds were used.
    pub kit_sequence: u64,
}

/// Filter and paging for [`Console::scans`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanQuery {
    /// Case-insensitive substring of the name or image reference.
    pub text: Option<String>,
    /// Only this verdict.
    pub verdict: Option<Verdict>,
    /// Scans on or after this UTC date.
    pub from: Option<Date>,
    /// Scans on or before this UTC date.
    pub to: Option<Date>,
    /// 1-based page number.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
}

/// One page of scans.
#[derive(Debug, Clone)]
pub struct ScanPage {
    /// The rows on this page, newest first.
    pub rows: Vec<ScanRow>,
    /// Number of scans matching the filter, over all pages.
    pub total: u64,
}

/// One scan with its findings.
#[derive(Debug, Clone)]
pub struct ScanDetail {
    /// The scan's summary row.
    pub scan: ScanRow,
    /// SBOM format, e.g. `CycloneDX 1.6`.
    pub sbom_format: String,
    /// Number of components in the SBOM.
    pub components: u32,
    /// Policy version used for the verdict.
    pub policy_version: u32,
    /// Digest of the findings (replayable verdicts).
    pub findings_digest: String,
    /// Every finding, muted ones included, in any order.
    pub findings: Vec<FindingRow>,
    /// Whether a signed evidence envelope can be downloaded.
    pub evidence_available: bool,
}

/// One finding of a scan as the console shows it: the engine's [`Finding`] as stored
/// with the scan, and the mute rule that applies to it now (a rule removed since the scan
/// still explains the recorded verdict: the implementation says so in [`MuteInfo`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRow {
    /// The finding (package name, version and summary are untrusted SBOM / feed text:
    /// always escaped).
    pub finding: Finding,
    /// The mute rule that applies, if any.
    pub muted: Option<MuteInfo>,
}

impl FindingRow {
    /// The component's package URL, or `""` when the SBOM gave none.
    pub fn purl(&self) -> &str {
        self.finding.purl()
    }
}

/// Why a finding is muted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuteInfo {
    /// The operator's reason.
    pub reason: String,
    /// Who muted it.
    pub by: String,
    /// When the rule stops applying, if ever.
    pub expires: Option<Date>,
    /// How wide the rule is.
    pub scope: MuteScope,
}

/// Kind of artefact offered for download on the scan page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadKind {
    /// The DSSE envelope with the in-toto statement signed by the appliance.
    Evidence,
    /// An evidence bundle: SBOM, findings JSON, envelope and the appliance public key.
    Bundle,
}

/// A file to send to the browser.
#[derive(Debug, Clone)]
pub struct Download {
    /// Suggested file name (the web layer sanitises it).
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

// ----- mute -------------------------------------------------------------------------

/// How wide a mute rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuteScope {
    /// This advisory in this package (by purl without version), in every scan.
    Package,
    /// This advisory everywhere.
    Everywhere,
}

impl MuteScope {
    /// Form value and display name.
    pub fn as_str(self) -> &'static str {
        match self {
            MuteScope::Package => "package",
            MuteScope::Everywhere => "everywhere",
        }
    }
}

/// A request to mute one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuteRequest {
    /// The scan the operator was looking at (for the audit record).
    pub scan_id: String,
    /// Advisory to mute.
    pub advisory: String,
    /// Package URL of the finding.
    pub purl: String,
    /// Rule width.
    pub scope: MuteScope,
    /// Non-empty reason (already trimmed).
    pub reason: String,
    /// Last day the rule applies (UTC), if it should expire.
    pub expires: Option<Date>,
}

/// A stored mute rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuteRule {
    /// Rule id.
    pub id: String,
    /// What was asked.
    pub request: MuteRequest,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created: OffsetDateTime,
}

// ----- policy -----------------------------------------------------------------------

/// The current policy and its history.
#[derive(Debug, Clone)]
pub struct PolicyView {
    /// Current YAML text.
    pub yaml: String,
    /// Current version number.
    pub version: u32,
    /// History, newest first.
    pub history: Vec<PolicyVersion>,
}

/// One entry of the policy history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// Version number.
    pub version: u32,
    /// Who saved it.
    pub author: String,
    /// When.
    pub created: OffsetDateTime,
    /// sha256 of the YAML text (hex).
    pub digest: String,
}

/// A past policy version's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionText {
    /// Its history entry.
    pub meta: PolicyVersion,
    /// Its YAML text.
    pub yaml: String,
}

/// A policy validation error, pointing at a line of the submitted YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// 1-based line number (0 when the error is not tied to a line).
    pub line: u32,
    /// What is wrong.
    pub msg: String,
}

/// The result of [`Console::save_policy`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicySave {
    /// Stored as this new version.
    Saved {
        /// The new version number.
        version: u32,
    },
    /// Not stored: the YAML is invalid.
    Rejected(Vec<PolicyError>),
}

// ----- kits -------------------------------------------------------------------------

/// An uploaded kit, streamed to temporary files by the web layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitUpload {
    /// The `.ouk` file.
    pub kit: PathBuf,
    /// The detached minisign signature, written beside the kit as `<kit>.minisig` so the
    /// same code path as `stella-appliance import FILE.ouk` applies. `None` when the
    /// operator did not upload one.
    pub signature: Option<PathBuf>,
    /// The file name the browser sent (untrusted, for display and audit only).
    pub original_name: String,
    /// Size of the kit in bytes.
    pub size: u64,
}

/// The numbered verification report of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Present when every check passed and the kit is staged for activation.
    pub import_id: Option<String>,
    /// What the kit claims to be, once the manifest could be read.
    pub kit: Option<KitInfo>,
    /// Each verification step in order; verification stops at the first failure, so
    /// later steps may be absent.
    pub checks: Vec<CheckResult>,
}

impl ImportReport {
    /// Whether every check passed.
    pub fn accepted(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }
}

/// One numbered verification step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Step number as in the importer, e.g. `1`, `4.2`.
    pub number: String,
    /// Short name, e.g. `Signature by a pinned vendor key`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found (shown for both outcomes).
    pub detail: String,
}

/// Outcome of a past import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStatus {
    /// Verified and activated.
    Activated,
    /// Verified and staged, not (yet) activated.
    Staged,
    /// Refused by a check.
    Refused,
}

impl ImportStatus {
    /// Display name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Activated => "activated",
            ImportStatus::Staged => "staged",
            ImportStatus::Refused => "refused",
        }
    }
}

/// One entry of the import history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// When.
    pub at: OffsetDateTime,
    /// Who (operator, or `cli` for `stella-appliance import`).
    pub actor: String,
    /// File name as uploaded.
    pub file_name: String,
    /// Kit sequence, when the manifest could be read.
    pub sequence: Option<u64>,
    /// Outcome.
    pub status: ImportStatus,
    /// The failed check or a short summary.
    pub reason: String,
}

// ----- tokens -----------------------------------------------------------------------

/// Clients of the active kit.
#[derive(Debug, Clone)]
pub struct TokensView {
    /// The appliance's trusted current time.
    pub now: OffsetDateTime,
    /// The active kit's sequence, if any.
    pub kit_sequence: Option<u64>,
    /// One entry per client.
    pub clients: Vec<ClientToken>,
}

/// What a revocation names (the kit format's own vocabulary).
pub use bundles::tokens::RevocationKind as RevokeTarget;

/// A revocation in force on this appliance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationInfo {
    /// Who revoked it.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: OffsetDateTime,
}

/// One client with its re-signed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientToken {
    /// Client id.
    pub client_id: String,
    /// Tier claim, e.g. `Free`.
    pub tier: String,
    /// Scans used today.
    pub used_today: u32,
    /// Scans allowed per UTC day.
    pub max_scans_per_day: u32,
    /// Token expiry.
    pub expires: OffsetDateTime,
    /// The appliance-signed JWT.
    pub token: String,
    /// The token's id (`jti`), when it has one.
    pub token_id: Option<String>,
    /// The client is revoked on this appliance.
    pub revoked: Option<RevocationInfo>,
    /// The current token is revoked (on this appliance, or by the kit).
    pub token_revoked: bool,
}

// ----- audit ------------------------------------------------------------------------

/// One page of the audit log.
#[derive(Debug, Clone)]
pub struct AuditView {
    /// Result of verifying the whole chain.
    pub chain: ChainStatus,
    /// Entries on this page, newest first.
    pub entries: Vec<AuditEntry>,
    /// Number of entries in the whole log.
    pub total: u64,
    /// Entries per page.
    pub per_page: u32,
}

/// Result of verifying the audit hash chain and its signed head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainStatus {
    /// Whether every link and the signed head verified.
    pub intact: bool,
    /// Number of records checked.
    pub records: u64,
    /// Human-readable result (e.g. the first broken record).
    pub message: String,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the chain (0-based).
    pub seq: u64,
    /// When.
    pub at: OffsetDateTime,
    /// Who.
    pub actor: String,
    /// What kind of event, e.g. `login`, `import`, `mute`.
    pub action: String,
    /// Details.
    pub detail: String,
    /// Whether the action succeeded.
    pub ok: bool,
    /// Hex digest of the record (short form shown).
    pub hash: String,
}
