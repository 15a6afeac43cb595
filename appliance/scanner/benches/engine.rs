//! Scan engine benchmarks (figures in docs/PERFORMANCE.md, "Scan engine").
//!
//! - `engine/scan_2000_components_100k_advisories`: a synthetic 2,000-component SBOM
//!   (already parsed) against a synthetic 100,000-advisory index.
//! - `engine/parse_and_scan_demo`: `samples/sboms/demo-cyclonedx.json` parsed and scanned
//!   against the sample feed plus the 100k synthetic advisories.
//! - `index/from_jsonl_dir_300k`: loading a 300,000-advisory kit directory (canonical
//!   JSONL, as the importer writes it) into an [`AdvisoryIndex`].
//!
//! Synthetic data uses npm, Go and Debian:12 (SemVer and dpkg orderings) with realistic
//! record sizes (500-byte details, a CVSS vector, two references).
// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use bundles::model::{Advisory, write_jsonl};
use criterion::{Criterion, criterion_group, criterion_main};
use scanner::engine::Engine;
use scanner::index::{AdvisoryIndex, IndexLimits};
use scanner::sbom::{SbomLimits, parse};

const ECOS: [(&str, &str); 3] = [("npm", "npm"), ("Go", "golang"), ("Debian:12", "deb")];

fn package_name(i: usize) -> String {
    format!("pkg-{i}")
}

/// Advisory `i` names package `i % packages` so that popular packages have several records.
fn synthetic_advisory(i: usize, packages: usize) -> Advisory {
    let p = i % packages;
    let (eco, _) = ECOS[p % ECOS.len()];
    let (introduced, fixed) = if eco.starts_with("Debian") {
        (
            format!("{}.0-1", i % 5),
            format!("{}.{}-1", i % 5 + 1, i % 7),
        )
    } else {
        (
            format!("{}.0.0", i % 5),
            format!("{}.{}.0", i % 5 + 1, i % 7),
        )
    };
    let range = if eco.starts_with("Debian") {
        "ECOSYSTEM"
    } else {
        "SEMVER"
    };
    let json = format!(
        r#"{{"id":"SYN-{i:07}","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2099-{i:07}"],
           "summary":"synthetic advisory {i}","details":"{details}",
           "severity":[{{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}],
           "references":[{{"type":"WEB","url":"https://example.invalid/{i}"}},{{"type":"ADVISORY","url":"https://example.invalid/a/{i}"}}],
           "affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},
             "ranges":[{{"type":"{range}","events":[{{"introduced":"{introduced}"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#,
        details = "x".repeat(500),
        name = package_name(p),
    );
    Advisory::from_osv_json(json.as_bytes()).expect("valid synthetic record")
}

fn synthetic_advisories(n: usize) -> Vec<Advisory> {
    // ~3 records per package on average, like real feeds' popular packages.
    (0..n).map(|i| synthetic_advisory(i, n / 3)).collect()
}

/// A CycloneDX document of `n` components; two in three name a package with advisories.
fn synthetic_sbom(n: usize, packages: usize) -> Vec<u8> {
    let comps: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let p = if i % 3 == 2 {
                packages + i
            } else {
                (i * 37) % packages
            };
            let (_, ty) = ECOS[p % ECOS.len()];
            let name = package_name(p);
            let (version, purl) = match ty {
                "deb" => {
                    let v = format!("{}.{}-1", i % 6, i % 9);
                    let purl = format!("pkg:deb/debian/{name}@{v}?distro=debian-12");
                    (v, purl)
                }
                "golang" => {
                    let v = format!("v{}.{}.0", i % 6, i % 9);
                    let purl = format!("pkg:golang/example.com/{name}@{v}");
                    (v, purl)
                }
                _ => {
                    let v = format!("{}.{}.0", i % 6, i % 9);
                    let purl = format!("pkg:npm/{name}@{v}");
                    (v, purl)
                }
            };
            serde_json::json!({"type":"library","name":name,"version":version,"purl":purl})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":comps
    }))
    .expect("json")
}

fn sample_feed() -> Vec<Advisory> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/feeds/osv");
    let mut out = Vec::new();
    for d in std::fs::read_dir(&root).expect("sample feed").flatten() {
        for f in std::fs::read_dir(d.path()).expect("dir").flatten() {
            let bytes = std::fs::read(f.path()).expect("read");
            out.push(Advisory::from_osv_json(&bytes).expect("valid sample"));
        }
    }
    out
}

fn bench_engine(c: &mut Criterion) {
    let advisories = synthetic_advisories(100_000);
    let packages = 100_000 / 3;
    let mut with_samples = advisories.clone();
    with_samples.extend(sample_feed());
    let index = Arc::new(AdvisoryIndex::from_advisories(with_samples));
    let engine = Engine::new(index);

    let sbom_bytes = synthetic_sbom(2_000, packages);
    let sbom = parse(&sbom_bytes, &SbomLimits::default()).expect("synthetic SBOM");
    let probe = engine.scan(&sbom);
    eprintln!(
        "synthetic: {} components, {} findings, {} warnings",
        probe.components,
        probe.findings.len(),
        probe.warnings.len()
    );
    let mut g = c.benchmark_group("engine");
    g.bench_function("scan_2000_components_100k_advisories", |b| {
        b.iter(|| black_box(engine.scan(black_box(&sbom))))
    });

    let demo = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/sboms/demo-cyclonedx.json"),
    )
    .expect("demo SBOM");
    g.bench_function("parse_and_scan_demo", |b| {
        b.iter(|| {
            let s = parse(black_box(&demo), &SbomLimits::default()).expect("demo parses");
            black_box(engine.scan(&s))
        })
    });
    g.finish();
}

fn bench_index(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let adv_dir = dir.path().join("advisories");
    std::fs::create_dir(&adv_dir).expect("mkdir");
    let advisories = synthetic_advisories(300_000);
    for (file, eco) in [
        ("npm.jsonl", "npm"),
        ("Go.jsonl", "Go"),
        ("Debian.jsonl", "Debian:12"),
    ] {
        let f = std::fs::File::create(adv_dir.join(file)).expect("create");
        let these = advisories
            .iter()
            .filter(|a| a.affected()[0].package().ecosystem().to_string() == eco);
        write_jsonl(std::io::BufWriter::new(f), these).expect("write jsonl");
    }
    let mut g = c.benchmark_group("index");
    g.sample_size(10);
    g.bench_function("from_advisories_300k", |b| {
        b.iter_batched(
            || advisories.clone(),
            |a| black_box(AdvisoryIndex::from_advisories(a)),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("from_jsonl_dir_300k", |b| {
        b.iter(|| {
            black_box(
                AdvisoryIndex::from_jsonl_dir(dir.path(), &IndexLimits::default()).expect("load"),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench_engine, bench_index);
criterion_main!(benches);
