//! Scan engine: SBOM components + advisory index → findings.
//!
//! Hand-written records (`rec`) cover the OSV evaluation rules, the merge rule, withdrawn
//! records and distro release matching; the golden tests run the committed sample SBOMs
//! against the committed sample feed (`samples/`) and compare with
//! `appliance/scanner/tests/data/engine/*.findings.json` (see the README there for why each
//! finding is expected).
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bundles::model::Advisory;
use bundles::model::{Finding, Severity, findings_digest};
use scanner::engine::{ENGINE_VERSION, Engine, ScanOutcome};
use scanner::index::AdvisoryIndex;
use scanner::sbom::{SbomLimits, parse};

use crate::util::repo_root;

/// An OSV record with one affected package and one range of the given events.
fn rec(id: &str, extra: &str, eco: &str, name: &str, range_type: &str, events: &str) -> String {
    format!(
        r#"{{"id":"{id}","modified":"2024-01-01T00:00:00Z"{extra},
           "affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},
             "ranges":[{{"type":"{range_type}","events":[{events}]}}]}}]}}"#
    )
}

fn index(records: &[String]) -> AdvisoryIndex {
    AdvisoryIndex::from_advisories(
        records
            .iter()
            .map(|r| Advisory::from_osv_json(r.as_bytes()).expect("valid test record")),
    )
}

/// A CycloneDX 1.6 document of `(name, version, purl)` components.
fn cdx(components: &[(&str, &str, &str)]) -> Vec<u8> {
    let comps: Vec<serde_json::Value> = components
        .iter()
        .map(|(n, v, p)| serde_json::json!({"type": "library", "name": n, "version": v, "purl": p}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": comps
    }))
    .expect("json")
}

fn scan(idx: AdvisoryIndex, sbom: &[u8]) -> ScanOutcome {
    let sbom = parse(sbom, &SbomLimits::default()).expect("valid SBOM");
    Engine::new(Arc::new(idx)).scan(&sbom)
}

fn ids(out: &ScanOutcome) -> Vec<(String, String)> {
    out.findings
        .iter()
        .map(|f| (f.package.name.clone(), f.id.clone()))
        .collect()
}

#[test]
fn engine_version_names_the_crate() {
    assert!(ENGINE_VERSION.starts_with("stella-engine/"));
    let rest = ENGINE_VERSION
        .strip_prefix(concat!("stella-engine/", env!("CARGO_PKG_VERSION"), "+m"))
        .expect("crate version, then the matcher revision");
    assert!(
        rest.parse::<u32>().is_ok_and(|m| m >= 2),
        "{ENGINE_VERSION}"
    );
}

#[test]
fn osv_edge_cases() {
    let idx = index(&[
        // introduced "0" with a last_affected (inclusive upper bound).
        rec("T-LAST", "", "npm", "last", "SEMVER", r#"{"introduced":"0"},{"last_affected":"1.2.0"}"#),
        // limit caps an open range.
        rec("T-LIMIT", "", "npm", "limit", "SEMVER", r#"{"introduced":"1.0.0"},{"limit":"2.0.0"}"#),
        // two affected intervals in one range.
        rec(
            "T-MULTI",
            "",
            "npm",
            "multi",
            "SEMVER",
            r#"{"introduced":"1.0.0"},{"fixed":"1.0.5"},{"introduced":"2.0.0"},{"fixed":"2.1.0"}"#,
        ),
        // versions list only, no ranges.
        r#"{"id":"T-LIST","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"list"},"versions":["3.1.4","3.1.5"]}]}"#.to_string(),
    ]);
    let sbom = cdx(&[
        ("last", "1.2.0", "pkg:npm/last@1.2.0"),
        ("last", "1.2.1", "pkg:npm/last@1.2.1"),
        ("limit", "0.9.0", "pkg:npm/limit@0.9.0"),
        ("limit", "1.5.0", "pkg:npm/limit@1.5.0"),
        ("limit", "2.0.0", "pkg:npm/limit@2.0.0"),
        ("multi", "1.0.4", "pkg:npm/multi@1.0.4"),
        ("multi", "1.5.0", "pkg:npm/multi@1.5.0"),
        ("multi", "2.0.9", "pkg:npm/multi@2.0.9"),
        ("multi", "2.1.0", "pkg:npm/multi@2.1.0"),
        ("list", "3.1.4", "pkg:npm/list@3.1.4"),
        ("list", "3.1.6", "pkg:npm/list@3.1.6"),
    ]);
    let out = scan(idx, &sbom);
    let hits: Vec<(String, String)> = out
        .findings
        .iter()
        .map(|f| (f.package.version.clone(), f.id.clone()))
        .collect();
    let want: Vec<(String, String)> = [
        ("1.2.0", "T-LAST"),
        ("1.5.0", "T-LIMIT"),
        ("3.1.4", "T-LIST"),
        ("1.0.4", "T-MULTI"),
        ("2.0.9", "T-MULTI"),
    ]
    .iter()
    .map(|(v, i)| (v.to_string(), i.to_string()))
    .collect();
    assert_eq!(hits, want, "warnings: {:?}", out.warnings);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    // Only fixed versions above the installed one are remediation targets.
    let multi: Vec<&Finding> = out.findings.iter().filter(|f| f.id == "T-MULTI").collect();
    assert_eq!(multi[0].fixed_versions, ["1.0.5", "2.1.0"]);
    assert_eq!(multi[1].fixed_versions, ["2.1.0"]);
    assert_eq!(out.components, 11);
}

#[test]
fn unparseable_version_is_an_undecided_finding_and_a_warning_never_a_silent_miss() {
    let idx = index(&[rec(
        "T-1",
        "",
        "npm",
        "odd",
        "SEMVER",
        r#"{"introduced":"1.0.0"},{"fixed":"2.0.0"}"#,
    )]);
    let out = scan(
        idx,
        &cdx(&[("odd", "latest-ish", "pkg:npm/odd@latest-ish")]),
    );
    let got: Vec<(&str, &str, bool)> = out
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.package.version.as_str(), f.undecided))
        .collect();
    assert_eq!(got, [("T-1", "latest-ish", true)]);
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(
        out.warnings[0].contains("reported as undecided"),
        "{}",
        out.warnings[0]
    );
    assert!(
        out.warnings[0].contains("odd latest-ish"),
        "{}",
        out.warnings[0]
    );
    assert!(out.warnings[0].contains("T-1"), "{}", out.warnings[0]);
}

#[test]
fn withdrawn_records_are_ignored() {
    let idx = index(&[
        rec(
            "GHSA-gone-gone-gone",
            r#","withdrawn":"2024-02-01T00:00:00Z""#,
            "npm",
            "w",
            "SEMVER",
            r#"{"introduced":"0"}"#,
        ),
        rec(
            "GHSA-here-here-here",
            "",
            "npm",
            "w",
            "SEMVER",
            r#"{"introduced":"0"},{"fixed":"9.0.0"}"#,
        ),
    ]);
    assert_eq!(idx.stats().withdrawn, 1);
    let out = scan(idx, &cdx(&[("w", "1.0.0", "pkg:npm/w@1.0.0")]));
    assert_eq!(
        ids(&out),
        [("w".to_string(), "GHSA-here-here-here".to_string())]
    );
}

#[test]
fn ghsa_and_pysec_records_merge_into_one_finding() {
    // The shape of PyPI's GHSA/PYSEC pairs; written in npm (SemVer ordering) because the
    // merge rule is the same in every ecosystem.
    let idx = index(&[
        rec(
            "GHSA-aaaa-bbbb-cccc",
            r#","aliases":["CVE-2023-1111"],"summary":"ghsa summary",
               "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N"}],
               "references":[{"type":"WEB","url":"https://a.example/1"},{"type":"WEB","url":"https://shared.example"}]"#,
            "npm",
            "django",
            "ECOSYSTEM",
            r#"{"introduced":"4.0.0"},{"fixed":"4.1.10"},{"introduced":"3.0.0"},{"fixed":"3.2.20"}"#,
        ),
        rec(
            "PYSEC-2023-99",
            r#","aliases":["CVE-2023-1111","GHSA-aaaa-bbbb-cccc"],
               "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
               "references":[{"type":"WEB","url":"https://shared.example"}]"#,
            "npm",
            "django",
            "ECOSYSTEM",
            r#"{"introduced":"0"},{"fixed":"3.2.20"},{"fixed":"4.1.10"}"#,
        ),
        // An unrelated record for the same package stays separate.
        rec(
            "GHSA-zzzz-yyyy-xxxx",
            "",
            "npm",
            "django",
            "ECOSYSTEM",
            r#"{"introduced":"0"},{"fixed":"3.2.19"}"#,
        ),
    ]);
    let out = scan(idx, &cdx(&[("django", "3.2.18", "pkg:npm/django@3.2.18")]));
    assert_eq!(out.findings.len(), 2, "{:#?}", out.findings);
    let f = &out.findings[0];
    assert_eq!(
        f.id, "GHSA-aaaa-bbbb-cccc",
        "no CVE record id: GHSA is primary"
    );
    assert_eq!(f.aliases, ["CVE-2023-1111", "PYSEC-2023-99"]);
    assert_eq!(f.fixed_versions, ["3.2.20", "4.1.10"]);
    assert_eq!(
        f.severity,
        Severity::Critical,
        "the highest of the merged ratings"
    );
    assert_eq!(f.cvss.as_ref().map(|c| c.score), Some(9.8));
    assert_eq!(f.summary.as_deref(), Some("ghsa summary"));
    assert_eq!(
        f.references,
        ["https://a.example/1", "https://shared.example"]
    );
    assert_eq!(out.findings[1].id, "GHSA-zzzz-yyyy-xxxx");
    assert_eq!(out.findings[1].fixed_versions, ["3.2.19"]);
}

#[test]
fn a_cve_record_id_is_primary() {
    let idx = index(&[
        rec(
            "GHSA-cccc-dddd-eeee",
            r#","aliases":["CVE-2022-0001"]"#,
            "npm",
            "p",
            "SEMVER",
            r#"{"introduced":"0"}"#,
        ),
        rec(
            "CVE-2022-0001",
            "",
            "npm",
            "p",
            "SEMVER",
            r#"{"introduced":"0"}"#,
        ),
    ]);
    let out = scan(idx, &cdx(&[("p", "1.0.0", "pkg:npm/p@1.0.0")]));
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].id, "CVE-2022-0001");
    assert_eq!(out.findings[0].aliases, ["GHSA-cccc-dddd-eeee"]);
    assert!(out.findings[0].fixed_versions.is_empty());
    assert_eq!(out.findings[0].severity, Severity::Unknown);
}

fn deb(id: &str, extra: &str, release: &str, fixed: &str) -> String {
    rec(
        id,
        extra,
        &format!("Debian:{release}"),
        "openssl",
        "ECOSYSTEM",
        &format!(r#"{{"introduced":"0"}},{{"fixed":"{fixed}"}}"#),
    )
}

const LIBSSL3_12: (&str, &str, &str) = (
    "libssl3",
    "3.0.11-1~deb12u1",
    "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl",
);

#[test]
fn debian_binary_packages_match_their_source_package_in_their_release_only() {
    let idx = index(&[
        deb(
            "DEBIAN-CVE-2023-5678",
            r#","upstream":["CVE-2023-5678"]"#,
            "12",
            "3.0.13-1~deb12u1",
        ),
        deb(
            "DEBIAN-CVE-2023-0011",
            r#","upstream":["CVE-2023-0011"]"#,
            "11",
            "9:9.9",
        ),
    ]);
    let sbom = cdx(&[
        LIBSSL3_12,
        (
            "libssl1.1",
            "1.1.1w-0+deb11u1",
            "pkg:deb/debian/libssl1.1@1.1.1w-0+deb11u1?arch=amd64&distro=debian-11&upstream=openssl",
        ),
        // Same binary name in Debian 11: only the Debian:11 record applies.
    ]);
    let out = scan(idx, &sbom);
    assert_eq!(
        ids(&out),
        [
            ("libssl1.1".to_string(), "DEBIAN-CVE-2023-0011".to_string()),
            ("libssl3".to_string(), "DEBIAN-CVE-2023-5678".to_string()),
        ]
    );
    let f = &out.findings[1];
    assert_eq!(f.package.ecosystem, "Debian:12");
    assert_eq!(f.package.version, "3.0.11-1~deb12u1");
    assert_eq!(f.aliases, ["CVE-2023-5678"]);
    assert_eq!(f.fixed_versions, ["3.0.13-1~deb12u1"]);

    // The Debian:12 record does not apply to a Debian 11 libssl3 (a backport, say).
    let idx = index(&[deb("DEBIAN-CVE-2023-5678", "", "12", "3.0.13-1~deb12u1")]);
    let out = scan(
        idx,
        &cdx(&[(
            "libssl3",
            "3.0.11-1~deb11u1",
            "pkg:deb/debian/libssl3@3.0.11-1~deb11u1?distro=debian-11&upstream=openssl",
        )]),
    );
    assert!(out.findings.is_empty(), "{:?}", out.findings);
}

#[test]
fn a_multi_cve_dsa_attaches_to_the_cve_findings_or_stands_alone() {
    let dsa = deb(
        "DSA-5532-1",
        r#","upstream":["CVE-2023-5363","CVE-2023-5678"],"references":[{"type":"ADVISORY","url":"https://www.debian.org/security/2023/dsa-5532"}]"#,
        "12",
        "3.0.11-1~deb12u2",
    );
    let cve_a = deb(
        "DEBIAN-CVE-2023-5363",
        r#","upstream":["CVE-2023-5363"]"#,
        "12",
        "3.0.11-1~deb12u2",
    );
    let cve_b = deb(
        "DEBIAN-CVE-2023-5678",
        r#","upstream":["CVE-2023-5678"]"#,
        "12",
        "3.0.13-1~deb12u1",
    );
    let out = scan(
        index(&[dsa.clone(), cve_a.clone(), cve_b]),
        &cdx(&[LIBSSL3_12]),
    );
    let got: Vec<(&str, &[String], &[String])> = out
        .findings
        .iter()
        .map(|f| {
            (
                f.id.as_str(),
                f.aliases.as_slice(),
                f.fixed_versions.as_slice(),
            )
        })
        .collect();
    assert_eq!(got.len(), 2, "{:#?}", out.findings);
    assert_eq!(got[0].0, "DEBIAN-CVE-2023-5363");
    assert_eq!(got[0].1, ["CVE-2023-5363", "DSA-5532-1"]);
    assert_eq!(got[0].2, ["3.0.11-1~deb12u2"]);
    assert_eq!(got[1].0, "DEBIAN-CVE-2023-5678");
    assert_eq!(got[1].1, ["CVE-2023-5678", "DSA-5532-1"]);
    assert_eq!(got[1].2, ["3.0.11-1~deb12u2", "3.0.13-1~deb12u1"]);
    assert!(
        out.findings[1]
            .references
            .contains(&"https://www.debian.org/security/2023/dsa-5532".to_string())
    );

    // When one of its CVEs has no record of its own, the DSA is its own finding.
    let out = scan(index(&[dsa, cve_a]), &cdx(&[LIBSSL3_12]));
    let got: Vec<&str> = out.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(got, ["DEBIAN-CVE-2023-5363", "DSA-5532-1"]);
    assert_eq!(out.findings[1].aliases, ["CVE-2023-5363", "CVE-2023-5678"]);
}

/// A tiny deterministic shuffle (xorshift), so the test needs no RNG crate.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = usize::try_from(seed % (i as u64 + 1)).expect("fits");
        v.swap(i, j);
    }
}

fn sample_feed() -> Vec<Advisory> {
    let mut out = Vec::new();
    let root = repo_root().join("samples/feeds/osv");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("samples/feeds/osv")
        .map(|e| e.expect("entry").path())
        .collect();
    dirs.sort();
    for d in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .expect("ecosystem dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).expect("read record");
            out.push(Advisory::from_osv_json(&bytes).unwrap_or_else(|e| panic!("{f:?}: {e}")));
        }
    }
    out
}

const SAMPLE_SBOMS: &[&str] = &["demo-cyclonedx.json", "demo-syft.json", "demo-spdx.json"];

fn golden_path(sbom: &str) -> PathBuf {
    let stem = sbom.trim_end_matches(".json");
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/engine/{stem}.findings.json"))
}

fn scan_sample(sbom: &str, feed: Vec<Advisory>) -> ScanOutcome {
    let bytes = std::fs::read(repo_root().join("samples/sboms").join(sbom)).expect("sample SBOM");
    let parsed = parse(&bytes, &SbomLimits::default()).expect("sample SBOM parses");
    Engine::new(Arc::new(AdvisoryIndex::from_advisories(feed))).scan(&parsed)
}

/// The sample SBOMs against the sample feed give exactly the committed findings. Set
/// `STELLA_BLESS=1` to rewrite the golden files after a reviewed change;
/// `tests/data/engine/README.md` lists the expected findings and why.
#[test]
fn sample_sboms_give_the_golden_findings() {
    for sbom in SAMPLE_SBOMS {
        let out = scan_sample(sbom, sample_feed());
        let got = serde_json::to_string_pretty(&out.findings).expect("json") + "\n";
        let path = golden_path(sbom);
        if std::env::var_os("STELLA_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(&path, &got).expect("write golden");
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path:?}: {e} (run with STELLA_BLESS=1 to create)"));
        // Compared as JSON values: the order of keys inside a finding is not part of
        // the answer (serde writes them in declaration order).
        let got_v: serde_json::Value = serde_json::from_str(&got).expect("json");
        let want_v: serde_json::Value = serde_json::from_str(&want).expect("golden is JSON");
        assert_eq!(got_v, want_v, "{sbom}: findings differ from {path:?}");
    }
}

#[test]
fn demo_sbom_has_a_realistic_mix() {
    let out = scan_sample("demo-cyclonedx.json", sample_feed());
    let count = |s: Severity| out.findings.iter().filter(|f| f.severity == s).count();
    assert!(count(Severity::Critical) >= 1, "{:#?}", out.findings);
    assert!(count(Severity::High) >= 1);
    assert!(out.findings.iter().any(|f| !f.fixed_versions.is_empty()));
    let affected: std::collections::BTreeSet<&str> = out
        .findings
        .iter()
        .filter_map(|f| f.package.purl.as_deref())
        .collect();
    assert!(
        out.components > affected.len() + 3,
        "some components must be clean"
    );
}

#[test]
fn digest_is_stable_under_shuffling_components_and_advisories() {
    let sbom_bytes =
        std::fs::read(repo_root().join("samples/sboms/demo-cyclonedx.json")).expect("demo SBOM");
    let base = scan_sample("demo-cyclonedx.json", sample_feed());
    assert!(!base.findings.is_empty());
    let digest = findings_digest(&base.findings);
    let mut doc: serde_json::Value = serde_json::from_slice(&sbom_bytes).expect("json");
    for seed in [1u64, 7, 0x9e37_79b9_7f4a_7c15] {
        let mut feed = sample_feed();
        shuffle(&mut feed, seed);
        if let Some(comps) = doc.get_mut("components").and_then(|c| c.as_array_mut()) {
            shuffle(comps, seed.wrapping_add(1));
        }
        let bytes = serde_json::to_vec(&doc).expect("json");
        let parsed = parse(&bytes, &SbomLimits::default()).expect("parses");
        let out = Engine::new(Arc::new(AdvisoryIndex::from_advisories(feed))).scan(&parsed);
        assert_eq!(findings_digest(&out.findings), digest, "seed {seed}");
        assert_eq!(out.warnings, base.warnings);
    }
    // And the digest does change when a finding changes.
    let mut changed = base.findings.clone();
    changed[0].muted = true;
    assert_ne!(findings_digest(&changed), digest);
}

#[test]
fn go_semver_ranges_use_the_go_ordering_for_the_standard_library() {
    // vuln.go.dev writes stdlib ranges as SEMVER; SBOMs carry toolchain spellings.
    let idx = || {
        index(&[rec(
            "GO-2099-0001",
            "",
            "Go",
            "stdlib",
            "SEMVER",
            r#"{"introduced":"0"},{"fixed":"1.19.11"},{"introduced":"1.20.0-0"},{"fixed":"1.20.6"}"#,
        )])
    };
    let out = scan(
        idx(),
        &cdx(&[
            ("stdlib", "go1.20.5", "pkg:golang/stdlib@go1.20.5"),
            ("stdlib", "v1.19.2", "pkg:golang/stdlib@v1.19.2"),
        ]),
    );
    assert_eq!(out.findings.len(), 2, "{:?} {:?}", ids(&out), out.warnings);
    let fixed = scan(
        idx(),
        &cdx(&[("stdlib", "go1.20.6", "pkg:golang/stdlib@go1.20.6")]),
    );
    assert!(fixed.findings.is_empty(), "{:?}", ids(&fixed));
    assert!(fixed.warnings.is_empty(), "{:?}", fixed.warnings);
}

/// Splitting a large SBOM across threads changes nothing: the same findings and warnings,
/// in the same order, on 1 to 7 threads, and equal to matching each component alone.
#[test]
fn matching_on_several_threads_gives_the_one_thread_result() {
    let mut records = Vec::new();
    for i in 0..300 {
        let events = r#"{"introduced":"0"},{"fixed":"2.0.0"}"#;
        records.push(rec(
            &format!("GHSA-{i:04}-aaaa-bbbb"),
            "",
            "npm",
            &format!("pkg-{i}"),
            "SEMVER",
            events,
        ));
        if i % 3 == 0 {
            let alias = format!(r#","aliases":["GHSA-{i:04}-aaaa-bbbb"]"#);
            records.push(rec(
                &format!("CVE-2024-{i:05}"),
                &alias,
                "npm",
                &format!("pkg-{i}"),
                "SEMVER",
                events,
            ));
        }
    }
    let mut comps: Vec<(String, String, String)> = Vec::new();
    for i in 0..1000 {
        let name = format!("pkg-{}", i % 400);
        let version = match i % 7 {
            0 => "not-a-version".to_string(),
            1 => "3.0.0".to_string(),
            _ => format!("1.{}.0", i % 5),
        };
        comps.push((
            name.clone(),
            version.clone(),
            format!("pkg:npm/{name}@{version}"),
        ));
    }
    let borrowed: Vec<(&str, &str, &str)> = comps
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    let sbom = parse(&cdx(&borrowed), &SbomLimits::default()).expect("valid SBOM");
    let engine = Engine::new(Arc::new(index(&records)));
    let one = engine.scan_on(&sbom, 1);
    assert!(one.findings.len() > 200, "{}", one.findings.len());
    assert!(!one.warnings.is_empty());
    for threads in 2..=7 {
        assert_eq!(engine.scan_on(&sbom, threads), one, "{threads} threads");
    }
    assert_eq!(engine.scan(&sbom), one);

    // Each component alone, merged: the same findings.
    let mut alone: Vec<String> = Vec::new();
    for c in &borrowed {
        let single = parse(&cdx(&[*c]), &SbomLimits::default()).expect("valid SBOM");
        for f in engine.scan_on(&single, 1).findings {
            alone.push(format!("{} {} {}", f.package.name, f.package.version, f.id));
        }
    }
    alone.sort();
    alone.dedup();
    let mut together: Vec<String> = one
        .findings
        .iter()
        .map(|f| format!("{} {} {}", f.package.name, f.package.version, f.id))
        .collect();
    together.sort();
    assert_eq!(together, alone);
}

#[test]
fn unusable_purls_are_named_in_the_warnings_never_dropped() {
    let idx = index(&[rec(
        "T-1",
        "",
        "npm",
        "minimist",
        "SEMVER",
        r#"{"introduced":"0"},{"fixed":"1.2.6"}"#,
    )]);
    let out = scan(
        idx,
        &cdx(&[
            ("minimist", "1.2.5", "pkg:npm/mini%00mist@1.2.5"),
            ("minimist", "", "pkg:npm/minimist"),
            ("tool", "1.0", "pkg:generic/tool@1.0"),
            ("other", "2.0", "pkg:generic/other@2.0"),
            ("act", "v4", "pkg:github/actions/checkout@v4"),
        ]),
    );
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    let w = &out.warnings;
    let has = |needle: &str| w.iter().any(|x| x.contains(needle));
    assert!(
        has(r#"purl "pkg:npm/mini%00mist@1.2.5" of "minimist" has a control character"#),
        "{w:#?}"
    );
    assert!(
        has("no version in the SBOM, so it cannot be matched (1 advisory of the kit"),
        "{w:#?}"
    );
    assert!(
        has(r#"2 components with purl type "generic" (e.g. pkg:generic/"#),
        "{w:#?}"
    );
    assert!(has(r#"1 component with purl type "github""#), "{w:#?}");
    assert_eq!(w.len(), 4, "{w:#?}");
}
