//! Version orderings against the verdicts of their reference implementations.
//!
//! Every `tests/data/vercmp/<eco>.tsv` holds `a<TAB>b<TAB>expected` lines produced by the
//! oracles of `../shared/oracles/vercmp` (`regen.sh` beside the files has the exact
//! commands); `expected` is `-1`, `0`, `1`, or `ERR <reason>` when the reference refuses
//! one of the versions. The file name selects the scheme, with the same names as the
//! oracle driver and the `vercmp` example. Each line is checked in both directions and
//! every disagreement is reported at once, so one run shows the whole picture.
//!
//! Deliberate differences from a reference are listed in `EXCEPTIONS.md` as table rows
//! `| eco | a | b | oracle | ours | reason |`: for those pairs the file must still hold the
//! oracle's verdict and our implementation must give the `ours` verdict, so an exception
//! can neither hide a regression nor go stale silently.
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bundles::model::VersionScheme;
use scanner::versions::{self, Version};

/// How a file name maps onto the library: most are a plain scheme, two adapt it to the
/// reference tool's exact surface (as `examples/vercmp.rs` does).
#[derive(Clone, Copy, Debug)]
enum Mode {
    Plain(VersionScheme),
    /// Cargo's `semver` crate: no `v` prefix, build metadata is ordered.
    Cargo,
    /// `golang.org/x/mod/semver`: the `v` prefix is required.
    GoModule,
}

fn mode(eco: &str) -> Option<Mode> {
    Some(match eco {
        "dpkg" => Mode::Plain(VersionScheme::Dpkg),
        "rpm" => Mode::Plain(VersionScheme::Rpm),
        "pep440" => Mode::Plain(VersionScheme::Pep440),
        "npm-semver" => Mode::Plain(VersionScheme::Semver),
        "cargo-semver" => Mode::Cargo,
        "maven" => Mode::Plain(VersionScheme::Maven),
        "rubygems" => Mode::Plain(VersionScheme::RubyGems),
        "go" => Mode::GoModule,
        "alpine" => Mode::Plain(VersionScheme::Apk),
        "composer" => Mode::Plain(VersionScheme::Composer),
        "nuget" => Mode::Plain(VersionScheme::NuGet),
        _ => return None,
    })
}

/// Our verdict in the oracle's notation: `-1`, `0`, `1` or `ERR <reason>`.
fn verdict(mode: Mode, a: &str, b: &str) -> String {
    let r: Result<Ordering, String> = match mode {
        Mode::Plain(s) => versions::compare(s, a, b).map_err(|e| e.to_string()),
        Mode::Cargo => {
            if a.starts_with('v') || b.starts_with('v') {
                Err("cargo versions have no 'v' prefix".into())
            } else {
                versions::semver::SemVer::parse(a)
                    .and_then(|pa| versions::semver::SemVer::parse(b).map(|pb| pa.cmp_cargo(&pb)))
                    .map_err(|e| e.to_string())
            }
        }
        Mode::GoModule => {
            if !a.starts_with('v') || !b.starts_with('v') {
                Err("Go module versions need the 'v' prefix".into())
            } else {
                match (
                    versions::parse(VersionScheme::Go, a),
                    versions::parse(VersionScheme::Go, b),
                ) {
                    (Ok(Version::Go(x)), Ok(Version::Go(y))) => Ok(x.cmp(&y)),
                    (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
                    _ => Err("not Go versions".into()),
                }
            }
        }
    };
    match r {
        Ok(o) => (o as i8).to_string(),
        Err(e) => format!("ERR {e}"),
    }
}

fn same(want: &str, got: &str) -> bool {
    // As in the driver: any refusal agrees with any refusal; the reasons differ by tool.
    want == got || (want.starts_with("ERR") && got.starts_with("ERR"))
}

fn reversed(v: &str) -> String {
    match v {
        "-1" => "1".into(),
        "1" => "-1".into(),
        other => other.into(),
    }
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vercmp")
}

/// `(eco, a, b) -> (oracle, ours)` from the table rows of `EXCEPTIONS.md`.
fn exceptions() -> BTreeMap<(String, String, String), (String, String)> {
    let text = std::fs::read_to_string(data_dir().join("EXCEPTIONS.md")).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`').to_string())
            .collect();
        if line.trim_start().starts_with('|') && cells.len() >= 5 && mode(&cells[0]).is_some() {
            out.insert(
                (cells[0].clone(), cells[1].clone(), cells[2].clone()),
                (cells[3].clone(), cells[4].clone()),
            );
        }
    }
    out
}

#[test]
fn every_vector_file_agrees_with_its_oracle() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/data/vercmp exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.tsv vectors in {:?}", data_dir());

    let exceptions = exceptions();
    let mut used_exceptions = 0usize;
    let mut problems: Vec<String> = Vec::new();
    let mut summary: Vec<String> = Vec::new();
    for file in &files {
        let eco = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name")
            .to_string();
        let Some(mode) = mode(&eco) else {
            problems.push(format!(
                "{}: unknown ecosystem name {eco:?}",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("readable vector file");
        let (mut checked, mut bad) = (0usize, 0usize);
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let [a, b, want] = f.as_slice() else {
                problems.push(format!("{eco}.tsv:{}: not a<TAB>b<TAB>expected", n + 1));
                continue;
            };
            checked += 1;
            let key = (eco.clone(), a.to_string(), b.to_string());
            let want = match exceptions.get(&key) {
                Some((oracle, ours)) => {
                    used_exceptions += 1;
                    if !same(oracle, want) {
                        problems.push(format!(
                            "{eco}.tsv:{}: EXCEPTIONS.md says the oracle gives {oracle} for {a} {b}, the file says {want}",
                            n + 1
                        ));
                    }
                    ours.as_str()
                }
                None => want,
            };
            let got = verdict(mode, a, b);
            let back = verdict(mode, b, a);
            if !same(want, &got) || !same(&reversed(want), &back) {
                bad += 1;
                problems.push(format!(
                    "{eco}.tsv:{}: {a} vs {b}: expected {want}, got {got} (reversed: {back})",
                    n + 1
                ));
            }
        }
        summary.push(format!("{eco}: {checked} pairs, {bad} disagreements"));
    }
    let known: usize = exceptions
        .keys()
        .filter(|(eco, _, _)| {
            files
                .iter()
                .any(|f| f.file_stem().is_some_and(|s| s == eco.as_str()))
        })
        .count();
    if used_exceptions < known {
        problems.push(format!(
            "EXCEPTIONS.md lists {known} pairs for present files but only {used_exceptions} occur in the vectors"
        ));
    }
    assert!(
        problems.is_empty(),
        "{}\n{} problems:\n{}",
        summary.join("\n"),
        problems.len(),
        problems.join("\n")
    );
}

/// `1.2.0` → `1.2`, `1.0.0-rc.1` → `1-rc.1` (the core's trailing `.0` parts dropped);
/// `None` when there is nothing to drop.
fn shortened(v: &str) -> Option<String> {
    let body = v.strip_prefix('v').unwrap_or(v);
    let (core, rest) = body.split_at(body.find(['-', '+']).unwrap_or(body.len()));
    let mut parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let before = parts.len();
    while parts.len() > 1 && parts.last() == Some(&"0") {
        parts.pop();
    }
    (parts.len() < before).then(|| format!("{}{rest}", parts.join(".")))
}

/// The matcher's short SemVer reading (`0.1` = `0.1.0`, OSV's scanner's reading, which
/// node-semver and Cargo refuse) orders exactly as the oracle orders the full versions:
/// every valid pair of the npm-semver and Cargo vectors, with each side shortened where
/// it can be, keeps the oracle's verdict.
#[test]
fn short_semver_versions_order_as_the_oracle_orders_the_full_ones() {
    let sem = versions::ordering(VersionScheme::Semver);
    let mut checked = 0usize;
    let mut wrong = Vec::new();
    for file in ["npm-semver.tsv", "cargo-semver.tsv"] {
        let text = std::fs::read_to_string(data_dir().join(file)).expect("vectors");
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let mut f = line.split('\t');
            let (Some(a), Some(b), Some(want)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let want = match want {
                "-1" => Ordering::Less,
                "0" => Ordering::Equal,
                "1" => Ordering::Greater,
                _ => continue,
            };
            if file == "cargo-semver.tsv" && (a.contains('+') || b.contains('+')) {
                continue; // Cargo orders build metadata; SemVer precedence ignores it
            }
            let (sa, sb) = (shortened(a), shortened(b));
            if sa.is_none() && sb.is_none() {
                continue;
            }
            let (sa, sb) = (
                sa.unwrap_or_else(|| a.into()),
                sb.unwrap_or_else(|| b.into()),
            );
            checked += 1;
            if sem.compare(&sa, &sb) != Some(want) {
                wrong.push(format!(
                    "{file}: {sa} vs {sb}: oracle {want:?} for {a} vs {b}, ours {:?}",
                    sem.compare(&sa, &sb)
                ));
            }
        }
    }
    eprintln!("{checked} shortened pairs keep the oracle's verdict");
    assert!(checked > 100, "only {checked} shortened pairs");
    assert!(
        wrong.is_empty(),
        "{} of {checked}:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
