//! Server-side render time of the web console over a large store (docs/PERFORMANCE.md,
//! "Console"; issue 8's target: dashboard and a 1,000-finding scan detail in ≤ 10 ms p95
//! with 10,000 stored scans).
//!
//! ```text
//! cargo run --release -p appliance --example console_bench -- [SCANS] [REQUESTS]
//! ```
//!
//! Builds a throw-away data dir: a signed kit (sample npm + PyPI feeds, sequence 2) imported
//! through the real importer, then `SCANS` (default 10,000) scans inserted through the
//! [`Store`] trait — 250 projects, SBOMs stored as blobs, realistic findings JSON and a
//! DSSE envelope signed with the appliance key on every scan, the older 70 % under kit 1 and
//! the newest 30 % under kit 2, about a fifth with criticals — the newest of them with
//! 1,000 findings. Then it opens the state as `serve` does, creates an operator session and
//! sends `REQUESTS` (default 300) `GET /` and `GET /scans/{id}` each through the real
//! router with `tower::ServiceExt::oneshot`, timing request → full body, and prints
//! p50/p95/p99.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use appliance::evidence::{
    ApplianceFacts, BySeverity, KitFacts, PolicyFacts, ScanPredicate, Statement, Summary,
};
use appliance::server::{AppState, Config};
use appliance::store::{
    Durability, EmbeddedStore, KitRef, NewScan, ScanId, SeverityCounts, Store, StoreOptions,
    Verdict,
};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bundles::manifest::{FeedSummary, Producer, Summary as KitSummary};
use bundles::model::{Finding, FindingPackage, Severity, findings_digest};
use bundles::path::media_types;
use bundles::tokens::{ClientToken, ClientTokens, Revocations};
use bundles::{EntryPath, KitInfo, KitWriter, MediaType, Timestamp};
use importer::datadir::{DataDir, InitOptions};
use signing::minisign::{self, SignOptions};
use signing::{KeyId, KeyPair, jwt};
use time::OffsetDateTime;
use tower::ServiceExt as _;

/// Distinct project names the scans are spread over.
const PROJECTS: usize = 250;
/// Findings of the big scan.
const BIG_FINDINGS: usize = 1_000;

fn advisories(eco: &str) -> anyhow::Result<(Vec<u8>, u64)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/feeds/osv")
        .join(eco);
    let mut advs = Vec::new();
    for e in std::fs::read_dir(&root)? {
        let bytes = std::fs::read(e?.path())?;
        advs.push(bundles::model::Advisory::from_osv_json(&bytes)?);
    }
    advs.sort_by(|a, b| a.id().as_str().cmp(b.id().as_str()));
    let mut out = Vec::new();
    bundles::model::write_jsonl(&mut out, advs.iter())?;
    Ok((out, advs.len() as u64))
}

/// A data dir with kit #2 active (the scans below name kit #1 as the previous one).
fn setup(dir: &Path, now: OffsetDateTime) -> anyhow::Result<std::path::PathBuf> {
    let vendor = KeyPair::from_seed(KeyId([0x11; 8]), &[7; 32]);
    let data = dir.join("data");
    DataDir::init(
        &data,
        &InitOptions {
            trust: vec![vendor.public()],
            threshold: 1,
            site: None,
            now: now - time::Duration::days(1),
        },
    )?;
    drop(appliance::store::init(&data, StoreOptions::default(), now)?);
    let created = now - time::Duration::hours(6);
    let mut w = KitWriter::new(KitInfo {
        kit_id: "bench-0002".into(),
        sequence: 2,
        created_at: Timestamp::new(created)?,
        expires_at: Timestamp::new(created + time::Duration::days(30))?,
        site: None,
        producer: Producer {
            name: "console-bench".into(),
            version: "1".into(),
        },
        summary: KitSummary::default(),
    });
    let mut counts = BTreeMap::new();
    for eco in ["PyPI", "npm"] {
        let (bytes, n) = advisories(eco)?;
        w.add_bytes(
            EntryPath::new(format!("advisories/{eco}.jsonl"))?,
            MediaType::new(media_types::ADVISORIES_JSONL)?,
            bytes,
        )?;
        counts.insert(eco.to_owned(), n);
    }
    let mut clients = Vec::new();
    for (i, days) in [30, 30, 5, 30].into_iter().enumerate() {
        let id = format!("ci-team-{i}");
        let claims = jwt::Claims {
            iss: Some("stella-kit:bench".into()),
            sub: id.clone(),
            aud: None,
            exp: (created + time::Duration::days(days)).unix_timestamp(),
            nbf: Some(created.unix_timestamp()),
            iat: Some(created.unix_timestamp()),
            jti: Some(format!("jti-{id}")),
            tier: Some("Free".into()),
            max_scans_per_day: Some(333),
            extra: BTreeMap::new(),
        };
        clients.push(ClientToken {
            id,
            token: jwt::issue(&claims, &vendor)?,
        });
    }
    w.add_bytes(
        EntryPath::new(bundles::tokens::CLIENTS_PATH)?,
        MediaType::new(media_types::CLIENT_TOKENS)?,
        serde_json::to_vec(&ClientTokens { clients })?,
    )?;
    w.add_bytes(
        EntryPath::new(bundles::tokens::REVOKED_PATH)?,
        MediaType::new(media_types::REVOKED_TOKENS)?,
        serde_json::to_vec(&Revocations::default())?,
    )?;
    w.set_summary(KitSummary {
        feeds: BTreeMap::from([(
            "osv".to_owned(),
            FeedSummary {
                counts,
                updated_at: Some(Timestamp::new(created)?),
                next_update: None,
                source: Some("samples/feeds/osv".into()),
            },
        )]),
    });
    let (_, bytes) = w.write(Vec::new(), &[&vendor])?;
    let kit = dir.join("kit.ouk");
    std::fs::write(&kit, bytes)?;
    let sig = minisign::sign_file(
        &vendor,
        &kit,
        &SignOptions {
            trusted_comment: None,
            untrusted_comment: None,
            timestamp: created.unix_timestamp(),
            file_name: Some("kit.ouk"),
        },
    )?;
    std::fs::write(dir.join("kit.ouk.minisig"), sig.as_str())?;
    let dd = DataDir::open(&data)?;
    importer::Importer::new(&dd).clock(now).import(&kit)?;
    Ok(data)
}

fn severity_of(k: usize) -> Severity {
    match k % 10 {
        0 => Severity::Critical,
        1 | 2 => Severity::High,
        3..=6 => Severity::Medium,
        7 | 8 => Severity::Low,
        _ => Severity::Unknown,
    }
}

/// `n` findings shaped like the engine's (ids, aliases, purls, fixes, summaries, refs).
fn findings(n: usize, seed: usize, critical: bool) -> Vec<Finding> {
    (0..n)
        .map(|k| {
            let pkg = format!("lib-{}-{}", seed % 97, k);
            let version = format!("{}.{}.{}", k % 7, k % 13, k % 5);
            let sev = if critical && k == 0 {
                Severity::Critical
            } else {
                severity_of(k + seed)
            };
            let ghsa = format!("GHSA-{:04x}-{:04x}-bench", seed % 65536, k);
            Finding {
                id: format!("CVE-2025-{:05}", (seed * 31 + k) % 100_000),
                aliases: vec![ghsa.clone()],
                package: FindingPackage {
                    name: pkg.clone(),
                    version: version.clone(),
                    purl: Some(format!("pkg:npm/{pkg}@{version}")),
                    ecosystem: "npm".into(),
                },
                fixed_versions: if k % 3 == 0 {
                    Vec::new()
                } else {
                    vec![format!("{}.{}.{}", k % 7, k % 13, k % 5 + 1)]
                },
                severity: sev,
                cvss: None,
                summary: Some(format!(
                    "Prototype pollution in {pkg} allows attackers to modify object properties via crafted input"
                )),
                references: vec![
                    format!("https://github.com/advisories/{ghsa}"),
                    format!("https://nvd.nist.gov/vuln/detail/CVE-2025-{k:05}"),
                ],
                layer: (k % 4 == 0).then(|| format!("sha256:{:064x}", k % 5)),
                path: None,
                muted: false,
                mute_reason: None,
                undecided: false,
            }
        })
        .collect()
}

fn sbom_for(name: &str, components: usize) -> String {
    let comps: Vec<String> = (0..components)
        .map(|i| {
            format!(
                r#"{{"type":"library","name":"lib-{i}","version":"1.{i}.0","purl":"pkg:npm/lib-{i}@1.{i}.0"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"metadata":{{"component":{{"type":"application","name":"{name}"}}}},"components":[{}]}}"#,
        comps.join(",")
    )
}

/// Inserts `total` scans through the [`Store`] trait; returns the id of the big one
/// (the newest scan, so the dashboard's recent list and new-criticals tile include it).
fn fill(data: &Path, total: usize, now: OffsetDateTime) -> anyhow::Result<ScanId> {
    // Relaxed fsync only for loading the fixture quickly; the measured service below
    // opens the store with the default (strict) options.
    let store = EmbeddedStore::open(
        data,
        StoreOptions {
            durability: Durability::Relaxed,
            ..StoreOptions::default()
        },
    )?;
    let dd = DataDir::open(data)?;
    let key = dd.appliance_key()?;
    let public = key.public();
    let appliance_id = importer::datadir::appliance_id_for(&public);
    let policy_digest = appliance::store::Sha256Digest::of(b"fail_on: high\n");
    let sboms: Vec<_> = (0..PROJECTS)
        .map(|p| {
            let name = format!("project-{p:03}/service");
            let sbom = sbom_for(&name, 40 + p % 60);
            store.put_sbom(sbom.as_bytes()).map(|d| (name, d))
        })
        .collect::<Result<_, _>>()?;
    let start = now - time::Duration::days(30);
    let step = time::Duration::days(30) / i32::try_from(total.max(1))?;
    let mut big = None;
    for i in 0..total {
        let (name, sbom) = &sboms[(i * 7) % PROJECTS];
        let last = i + 1 == total;
        let created = start + step * i32::try_from(i)?;
        let new_kit = i * 10 >= total * 7;
        let has_critical = last || i % 5 == 0;
        let n = if last { BIG_FINDINGS } else { i % 23 };
        let fs = findings(n, i, has_critical);
        let mut by = BySeverity::default();
        for f in &fs {
            match f.severity {
                Severity::Critical => by.critical += 1,
                Severity::High => by.high += 1,
                Severity::Medium => by.medium += 1,
                Severity::Low => by.low += 1,
                _ => by.unknown += 1,
            }
        }
        let verdict = if by.critical + by.high > 0 {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        let fdigest = findings_digest(&fs);
        let kit = if new_kit {
            ("bench-0002", 2)
        } else {
            ("bench-0001", 1)
        };
        let ts = created
            .format(&time::format_description::well_known::Rfc3339)
            .context("rfc3339")?;
        let predicate = ScanPredicate {
            verdict: verdict.as_str().to_owned(),
            summary: Summary {
                components: u32::try_from(40 + n)?,
                findings: u32::try_from(n)?,
                muted: 0,
                by_severity: by,
                fail_on: "high".into(),
                stale_feed: false,
                undecided: 0,
                undecided_ignored: false,
            },
            findings_digest: fdigest.clone(),
            warnings: Vec::new(),
            policy: PolicyFacts {
                version: 1,
                sha256: policy_digest.hex(),
            },
            kit: KitFacts {
                id: kit.0.into(),
                sequence: kit.1,
                manifest_sha256: "0".repeat(64),
                created_at: ts.clone(),
            },
            appliance: ApplianceFacts {
                id: appliance_id.clone(),
                key_id: public.id().to_string(),
            },
            engine_version: "bench".into(),
            sbom_format: "cyclonedx-1.5".into(),
            requested_by: format!("ci-team-{}", i % 4),
            scanned_at: ts.clone(),
            signed_at: ts,
        };
        let envelope = Statement::new(name, &sbom.hex(), None, predicate).sign(&key)?;
        let id = store.insert_scan(&NewScan {
            created_at: created,
            subject: format!("ci-team-{}", i % 4),
            sbom_sha256: *sbom,
            name: name.clone(),
            image_digest: (i % 3 == 0).then(|| format!("sha256:{:064x}", i)),
            format: "cyclonedx-1.5".into(),
            verdict,
            summary: SeverityCounts {
                critical: by.critical,
                high: by.high,
                medium: by.medium,
                low: by.low,
                unknown: by.unknown,
            },
            findings_json: serde_json::to_string(&fs)?,
            findings_digest: fdigest.parse()?,
            policy_digest,
            kit: Some(KitRef {
                id: kit.0.into(),
                sequence: kit.1,
            }),
            evidence_json: Some(envelope),
            duration: Duration::from_millis(3 + (i % 40) as u64),
        })?;
        if last {
            big = Some(id);
        }
    }
    store.flush()?;
    big.context("no scans inserted")
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

async fn measure(
    router: &axum::Router,
    uri: &str,
    cookie: &str,
    requests: usize,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut times = Vec::with_capacity(requests);
    let mut size = 0;
    // Warm-up: page cache, SQLite statement cache, the console's kit cache.
    for i in 0..requests + 20 {
        let req = Request::builder()
            .uri(uri)
            .header(header::COOKIE, cookie)
            .body(Body::empty())?;
        let t = Instant::now();
        let resp = router.clone().oneshot(req).await?;
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
        let d = t.elapsed();
        anyhow::ensure!(status == StatusCode::OK, "{uri}: HTTP {status}");
        size = body.len();
        if i >= 20 {
            times.push(d);
        }
    }
    times.sort();
    Ok((times, size))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let requests: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(300);
    let dir = tempfile::tempdir()?;
    let now = OffsetDateTime::now_utc();
    let t = Instant::now();
    let data = setup(dir.path(), now)?;
    let big = fill(&data, total, now)?;
    eprintln!(
        "fixture: {total} scans (newest {big} with {BIG_FINDINGS} findings) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let state = AppState::open(&data, Config::default())?;
    let session = state
        .store
        .create_session("admin", Duration::from_secs(3600), now)?;
    let cookie = format!("stella_session={}", session.token);
    let router = appliance::server::router(state.clone());
    println!(
        "console render, {total} stored scans, {requests} requests each (request → full body)"
    );
    println!("| page | p50 ms | p95 ms | p99 ms | max ms | body bytes |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (label, uri) in [
        ("GET / (dashboard)".to_owned(), "/".to_owned()),
        (
            format!("GET /scans/{{id}} ({BIG_FINDINGS} findings)"),
            format!("/scans/{big}"),
        ),
        ("GET /scans (first page)".to_owned(), "/scans".to_owned()),
    ] {
        let (times, size) = measure(&router, &uri, &cookie, requests).await?;
        println!(
            "| {label} | {:.2} | {:.2} | {:.2} | {:.2} | {size} |",
            pct(&times, 0.50),
            pct(&times, 0.95),
            pct(&times, 0.99),
            pct(&times, 1.0),
        );
    }
    // Where the time goes: the console's data gathering alone (store queries, JSON
    // parsing, policy evaluation), without routing, session check or HTML rendering.
    let console = appliance::console::ApplianceConsole::new(state.clone());
    let big_id = big.to_string();
    for (label, f) in [
        (
            "Console::dashboard()",
            Box::new(|| web::Console::dashboard(&console).map(drop))
                as Box<dyn Fn() -> Result<(), web::ConsoleError>>,
        ),
        (
            "Console::scan(big)",
            Box::new(|| web::Console::scan(&console, &big_id).map(drop)),
        ),
    ] {
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            f().map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "| {label} (data only) | {:.2} | {:.2} | {:.2} | {:.2} | |",
            pct(&times, 0.50),
            pct(&times, 0.95),
            pct(&times, 0.99),
            pct(&times, 1.0),
        );
    }
    Ok(())
}
