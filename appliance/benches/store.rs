//! Store hot paths: `quota_try_consume` (both durability modes), `layers_missing(100)`,
//! and a filtered `list_scans` over 10,000 scans. Figures: docs/PERFORMANCE.md
//! ("Appliance store"). Run: `cargo bench -p appliance --bench store`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use appliance::store::{
    Durability, EmbeddedStore, NewScan, PageRequest, QuotaKey, ScanFilter, SeverityCounts,
    Sha256Digest, Store, StoreOptions, Verdict,
};
use criterion::{Criterion, criterion_group, criterion_main};
use time::macros::{date, datetime};

fn open(dir: &std::path::Path, durability: Durability) -> EmbeddedStore {
    EmbeddedStore::open(
        dir,
        StoreOptions {
            durability,
            ..StoreOptions::default()
        },
    )
    .expect("open store")
}

fn quota(c: &mut Criterion) {
    for (name, durability) in [
        ("strict", Durability::Strict),
        ("relaxed", Durability::Relaxed),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path(), durability);
        let key = QuotaKey::new("bench").expect("key");
        // A limit never reached, so every iteration is an allowed increment (the write path).
        c.bench_function(&format!("quota_try_consume/{name}"), |b| {
            b.iter(|| {
                store
                    .quota_try_consume(black_box(&key), date!(2026 - 11 - 22), u32::MAX)
                    .expect("consume")
            })
        });
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), Durability::Strict);
    let key = QuotaKey::new("bench-exhausted").expect("key");
    store
        .quota_try_consume(&key, date!(2026 - 11 - 22), 1)
        .expect("consume");
    c.bench_function("quota_try_consume/refused", |b| {
        b.iter(|| {
            store
                .quota_try_consume(black_box(&key), date!(2026 - 11 - 22), 1)
                .expect("consume")
        })
    });
}

fn layers(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), Durability::Strict);
    // 100,000 known layers; the query asks about 100, half of them known.
    let known: Vec<Sha256Digest> = (0..100_000u32)
        .map(|i| Sha256Digest::of(&i.to_le_bytes()))
        .collect();
    for chunk in known.chunks(4096) {
        store.layers_register(chunk).expect("register");
    }
    let query: Vec<Sha256Digest> = (0..100u32)
        .map(|i| {
            if i.is_multiple_of(2) {
                known[(i as usize) * 997]
            } else {
                Sha256Digest::of(format!("unknown-{i}").as_bytes())
            }
        })
        .collect();
    c.bench_function("layers_missing/100", |b| {
        b.iter(|| store.layers_missing(black_box(&query)).expect("missing"))
    });
}

fn scans(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), Durability::Relaxed);
    let t0 = datetime!(2026-11-01 0:00 UTC);
    for i in 0..10_000u32 {
        let verdict = if i.is_multiple_of(3) {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        store
            .insert_scan(&NewScan {
                created_at: t0 + time::Duration::seconds(i64::from(i) * 30),
                subject: format!("ci-{}", i % 7),
                sbom_sha256: Sha256Digest::of(&i.to_le_bytes()),
                name: format!("registry.local/team-{}/app-{i}:1.0", i % 13),
                image_digest: None,
                format: "cyclonedx-1.5".to_owned(),
                verdict,
                summary: SeverityCounts::default(),
                findings_json: format!(r#"[{{"id":"CVE-2026-{i}","severity":"low"}}]"#).repeat(1),
                findings_digest: Sha256Digest::of(b"f"),
                policy_digest: Sha256Digest::of(b"p"),
                kit: None,
                evidence_json: None,
                duration: Duration::from_millis(3),
            })
            .expect("insert");
    }
    c.bench_function("list_scans/10k/first_page_50", |b| {
        b.iter(|| {
            store
                .list_scans(&ScanFilter::default(), PageRequest::first(50))
                .expect("list")
        })
    });
    let filter = ScanFilter {
        text: Some("team-7/".to_owned()),
        verdict: Some(Verdict::Fail),
        ..ScanFilter::default()
    };
    c.bench_function("list_scans/10k/text+verdict_page_50", |b| {
        b.iter(|| {
            store
                .list_scans(black_box(&filter), PageRequest::first(50))
                .expect("list")
        })
    });
    c.bench_function("count_scans/10k/text+verdict", |b| {
        b.iter(|| store.count_scans(black_box(&filter)).expect("count"))
    });
    let strict_dir = tempfile::tempdir().expect("tempdir");
    let strict = open(strict_dir.path(), Durability::Strict);
    let mut i = 0u64;
    c.bench_function("insert_scan/strict", |b| {
        b.iter(|| {
            i += 1;
            strict
                .insert_scan(&NewScan {
                    created_at: t0,
                    subject: "ci".to_owned(),
                    sbom_sha256: Sha256Digest::of(&i.to_le_bytes()),
                    name: "app".to_owned(),
                    image_digest: None,
                    format: "cyclonedx-1.5".to_owned(),
                    verdict: Verdict::Pass,
                    summary: SeverityCounts::default(),
                    findings_json: "[]".to_owned(),
                    findings_digest: Sha256Digest::of(b"f"),
                    policy_digest: Sha256Digest::of(b"p"),
                    kit: None,
                    evidence_json: None,
                    duration: Duration::from_millis(3),
                })
                .expect("insert")
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(3));
    targets = quota, layers, scans
}
criterion_main!(benches);
