//! Real advisory records against a reference OSV matcher, per ecosystem.
//!
//! `tests/data/corpus/` holds a deterministic sample of real OSV records (PyPI from
//! pypa/advisory-database, Go from golang/vulndb, crates.io from RustSec's OSV export,
//! Packagist from the Drupal advisory database; `PROVENANCE.md` has the commits and
//! licences) and `expected.tsv`: for every package of the sample and every boundary
//! version of it (each event version, its neighbours, entries of the `versions` lists),
//! the records that affect it according to a reference matcher that follows the OSV
//! schema's evaluation with the ecosystem's real comparator (pep440 `packaging`, Go's
//! x/mod, Cargo's `semver`, composer/semver). `regen.sh` beside the data rebuilds both.
//! The records themselves (`records/*.jsonl.zst`) are written there by `regen.sh` but not
//! committed (`PROVENANCE.md` says why); `records.sha256` pins them, and
//! `STELLA_CORPUS_DIR` points the test at another copy.
//!
//! The records go into the engine as a kit would bring them; every `(package, version)` is
//! scanned as a CycloneDX component with its purl, so the purl mapping, the name
//! normalisation, the index and the engine's evaluation are all on the path. Records that
//! share an id or alias would be merged into one finding; they are loaded into separate
//! engines ("layers") so that every finding names exactly one record.
//!
//! Every (version, record) pair is then one of: agreement, a **miss** (the reference says
//! affected, the engine reports nothing and did not warn), a **false alarm**, or
//! **undecided** (our ordering cannot parse a version it needs: the engine reports an
//! `undecided` finding and warns). A record the model refuses to load is **rejected**. Every miss, false alarm,
//! undecided pair and rejected record must be listed in `exceptions.tsv` (or, for short
//! SemVer versions, `undecided-short-semver.tsv`) with a reason, and every listed row must
//! still occur, so both lists stay true.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bundles::model::{Advisory, Ecosystem, Evaluation, Orderings, VersionScheme};
use scanner::Engine;
use scanner::index::{AdvisoryIndex, normalize_name};
use scanner::sbom::{SbomLimits, parse};
use scanner::versions;
use sha2::{Digest, Sha256};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus")
}

/// Where the record files are: `$STELLA_CORPUS_DIR`, else `tests/data/corpus/records`.
fn records_dir() -> PathBuf {
    std::env::var_os("STELLA_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| data_dir().join("records"))
}

/// One line of `expected.tsv`.
struct Row {
    eco: String,
    package: String,
    version: String,
    affected_by: BTreeSet<String>,
    /// Records the reference could not decide (its comparator refused a version).
    reference_undecided: BTreeSet<String>,
}

fn read_tsv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn ids(cell: &str) -> BTreeSet<String> {
    if cell == "-" {
        return BTreeSet::new();
    }
    cell.split(',').map(str::to_string).collect()
}

fn expected() -> Vec<Row> {
    read_tsv(&data_dir().join("expected.tsv"))
        .into_iter()
        .map(|f| {
            assert_eq!(f.len(), 5, "expected.tsv row {f:?}");
            Row {
                eco: f[0].clone(),
                package: f[1].clone(),
                version: f[2].clone(),
                affected_by: ids(&f[3]),
                reference_undecided: if f[4] == "-" {
                    BTreeSet::new()
                } else {
                    // `ID ERR reason;ID ERR reason`
                    f[4].split(';')
                        .filter_map(|x| x.split(' ').next())
                        .map(str::to_string)
                        .collect()
                },
            }
        })
        .collect()
}

/// The sample, decompressed and checked against `records.sha256` (the record files are
/// regenerated, not edited: a mismatch means `expected.tsv` was made from other records).
fn load_records() -> Vec<(String, Result<Advisory, String>, String)> {
    let dir = records_dir();
    let digests = read_tsv(&data_dir().join("records.sha256"));
    let mut out = Vec::new();
    for line in digests {
        let (want, name) = line[0]
            .split_once("  ")
            .unwrap_or_else(|| panic!("records.sha256 line {line:?}"));
        let path = dir.join(name);
        let packed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}. The corpus records are made by tests/data/corpus/regen.sh (see PROVENANCE.md); \
                 set STELLA_CORPUS_DIR to use another copy",
                path.display()
            )
        });
        let text = zstd::decode_all(packed.as_slice()).expect("zstd");
        assert_eq!(
            hex::encode(Sha256::digest(&text)),
            want,
            "{}: not the records expected.tsv was made from (regenerate with regen.sh)",
            path.display()
        );
        let text = String::from_utf8(text).expect("utf-8 records");
        for l in text.lines() {
            let raw: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            let id = raw["id"].as_str().unwrap_or("?").to_string();
            out.push((
                id,
                Advisory::from_osv_json(l.as_bytes()).map_err(|e| e.to_string()),
                name.to_string(),
            ));
        }
    }
    out
}

/// A purl as SBOM generators write it: name segments and version percent-encoded.
fn purl(eco: &str, package: &str, version: &str) -> String {
    fn enc(s: &str) -> String {
        let mut o = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
                o.push(b as char);
            } else {
                o.push_str(&format!("%{b:02X}"));
            }
        }
        o
    }
    let path = |p: &str| p.split('/').map(enc).collect::<Vec<_>>().join("/");
    let (ty, name) = match eco {
        "PyPI" => ("pypi", enc(package)),
        "Go" => ("golang", path(package)),
        "crates.io" => ("cargo", enc(package)),
        "npm" => ("npm", path(package)),
        "Maven" => ("maven", path(&package.replacen(':', "/", 1))),
        "RubyGems" => ("gem", enc(package)),
        "Packagist" => ("composer", path(package)),
        "NuGet" => ("nuget", enc(package)),
        other => panic!("no purl type for {other}"),
    };
    format!("pkg:{ty}/{name}@{}", enc(version))
}

/// Groups of records in which no two share an id, alias or upstream id (the engine would
/// merge those into one finding), greedily in id order.
fn layers(advisories: &[Advisory]) -> Vec<Vec<Advisory>> {
    let mut out: Vec<(BTreeSet<String>, Vec<Advisory>)> = Vec::new();
    for a in advisories {
        let keys: BTreeSet<String> = std::iter::once(a.id())
            .chain(a.aliases())
            .chain(a.upstream())
            .map(|i| i.as_str().to_string())
            .collect();
        match out.iter_mut().find(|(taken, _)| taken.is_disjoint(&keys)) {
            Some((taken, recs)) => {
                taken.extend(keys);
                recs.push(a.clone());
            }
            None => out.push((keys, vec![a.clone()])),
        }
    }
    out.into_iter().map(|(_, r)| r).collect()
}

/// The scheme of `SEMVER` ranges for an ecosystem, as the engine picks it.
fn semver_scheme(scheme: VersionScheme) -> VersionScheme {
    match scheme {
        VersionScheme::Go => VersionScheme::Go,
        _ => VersionScheme::Semver,
    }
}

#[derive(Default)]
struct Tally {
    records: usize,
    rejected: usize,
    probes: usize,
    parsed: usize,
    event_versions: BTreeSet<String>,
    events_parsed: usize,
    pairs: usize,
    reference_undecided: usize,
    undecided: usize,
    decided: usize,
    agree: usize,
    misses: usize,
    false_alarms: usize,
    /// Versions the reference finds affected by a record the model refused to load.
    missed_rejected: usize,
}

/// `kind eco package version id` -> reason, from both exception files.
fn listed_exceptions() -> BTreeMap<(String, String, String, String, String), String> {
    let mut out = BTreeMap::new();
    for f in read_tsv(&data_dir().join("exceptions.tsv")) {
        assert_eq!(
            f.len(),
            6,
            "exceptions.tsv row {f:?}: kind eco package version id reason"
        );
        assert!(
            !f[5].trim().is_empty(),
            "exceptions.tsv row {f:?} has no reason"
        );
        let key = (
            f[0].clone(),
            f[1].clone(),
            f[2].clone(),
            f[3].clone(),
            f[4].clone(),
        );
        assert!(
            out.insert(key, f[5].clone()).is_none(),
            "duplicate row {f:?}"
        );
    }
    for f in read_tsv(&data_dir().join("undecided-short-semver.tsv")) {
        assert_eq!(
            f.len(),
            4,
            "undecided-short-semver.tsv row {f:?}: eco package version id"
        );
        let key = (
            "undecided".to_string(),
            f[0].clone(),
            f[1].clone(),
            f[2].clone(),
            f[3].clone(),
        );
        let reason = "short SemVer version (being fixed)".to_string();
        assert!(out.insert(key, reason).is_none(), "duplicate row {f:?}");
    }
    out
}

/// Whether one of `versions` is a SemVer version with fewer than three parts.
fn short_semver(scheme: VersionScheme, versions: &[&str]) -> bool {
    matches!(scheme, VersionScheme::Semver)
        && versions.iter().any(|v| {
            let v = v.strip_prefix('v').unwrap_or(v);
            let core = v.split(['-', '+']).next().unwrap_or(v);
            let parts: Vec<&str> = core.split('.').collect();
            parts.len() < 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Why a (version, record) pair is undecidable: the versions our orderings refuse, by the
/// scheme each range uses.
fn refused(entries: &[&bundles::model::Affected], version: &str, scheme: VersionScheme) -> String {
    let mut bad: BTreeSet<(VersionScheme, String)> = BTreeSet::new();
    for aff in entries {
        for r in aff.ranges() {
            let s = match r {
                bundles::model::Range::Semver(_) => semver_scheme(scheme),
                bundles::model::Range::Ecosystem(_) => scheme,
                bundles::model::Range::Git { .. } => continue,
            };
            let evs = r.events().as_slice().iter().map(|e| e.version());
            for v in std::iter::once(version).chain(evs) {
                if v != "0" && !v.contains('*') && versions::parse(s, v).is_err() {
                    bad.insert((s, v.to_string()));
                }
            }
        }
    }
    let all_short = !bad.is_empty() && bad.iter().all(|(s, v)| short_semver(*s, &[v.as_str()]));
    if all_short {
        "short SemVer version (being fixed)".to_string()
    } else {
        let list: Vec<String> = bad.iter().map(|(s, v)| format!("{s:?} {v:?}")).collect();
        format!("our ordering refuses {}", list.join(", "))
    }
}

#[test]
#[ignore = "needs the fetched records: run tests/data/corpus/regen.sh (PROVENANCE.md), then --ignored"]
fn real_records_agree_with_the_reference_matcher() {
    let started = std::time::Instant::now();
    let rows = expected();
    let loaded = load_records();
    let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
    // Found problems: (kind, eco, package, version, id) -> detail.
    let mut found: BTreeMap<(String, String, String, String, String), String> = BTreeMap::new();

    let mut advisories: Vec<Advisory> = Vec::new();
    let mut rejected: BTreeSet<String> = BTreeSet::new();
    for (id, parsed, file) in loaded {
        let eco = match file.as_str() {
            "pypi.jsonl.zst" => "PyPI",
            "go.jsonl.zst" => "Go",
            "crates-io.jsonl.zst" => "crates.io",
            "npm.jsonl.zst" => "npm",
            "maven.jsonl.zst" => "Maven",
            "rubygems.jsonl.zst" => "RubyGems",
            "packagist.jsonl.zst" => "Packagist",
            "nuget.jsonl.zst" => "NuGet",
            other => panic!("unknown record file {other}"),
        };
        let t = tally.entry(eco.to_string()).or_default();
        t.records += 1;
        match parsed {
            Ok(a) => advisories.push(a),
            Err(e) => {
                t.rejected += 1;
                rejected.insert(id.clone());
                found.insert(
                    ("rejected".into(), eco.into(), "-".into(), "-".into(), id),
                    e,
                );
            }
        }
    }
    // A record that names several ecosystems is in each of their files: load it once.
    advisories.sort_by(|a, b| a.id().cmp(b.id()));
    advisories.dedup_by(|a, b| a.id() == b.id());

    // Records per (base ecosystem, lookup name), not withdrawn (the index skips those).
    let mut naming: HashMap<(String, String), Vec<&Advisory>> = HashMap::new();
    for a in advisories.iter().filter(|a| a.withdrawn().is_none()) {
        let mut seen = BTreeSet::new();
        for aff in a.affected() {
            let eco = aff.package().ecosystem();
            let key = (
                eco.base().as_str().to_string(),
                normalize_name(eco.base(), aff.package().name()).into_owned(),
            );
            if seen.insert(key.clone()) {
                naming.entry(key).or_default().push(a);
            }
        }
    }

    // One CycloneDX document of every probe, scanned by one engine per layer.
    let purls: Vec<String> = rows
        .iter()
        .map(|r| purl(&r.eco, &r.package, &r.version))
        .collect();
    let components: Vec<serde_json::Value> = rows
        .iter()
        .zip(&purls)
        .map(|(r, p)| serde_json::json!({"type": "library", "name": r.package, "version": r.version, "purl": p}))
        .collect();
    let bom = serde_json::to_vec(&serde_json::json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": components
    }))
    .expect("json");
    let sbom = parse(&bom, &SbomLimits::default()).expect("corpus SBOM");
    let row_of: HashMap<&str, usize> = purls
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let mut got: Vec<BTreeSet<String>> = vec![BTreeSet::new(); rows.len()];
    let mut warned: Vec<bool> = vec![false; rows.len()];
    for layer in layers(&advisories) {
        let engine = Engine::new(Arc::new(AdvisoryIndex::from_advisories(layer)));
        let out = engine.scan(&sbom);
        for f in &out.findings {
            let p = f
                .package
                .purl
                .as_deref()
                .expect("corpus components have purls");
            let i = *row_of
                .get(p)
                .unwrap_or_else(|| panic!("finding for an unknown purl {p}"));
            // An undecided finding claims nothing about the version; its warning (below)
            // is what marks the pair undecided.
            if !f.undecided {
                got[i].insert(f.id.clone());
            }
        }
        for w in &out.warnings {
            if !w.contains("cannot be compared") {
                continue;
            }
            let p = w
                .split_once(" [")
                .and_then(|(_, rest)| rest.split_once(']'))
                .map(|(p, _)| p)
                .unwrap_or_else(|| panic!("warning without a purl: {w}"));
            warned[*row_of
                .get(p)
                .unwrap_or_else(|| panic!("warning for an unknown purl {p}"))] = true;
        }
        assert!(
            !out.warnings.iter().any(|w| w.contains("more warnings")),
            "warnings were truncated"
        );
    }

    let mut event_versions: BTreeMap<String, BTreeSet<(VersionScheme, String)>> = BTreeMap::new();
    for a in &advisories {
        for aff in a.affected() {
            let eco = aff.package().ecosystem();
            let scheme = eco.scheme();
            for r in aff.ranges() {
                let s = match r {
                    bundles::model::Range::Semver(_) => semver_scheme(scheme),
                    bundles::model::Range::Ecosystem(_) => scheme,
                    bundles::model::Range::Git { .. } => continue,
                };
                for e in r.events().as_slice() {
                    let v = e.version();
                    if v != "0" && !v.contains('*') {
                        event_versions
                            .entry(eco.base().as_str().to_string())
                            .or_default()
                            .insert((s, v.to_string()));
                    }
                }
            }
        }
    }
    for (eco, vs) in &event_versions {
        let t = tally.entry(eco.clone()).or_default();
        t.event_versions = vs.iter().map(|(_, v)| v.clone()).collect();
        t.events_parsed = vs
            .iter()
            .filter(|(s, v)| versions::parse(*s, v).is_ok())
            .count();
    }

    for (i, row) in rows.iter().enumerate() {
        let eco: Ecosystem = row.eco.parse().expect("ecosystem");
        let scheme = eco.scheme();
        let t = tally.entry(row.eco.clone()).or_default();
        t.probes += 1;
        if versions::parse(scheme, &row.version).is_ok() {
            t.parsed += 1;
        }
        let (eco_o, sem_o) = (
            versions::ordering(scheme),
            versions::ordering(semver_scheme(scheme)),
        );
        let orderings = Orderings {
            semver: sem_o,
            ecosystem: eco_o,
        };
        let key = (
            eco.base().as_str().to_string(),
            normalize_name(eco.base(), &row.package).into_owned(),
        );
        let recs = naming.get(&key).map_or(&[][..], Vec::as_slice);
        for id in row.affected_by.iter().chain(&got[i]) {
            if rejected.contains(id.as_str()) {
                // Counted once, as a rejected record.
                t.missed_rejected += usize::from(row.affected_by.contains(id));
                continue;
            }
            assert!(
                recs.iter().any(|a| a.id().as_str() == id),
                "{} {} {}: {id} is not a loaded record naming this package",
                row.eco,
                row.package,
                row.version
            );
        }
        let mut any_undecided = false;
        for a in recs {
            let id = a.id().as_str();
            t.pairs += 1;
            let want = row.affected_by.contains(id);
            let have = got[i].contains(id);
            let key5 = |kind: &str| {
                (
                    kind.to_string(),
                    row.eco.clone(),
                    row.package.clone(),
                    row.version.clone(),
                    id.to_string(),
                )
            };
            // The model's own verdict, only where it can tell something: the engine warns
            // about every component with an undecidable record, so a component without a
            // warning has none (checked below on the pairs that are evaluated).
            let ours_undecided = (warned[i] || want != have) && {
                let entries: Vec<&bundles::model::Affected> = a
                    .affected()
                    .iter()
                    .filter(|aff| {
                        let e = aff.package().ecosystem();
                        *e.base() == *eco.base()
                            && normalize_name(e.base(), aff.package().name()) == key.1.as_str()
                    })
                    .collect();
                let verdicts: Vec<Evaluation> = entries
                    .iter()
                    .map(|aff| aff.evaluate(&row.version, orderings))
                    .collect();
                let undecided = !verdicts.contains(&Evaluation::Affected)
                    && verdicts.contains(&Evaluation::Undecidable);
                if undecided {
                    found.insert(key5("undecided"), refused(&entries, &row.version, scheme));
                }
                undecided
            };
            if ours_undecided {
                any_undecided = true;
                t.undecided += 1;
            }
            if row.reference_undecided.contains(id) {
                t.reference_undecided += 1;
                continue;
            }
            if ours_undecided {
                continue;
            }
            t.decided += 1;
            match (want, have) {
                (true, false) => {
                    t.misses += 1;
                    found.insert(
                        key5("miss"),
                        "reference: affected; engine: not affected".into(),
                    );
                }
                (false, true) => {
                    t.false_alarms += 1;
                    found.insert(
                        key5("false-alarm"),
                        "reference: not affected; engine: affected".into(),
                    );
                }
                _ => t.agree += 1,
            }
        }
        assert_eq!(
            warned[i], any_undecided,
            "{} {} {}: the engine's 'cannot be compared' warning and the evaluation disagree",
            row.eco, row.package, row.version
        );
    }

    // The table (also in docs/correctness.md).
    let mut table = String::from(
        "| ecosystem | records | rejected (affected versions lost) | versions | parsed | event versions parsed | pairs | reference undecided | undecided | agreement | misses | false alarms |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for (eco, t) in &tally {
        let pct = |a: usize, b: usize| {
            if b == 0 {
                "-".to_string()
            } else {
                format!("{:.1} %", 100.0 * a as f64 / b as f64)
            }
        };
        table.push_str(&format!(
            "| {eco} | {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} ({}/{}) | {} | {} |\n",
            t.records,
            t.rejected,
            t.missed_rejected,
            t.probes,
            pct(t.parsed, t.probes),
            pct(t.events_parsed, t.event_versions.len()),
            t.pairs,
            t.reference_undecided,
            t.undecided,
            pct(t.agree, t.decided),
            t.agree,
            t.decided,
            t.misses,
            t.false_alarms
        ));
    }
    println!("{table}");

    let listed = listed_exceptions();
    let mut problems: Vec<String> = Vec::new();
    for (k, detail) in &found {
        if !listed.contains_key(k) {
            problems.push(format!(
                "unlisted\t{}\t{}\t{}\t{}\t{}\t{detail}",
                k.0, k.1, k.2, k.3, k.4
            ));
        }
    }
    for (k, reason) in &listed {
        if !found.contains_key(k) {
            problems.push(format!(
                "stale (no longer occurs)\t{}\t{}\t{}\t{}\t{}\t{reason}",
                k.0, k.1, k.2, k.3, k.4
            ));
        }
    }
    let elapsed = started.elapsed();
    println!(
        "corpus: {} versions, {} records in {elapsed:.2?}",
        rows.len(),
        advisories.len()
    );
    assert!(
        problems.is_empty(),
        "{table}\n{} problems (add a row with a reason to tests/data/corpus/exceptions.tsv, \
         or undecided-short-semver.tsv, or fix the engine; remove stale rows):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
