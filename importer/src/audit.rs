//! The append-only, hash-chained audit log (`DIR/audit/`).
//!
//! Every record is one line of canonical JSON in `DIR/audit/audit.jsonl`:
//!
//! ```json
//! {"event":{...},"hash":"<sha256 hex>","kind":"import","prev":"<sha256 hex>","seq":7,"time":"2026-11-22T10:00:00Z"}
//! ```
//!
//! `hash` is the SHA-256 of the canonical JSON of the record *without* its `hash` member;
//! `prev` is the previous record's `hash` (64 zeros for the first). So editing a record
//! breaks its own hash, deleting or reordering records breaks `seq` and `prev`. Deleting
//! records at the *end* would leave a valid shorter chain, so the head (last `seq` and
//! `hash`) is also kept in `DIR/audit/head.json`, signed by the appliance key: a truncated
//! log no longer matches its signed head.
//!
//! The audit log is the only thing a refused import may change under the data dir.
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read as _, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use signing::{KeyPair, PublicKey};

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest accepted audit line when verifying (a record is small; this bounds memory).
const MAX_LINE: usize = 1 << 20;

/// Errors of the audit log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading or writing the log failed.
    #[error("audit log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A record does not parse.
    #[error("audit record {line}: not a valid record: {msg}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// A record's content does not match its hash (edited).
    #[error("audit record {line} (seq {seq}) was modified: its hash does not match its content")]
    Edited {
        /// 1-based line number.
        line: usize,
        /// The record's sequence number.
        seq: u64,
    },
    /// A record is missing or out of order.
    #[error(
        "audit record {line}: expected seq {expected}, found {found} (a record was deleted or reordered)"
    )]
    Sequence {
        /// 1-based line number.
        line: usize,
        /// The expected sequence number.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// A record's `prev` does not name the previous record's hash.
    #[error("audit record {line} (seq {seq}) does not chain to the previous record")]
    BrokenChain {
        /// 1-based line number.
        line: usize,
        /// The record's sequence number.
        seq: u64,
    },
    /// The signed head does not match the end of the log (records removed at the end, or
    /// the head was forged).
    #[error("audit head mismatch: {0}")]
    Head(String),
}

/// One audit record as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// 1-based position in the log.
    pub seq: u64,
    /// RFC 3339 UTC time the record was written.
    pub time: String,
    /// What happened: `import`, `rollback`, `scan`, `login`, `mute`, `policy`, `token`, ...
    pub kind: String,
    /// The details (free-form JSON object).
    pub event: Value,
    /// Hash of the previous record (or [`GENESIS`]).
    pub prev: String,
    /// SHA-256 of this record's canonical JSON without `hash`.
    pub hash: String,
}

impl Record {
    fn compute_hash(&self) -> String {
        let v = serde_json::json!({
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "event": self.event,
            "prev": self.prev,
        });
        // serde_json maps are sorted (no preserve_order feature): compact output is canonical.
        let bytes = serde_json::to_vec(&v).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
}

/// The signed head: the last record's seq and hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
    keyid: String,
    sig: String,
}

impl Head {
    fn message(seq: u64, hash: &str) -> Vec<u8> {
        format!("stella-audit-head\n{seq}\n{hash}").into_bytes()
    }
}

/// The result of a successful chain verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Number of records.
    pub records: u64,
    /// Hash of the last record ([`GENESIS`] when empty).
    pub head: String,
}

/// The audit log of one data directory.
#[derive(Debug, Clone)]
pub struct AuditLog {
    dir: PathBuf,
}

impl AuditLog {
    /// The log under `dir` (normally `DATA/audit`). Nothing is touched until a write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AuditLog { dir: dir.into() }
    }

    /// Path of the JSON-lines file.
    pub fn path(&self) -> PathBuf {
        self.dir.join("audit.jsonl")
    }

    fn head_path(&self) -> PathBuf {
        self.dir.join("head.json")
    }

    fn io(&self, path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
        let path = path.to_path_buf();
        move |source| AuditError::Io { path, source }
    }

    /// Reads and verifies every record (chain only, not the signed head).
    pub fn records(&self) -> Result<Vec<Record>, AuditError> {
        let path = self.path();
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(&path)(e)),
        };
        let mut out = Vec::new();
        let mut prev = GENESIS.to_string();
        let mut reader = BufReader::new(f);
        let mut line = String::new();
        let mut n = 0usize;
        loop {
            line.clear();
            let read = (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_line(&mut line)
                .map_err(self.io(&path))?;
            if read == 0 {
                break;
            }
            n += 1;
            if line.len() > MAX_LINE {
                return Err(AuditError::Malformed {
                    line: n,
                    msg: "line too long".into(),
                });
            }
            let rec: Record =
                serde_json::from_str(line.trim_end()).map_err(|e| AuditError::Malformed {
                    line: n,
                    msg: e.to_string(),
                })?;
            if rec.compute_hash() != rec.hash {
                return Err(AuditError::Edited {
                    line: n,
                    seq: rec.seq,
                });
            }
            if rec.seq != n as u64 {
                return Err(AuditError::Sequence {
                    line: n,
                    expected: n as u64,
                    found: rec.seq,
                });
            }
            if rec.prev != prev {
                return Err(AuditError::BrokenChain {
                    line: n,
                    seq: rec.seq,
                });
            }
            prev = rec.hash.clone();
            out.push(rec);
        }
        Ok(out)
    }

    /// Verifies the chain and, when `key` is given, the signed head.
    pub fn verify(&self, key: Option<&PublicKey>) -> Result<Verified, AuditError> {
        let records = self.records()?;
        let (seq, head) = records
            .last()
            .map(|r| (r.seq, r.hash.clone()))
            .unwrap_or((0, GENESIS.to_string()));
        if let Some(key) = key {
            let hp = self.head_path();
            match std::fs::read(&hp) {
                Ok(bytes) => {
                    let h: Head = serde_json::from_slice(&bytes)
                        .map_err(|e| AuditError::Head(format!("head.json: {e}")))?;
                    let sig = base64_decode(&h.sig)
                        .ok_or_else(|| AuditError::Head("head signature is not base64".into()))?;
                    key.verify_slice(&Head::message(h.seq, &h.hash), &sig)
                        .map_err(|_| AuditError::Head("head signature does not verify".into()))?;
                    if h.seq != seq || h.hash != head {
                        return Err(AuditError::Head(format!(
                            "signed head is record {} but the log ends at record {seq} (records were removed or appended without the appliance key)",
                            h.seq
                        )));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && seq == 0 => {}
                Err(e) => return Err(self.io(&hp)(e)),
            }
        }
        Ok(Verified { records: seq, head })
    }

    /// Appends several records with one lock, one `fsync` and one head signature (group
    /// commit for busy servers). All get the same time.
    pub fn append_many(
        &self,
        key: &KeyPair,
        time: &str,
        items: Vec<(String, Value)>,
    ) -> Result<Vec<Record>, AuditError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        std::fs::create_dir_all(&self.dir).map_err(self.io(&self.dir))?;
        let lock_path = self.dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(self.io(&lock_path))?;
        lock.lock().map_err(self.io(&lock_path))?;
        let last = self.tail()?;
        let (mut seq, mut prev) = (last.records, last.head);
        let mut out = Vec::with_capacity(items.len());
        let mut buf = Vec::new();
        for (kind, event) in items {
            seq += 1;
            let mut rec = Record {
                seq,
                time: time.to_string(),
                kind,
                event,
                prev: prev.clone(),
                hash: String::new(),
            };
            rec.hash = rec.compute_hash();
            serde_json::to_writer(&mut buf, &rec).map_err(|e| AuditError::Malformed {
                line: rec.seq as usize,
                msg: e.to_string(),
            })?;
            buf.push(b'\n');
            prev = rec.hash.clone();
            out.push(rec);
        }
        let path = self.path();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(self.io(&path))?;
        f.write_all(&buf).map_err(self.io(&path))?;
        f.sync_data().map_err(self.io(&path))?;
        self.write_head(key, seq, &prev)?;
        self.remember(Verified {
            records: seq,
            head: prev,
        });
        Ok(out)
    }

    /// Appends a record and re-signs the head. The log must verify first (we never extend
    /// a broken chain silently).
    pub fn append(
        &self,
        key: &KeyPair,
        time: &str,
        kind: &str,
        event: Value,
    ) -> Result<Record, AuditError> {
        self.append_many(key, time, vec![(kind.to_string(), event)])?
            .pop()
            .ok_or_else(|| AuditError::Head("no record was appended".into()))
    }

    /// The end of the chain. The whole chain is verified the first time a process
    /// appends, and again whenever the file is not exactly as long as this process last
    /// left it (another process appended, or someone edited it); otherwise the verified
    /// end is reused, so an append costs O(1) instead of re-reading the log.
    fn tail(&self) -> Result<Verified, AuditError> {
        let path = self.path();
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(self.io(&path)(e)),
        };
        if let Some((l, v)) = tail_cache().get(&path)
            && *l == len
        {
            return Ok(v.clone());
        }
        self.verify(None)
    }

    fn remember(&self, v: Verified) {
        if let Ok(m) = std::fs::metadata(self.path()) {
            tail_cache().insert(self.path(), (m.len(), v));
        }
    }

    fn write_head(&self, key: &KeyPair, seq: u64, hash: &str) -> Result<(), AuditError> {
        let sig = key.sign(&Head::message(seq, hash));
        let head = Head {
            seq,
            hash: hash.to_string(),
            keyid: key.id().to_string(),
            sig: base64_encode(&sig),
        };
        let hp = self.head_path();
        let tmp = self.dir.join("head.json.tmp");
        let bytes = serde_json::to_vec(&head).map_err(|e| AuditError::Head(e.to_string()))?;
        std::fs::write(&tmp, bytes).map_err(self.io(&tmp))?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(self.io(&tmp))?;
        std::fs::rename(&tmp, &hp).map_err(self.io(&hp))?;
        Ok(())
    }
}

/// Verified chain ends per log file, for [`AuditLog::append`] (see `tail`).
fn tail_cache()
-> std::sync::MutexGuard<'static, std::collections::HashMap<PathBuf, (u64, Verified)>> {
    static CACHE: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<PathBuf, (u64, Verified)>>,
    > = std::sync::OnceLock::new();
    CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use signing::KeyId;

    fn setup() -> (tempfile::TempDir, AuditLog, KeyPair) {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("audit"));
        let key = KeyPair::from_seed(KeyId([5; 8]), &[5; 32]);
        for i in 0..5 {
            log.append(
                &key,
                "2026-11-22T00:00:00Z",
                "import",
                serde_json::json!({"i": i}),
            )
            .expect("append");
        }
        (dir, log, key)
    }

    fn lines(log: &AuditLog) -> Vec<String> {
        std::fs::read_to_string(log.path())
            .expect("read")
            .lines()
            .map(String::from)
            .collect()
    }

    fn write_lines(log: &AuditLog, l: &[String]) {
        std::fs::write(log.path(), l.join("\n") + "\n").expect("write");
    }

    #[test]
    fn intact_log_verifies_with_signed_head() {
        let (_d, log, key) = setup();
        let v = log.verify(Some(&key.public())).expect("verifies");
        assert_eq!(v.records, 5);
    }

    #[test]
    fn edited_record_is_detected() {
        let (_d, log, key) = setup();
        let mut l = lines(&log);
        l[2] = l[2].replace("{\"i\":2}", "{\"i\":9}");
        write_lines(&log, &l);
        assert!(matches!(
            log.verify(Some(&key.public())),
            Err(AuditError::Edited { line: 3, seq: 3 })
        ));
    }

    #[test]
    fn deleted_record_is_detected() {
        let (_d, log, key) = setup();
        let mut l = lines(&log);
        l.remove(1);
        write_lines(&log, &l);
        assert!(matches!(
            log.verify(Some(&key.public())),
            Err(AuditError::Sequence {
                line: 2,
                expected: 2,
                found: 3
            })
        ));
    }

    #[test]
    fn reordered_records_are_detected() {
        let (_d, log, key) = setup();
        let mut l = lines(&log);
        l.swap(1, 2);
        write_lines(&log, &l);
        assert!(matches!(
            log.verify(Some(&key.public())),
            Err(AuditError::Sequence { line: 2, .. })
        ));
    }

    #[test]
    fn truncated_tail_is_detected_by_the_signed_head() {
        let (_d, log, key) = setup();
        let mut l = lines(&log);
        l.pop();
        write_lines(&log, &l);
        // the chain alone is fine...
        assert_eq!(log.verify(None).expect("chain ok").records, 4);
        // ...but not against the signed head.
        assert!(matches!(
            log.verify(Some(&key.public())),
            Err(AuditError::Head(_))
        ));
    }

    #[test]
    fn rehashed_forgery_without_the_key_is_detected() {
        let (_d, log, key) = setup();
        // an attacker rewrites the last record and fixes up its hash, but cannot sign the head
        let mut recs = log.records().expect("records");
        let last = recs.last_mut().expect("last");
        last.event = serde_json::json!({"i": "forged"});
        last.hash = last.compute_hash();
        let mut l = lines(&log);
        let n = l.len();
        l[n - 1] = serde_json::to_string(last).expect("json");
        write_lines(&log, &l);
        assert!(log.verify(None).is_ok());
        assert!(matches!(
            log.verify(Some(&key.public())),
            Err(AuditError::Head(_))
        ));
    }

    #[test]
    fn concurrent_appends_keep_one_valid_chain() {
        let (_d, log, key) = setup();
        let before = log.verify(None).expect("ok").records;
        std::thread::scope(|s| {
            for t in 0..4 {
                let (log, key) = (log.clone(), &key);
                s.spawn(move || {
                    for i in 0..25 {
                        log.append(
                            key,
                            "2026-11-22T00:00:00Z",
                            "x",
                            serde_json::json!({"t": t, "i": i}),
                        )
                        .expect("append");
                    }
                });
            }
        });
        let v = log
            .verify(Some(&key.public()))
            .expect("chain and head verify");
        assert_eq!(v.records, before + 100);
    }

    #[test]
    fn group_commit_appends_a_batch_in_order_with_one_head() {
        let (_d, log, key) = setup();
        let before = log.verify(None).expect("ok").records;
        let recs = log
            .append_many(
                &key,
                "2026-11-22T00:00:00Z",
                (0..5)
                    .map(|i| ("scan".to_string(), serde_json::json!({ "i": i })))
                    .collect(),
            )
            .expect("batch");
        assert_eq!(recs.len(), 5);
        assert_eq!(recs[0].seq, before + 1);
        assert_eq!(recs[4].event["i"], 4);
        let v = log.verify(Some(&key.public())).expect("chain and head");
        assert_eq!(v.records, before + 5);
        assert!(
            log.append_many(&key, "t", Vec::new())
                .expect("empty")
                .is_empty()
        );
    }

    #[test]
    fn appending_to_a_broken_log_is_refused() {
        let (_d, log, key) = setup();
        let mut l = lines(&log);
        l.remove(0);
        write_lines(&log, &l);
        assert!(
            log.append(&key, "2026-11-22T00:00:00Z", "x", Value::Null)
                .is_err()
        );
    }
}
