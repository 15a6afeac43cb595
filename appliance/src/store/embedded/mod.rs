//! [`EmbeddedStore`]: the single-box [`Store`] (SQLite + sled + blob files).

mod hot;
mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use parking_lot::Mutex;
use sha2::{Digest as _, Sha256};
use time::{Date, OffsetDateTime};

use super::blobs::BlobDir;
use super::error::{StoreError, StoreResult};
use super::types::{
    NewPolicy, NewScan, NewSession, Page, PageRequest, PasswordCost, PolicyVersion, QuotaDecision,
    QuotaKey, QuotaStatus, Revocation, RevocationKind, ScanFilter, ScanId, ScanRecord, ScanSummary,
    Session, Sha256Digest, truncate,
};
use super::{MAX_FIELD_LEN, MAX_POLICY_BYTES, MAX_SCAN_JSON_BYTES, Store, login_backoff_after};

/// How hard the store works to keep a completed write across a power cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Every quota change, layer registration and SQLite commit is fsynced before the
    /// call returns: a power cut loses nothing that was acknowledged. The default: quota
    /// counts are what a Free-tier licence is enforced by, and the figures in
    /// `docs/PERFORMANCE.md` show the cost is well within the service's request rate.
    #[default]
    Strict,
    /// sled flushes every 500 ms and SQLite syncs at checkpoints: a power cut may lose the
    /// last half second (a few quota units may be given again), never corrupts. A process
    /// crash loses nothing in either mode.
    Relaxed,
}

/// Tuning for [`EmbeddedStore::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Fsync policy.
    pub durability: Durability,
    /// Argon2id cost for new operator password hashes (existing hashes keep their own).
    pub password_cost: PasswordCost,
    /// Read-only SQLite connections (at least 1).
    pub readers: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Strict,
            password_cost: PasswordCost::default(),
            // The appliance targets small boxes (2 cores); more readers than cores only
            // adds memory.
            readers: 2,
        }
    }
}

/// The embedded store: `DATA/state.sqlite`, `DATA/sled/`, `DATA/blobs/`.
///
/// One process opens a data directory at a time (sled holds an exclusive lock on
/// `DATA/sled/`; a second `open` fails with a clear error instead of corrupting it).
pub struct EmbeddedStore {
    root: PathBuf,
    sql: sqlite::Sql,
    hot: hot::Hot,
    blobs: BlobDir,
    hasher: Argon2<'static>,
    /// A hash of a random password, verified against when the user is unknown so the
    /// answer takes as long as for a known user.
    dummy_hash: OnceLock<String>,
    /// Last id handed out: ids from this store are strictly increasing.
    last_id: Mutex<ulid::Ulid>,
}

/// File name of the SQLite database inside the data directory.
pub(crate) const SQLITE_FILE: &str = "state.sqlite";
/// Directory name of the sled database inside the data directory.
pub(crate) const SLED_DIR: &str = "sled";

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `data_dir`, applying schema migrations.
    pub fn open(data_dir: &Path, options: StoreOptions) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::io("create data directory", data_dir, e))?;
        let strict = options.durability == Durability::Strict;
        let sql = sqlite::Sql::open(&data_dir.join(SQLITE_FILE), options.readers, strict)?;
        let hot = hot::Hot::open(&data_dir.join(SLED_DIR), strict)?;
        let blobs = BlobDir::open(data_dir.join("blobs").join("sha256"))?;
        let c = options.password_cost;
        let params = Params::new(c.m_kib, c.t, c.p, None)
            .map_err(|e| StoreError::PasswordHash(format!("argon2 parameters {c:?}: {e}")))?;
        Ok(Self {
            root: data_dir.to_path_buf(),
            sql,
            hot,
            blobs,
            hasher: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy_hash: OnceLock::new(),
            last_id: Mutex::new(ulid::Ulid::nil()),
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.root
    }

    fn next_scan_id(&self, at: OffsetDateTime) -> StoreResult<ScanId> {
        let ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| StoreError::invalid("scan time", format!("{at} is before 1970")))?;
        let mut rnd = [0u8; 16];
        getrandom::fill(&mut rnd).map_err(|e| StoreError::Random(e.to_string()))?;
        let fresh = ulid::Ulid::from_parts(ms, u128::from_be_bytes(rnd));
        let mut last = self.last_id.lock();
        // Same millisecond (or a clock step back): continue from the last id so ids
        // from this store stay strictly increasing, as ULID's monotonic mode does.
        let id = if fresh > *last {
            fresh
        } else {
            last.increment().ok_or_else(|| {
                StoreError::invalid(
                    "scan time",
                    "random part of the id exhausted in one millisecond",
                )
            })?
        };
        *last = id;
        Ok(ScanId::from_ulid(id))
    }

    fn hash_password(&self, password: &str) -> StoreResult<String> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| StoreError::Random(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| StoreError::PasswordHash(format!("salt: {e}")))?;
        self.hasher
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::PasswordHash(e.to_string()))
    }

    fn dummy_hash(&self) -> StoreResult<&str> {
        if let Some(h) = self.dummy_hash.get() {
            return Ok(h);
        }
        let mut pw = [0u8; 16];
        getrandom::fill(&mut pw).map_err(|e| StoreError::Random(e.to_string()))?;
        let h = self.hash_password(&hex::encode(pw))?;
        Ok(self.dummy_hash.get_or_init(|| h))
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Relaxed mode may still hold up to 500 ms of counter updates in memory; a clean
        // shutdown must not lose them. Errors cannot be returned from drop; callers that
        // care call `flush()` first.
        if let Err(e) = self.hot.flush() {
            tracing::warn!(error = %e, "flushing sled on close failed");
        }
    }
}

fn check_field(what: &'static str, value: &str, allow_empty: bool) -> StoreResult<()> {
    if value.len() > MAX_FIELD_LEN {
        return Err(StoreError::TooLarge {
            what,
            limit: MAX_FIELD_LEN as u64,
            actual: value.len() as u64,
        });
    }
    if !allow_empty && value.is_empty() {
        return Err(StoreError::invalid(what, "must not be empty"));
    }
    Ok(())
}

fn check_json(what: &'static str, json: &str) -> StoreResult<()> {
    if json.len() > MAX_SCAN_JSON_BYTES {
        return Err(StoreError::TooLarge {
            what,
            limit: MAX_SCAN_JSON_BYTES as u64,
            actual: json.len() as u64,
        });
    }
    serde_json::from_str::<serde::de::IgnoredAny>(json)
        .map(|_| ())
        .map_err(|e| StoreError::invalid(what, format!("not well-formed JSON: {e}")))
}

/// Operator user names: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
fn check_username(username: &str) -> StoreResult<()> {
    let ok = !username.is_empty()
        && username.len() <= 64
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && username
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "user name",
            format!(
                "{:?}: use 1-64 of a-z 0-9 . _ - starting with a letter or digit",
                truncate(username, 70)
            ),
        ))
    }
}

/// Shortest operator password accepted.
const MIN_PASSWORD_LEN: usize = 12;
/// Longest password hashed: bounds the work an unauthenticated login request can cause.
const MAX_PASSWORD_LEN: usize = 1024;

fn check_new_password(password: &str) -> StoreResult<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(StoreError::invalid(
            "password",
            format!("must have at least {MIN_PASSWORD_LEN} characters, has {n}"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(StoreError::TooLarge {
            what: "password",
            limit: MAX_PASSWORD_LEN as u64,
            actual: password.len() as u64,
        });
    }
    Ok(())
}

/// Session tokens are 256 random bits: SHA-256 of the token is enough as the stored key
/// (a slow hash guards low-entropy secrets, which these are not).
fn token_hash(token: &str) -> Option<[u8; 32]> {
    let mut raw = [0u8; 32];
    hex::decode_to_slice(token, &mut raw).ok()?;
    Some(Sha256::digest(raw).into())
}

fn truncate_to_ms(t: OffsetDateTime) -> OffsetDateTime {
    let ns = t.nanosecond();
    t.replace_nanosecond(ns - ns % 1_000_000).unwrap_or(t)
}

/// Longest session accepted.
const MAX_SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

impl Store for EmbeddedStore {
    fn quota_try_consume(
        &self,
        key: &QuotaKey,
        day: Date,
        limit: u32,
    ) -> StoreResult<QuotaDecision> {
        self.hot.quota_try_consume(key, day, limit)
    }

    fn quota_refund(&self, key: &QuotaKey, day: Date, limit: u32) -> StoreResult<QuotaStatus> {
        self.hot.quota_refund(key, day, limit)
    }

    fn quota_status(&self, key: &QuotaKey, day: Date, limit: u32) -> StoreResult<QuotaStatus> {
        self.hot.quota_status(key, day, limit)
    }

    fn quota_prune(&self, before: Date) -> StoreResult<u64> {
        self.hot.quota_prune(before)
    }

    fn layers_register(&self, digests: &[Sha256Digest]) -> StoreResult<u64> {
        self.hot.layers_register(digests, OffsetDateTime::now_utc())
    }

    fn layers_missing(&self, digests: &[Sha256Digest]) -> StoreResult<Vec<Sha256Digest>> {
        self.hot.layers_missing(digests)
    }

    fn put_sbom(&self, bytes: &[u8]) -> StoreResult<Sha256Digest> {
        self.blobs.put(bytes)
    }

    fn get_sbom(&self, digest: &Sha256Digest) -> StoreResult<Option<Vec<u8>>> {
        self.blobs.get(digest)
    }

    fn insert_scan(&self, scan: &NewScan) -> StoreResult<ScanId> {
        check_field("subject", &scan.subject, false)?;
        check_field("name", &scan.name, true)?;
        check_field("format", &scan.format, false)?;
        if let Some(d) = &scan.image_digest {
            check_field("image digest", d, false)?;
        }
        if let Some(k) = &scan.kit {
            check_field("kit id", &k.id, false)?;
        }
        check_json("findings JSON", &scan.findings_json)?;
        if let Some(e) = &scan.evidence_json {
            check_json("evidence JSON", e)?;
        }
        let id = self.next_scan_id(scan.created_at)?;
        self.sql.insert_scan(id, scan)?;
        Ok(id)
    }

    fn get_scan(&self, id: &ScanId) -> StoreResult<Option<ScanRecord>> {
        self.sql.get_scan(id)
    }

    fn list_scans(&self, filter: &ScanFilter, page: PageRequest) -> StoreResult<Page<ScanSummary>> {
        self.sql.list_scans(filter, page)
    }

    fn count_scans(&self, filter: &ScanFilter) -> StoreResult<u64> {
        self.sql.count_scans(filter)
    }

    fn delete_scans_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        self.sql.delete_scans_before(cutoff)
    }

    fn create_operator(
        &self,
        username: &str,
        password: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        check_username(username)?;
        check_new_password(password)?;
        let phc = self.hash_password(password)?;
        self.sql.insert_operator(username, &phc, now)
    }

    fn set_operator_password(&self, username: &str, password: &str) -> StoreResult<()> {
        check_username(username)?;
        check_new_password(password)?;
        let phc = self.hash_password(password)?;
        self.sql.update_operator_hash(username, &phc)
    }

    fn operator_exists(&self, username: &str) -> StoreResult<bool> {
        if check_username(username).is_err() {
            return Ok(false);
        }
        Ok(self.sql.operator_hash(username)?.is_some())
    }

    fn verify_operator_password(&self, username: &str, password: &str) -> StoreResult<bool> {
        if password.len() > MAX_PASSWORD_LEN {
            return Ok(false);
        }
        let stored = if check_username(username).is_ok() {
            self.sql.operator_hash(username)?
        } else {
            None
        };
        let (phc, known) = match &stored {
            Some(h) => (h.as_str(), true),
            None => (self.dummy_hash()?, false),
        };
        let parsed = PasswordHash::new(phc).map_err(|e| StoreError::CorruptRecord {
            location: format!("operators {}", truncate(username, 70)),
            reason: format!("password hash: {e}"),
        })?;
        // verify_password re-hashes with the parameters recorded in the PHC string and
        // compares in constant time.
        let ok = self
            .hasher
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    }

    fn record_login_failure(&self, username: &str, now: OffsetDateTime) -> StoreResult<u32> {
        // Unknown and malformed names are throttled too (so probing names is slow), but
        // the stored key is bounded.
        check_field("user name", username, false)?;
        let key = truncate(username, 64);
        self.sql.record_login_failure(key, now)
    }

    fn record_login_success(&self, username: &str) -> StoreResult<()> {
        self.sql.clear_login_failures(truncate(username, 64))
    }

    fn login_backoff(&self, username: &str, now: OffsetDateTime) -> StoreResult<Option<Duration>> {
        let Some((failures, last)) = self.sql.login_failures(truncate(username, 64))? else {
            return Ok(None);
        };
        let Some(wait) = login_backoff_after(failures) else {
            return Ok(None);
        };
        let elapsed = now - last;
        let remaining = time::Duration::try_from(wait).unwrap_or(time::Duration::MAX) - elapsed;
        if remaining.is_positive() {
            Ok(Some(Duration::try_from(remaining).unwrap_or(wait)))
        } else {
            Ok(None)
        }
    }

    fn create_session(
        &self,
        username: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> StoreResult<NewSession> {
        check_username(username)?;
        if ttl.is_zero() || ttl > MAX_SESSION_TTL {
            return Err(StoreError::invalid(
                "session lifetime",
                format!("{ttl:?} not in 1 s ..= 30 days"),
            ));
        }
        let mut raw = [0u8; 64];
        getrandom::fill(&mut raw).map_err(|e| StoreError::Random(e.to_string()))?;
        let (token_raw, csrf_raw) = raw.split_at(32);
        let token = hex::encode(token_raw);
        let hash: [u8; 32] = Sha256::digest(token_raw).into();
        let created_at = truncate_to_ms(now);
        let ttl = time::Duration::try_from(ttl)
            .map_err(|e| StoreError::invalid("session lifetime", e.to_string()))?;
        let session = Session {
            username: username.to_owned(),
            created_at,
            expires_at: created_at + ttl,
            csrf_secret: hex::encode(csrf_raw),
        };
        self.sql.insert_session(&hash, &session)?;
        Ok(NewSession { token, session })
    }

    fn get_session(&self, token: &str, now: OffsetDateTime) -> StoreResult<Option<Session>> {
        // A malformed cookie is simply "no session", not an error.
        match token_hash(token) {
            Some(h) => self.sql.get_session(&h, now),
            None => Ok(None),
        }
    }

    fn delete_session(&self, token: &str) -> StoreResult<bool> {
        match token_hash(token) {
            Some(h) => self.sql.delete_session(&h),
            None => Ok(false),
        }
    }

    fn delete_expired_sessions(&self, now: OffsetDateTime) -> StoreResult<u64> {
        self.sql.delete_expired(now)
    }

    fn put_policy(&self, policy: &NewPolicy, now: OffsetDateTime) -> StoreResult<PolicyVersion> {
        if policy.yaml.len() > MAX_POLICY_BYTES {
            return Err(StoreError::TooLarge {
                what: "policy",
                limit: MAX_POLICY_BYTES as u64,
                actual: policy.yaml.len() as u64,
            });
        }
        check_field("policy author", &policy.author, false)?;
        check_field("policy comment", &policy.comment, true)?;
        self.sql.insert_policy(policy, now)
    }

    fn current_policy(&self) -> StoreResult<Option<PolicyVersion>> {
        Ok(self.sql.policies(None, 1)?.into_iter().next())
    }

    fn get_policy(&self, version: u64) -> StoreResult<Option<PolicyVersion>> {
        Ok(self.sql.policies(Some(version), 1)?.into_iter().next())
    }

    fn policy_history(&self, limit: u32) -> StoreResult<Vec<PolicyVersion>> {
        self.sql
            .policies(None, limit.clamp(1, PageRequest::MAX_LIMIT))
    }

    fn revoke(&self, revocation: &Revocation) -> StoreResult<bool> {
        check_field("revoked id", &revocation.id, false)?;
        check_field("revocation actor", &revocation.actor, false)?;
        check_field("revocation reason", &revocation.reason, true)?;
        self.sql.insert_revocation(revocation)
    }

    fn lift_revocation(&self, kind: RevocationKind, id: &str) -> StoreResult<bool> {
        self.sql.delete_revocation(kind, id)
    }

    fn revocations(&self) -> StoreResult<Vec<Revocation>> {
        self.sql.revocations()
    }

    fn flush(&self) -> StoreResult<()> {
        self.hot.flush()
    }
}
