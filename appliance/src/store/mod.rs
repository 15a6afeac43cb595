//! The appliance's persistence layer.
//!
//! Handlers hold an `Arc<dyn Store>`; [`EmbeddedStore`] is the single-box implementation
//! (SQLite for durable records, sled for hot counters, zstd files for SBOM blobs). A
//! PostgreSQL + Valkey/Redis implementation for scale-out implements the same trait, so
//! handlers do not change.
//!
//! All methods are **blocking** (file and database I/O, argon2 hashing): async handlers
//! call them through `tokio::task::spawn_blocking`. Methods that depend on the time take
//! it as an argument (`now`, `day`), so the caller owns the clock and tests are exact.
//!
//! Data directory layout (`DATA` = the appliance data dir):
//!
//! ```text
//! DATA/state.sqlite            scans, operators, sessions, policy versions (WAL mode)
//! DATA/sled/                   quota counters, known layer digests
//! DATA/blobs/sha256/ab/<hex>.zst  SBOMs, content-addressed, zstd-compressed
//! ```
//!
//! ```
//! use appliance::store::{EmbeddedStore, QuotaKey, Store, StoreOptions};
//! use std::sync::Arc;
//! use time::macros::date;
//!
//! let dir = tempfile::tempdir().expect("tempdir");
//! let store: Arc<dyn Store> =
//!     Arc::new(EmbeddedStore::open(dir.path(), StoreOptions::default()).expect("open"));
//! let key = QuotaKey::new("ci-frontend").expect("valid key");
//! let d = store.quota_try_consume(&key, date!(2026 - 11 - 22), 333).expect("consume");
//! assert!(d.allowed);
//! assert_eq!((d.used, d.remaining), (1, 332));
//! ```

mod blobs;
mod embedded;
mod error;
mod init;
mod types;

use std::time::Duration;

use time::{Date, OffsetDateTime};

pub use embedded::{Durability, EmbeddedStore, StoreOptions};
pub use error::{StoreError, StoreResult};
pub use init::{
    ADMIN_USER, InitReport, OPERATOR_PASSWORD_FILE, init, write_operator_password_file,
};
pub use types::{
    KitRef, NewPolicy, NewScan, NewSession, Page, PageRequest, PasswordCost, PolicyVersion,
    QuotaDecision, QuotaKey, QuotaStatus, Revocation, RevocationKind, ScanFilter, ScanId,
    ScanRecord, ScanSummary, Session, SeverityCounts, Sha256Digest, Verdict,
};

/// Most digests accepted by one `layers_*` call (an image has tens of layers; this bounds
/// the work one request can cause).
pub const MAX_LAYERS_PER_CALL: usize = 4096;
/// Largest SBOM stored (uncompressed bytes).
pub const MAX_SBOM_BYTES: usize = 128 * 1024 * 1024;
/// Largest findings or evidence JSON stored with one scan.
pub const MAX_SCAN_JSON_BYTES: usize = 32 * 1024 * 1024;
/// Largest policy document stored.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
/// Longest text field (name, subject, format, author, ...).
pub const MAX_FIELD_LEN: usize = 1024;
/// Failed logins allowed before login backoff starts.
pub const FREE_LOGIN_FAILURES: u32 = 3;
/// Longest login backoff.
pub const MAX_LOGIN_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// How long an operator must wait before the next login attempt after `failures`
/// consecutive failures: none for the first [`FREE_LOGIN_FAILURES`], then 1 s, 2 s, 4 s, ...
/// doubling up to [`MAX_LOGIN_BACKOFF`]. Counted from the last failure.
pub fn login_backoff_after(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_LOGIN_FAILURES)?;
    // 2^10 s already exceeds the cap; clamping the exponent keeps the shift in range.
    let secs = 1u64 << over.min(10);
    Some(Duration::from_secs(secs).min(MAX_LOGIN_BACKOFF))
}

/// The appliance's storage, as the HTTP handlers and the CLI see it.
///
/// Object-safe and `Send + Sync`: hold it as `Arc<dyn Store>`.
pub trait Store: Send + Sync {
    // ----- quotas (hot counters) -----

    /// Takes one unit of `key`'s quota for UTC `day` if fewer than `limit` are used.
    ///
    /// Exact under concurrency: the counter never exceeds `limit` and no increment is lost.
    fn quota_try_consume(
        &self,
        key: &QuotaKey,
        day: Date,
        limit: u32,
    ) -> StoreResult<QuotaDecision>;

    /// Gives one unit back (a scan failed after its quota was taken). Never goes below 0.
    fn quota_refund(&self, key: &QuotaKey, day: Date, limit: u32) -> StoreResult<QuotaStatus>;

    /// The counter for `key` on `day`, without changing it.
    fn quota_status(&self, key: &QuotaKey, day: Date, limit: u32) -> StoreResult<QuotaStatus>;

    /// Deletes every quota counter for days before `before`; returns how many were removed.
    fn quota_prune(&self, before: Date) -> StoreResult<u64>;

    // ----- layers (delta SBOM) -----

    /// Records layer digests as known; returns how many were new.
    fn layers_register(&self, digests: &[Sha256Digest]) -> StoreResult<u64>;

    /// The digests not yet known, in input order, each once.
    fn layers_missing(&self, digests: &[Sha256Digest]) -> StoreResult<Vec<Sha256Digest>>;

    // ----- SBOM blobs -----

    /// Stores an SBOM (content-addressed, idempotent) and returns its digest.
    fn put_sbom(&self, bytes: &[u8]) -> StoreResult<Sha256Digest>;

    /// Reads an SBOM back, verifying its digest. `None` if never stored.
    fn get_sbom(&self, digest: &Sha256Digest) -> StoreResult<Option<Vec<u8>>>;

    // ----- scans -----

    /// Stores a scan result and returns its new id.
    fn insert_scan(&self, scan: &NewScan) -> StoreResult<ScanId>;

    /// One scan with findings and evidence. `None` if unknown (or deleted by retention).
    fn get_scan(&self, id: &ScanId) -> StoreResult<Option<ScanRecord>>;

    /// Scans matching `filter`, newest first, one page at a time.
    fn list_scans(&self, filter: &ScanFilter, page: PageRequest) -> StoreResult<Page<ScanSummary>>;

    /// How many scans match `filter`.
    fn count_scans(&self, filter: &ScanFilter) -> StoreResult<u64>;

    /// Retention: deletes scans created before `cutoff`; returns how many.
    fn delete_scans_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64>;

    // ----- operators -----

    /// Creates an operator account with an argon2id password hash.
    fn create_operator(
        &self,
        username: &str,
        password: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()>;

    /// Replaces an operator's password.
    fn set_operator_password(&self, username: &str, password: &str) -> StoreResult<()>;

    /// Whether an operator account exists.
    fn operator_exists(&self, username: &str) -> StoreResult<bool>;

    /// Checks a password (argon2's constant-time verify). Unknown users cost the same time
    /// as known ones and return `false`, so timing does not reveal which accounts exist.
    fn verify_operator_password(&self, username: &str, password: &str) -> StoreResult<bool>;

    /// Counts a failed login for `username` (known or not); returns the consecutive count.
    fn record_login_failure(&self, username: &str, now: OffsetDateTime) -> StoreResult<u32>;

    /// Clears the failure count after a successful login.
    fn record_login_success(&self, username: &str) -> StoreResult<()>;

    /// How long `username` must still wait before the next attempt (see
    /// [`login_backoff_after`]); `None` = may try now.
    fn login_backoff(&self, username: &str, now: OffsetDateTime) -> StoreResult<Option<Duration>>;

    // ----- console sessions -----

    /// Starts a session for `username` valid for `ttl`.
    fn create_session(
        &self,
        username: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> StoreResult<NewSession>;

    /// The session for a cookie token, if it exists and has not expired at `now`.
    fn get_session(&self, token: &str, now: OffsetDateTime) -> StoreResult<Option<Session>>;

    /// Ends a session (logout); returns whether it existed.
    fn delete_session(&self, token: &str) -> StoreResult<bool>;

    /// Removes sessions expired at `now`; returns how many.
    fn delete_expired_sessions(&self, now: OffsetDateTime) -> StoreResult<u64>;

    // ----- policy versions -----

    /// Saves a new policy version; it becomes the current one.
    fn put_policy(&self, policy: &NewPolicy, now: OffsetDateTime) -> StoreResult<PolicyVersion>;

    /// The newest policy version, if any was saved.
    fn current_policy(&self) -> StoreResult<Option<PolicyVersion>>;

    /// One policy version.
    fn get_policy(&self, version: u64) -> StoreResult<Option<PolicyVersion>>;

    /// Up to `limit` (≤ 200) versions, newest first.
    fn policy_history(&self, limit: u32) -> StoreResult<Vec<PolicyVersion>>;

    // ----- local revocations -----

    /// Records a revocation; `false` when that client or token was already revoked.
    fn revoke(&self, revocation: &Revocation) -> StoreResult<bool>;

    /// Lifts a revocation; `false` when there was none.
    fn lift_revocation(&self, kind: RevocationKind, id: &str) -> StoreResult<bool>;

    /// Every revocation in force, oldest first.
    fn revocations(&self) -> StoreResult<Vec<Revocation>>;

    // ----- maintenance -----

    /// Makes every completed write durable (sled flush, SQLite WAL checkpoint not needed).
    fn flush(&self) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_after_free_failures_and_doubles_to_a_cap() {
        assert_eq!(login_backoff_after(0), None);
        assert_eq!(login_backoff_after(2), None);
        assert_eq!(login_backoff_after(3), Some(Duration::from_secs(1)));
        assert_eq!(login_backoff_after(4), Some(Duration::from_secs(2)));
        assert_eq!(login_backoff_after(7), Some(Duration::from_secs(16)));
        assert_eq!(login_backoff_after(13), Some(MAX_LOGIN_BACKOFF));
        assert_eq!(login_backoff_after(u32::MAX), Some(MAX_LOGIN_BACKOFF));
    }

    #[test]
    fn store_is_object_safe_and_shareable() {
        fn assert_send_sync<T: Send + Sync + ?Sized>() {}
        assert_send_sync::<dyn Store>();
        assert_send_sync::<EmbeddedStore>();
    }
}
