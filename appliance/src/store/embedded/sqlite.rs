//! SQLite-backed durable records: scans, operators, login failures, sessions, policies.
//!
//! Connections: one writer behind a mutex plus a few read-only readers, each behind its
//! own mutex. SQLite admits one writer at a time anyway, so a single writer connection
//! queues writes in our process instead of having them collide on `SQLITE_BUSY`; WAL mode
//! lets the readers run concurrently with it and with each other. That is a connection
//! pool in ~30 lines, with no extra dependency and no waiting on a pool timeout.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params, params_from_iter};
use time::OffsetDateTime;

use crate::store::error::{StoreError, StoreResult};
use crate::store::types::{
    KitRef, NewPolicy, NewScan, Page, PageRequest, PolicyVersion, Revocation, RevocationKind,
    ScanFilter, ScanId, ScanRecord, ScanSummary, Session, SeverityCounts, Sha256Digest, Verdict,
    truncate,
};

/// Schema migrations; `PRAGMA user_version` = how many have been applied.
/// Append only: never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r"
    CREATE TABLE scans (
        id              TEXT PRIMARY KEY NOT NULL,   -- ULID: sorts by time
        created_at_ms   INTEGER NOT NULL,
        subject         TEXT NOT NULL,
        sbom_sha256     TEXT NOT NULL,
        name            TEXT NOT NULL,
        image_digest    TEXT,
        format          TEXT NOT NULL,
        verdict         TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
        n_critical      INTEGER NOT NULL,
        n_high          INTEGER NOT NULL,
        n_medium        INTEGER NOT NULL,
        n_low           INTEGER NOT NULL,
        n_unknown       INTEGER NOT NULL,
        findings_digest TEXT NOT NULL,
        policy_digest   TEXT NOT NULL,
        kit_id          TEXT,
        kit_sequence    INTEGER,
        duration_ms     INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX scans_created ON scans (created_at_ms);
    CREATE INDEX scans_verdict ON scans (verdict, id);
    CREATE INDEX scans_subject ON scans (subject, id);
    -- Large JSON lives apart so listings scan only the narrow table above.
    CREATE TABLE scan_details (
        id            TEXT PRIMARY KEY NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
        findings_json TEXT NOT NULL,
        evidence_json TEXT
    );
    CREATE TABLE operators (
        username      TEXT PRIMARY KEY NOT NULL,
        password_hash TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
    );
    -- Keyed by the name tried, known or not, so guessing user names is throttled too.
    CREATE TABLE login_failures (
        username        TEXT PRIMARY KEY NOT NULL,
        failures        INTEGER NOT NULL,
        last_failure_ms INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        token_sha256  BLOB PRIMARY KEY NOT NULL,
        username      TEXT NOT NULL REFERENCES operators (username) ON DELETE CASCADE,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        csrf_secret   TEXT NOT NULL
    );
    CREATE INDEX sessions_expiry ON sessions (expires_at_ms);
    CREATE TABLE policies (
        version       INTEGER PRIMARY KEY AUTOINCREMENT,
        sha256        TEXT NOT NULL,
        yaml          TEXT NOT NULL,
        author        TEXT NOT NULL,
        comment       TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
    );
    ",
    // 2: exact-name look-ups (the dashboard's "previous scan of this project") walk an
    // index instead of the whole table.
    r"
    CREATE INDEX scans_name ON scans (name, id);
    ",
    // 3: revocations made on this appliance (a client, or one token by its id), until an
    // operator lifts them.
    r"
    CREATE TABLE revocations (
        kind          TEXT NOT NULL CHECK (kind IN ('client', 'token')),
        id            TEXT NOT NULL,
        actor         TEXT NOT NULL,
        reason        TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;
    ",
];

/// Newest schema version this build understands.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const SUMMARY_COLUMNS: &str = "id, created_at_ms, subject, name, image_digest, format, verdict, \
     n_critical, n_high, n_medium, n_low, n_unknown, sbom_sha256, kit_id, kit_sequence";

/// A queued scan insert and where its outcome goes.
type ScanSlot = Arc<Mutex<Option<Result<(), String>>>>;

pub(super) struct Sql {
    writer: Mutex<Connection>,
    /// Scan rows waiting for the next group commit (see [`Sql::insert_scan`]).
    scan_queue: Mutex<Vec<(ScanId, NewScan, ScanSlot)>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl Sql {
    pub(super) fn open(path: &Path, readers: usize, strict: bool) -> StoreResult<Self> {
        let mut writer = Connection::open(path).map_err(StoreError::sqlite("open state.sqlite"))?;
        configure(&writer, strict)?;
        // WAL: readers never block the writer and vice versa; one fsync per commit.
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(StoreError::sqlite(
                "set WAL mode (is state.sqlite a database?)",
            ))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::CorruptRecord {
                location: path.display().to_string(),
                reason: format!("could not switch to WAL journal mode (got {mode:?})"),
            });
        }
        migrate(&mut writer)?;
        let mut pool = Vec::new();
        for _ in 0..readers.max(1) {
            let c = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(StoreError::sqlite("open reader connection"))?;
            configure(&c, strict)?;
            pool.push(Mutex::new(c));
        }
        Ok(Self {
            writer: Mutex::new(writer),
            scan_queue: Mutex::new(Vec::new()),
            readers: pool,
            next_reader: AtomicUsize::new(0),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        // Take a free reader if there is one; otherwise queue on one in round-robin order.
        for r in &self.readers {
            if let Some(c) = r.try_lock() {
                return f(&c);
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        match self.readers.get(i) {
            Some(r) => f(&r.lock()),
            None => f(&self.writer.lock()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        f(&mut self.writer.lock())
    }

    // ----- scans -----

    /// Inserts a scan, durably (per the store's durability) before returning.
    ///
    /// Group commit: concurrent callers queue their rows and whoever holds the writer
    /// connection inserts everything queued in one transaction, so a busy server pays
    /// one WAL fsync per batch rather than per scan. A failed batch fails every scan in
    /// it (the transaction rolled back as a whole); callers refund and answer 500.
    pub(super) fn insert_scan(&self, id: ScanId, s: &NewScan) -> StoreResult<()> {
        // Validate before queueing: one bad row must not fail its batch.
        to_ms(s.created_at)?;
        if let Some(k) = &s.kit {
            i64::try_from(k.sequence).map_err(|_| {
                StoreError::invalid("kit sequence", format!("{} exceeds i64", k.sequence))
            })?;
        }
        let slot: ScanSlot = Arc::new(Mutex::new(None));
        self.scan_queue
            .lock()
            .push((id, s.clone(), Arc::clone(&slot)));
        let mut conn = self.writer.lock();
        if let Some(done) = slot.lock().take() {
            return done.map_err(batch_error);
        }
        let batch = std::mem::take(&mut *self.scan_queue.lock());
        let result = insert_scans(&mut conn, &batch);
        let shared = result.as_ref().map(|_| ()).map_err(ToString::to_string);
        for (_, _, other) in &batch {
            *other.lock() = Some(shared.clone());
        }
        drop(conn);
        // Our own slot was in the batch; the real error (with its source) is ours.
        slot.lock().take();
        result
    }

    pub(super) fn get_scan(&self, id: &ScanId) -> StoreResult<Option<ScanRecord>> {
        self.read(|c| {
            c.query_row(
                "SELECT s.id, s.created_at_ms, s.subject, s.name, s.image_digest, s.format, \
                 s.verdict, s.n_critical, s.n_high, s.n_medium, s.n_low, s.n_unknown, \
                 s.sbom_sha256, s.kit_id, s.kit_sequence, \
                 s.findings_digest, s.policy_digest, s.duration_ms, d.findings_json, d.evidence_json \
                 FROM scans s JOIN scan_details d ON d.id = s.id WHERE s.id = ?1",
                [id.to_string()],
                |r| Ok((read_summary(r), read_detail(r))),
            )
            .optional()
            .map_err(StoreError::sqlite("get scan"))?
            .map(|(summary, detail)| {
                let summary = summary?;
                let (findings_digest, policy_digest, duration, findings_json, evidence_json) =
                    detail?;
                Ok(ScanRecord {
                    id: summary.id,
                    scan: NewScan {
                        created_at: summary.created_at,
                        subject: summary.subject,
                        sbom_sha256: summary.sbom_sha256,
                        name: summary.name,
                        image_digest: summary.image_digest,
                        format: summary.format,
                        verdict: summary.verdict,
                        summary: summary.summary,
                        findings_json,
                        findings_digest,
                        policy_digest,
                        kit: summary.kit,
                        evidence_json,
                        duration,
                    },
                })
            })
            .transpose()
        })
    }

    pub(super) fn list_scans(
        &self,
        filter: &ScanFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ScanSummary>> {
        if page.limit == 0 {
            return Err(StoreError::invalid("page limit", "must be at least 1"));
        }
        let limit = page.limit.min(PageRequest::MAX_LIMIT);
        let (mut clauses, mut args) = where_clauses(filter)?;
        if let Some(cursor) = page.cursor {
            clauses.push("id < ?".to_owned());
            args.push(Value::Text(cursor.to_string()));
        }
        // One extra row tells whether another page exists without a COUNT.
        args.push(Value::Integer(i64::from(limit) + 1));
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM scans {} ORDER BY id DESC LIMIT ?",
            where_sql(&clauses)
        );
        let mut items = self.read(|c| {
            let mut st = c
                .prepare_cached(&sql)
                .map_err(StoreError::sqlite("prepare list scans"))?;
            let rows = st
                .query_map(params_from_iter(args), |r| Ok(read_summary(r)))
                .map_err(StoreError::sqlite("list scans"))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row.map_err(StoreError::sqlite("read scan row"))??);
            }
            Ok(out)
        })?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|s| s.id)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    pub(super) fn count_scans(&self, filter: &ScanFilter) -> StoreResult<u64> {
        let (clauses, args) = where_clauses(filter)?;
        let sql = format!("SELECT COUNT(*) FROM scans {}", where_sql(&clauses));
        let n: i64 = self.read(|c| {
            c.query_row(&sql, params_from_iter(args), |r| r.get(0))
                .map_err(StoreError::sqlite("count scans"))
        })?;
        Ok(n.max(0).unsigned_abs())
    }

    pub(super) fn delete_scans_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        let cutoff = to_ms(cutoff)?;
        self.write(|c| {
            let tx = c
                .transaction()
                .map_err(StoreError::sqlite("begin retention"))?;
            tx.execute(
                "DELETE FROM scan_details WHERE id IN \
                 (SELECT id FROM scans WHERE created_at_ms < ?1)",
                [cutoff],
            )
            .map_err(StoreError::sqlite("delete old scan details"))?;
            let n = tx
                .execute("DELETE FROM scans WHERE created_at_ms < ?1", [cutoff])
                .map_err(StoreError::sqlite("delete old scans"))?;
            tx.commit()
                .map_err(StoreError::sqlite("commit retention"))?;
            Ok(n as u64)
        })
    }

    // ----- operators and login failures -----

    pub(super) fn insert_operator(
        &self,
        username: &str,
        phc: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let now = to_ms(now)?;
        self.write(|c| {
            let n = c
                .execute(
                    "INSERT OR IGNORE INTO operators (username, password_hash, created_at_ms) \
                     VALUES (?1, ?2, ?3)",
                    params![username, phc, now],
                )
                .map_err(StoreError::sqlite("insert operator"))?;
            if n == 0 {
                return Err(StoreError::OperatorExists {
                    username: username.to_owned(),
                });
            }
            Ok(())
        })
    }

    pub(super) fn update_operator_hash(&self, username: &str, phc: &str) -> StoreResult<()> {
        self.write(|c| {
            let tx = c
                .transaction()
                .map_err(StoreError::sqlite("begin set password"))?;
            let n = tx
                .execute(
                    "UPDATE operators SET password_hash = ?2 WHERE username = ?1",
                    params![username, phc],
                )
                .map_err(StoreError::sqlite("update operator password"))?;
            if n == 0 {
                return Err(StoreError::UnknownOperator {
                    username: username.to_owned(),
                });
            }
            // A new password ends every session opened with the old one.
            tx.execute("DELETE FROM sessions WHERE username = ?1", [username])
                .map_err(StoreError::sqlite("end sessions on password change"))?;
            tx.commit()
                .map_err(StoreError::sqlite("commit set password"))
        })
    }

    pub(super) fn operator_hash(&self, username: &str) -> StoreResult<Option<String>> {
        self.read(|c| {
            c.query_row(
                "SELECT password_hash FROM operators WHERE username = ?1",
                [username],
                |r| r.get(0),
            )
            .optional()
            .map_err(StoreError::sqlite("read operator"))
        })
    }

    pub(super) fn record_login_failure(
        &self,
        username: &str,
        now: OffsetDateTime,
    ) -> StoreResult<u32> {
        let now = to_ms(now)?;
        let n: i64 = self.write(|c| {
            c.query_row(
                "INSERT INTO login_failures (username, failures, last_failure_ms) VALUES (?1, 1, ?2) \
                 ON CONFLICT (username) DO UPDATE SET \
                   failures = MIN(failures + 1, 1000000), last_failure_ms = excluded.last_failure_ms \
                 RETURNING failures",
                params![username, now],
                |r| r.get(0),
            )
            .map_err(StoreError::sqlite("record login failure"))
        })?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    pub(super) fn clear_login_failures(&self, username: &str) -> StoreResult<()> {
        self.write(|c| {
            c.execute("DELETE FROM login_failures WHERE username = ?1", [username])
                .map_err(StoreError::sqlite("clear login failures"))?;
            Ok(())
        })
    }

    pub(super) fn login_failures(
        &self,
        username: &str,
    ) -> StoreResult<Option<(u32, OffsetDateTime)>> {
        let row: Option<(i64, i64)> = self.read(|c| {
            c.query_row(
                "SELECT failures, last_failure_ms FROM login_failures WHERE username = ?1",
                [username],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(StoreError::sqlite("read login failures"))
        })?;
        row.map(|(n, at)| {
            Ok((
                u32::try_from(n).unwrap_or(u32::MAX),
                from_ms(at, "login_failures.last_failure_ms")?,
            ))
        })
        .transpose()
    }

    // ----- sessions -----

    pub(super) fn insert_session(&self, token_sha256: &[u8; 32], s: &Session) -> StoreResult<()> {
        let created = to_ms(s.created_at)?;
        let expires = to_ms(s.expires_at)?;
        self.write(|c| {
            c.execute(
                "INSERT INTO sessions (token_sha256, username, created_at_ms, expires_at_ms, csrf_secret) \
                 SELECT ?1, username, ?3, ?4, ?5 FROM operators WHERE username = ?2",
                params![&token_sha256[..], s.username, created, expires, s.csrf_secret],
            )
            .map_err(StoreError::sqlite("insert session"))
            .and_then(|n| {
                if n == 0 {
                    Err(StoreError::UnknownOperator {
                        username: s.username.clone(),
                    })
                } else {
                    Ok(())
                }
            })
        })
    }

    pub(super) fn get_session(
        &self,
        token_sha256: &[u8; 32],
        now: OffsetDateTime,
    ) -> StoreResult<Option<Session>> {
        let now = to_ms(now)?;
        let row: Option<(String, i64, i64, String)> = self.read(|c| {
            c.query_row(
                "SELECT username, created_at_ms, expires_at_ms, csrf_secret FROM sessions \
                 WHERE token_sha256 = ?1 AND expires_at_ms > ?2",
                params![&token_sha256[..], now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(StoreError::sqlite("read session"))
        })?;
        row.map(|(username, created, expires, csrf_secret)| {
            Ok(Session {
                username,
                created_at: from_ms(created, "sessions.created_at_ms")?,
                expires_at: from_ms(expires, "sessions.expires_at_ms")?,
                csrf_secret,
            })
        })
        .transpose()
    }

    pub(super) fn delete_session(&self, token_sha256: &[u8; 32]) -> StoreResult<bool> {
        self.write(|c| {
            let n = c
                .execute(
                    "DELETE FROM sessions WHERE token_sha256 = ?1",
                    [&token_sha256[..]],
                )
                .map_err(StoreError::sqlite("delete session"))?;
            Ok(n > 0)
        })
    }

    pub(super) fn delete_expired(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let now_ms = to_ms(now)?;
        // Failure counters older than a day are no longer throttling anything.
        let stale_failures = to_ms(now - time::Duration::days(1))?;
        self.write(|c| {
            let tx = c
                .transaction()
                .map_err(StoreError::sqlite("begin session cleanup"))?;
            let n = tx
                .execute("DELETE FROM sessions WHERE expires_at_ms <= ?1", [now_ms])
                .map_err(StoreError::sqlite("delete expired sessions"))?;
            tx.execute(
                "DELETE FROM login_failures WHERE last_failure_ms < ?1",
                [stale_failures],
            )
            .map_err(StoreError::sqlite("delete stale login failures"))?;
            tx.commit()
                .map_err(StoreError::sqlite("commit session cleanup"))?;
            Ok(n as u64)
        })
    }

    // ----- policies -----

    pub(super) fn insert_policy(
        &self,
        p: &NewPolicy,
        now: OffsetDateTime,
    ) -> StoreResult<PolicyVersion> {
        let sha = Sha256Digest::of(p.yaml.as_bytes());
        let now_ms = to_ms(now)?;
        let version: i64 = self.write(|c| {
            c.query_row(
                "INSERT INTO policies (sha256, yaml, author, comment, created_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING version",
                params![sha.to_string(), p.yaml, p.author, p.comment, now_ms],
                |r| r.get(0),
            )
            .map_err(StoreError::sqlite("insert policy"))
        })?;
        Ok(PolicyVersion {
            version: version.unsigned_abs(),
            sha256: sha,
            yaml: p.yaml.clone(),
            author: p.author.clone(),
            comment: p.comment.clone(),
            created_at: from_ms(now_ms, "policies.created_at_ms")?,
        })
    }

    // ----- revocations -----

    pub(super) fn insert_revocation(&self, r: &Revocation) -> StoreResult<bool> {
        let at = to_ms(r.created_at)?;
        self.write(|c| {
            let n = c
                .execute(
                    "INSERT OR IGNORE INTO revocations (kind, id, actor, reason, created_at_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![r.kind.as_str(), r.id, r.actor, r.reason, at],
                )
                .map_err(StoreError::sqlite("insert revocation"))?;
            Ok(n > 0)
        })
    }

    pub(super) fn delete_revocation(&self, kind: RevocationKind, id: &str) -> StoreResult<bool> {
        self.write(|c| {
            let n = c
                .execute(
                    "DELETE FROM revocations WHERE kind = ?1 AND id = ?2",
                    params![kind.as_str(), id],
                )
                .map_err(StoreError::sqlite("delete revocation"))?;
            Ok(n > 0)
        })
    }

    pub(super) fn revocations(&self) -> StoreResult<Vec<Revocation>> {
        self.read(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT kind, id, actor, reason, created_at_ms FROM revocations \
                     ORDER BY created_at_ms, kind, id",
                )
                .map_err(StoreError::sqlite("prepare read revocations"))?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })
                .map_err(StoreError::sqlite("read revocations"))?;
            let mut out = Vec::new();
            for row in rows {
                let (kind, id, actor, reason, at) =
                    row.map_err(StoreError::sqlite("read revocation row"))?;
                let kind =
                    RevocationKind::parse(&kind).ok_or_else(|| StoreError::CorruptRecord {
                        location: format!("revocations kind {kind:?}"),
                        reason: "not client or token".into(),
                    })?;
                out.push(Revocation {
                    kind,
                    id,
                    actor,
                    reason,
                    created_at: from_ms(at, "revocations.created_at_ms")?,
                });
            }
            Ok(out)
        })
    }

    pub(super) fn policies(
        &self,
        version: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<PolicyVersion>> {
        let version = version.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        self.read(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT version, sha256, yaml, author, comment, created_at_ms FROM policies \
                     WHERE ?1 IS NULL OR version = ?1 ORDER BY version DESC LIMIT ?2",
                )
                .map_err(StoreError::sqlite("prepare read policies"))?;
            let rows = st
                .query_map(params![version, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                    ))
                })
                .map_err(StoreError::sqlite("read policies"))?;
            let mut out = Vec::new();
            for row in rows {
                let (v, sha, yaml, author, comment, at) =
                    row.map_err(StoreError::sqlite("read policy row"))?;
                let location = format!("policies version {v}");
                out.push(PolicyVersion {
                    version: v.unsigned_abs(),
                    sha256: parse_digest(&sha, &location)?,
                    yaml,
                    author,
                    comment,
                    created_at: from_ms(at, "policies.created_at_ms")?,
                });
            }
            Ok(out)
        })
    }
}

fn configure(c: &Connection, strict: bool) -> StoreResult<()> {
    // Another process (the CLI during `serve`) may hold the write lock briefly: wait for it
    // rather than failing at once.
    c.busy_timeout(Duration::from_secs(5))
        .map_err(StoreError::sqlite("set busy timeout"))?;
    // FULL fsyncs the WAL on every commit (a power cut loses nothing committed); NORMAL
    // fsyncs only at checkpoints (a power cut may lose the last commits, never corrupts).
    let sync = if strict { "FULL" } else { "NORMAL" };
    c.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = {sync}; PRAGMA trusted_schema = OFF;"
    ))
    .map_err(StoreError::sqlite("configure connection"))
}

fn migrate(c: &mut Connection) -> StoreResult<()> {
    let found: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(StoreError::sqlite("read schema version"))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < 0 {
        return Err(StoreError::CorruptRecord {
            location: "state.sqlite PRAGMA user_version".to_owned(),
            reason: format!("negative schema version {found}"),
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(found.unsigned_abs() as usize)
    {
        // Each migration and its version bump commit together: a crash mid-upgrade leaves
        // the previous version, and the next start applies it again.
        let tx = c
            .transaction()
            .map_err(StoreError::sqlite("begin migration"))?;
        tx.execute_batch(sql)
            .map_err(StoreError::sqlite("apply schema migration"))?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(StoreError::sqlite("bump schema version"))?;
        tx.commit()
            .map_err(StoreError::sqlite("commit migration"))?;
        tracing::info!(version = i + 1, "applied state.sqlite schema migration");
    }
    Ok(())
}

fn where_clauses(f: &ScanFilter) -> StoreResult<(Vec<String>, Vec<Value>)> {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty()) {
        if text.chars().count() > 200 {
            return Err(StoreError::invalid(
                "search text",
                "longer than 200 characters",
            ));
        }
        // LIKE with our own escape character, so '%' and '_' typed by a user match literally.
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        clauses.push("(name LIKE ? ESCAPE '\\' OR image_digest LIKE ? ESCAPE '\\')".to_owned());
        let pattern = format!("%{escaped}%");
        args.push(Value::Text(pattern.clone()));
        args.push(Value::Text(pattern));
    }
    if let Some(name) = &f.name {
        clauses.push("name = ?".to_owned());
        args.push(Value::Text(name.clone()));
    }
    if let Some(v) = f.verdict {
        clauses.push("verdict = ?".to_owned());
        args.push(Value::Text(v.as_str().to_owned()));
    }
    if let Some(since) = f.since {
        clauses.push("created_at_ms >= ?".to_owned());
        args.push(Value::Integer(to_ms(since)?));
    }
    if let Some(until) = f.until {
        clauses.push("created_at_ms < ?".to_owned());
        args.push(Value::Integer(to_ms(until)?));
    }
    if let Some(subject) = &f.subject {
        clauses.push("subject = ?".to_owned());
        args.push(Value::Text(subject.clone()));
    }
    Ok((clauses, args))
}

fn where_sql(clauses: &[String]) -> String {
    if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    }
}

/// Reads the [`SUMMARY_COLUMNS`] (columns 0..=14) of a row. The outer `Result` of the
/// row closure is SQLite's; this inner one reports values SQLite accepted but we cannot.
fn read_summary(r: &Row<'_>) -> StoreResult<ScanSummary> {
    let g = |e: rusqlite::Error| StoreError::Sqlite {
        context: "decode scan row",
        source: e,
    };
    let id_text: String = r.get(0).map_err(g)?;
    let location = format!("scans id {}", truncate(&id_text, 40));
    let id: ScanId = id_text
        .parse()
        .map_err(|e: StoreError| StoreError::CorruptRecord {
            location: location.clone(),
            reason: e.to_string(),
        })?;
    let verdict_text: String = r.get(6).map_err(g)?;
    let verdict = Verdict::parse(&verdict_text).ok_or_else(|| StoreError::CorruptRecord {
        location: location.clone(),
        reason: format!("unknown verdict {verdict_text:?}"),
    })?;
    let count = |i: usize| -> StoreResult<u32> {
        let n: i64 = r.get(i).map_err(g)?;
        u32::try_from(n).map_err(|_| StoreError::CorruptRecord {
            location: location.clone(),
            reason: format!("severity count {n} out of range"),
        })
    };
    let kit_id: Option<String> = r.get(13).map_err(g)?;
    let kit_seq: Option<i64> = r.get(14).map_err(g)?;
    Ok(ScanSummary {
        id,
        created_at: from_ms(r.get(1).map_err(g)?, "scans.created_at_ms")?,
        subject: r.get(2).map_err(g)?,
        name: r.get(3).map_err(g)?,
        image_digest: r.get(4).map_err(g)?,
        format: r.get(5).map_err(g)?,
        verdict,
        summary: SeverityCounts {
            critical: count(7)?,
            high: count(8)?,
            medium: count(9)?,
            low: count(10)?,
            unknown: count(11)?,
        },
        sbom_sha256: parse_digest(&r.get::<_, String>(12).map_err(g)?, &location)?,
        kit: match (kit_id, kit_seq) {
            (Some(id), Some(seq)) => Some(KitRef {
                id,
                sequence: seq.unsigned_abs(),
            }),
            _ => None,
        },
    })
}

type Detail = (Sha256Digest, Sha256Digest, Duration, String, Option<String>);

/// Reads the detail columns 15..=19 of a `get_scan` row.
fn read_detail(r: &Row<'_>) -> StoreResult<Detail> {
    let g = |e: rusqlite::Error| StoreError::Sqlite {
        context: "decode scan details",
        source: e,
    };
    let location = "scan details";
    let ms: i64 = r.get(17).map_err(g)?;
    Ok((
        parse_digest(&r.get::<_, String>(15).map_err(g)?, location)?,
        parse_digest(&r.get::<_, String>(16).map_err(g)?, location)?,
        Duration::from_millis(ms.max(0).unsigned_abs()),
        r.get(18).map_err(g)?,
        r.get(19).map_err(g)?,
    ))
}

fn parse_digest(s: &str, location: &str) -> StoreResult<Sha256Digest> {
    s.parse()
        .map_err(|e: StoreError| StoreError::CorruptRecord {
            location: location.to_owned(),
            reason: e.to_string(),
        })
}

pub(super) fn to_ms(t: OffsetDateTime) -> StoreResult<i64> {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| StoreError::invalid("time", format!("{t} out of range")))
}

fn from_ms(ms: i64, column: &str) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(|e| {
        StoreError::CorruptRecord {
            location: column.to_owned(),
            reason: format!("timestamp {ms} ms: {e}"),
        }
    })
}

/// Why a queued scan insert failed, when another caller's commit carried it.
fn batch_error(message: String) -> StoreError {
    StoreError::io(
        "commit a batch of scans to",
        "state.sqlite",
        std::io::Error::other(message),
    )
}

/// Inserts `batch` in one transaction.
fn insert_scans(c: &mut Connection, batch: &[(ScanId, NewScan, ScanSlot)]) -> StoreResult<()> {
    let tx = c
        .transaction()
        .map_err(StoreError::sqlite("begin insert scan"))?;
    for (id, s, _) in batch {
        let created = to_ms(s.created_at)?;
        let duration_ms = i64::try_from(s.duration.as_millis()).unwrap_or(i64::MAX);
        let kit_seq = match &s.kit {
            Some(k) => Some(i64::try_from(k.sequence).map_err(|_| {
                StoreError::invalid("kit sequence", format!("{} exceeds i64", k.sequence))
            })?),
            None => None,
        };
        tx.execute(
            "INSERT INTO scans (id, created_at_ms, subject, sbom_sha256, name, image_digest, \
             format, verdict, n_critical, n_high, n_medium, n_low, n_unknown, \
             findings_digest, policy_digest, kit_id, kit_sequence, duration_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                id.to_string(),
                created,
                s.subject,
                s.sbom_sha256.to_string(),
                s.name,
                s.image_digest,
                s.format,
                s.verdict.as_str(),
                s.summary.critical,
                s.summary.high,
                s.summary.medium,
                s.summary.low,
                s.summary.unknown,
                s.findings_digest.to_string(),
                s.policy_digest.to_string(),
                s.kit.as_ref().map(|k| k.id.as_str()),
                kit_seq,
                duration_ms,
            ],
        )
        .map_err(StoreError::sqlite("insert scan"))?;
        tx.execute(
            "INSERT INTO scan_details (id, findings_json, evidence_json) VALUES (?1, ?2, ?3)",
            params![id.to_string(), s.findings_json, s.evidence_json],
        )
        .map_err(StoreError::sqlite("insert scan details"))?;
    }
    tx.commit()
        .map_err(StoreError::sqlite("commit insert scan"))
}
