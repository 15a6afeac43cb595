//! The embedded store against real SQLite and sled files in a temp dir (no mocks).

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use appliance::store::{
    Durability, EmbeddedStore, KitRef, NewPolicy, NewScan, PageRequest, PasswordCost, QuotaKey,
    ScanFilter, ScanId, SeverityCounts, Sha256Digest, Store, StoreError, StoreOptions, Verdict,
};
use time::OffsetDateTime;
use time::macros::{date, datetime};

/// Cheap argon2 parameters so tests that create operators stay fast in debug builds;
/// hashes record their own parameters, so verification is the real code path.
fn fast_options() -> StoreOptions {
    StoreOptions {
        password_cost: PasswordCost {
            m_kib: 64,
            t: 1,
            p: 1,
        },
        ..StoreOptions::default()
    }
}

fn open(dir: &std::path::Path) -> EmbeddedStore {
    EmbeddedStore::open(dir, fast_options()).expect("open store")
}

fn key(s: &str) -> QuotaKey {
    QuotaKey::new(s).expect("valid quota key")
}

fn digest(i: u32) -> Sha256Digest {
    Sha256Digest::of(format!("layer-{i}").as_bytes())
}

// ---------------------------------------------------------------- quotas

/// `threads` threads each try `attempts` times at once; returns the `used` value of every
/// allowed attempt and the number refused.
fn hammer(
    store: &Arc<EmbeddedStore>,
    limit: u32,
    threads: usize,
    attempts: usize,
) -> (Vec<u32>, usize) {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let store = Arc::clone(store);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let k = key("ci-hammer");
                barrier.wait();
                let mut allowed = Vec::new();
                let mut refused = 0;
                for _ in 0..attempts {
                    let d = store
                        .quota_try_consume(&k, date!(2026 - 11 - 22), limit)
                        .expect("consume");
                    assert!(d.used <= limit, "counter above the limit: {d:?}");
                    if d.allowed {
                        allowed.push(d.used);
                    } else {
                        assert_eq!(d.remaining, 0);
                        refused += 1;
                    }
                }
                (allowed, refused)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut refused = 0;
    for h in handles {
        let (a, r) = h.join().expect("thread");
        all.extend(a);
        refused += r;
    }
    all.sort_unstable();
    (all, refused)
}

#[test]
fn quota_is_exact_with_64_threads_and_limit_333() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(dir.path()));
    let (allowed, refused) = hammer(&store, 333, 64, 10);
    // Every allowed attempt saw a distinct count 1..=333: none over, none lost.
    assert_eq!(allowed, (1..=333).collect::<Vec<_>>());
    assert_eq!(refused, 640 - 333);
    let st = store
        .quota_status(&key("ci-hammer"), date!(2026 - 11 - 22), 333)
        .expect("status");
    assert_eq!((st.used, st.remaining), (333, 0));
}

#[test]
fn quota_is_exact_with_64_threads_20_attempts_and_limit_1000() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(dir.path()));
    let (allowed, refused) = hammer(&store, 1000, 64, 20);
    assert_eq!(allowed, (1..=1000).collect::<Vec<_>>());
    assert_eq!(refused, 64 * 20 - 1000);
    let st = store
        .quota_status(&key("ci-hammer"), date!(2026 - 11 - 22), 1000)
        .expect("status");
    assert_eq!(st.used, 1000);
}

#[test]
fn quota_counts_survive_close_and_reopen_in_both_durability_modes() {
    for durability in [Durability::Strict, Durability::Relaxed] {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = StoreOptions {
            durability,
            ..fast_options()
        };
        let k = key("ci-frontend");
        let day = date!(2026 - 11 - 22);
        {
            let store = EmbeddedStore::open(dir.path(), opts).expect("open");
            for _ in 0..7 {
                assert!(
                    store
                        .quota_try_consume(&k, day, 333)
                        .expect("consume")
                        .allowed
                );
            }
        }
        let store = EmbeddedStore::open(dir.path(), opts).expect("reopen");
        let st = store.quota_status(&k, day, 333).expect("status");
        assert_eq!(st.used, 7, "{durability:?}");
        let d = store.quota_try_consume(&k, day, 333).expect("consume");
        assert_eq!((d.used, d.remaining), (8, 325));
    }
}

#[test]
fn quota_resets_on_the_next_utc_day_and_prunes_old_days() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let k = key("ci-frontend");
    let d1 = date!(2026 - 11 - 22);
    for _ in 0..3 {
        assert!(store.quota_try_consume(&k, d1, 3).expect("consume").allowed);
    }
    let refused = store.quota_try_consume(&k, d1, 3).expect("consume");
    assert!(!refused.allowed);
    assert_eq!(refused.used, 3);
    assert_eq!(refused.resets_at, datetime!(2026-11-23 0:00 UTC));

    let d2 = store
        .quota_try_consume(&k, date!(2026 - 11 - 23), 3)
        .expect("consume next day");
    assert!(d2.allowed);
    assert_eq!((d2.used, d2.remaining), (1, 2));
    assert_eq!(d2.resets_at, datetime!(2026-11-24 0:00 UTC));
    // Yesterday is kept (late requests around midnight), older days go on the first
    // consume of a new day.
    assert_eq!(store.quota_status(&k, d1, 3).expect("status").used, 3);
    store
        .quota_try_consume(&k, date!(2026 - 11 - 24), 3)
        .expect("consume day 3");
    assert_eq!(store.quota_status(&k, d1, 3).expect("status").used, 0);
    assert_eq!(
        store
            .quota_status(&k, date!(2026 - 11 - 23), 3)
            .expect("status")
            .used,
        1
    );
    // Global pruning for keys that went quiet.
    let other = key("ci-quiet");
    store.quota_try_consume(&other, d1, 3).expect("consume");
    assert_eq!(store.quota_prune(date!(2026 - 11 - 24)).expect("prune"), 2);
    assert_eq!(store.quota_status(&other, d1, 3).expect("status").used, 0);
    assert_eq!(
        store
            .quota_status(&k, date!(2026 - 11 - 24), 3)
            .expect("status")
            .used,
        1
    );
}

#[test]
fn quota_refund_gives_a_unit_back_and_never_goes_negative() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let k = key("ci-refund");
    let day = date!(2026 - 11 - 22);
    assert_eq!(store.quota_refund(&k, day, 2).expect("refund").used, 0);
    store.quota_try_consume(&k, day, 2).expect("consume");
    store.quota_try_consume(&k, day, 2).expect("consume");
    assert!(
        !store
            .quota_try_consume(&k, day, 2)
            .expect("consume")
            .allowed
    );
    let st = store.quota_refund(&k, day, 2).expect("refund");
    assert_eq!((st.used, st.remaining), (1, 1));
    assert!(
        store
            .quota_try_consume(&k, day, 2)
            .expect("consume")
            .allowed
    );
    store.quota_refund(&k, day, 2).expect("refund");
    store.quota_refund(&k, day, 2).expect("refund");
    assert_eq!(store.quota_refund(&k, day, 2).expect("refund").used, 0);
}

#[test]
fn quota_with_limit_zero_refuses_and_other_tokens_are_independent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let day = date!(2026 - 11 - 22);
    let d = store
        .quota_try_consume(&key("zero"), day, 0)
        .expect("consume");
    assert!(!d.allowed);
    assert_eq!((d.used, d.limit, d.remaining), (0, 0, 0));
    store.quota_try_consume(&key("a"), day, 5).expect("consume");
    assert_eq!(
        store.quota_status(&key("b"), day, 5).expect("status").used,
        0
    );
}

#[test]
fn quota_keys_are_validated() {
    assert!(QuotaKey::new("ci-frontend@plant-7:v1").is_ok());
    for bad in ["", "a/b", "a b", "ü", &"x".repeat(129)] {
        assert!(
            matches!(
                QuotaKey::new(bad),
                Err(StoreError::Invalid {
                    what: "quota key",
                    ..
                })
            ),
            "{bad:?} accepted"
        );
    }
}

// ---------------------------------------------------------------- layers

#[test]
fn layers_missing_keeps_input_order_and_deduplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let input = [digest(3), digest(1), digest(3), digest(2), digest(1)];
    assert_eq!(
        store.layers_missing(&input).expect("missing"),
        vec![digest(3), digest(1), digest(2)]
    );
    assert_eq!(
        store
            .layers_register(&[digest(1), digest(1)])
            .expect("register"),
        1
    );
    assert_eq!(
        store
            .layers_register(&[digest(1), digest(4)])
            .expect("register"),
        1
    );
    assert_eq!(
        store.layers_missing(&input).expect("missing"),
        vec![digest(3), digest(2)]
    );
    assert_eq!(store.layers_missing(&[]).expect("missing"), vec![]);
    drop(store);
    let store = open(dir.path());
    assert_eq!(
        store
            .layers_missing(&[digest(4), digest(5)])
            .expect("missing"),
        vec![digest(5)],
        "registrations survive reopen"
    );
}

#[test]
fn layer_digests_are_validated_and_lists_bounded() {
    let good = format!("sha256:{}", "ab".repeat(32));
    let d: Sha256Digest = good.parse().expect("valid digest");
    assert_eq!(d.to_string(), good);
    for bad in [
        "ab".repeat(32),
        format!("sha256:{}", "AB".repeat(32)),
        format!("sha256:{}", "ab".repeat(31)),
        format!("sha512:{}", "ab".repeat(32)),
        format!("sha256:{}g", "a".repeat(63)),
        format!("sha256:{}", "ab".repeat(32)) + "\n",
    ] {
        assert!(bad.parse::<Sha256Digest>().is_err(), "{bad:?} accepted");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let many = vec![digest(0); appliance::store::MAX_LAYERS_PER_CALL + 1];
    assert!(matches!(
        store.layers_missing(&many),
        Err(StoreError::TooLarge { .. })
    ));
}

// ---------------------------------------------------------------- blobs

#[test]
fn sboms_are_content_addressed_compressed_and_verified() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}"#.repeat(100);
    let d = store.put_sbom(&sbom).expect("put");
    assert_eq!(d, Sha256Digest::of(&sbom));
    assert_eq!(store.put_sbom(&sbom).expect("put again"), d, "idempotent");
    assert_eq!(store.get_sbom(&d).expect("get").as_deref(), Some(&sbom[..]));

    let hex = d.hex();
    let file = dir
        .path()
        .join("blobs/sha256")
        .join(&hex[..2])
        .join(format!("{hex}.zst"));
    let on_disk = std::fs::read(&file).expect("blob file");
    assert!(
        on_disk.len() < sbom.len() / 5,
        "not compressed: {}",
        on_disk.len()
    );
    assert_eq!(&on_disk[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic");

    assert_eq!(
        store.get_sbom(&Sha256Digest::of(b"never")).expect("get"),
        None
    );

    // Replace the file with a valid zstd frame of other content: detected by hash.
    std::fs::write(&file, zstd::bulk::compress(b"other", 3).expect("zstd")).expect("write");
    assert!(matches!(
        store.get_sbom(&d),
        Err(StoreError::CorruptBlob { .. })
    ));
    std::fs::write(&file, b"not zstd at all").expect("write");
    assert!(matches!(
        store.get_sbom(&d),
        Err(StoreError::CorruptBlob { .. })
    ));
}

// ---------------------------------------------------------------- scans

fn scan(i: u32, at: OffsetDateTime) -> NewScan {
    let verdict = if i.is_multiple_of(3) {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    NewScan {
        created_at: at,
        subject: if i.is_multiple_of(2) {
            "ci-even"
        } else {
            "ci-odd"
        }
        .to_owned(),
        sbom_sha256: Sha256Digest::of(format!("sbom-{i}").as_bytes()),
        name: format!("registry.local/team/app-{i}:1.{i}"),
        image_digest: i
            .is_multiple_of(5)
            .then(|| format!("sha256:{}", "cd".repeat(32))),
        format: "cyclonedx-1.5".to_owned(),
        verdict,
        summary: SeverityCounts {
            critical: u32::from(verdict == Verdict::Fail),
            high: i % 4,
            medium: 2,
            low: 0,
            unknown: 1,
        },
        findings_json: format!(r#"[{{"id":"CVE-2026-{i:04}","severity":"high"}}]"#),
        findings_digest: Sha256Digest::of(format!("findings-{i}").as_bytes()),
        policy_digest: Sha256Digest::of(b"policy"),
        kit: Some(KitRef {
            id: "kit-plant-7".to_owned(),
            sequence: 42,
        }),
        evidence_json: Some(r#"{"payloadType":"application/vnd.in-toto+json"}"#.to_owned()),
        duration: Duration::from_millis(u64::from(i)),
    }
}

const T0: OffsetDateTime = datetime!(2026-11-01 0:00 UTC);

fn insert_many(store: &EmbeddedStore, n: u32) -> Vec<ScanId> {
    (0..n)
        .map(|i| {
            let at = T0 + time::Duration::minutes(i64::from(i));
            store.insert_scan(&scan(i, at)).expect("insert")
        })
        .collect()
}

#[test]
fn scans_round_trip_with_every_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let s = scan(15, T0);
    let id = store.insert_scan(&s).expect("insert");
    let got = store.get_scan(&id).expect("get").expect("present");
    assert_eq!(got.id, id);
    assert_eq!(got.scan, s);
    let reparsed: ScanId = id.to_string().parse().expect("id parses");
    assert_eq!(reparsed, id);
    assert_eq!(id.timestamp_ms(), 1_793_491_200_000);
    let other: ScanId = "01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().expect("id");
    assert_eq!(store.get_scan(&other).expect("get"), None);
    assert!("01arz3ndektsv4rrffq69g5fav".parse::<ScanId>().is_err());
}

/// Group commit: 32 threads inserting at once share transactions, and every scan still
/// lands exactly once with its own content, across a reopen.
#[test]
fn concurrent_scan_inserts_each_land_once_and_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ids: Vec<(ScanId, u32)> = {
        let store = open(dir.path());
        let store = &store;
        let ids = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..32u32)
                .map(|t| {
                    sc.spawn(move || {
                        (0..20u32)
                            .map(|k| {
                                let i = t * 20 + k;
                                let at = T0 + time::Duration::seconds(i64::from(i));
                                (store.insert_scan(&scan(i, at)).expect("insert"), i)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("thread"))
                .collect::<Vec<_>>()
        });
        store.flush().expect("flush");
        ids
    };
    let store = open(dir.path());
    assert_eq!(
        store.count_scans(&ScanFilter::default()).expect("count"),
        640
    );
    ids.sort();
    ids.dedup_by_key(|(id, _)| *id);
    assert_eq!(ids.len(), 640, "scan ids are unique");
    for (id, i) in ids {
        let at = T0 + time::Duration::seconds(i64::from(i));
        let got = store.get_scan(&id).expect("get").expect("present");
        assert_eq!(
            got.scan,
            scan(i, at),
            "scan {i} stored with its own content"
        );
    }
}

#[test]
fn scan_ids_increase_even_within_one_millisecond() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let ids: Vec<ScanId> = (0..50)
        .map(|i| store.insert_scan(&scan(i, T0)).expect("insert"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[test]
fn scans_are_listed_newest_first_in_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let ids = insert_many(&store, 450);
    let mut seen = Vec::new();
    let mut req = PageRequest::first(1000); // lowered to 200
    let mut pages = Vec::new();
    loop {
        let page = store.list_scans(&ScanFilter::default(), req).expect("list");
        pages.push(page.items.len());
        seen.extend(page.items.iter().map(|s| s.id));
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, vec![200, 200, 50]);
    let mut want = ids.clone();
    want.reverse();
    assert_eq!(seen, want);
    assert_eq!(
        store.count_scans(&ScanFilter::default()).expect("count"),
        450
    );
    // An exact multiple of the page size ends without an empty extra page.
    let p = store
        .list_scans(
            &ScanFilter::default(),
            PageRequest {
                limit: 50,
                cursor: Some(ids[50]),
            },
        )
        .expect("list");
    assert_eq!(p.items.len(), 50);
    assert_eq!(p.next_cursor, None);
    assert!(matches!(
        store.list_scans(&ScanFilter::default(), PageRequest::first(0)),
        Err(StoreError::Invalid { .. })
    ));
}

#[test]
fn scan_filters_combine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    insert_many(&store, 300);
    let count = |f: ScanFilter| store.count_scans(&f).expect("count");
    let fail = ScanFilter {
        verdict: Some(Verdict::Fail),
        ..ScanFilter::default()
    };
    assert_eq!(count(fail.clone()), 100);
    let page = store
        .list_scans(&fail, PageRequest::first(10))
        .expect("list");
    assert!(page.items.iter().all(|s| s.verdict == Verdict::Fail));
    assert_eq!(page.items[0].name, "registry.local/team/app-297:1.297");

    // Case-insensitive substring on the name.
    assert_eq!(
        count(ScanFilter {
            text: Some("APP-12".to_owned()),
            ..ScanFilter::default()
        }),
        11 // app-12, app-120..=129
    );
    // ... and on the image digest.
    assert_eq!(
        count(ScanFilter {
            text: Some("cdcdcd".to_owned()),
            ..ScanFilter::default()
        }),
        60
    );
    // LIKE wildcards typed by a user are literal.
    assert_eq!(
        count(ScanFilter {
            text: Some("app_1%".to_owned()),
            ..ScanFilter::default()
        }),
        0
    );
    // Half-open time window [since, until).
    let window = ScanFilter {
        since: Some(T0 + time::Duration::minutes(100)),
        until: Some(T0 + time::Duration::minutes(110)),
        ..ScanFilter::default()
    };
    assert_eq!(count(window.clone()), 10);
    assert_eq!(
        count(ScanFilter {
            verdict: Some(Verdict::Fail),
            subject: Some("ci-even".to_owned()),
            ..window
        }),
        2 // 102 and 108
    );
    assert!(matches!(
        store.count_scans(&ScanFilter {
            text: Some("x".repeat(201)),
            ..ScanFilter::default()
        }),
        Err(StoreError::Invalid { .. })
    ));
}

#[test]
fn retention_deletes_old_scans_with_their_details() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let ids = insert_many(&store, 100);
    let cutoff = T0 + time::Duration::minutes(40);
    assert_eq!(store.delete_scans_before(cutoff).expect("retention"), 40);
    assert_eq!(
        store.count_scans(&ScanFilter::default()).expect("count"),
        60
    );
    assert_eq!(store.get_scan(&ids[39]).expect("get"), None);
    assert!(store.get_scan(&ids[40]).expect("get").is_some());
    assert_eq!(store.delete_scans_before(cutoff).expect("retention"), 0);
}

#[test]
fn scans_with_bad_fields_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut s = scan(1, T0);
    s.findings_json = "[{".to_owned();
    assert!(matches!(
        store.insert_scan(&s),
        Err(StoreError::Invalid { .. })
    ));
    let mut s = scan(1, T0);
    s.subject = String::new();
    assert!(matches!(
        store.insert_scan(&s),
        Err(StoreError::Invalid { .. })
    ));
    let mut s = scan(1, T0);
    s.name = "n".repeat(5000);
    assert!(matches!(
        store.insert_scan(&s),
        Err(StoreError::TooLarge { .. })
    ));
    assert_eq!(store.count_scans(&ScanFilter::default()).expect("count"), 0);
}

// ---------------------------------------------------------------- operators & sessions

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

#[test]
fn operator_passwords_verify_and_refuse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store
        .create_operator("alice", "correct horse battery", NOW)
        .expect("create");
    assert!(
        store
            .verify_operator_password("alice", "correct horse battery")
            .expect("verify")
    );
    assert!(
        !store
            .verify_operator_password("alice", "correct horse batterY")
            .expect("verify")
    );
    assert!(!store.verify_operator_password("alice", "").expect("verify"));
    assert!(
        !store
            .verify_operator_password("mallory", "correct horse battery")
            .expect("verify")
    );
    assert!(
        !store
            .verify_operator_password("Not Valid/", "x")
            .expect("verify")
    );
    assert!(matches!(
        store.create_operator("alice", "another long password", NOW),
        Err(StoreError::OperatorExists { .. })
    ));
    assert!(matches!(
        store.create_operator("bob", "short", NOW),
        Err(StoreError::Invalid {
            what: "password",
            ..
        })
    ));
    assert!(matches!(
        store.create_operator("Bob", "long enough password", NOW),
        Err(StoreError::Invalid {
            what: "user name",
            ..
        })
    ));
    // Stored as an argon2id PHC string, never the password.
    let conn = rusqlite::Connection::open(dir.path().join("state.sqlite")).expect("sqlite");
    let phc: String = conn
        .query_row(
            "SELECT password_hash FROM operators WHERE username = 'alice'",
            [],
            |r| r.get(0),
        )
        .expect("row");
    assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
    assert!(!phc.contains("horse"));

    store
        .set_operator_password("alice", "a brand new passphrase")
        .expect("set");
    assert!(
        !store
            .verify_operator_password("alice", "correct horse battery")
            .expect("verify")
    );
    assert!(
        store
            .verify_operator_password("alice", "a brand new passphrase")
            .expect("verify")
    );
}

#[test]
fn login_backoff_grows_with_failures_and_clears_on_success() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut now = NOW;
    let mut waits = Vec::new();
    for n in 1..=8u32 {
        assert_eq!(store.record_login_failure("alice", now).expect("record"), n);
        waits.push(store.login_backoff("alice", now).expect("backoff"));
        now += time::Duration::milliseconds(10);
    }
    let secs = |s: u64| Some(Duration::from_secs(s));
    assert_eq!(
        waits,
        vec![
            None,
            None,
            secs(1),
            secs(2),
            secs(4),
            secs(8),
            secs(16),
            secs(32)
        ]
    );
    // The wait counts down from the last failure.
    let later = now - time::Duration::milliseconds(10) + time::Duration::seconds(30);
    assert_eq!(
        store.login_backoff("alice", later).expect("backoff"),
        secs(2)
    );
    assert_eq!(
        store
            .login_backoff("alice", later + time::Duration::seconds(2))
            .expect("backoff"),
        None
    );
    // Other users are unaffected; success clears.
    assert_eq!(store.login_backoff("bob", now).expect("backoff"), None);
    store.record_login_success("alice").expect("success");
    assert_eq!(store.login_backoff("alice", now).expect("backoff"), None);
    assert_eq!(store.record_login_failure("alice", now).expect("record"), 1);
}

#[test]
fn sessions_expire_and_are_stored_hashed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store
        .create_operator("alice", "correct horse battery", NOW)
        .expect("create");
    let ttl = Duration::from_secs(3600);
    let s = store.create_session("alice", ttl, NOW).expect("session");
    assert_eq!(s.token.len(), 64);
    assert_eq!(s.session.csrf_secret.len(), 64);
    assert_ne!(s.token, s.session.csrf_secret);
    assert_eq!(s.session.expires_at, NOW + time::Duration::hours(1));
    assert!(
        !format!("{s:?}").contains(&s.token),
        "token leaks via Debug"
    );

    let got = store
        .get_session(&s.token, NOW)
        .expect("get")
        .expect("live");
    assert_eq!(got, s.session);
    let almost = NOW + time::Duration::seconds(3599);
    assert!(store.get_session(&s.token, almost).expect("get").is_some());
    let expired = NOW + time::Duration::hours(1);
    assert_eq!(store.get_session(&s.token, expired).expect("get"), None);
    assert_eq!(store.get_session("zz", NOW).expect("get"), None);
    assert_eq!(store.get_session(&"0".repeat(64), NOW).expect("get"), None);

    // The database holds only the token's hash.
    let raw = std::fs::read(dir.path().join("state.sqlite")).expect("read db");
    let wal = std::fs::read(dir.path().join("state.sqlite-wal")).unwrap_or_default();
    let token_raw = hex_decode(&s.token);
    for hay in [&raw, &wal] {
        assert!(!hay.windows(32).any(|w| w == token_raw.as_slice()));
        assert!(!hay.windows(64).any(|w| w == s.token.as_bytes()));
    }

    let s2 = store.create_session("alice", ttl, NOW).expect("session");
    let s3 = store
        .create_session("alice", Duration::from_secs(60), NOW)
        .expect("session");
    assert!(store.delete_session(&s2.token).expect("delete"));
    assert!(!store.delete_session(&s2.token).expect("delete again"));
    assert_eq!(
        store
            .delete_expired_sessions(NOW + time::Duration::minutes(5))
            .expect("cleanup"),
        1
    );
    assert_eq!(
        store.get_session(&s3.token, NOW).expect("get"),
        None,
        "cleaned up"
    );
    assert!(store.get_session(&s.token, NOW).expect("get").is_some());
    // A password change ends existing sessions.
    store
        .set_operator_password("alice", "a brand new passphrase")
        .expect("set");
    assert_eq!(store.get_session(&s.token, NOW).expect("get"), None);

    assert!(matches!(
        store.create_session("nobody", ttl, NOW),
        Err(StoreError::UnknownOperator { .. })
    ));
    assert!(matches!(
        store.create_session("alice", Duration::ZERO, NOW),
        Err(StoreError::Invalid { .. })
    ));
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

// ---------------------------------------------------------------- policies

#[test]
fn policy_versions_are_kept_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    assert_eq!(store.current_policy().expect("current"), None);
    for (i, yaml) in [
        "fail_on: critical\n",
        "fail_on: high\n",
        "fail_on: high\nmute: []\n",
    ]
    .iter()
    .enumerate()
    {
        let v = store
            .put_policy(
                &NewPolicy {
                    yaml: (*yaml).to_owned(),
                    author: "alice".to_owned(),
                    comment: format!("change {i}"),
                },
                NOW + time::Duration::minutes(i as i64),
            )
            .expect("put");
        assert_eq!(v.version, i as u64 + 1);
        assert_eq!(v.sha256, Sha256Digest::of(yaml.as_bytes()));
    }
    let cur = store.current_policy().expect("current").expect("some");
    assert_eq!(cur.version, 3);
    assert_eq!(cur.yaml, "fail_on: high\nmute: []\n");
    assert_eq!(cur.created_at, NOW + time::Duration::minutes(2));
    let hist = store.policy_history(10).expect("history");
    assert_eq!(
        hist.iter().map(|p| p.version).collect::<Vec<_>>(),
        vec![3, 2, 1]
    );
    assert_eq!(
        store.get_policy(1).expect("get").expect("v1").comment,
        "change 0"
    );
    assert_eq!(store.get_policy(9).expect("get"), None);
    assert!(matches!(
        store.put_policy(
            &NewPolicy {
                yaml: "x".repeat(appliance::store::MAX_POLICY_BYTES + 1),
                author: "alice".to_owned(),
                comment: String::new(),
            },
            NOW
        ),
        Err(StoreError::TooLarge { .. })
    ));
}

// ---------------------------------------------------------------- init, files, corruption

#[test]
fn init_creates_admin_once_and_writes_a_private_password_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // Default (production) argon2 cost here: the one test that proves it works.
    let report = appliance::store::init(&data, StoreOptions::default(), NOW).expect("init");
    assert_eq!(report.username, "admin");
    assert_eq!(report.admin_password.len(), 32);
    assert!(!format!("{report:?}").contains(&report.admin_password));
    assert!(
        report
            .store
            .verify_operator_password("admin", &report.admin_password)
            .expect("verify")
    );
    appliance::store::write_operator_password_file(&data, &report.admin_password)
        .expect("write password file");
    let path = data.join(appliance::store::OPERATOR_PASSWORD_FILE);
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        format!("{}\n", report.admin_password)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(matches!(
        appliance::store::write_operator_password_file(&data, "other"),
        Err(StoreError::Io { .. })
    ));
    drop(report);
    assert!(matches!(
        appliance::store::init(&data, StoreOptions::default(), NOW),
        Err(StoreError::AlreadyInitialized { .. })
    ));
    assert!(data.join("sled").is_dir());
    assert!(data.join("blobs/sha256").is_dir());
}

#[test]
fn a_corrupt_database_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("state.sqlite"), vec![0x5a; 8192]).expect("write");
    match EmbeddedStore::open(dir.path(), fast_options()) {
        Err(StoreError::Sqlite { source, .. }) => {
            assert!(source.to_string().contains("not a database"), "{source}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("garbage opened as a database"),
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(open(dir.path()));
    let conn = rusqlite::Connection::open(dir.path().join("state.sqlite")).expect("sqlite");
    conn.execute_batch("PRAGMA user_version = 99")
        .expect("bump");
    drop(conn);
    assert!(matches!(
        EmbeddedStore::open(dir.path(), fast_options()),
        Err(StoreError::SchemaTooNew {
            found: 99,
            supported: 3
        })
    ));
}

#[test]
fn a_corrupt_quota_counter_is_reported_not_reset() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(open(dir.path()));
    {
        let db = sled::open(dir.path().join("sled")).expect("sled");
        let t = db.open_tree("counters").expect("tree");
        t.insert("quota/ci/2026-11-22", &b"xyz"[..])
            .expect("insert");
        db.flush().expect("flush");
    }
    let store = open(dir.path());
    assert!(matches!(
        store.quota_try_consume(&key("ci"), date!(2026 - 11 - 22), 333),
        Err(StoreError::CorruptRecord { .. })
    ));
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = open(dir.path());
    assert!(matches!(
        EmbeddedStore::open(dir.path(), fast_options()),
        Err(StoreError::Sled { .. })
    ));
}

#[test]
fn the_store_is_usable_as_a_trait_object() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(open(dir.path()));
    let d = store
        .quota_try_consume(&key("dyn"), date!(2026 - 11 - 22), 333)
        .expect("consume");
    assert!(d.allowed);
    store.flush().expect("flush");
}

// ---------------------------------------------------------------- revocations

#[test]
fn revocations_survive_reopen_and_lift_once() {
    use appliance::store::{Revocation, RevocationKind};
    let dir = tempfile::tempdir().expect("tmp");
    let rev = |kind, id: &str, minute: i64| Revocation {
        kind,
        id: id.into(),
        actor: "admin".into(),
        reason: format!("test {id}"),
        created_at: NOW + time::Duration::minutes(minute),
    };
    {
        let s = open(dir.path());
        // written out of time order: the list is oldest first, not insertion order
        assert!(
            s.revoke(&rev(RevocationKind::Token, "jti-1", 2))
                .expect("revoke")
        );
        assert!(
            s.revoke(&rev(RevocationKind::Client, "ci-a", 1))
                .expect("revoke")
        );
        assert!(
            !s.revoke(&rev(RevocationKind::Client, "ci-a", 5))
                .expect("revoke"),
            "a second revocation of the same client is not new"
        );
        // the same id under the other kind is a different revocation
        assert!(
            s.revoke(&rev(RevocationKind::Token, "ci-a", 3))
                .expect("revoke")
        );
    }
    let s = open(dir.path());
    let got: Vec<(RevocationKind, String, String)> = s
        .revocations()
        .expect("list")
        .into_iter()
        .map(|r| (r.kind, r.id, r.reason))
        .collect();
    assert_eq!(
        got,
        [
            (RevocationKind::Client, "ci-a".into(), "test ci-a".into()),
            (RevocationKind::Token, "jti-1".into(), "test jti-1".into()),
            (RevocationKind::Token, "ci-a".into(), "test ci-a".into()),
        ]
    );
    assert!(
        s.lift_revocation(RevocationKind::Client, "ci-a")
            .expect("lift")
    );
    assert!(
        !s.lift_revocation(RevocationKind::Client, "ci-a")
            .expect("lift")
    );
    drop(s);
    let s = open(dir.path());
    let ids: Vec<String> = s
        .revocations()
        .expect("list")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["jti-1", "ci-a"]);
}
