//! A full data disk: a scan that cannot be stored answers 503 `insufficient_storage`
//! with `Retry-After` (not 500), costs no quota, and works again once there is room;
//! `/readyz` says why the appliance is not ready.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use appliance::server::{AppState, Config};
use appliance::store::{
    EmbeddedStore, NewPolicy, NewScan, NewSession, Page, PageRequest, PolicyVersion, QuotaDecision,
    QuotaKey, QuotaStatus, Revocation, RevocationKind, ScanFilter, ScanId, ScanRecord, ScanSummary,
    Session, Sha256Digest, Store, StoreError, StoreResult,
};
use axum::http::StatusCode;
use time::{Date, OffsetDateTime};

use crate::util::{Env, KitSpec, VULN_SBOM, bearer, call, get, json_of, scan};

/// The real embedded store, except that writing SBOMs and scans fails with `ENOSPC`
/// while `full` is set — what the file system answers on a full disk.
struct FullDisk {
    inner: EmbeddedStore,
    full: AtomicBool,
}

impl FullDisk {
    fn check(&self, action: &'static str) -> StoreResult<()> {
        if self.full.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                action,
                path: "blobs/sbom".into(),
                source: std::io::Error::from_raw_os_error(28),
            });
        }
        Ok(())
    }
}

impl Store for FullDisk {
    fn quota_try_consume(&self, k: &QuotaKey, d: Date, l: u32) -> StoreResult<QuotaDecision> {
        self.inner.quota_try_consume(k, d, l)
    }
    fn quota_refund(&self, k: &QuotaKey, d: Date, l: u32) -> StoreResult<QuotaStatus> {
        self.inner.quota_refund(k, d, l)
    }
    fn quota_status(&self, k: &QuotaKey, d: Date, l: u32) -> StoreResult<QuotaStatus> {
        self.inner.quota_status(k, d, l)
    }
    fn quota_prune(&self, before: Date) -> StoreResult<u64> {
        self.inner.quota_prune(before)
    }
    fn layers_register(&self, d: &[Sha256Digest]) -> StoreResult<u64> {
        self.inner.layers_register(d)
    }
    fn layers_missing(&self, d: &[Sha256Digest]) -> StoreResult<Vec<Sha256Digest>> {
        self.inner.layers_missing(d)
    }
    fn put_sbom(&self, bytes: &[u8]) -> StoreResult<Sha256Digest> {
        self.check("write blob")?;
        self.inner.put_sbom(bytes)
    }
    fn get_sbom(&self, d: &Sha256Digest) -> StoreResult<Option<Vec<u8>>> {
        self.inner.get_sbom(d)
    }
    fn insert_scan(&self, scan: &NewScan) -> StoreResult<ScanId> {
        self.check("insert scan")?;
        self.inner.insert_scan(scan)
    }
    fn get_scan(&self, id: &ScanId) -> StoreResult<Option<ScanRecord>> {
        self.inner.get_scan(id)
    }
    fn list_scans(&self, f: &ScanFilter, p: PageRequest) -> StoreResult<Page<ScanSummary>> {
        self.inner.list_scans(f, p)
    }
    fn count_scans(&self, f: &ScanFilter) -> StoreResult<u64> {
        self.inner.count_scans(f)
    }
    fn delete_scans_before(&self, cutoff: OffsetDateTime) -> StoreResult<u64> {
        self.inner.delete_scans_before(cutoff)
    }
    fn create_operator(&self, u: &str, p: &str, now: OffsetDateTime) -> StoreResult<()> {
        self.inner.create_operator(u, p, now)
    }
    fn set_operator_password(&self, u: &str, p: &str) -> StoreResult<()> {
        self.inner.set_operator_password(u, p)
    }
    fn operator_exists(&self, u: &str) -> StoreResult<bool> {
        self.inner.operator_exists(u)
    }
    fn verify_operator_password(&self, u: &str, p: &str) -> StoreResult<bool> {
        self.inner.verify_operator_password(u, p)
    }
    fn record_login_failure(&self, u: &str, now: OffsetDateTime) -> StoreResult<u32> {
        self.inner.record_login_failure(u, now)
    }
    fn record_login_success(&self, u: &str) -> StoreResult<()> {
        self.inner.record_login_success(u)
    }
    fn login_backoff(&self, u: &str, now: OffsetDateTime) -> StoreResult<Option<Duration>> {
        self.inner.login_backoff(u, now)
    }
    fn create_session(
        &self,
        u: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> StoreResult<NewSession> {
        self.inner.create_session(u, ttl, now)
    }
    fn get_session(&self, t: &str, now: OffsetDateTime) -> StoreResult<Option<Session>> {
        self.inner.get_session(t, now)
    }
    fn delete_session(&self, t: &str) -> StoreResult<bool> {
        self.inner.delete_session(t)
    }
    fn delete_expired_sessions(&self, now: OffsetDateTime) -> StoreResult<u64> {
        self.inner.delete_expired_sessions(now)
    }
    fn put_policy(&self, p: &NewPolicy, now: OffsetDateTime) -> StoreResult<PolicyVersion> {
        self.inner.put_policy(p, now)
    }
    fn current_policy(&self) -> StoreResult<Option<PolicyVersion>> {
        self.inner.current_policy()
    }
    fn get_policy(&self, v: u64) -> StoreResult<Option<PolicyVersion>> {
        self.inner.get_policy(v)
    }
    fn policy_history(&self, limit: u32) -> StoreResult<Vec<PolicyVersion>> {
        self.inner.policy_history(limit)
    }
    fn revoke(&self, r: &Revocation) -> StoreResult<bool> {
        self.inner.revoke(r)
    }
    fn lift_revocation(&self, k: RevocationKind, id: &str) -> StoreResult<bool> {
        self.inner.lift_revocation(k, id)
    }
    fn revocations(&self) -> StoreResult<Vec<Revocation>> {
        self.inner.revocations()
    }
    fn flush(&self) -> StoreResult<()> {
        self.inner.flush()
    }
}

fn spec() -> KitSpec {
    KitSpec {
        kit_id: "disk-test",
        clients: vec![("ci-a", 333)],
        revoked: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_on_a_full_disk_is_503_insufficient_storage_and_costs_no_quota() {
    let env = Env::imported(&spec());
    let config = Config::default();
    let store = Arc::new(FullDisk {
        inner: EmbeddedStore::open(&env.data, config.store_options()).expect("store"),
        full: AtomicBool::new(true),
    });
    let st = AppState::with_store(env.dd(), store.clone(), config).expect("state");
    let token = env.token("ci-a");

    let (s, h, v) = scan(&st, &token, VULN_SBOM).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["error"], "insufficient_storage", "{v}");
    assert!(
        v["message"]
            .as_str()
            .expect("message")
            .starts_with("insufficient storage: "),
        "{v}"
    );
    assert_eq!(h["retry-after"], "60");
    let (_, _, b) = call(&st, get("/api/v1/quota", Some(&bearer(&token)))).await;
    assert_eq!(json_of(&b)["used"], 0, "the failed scan was refunded");

    // room again: the same request succeeds
    store.full.store(false, Ordering::SeqCst);
    let (s, _, v) = scan(&st, &token, VULN_SBOM).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, _, b) = call(&st, get("/api/v1/quota", Some(&bearer(&token)))).await;
    assert_eq!(json_of(&b)["used"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_says_when_the_data_disk_is_below_min_free_bytes() {
    let env = Env::imported(&spec());
    let ready = env.state(Config::default());
    let (s, _, b) = call(&ready, get("/readyz", None)).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    drop(ready);

    let config = Config {
        min_free_bytes: u64::MAX / 2,
        ..Config::default()
    };
    let st = env.state(config);
    let (s, _, b) = call(&st, get("/readyz", None)).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let v = json_of(&b);
    let msg = v["message"].as_str().expect("message");
    assert!(
        msg.starts_with("insufficient storage: ") && msg.contains("below min_free_bytes"),
        "{v}"
    );
    assert!(v["free_bytes"].as_u64().expect("free_bytes") > 0, "{v}");
}
