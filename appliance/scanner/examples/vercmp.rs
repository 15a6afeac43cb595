//! Version comparison in the oracle protocol of `shared/oracles/vercmp/driver.py`.
//!
//! `vercmp ECOSYSTEM` reads `A B` lines on stdin and prints `-1`, `0`, `1` or
//! `ERR <reason>` per line. Ecosystems use the driver's names: `dpkg rpm pep440 npm-semver
//! cargo-semver maven rubygems go alpine composer`, plus `nuget`.
//!
//! Two names adapt the library to a reference tool's exact surface: `cargo-semver`
//! refuses a leading `v` and orders build metadata (Cargo's `semver` crate), and `go`
//! requires the `v` prefix as `golang.org/x/mod/semver` does (run the driver with
//! `ORACLE_STRICT=1` so that x/mod reports invalid versions instead of sorting them
//! lowest).
use std::cmp::Ordering;
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use bundles::model::VersionScheme;
use scanner::versions::{self, Version};

#[derive(Clone, Copy)]
enum Mode {
    Plain(VersionScheme),
    Cargo,
    GoModule,
}

fn mode(name: &str) -> Option<Mode> {
    Some(match name {
        "dpkg" => Mode::Plain(VersionScheme::Dpkg),
        "rpm" => Mode::Plain(VersionScheme::Rpm),
        "pep440" => Mode::Plain(VersionScheme::Pep440),
        "npm-semver" | "semver" => Mode::Plain(VersionScheme::Semver),
        "cargo-semver" => Mode::Cargo,
        "maven" => Mode::Plain(VersionScheme::Maven),
        "rubygems" => Mode::Plain(VersionScheme::RubyGems),
        "go" => Mode::GoModule,
        "alpine" | "apk" => Mode::Plain(VersionScheme::Apk),
        "composer" => Mode::Plain(VersionScheme::Composer),
        "nuget" => Mode::Plain(VersionScheme::NuGet),
        _ => return None,
    })
}

fn cmp(mode: Mode, a: &str, b: &str) -> Result<Ordering, String> {
    match mode {
        Mode::Plain(s) => versions::compare(s, a, b).map_err(|e| e.to_string()),
        Mode::Cargo => {
            if a.starts_with('v') || b.starts_with('v') {
                return Err("cargo versions have no 'v' prefix".into());
            }
            let pa = versions::semver::SemVer::parse(a).map_err(|e| e.to_string())?;
            let pb = versions::semver::SemVer::parse(b).map_err(|e| e.to_string())?;
            Ok(pa.cmp_cargo(&pb))
        }
        Mode::GoModule => {
            if !a.starts_with('v') || !b.starts_with('v') {
                return Err("Go module versions need the 'v' prefix".into());
            }
            let pa = versions::parse(VersionScheme::Go, a).map_err(|e| e.to_string())?;
            let pb = versions::parse(VersionScheme::Go, b).map_err(|e| e.to_string())?;
            match (pa, pb) {
                (Version::Go(x), Version::Go(y)) => Ok(x.cmp(&y)),
                _ => Err("not Go versions".into()),
            }
        }
    }
}

fn run() -> anyhow::Result<()> {
    let name = std::env::args()
        .nth(1)
        .context("usage: vercmp ECOSYSTEM < pairs")?;
    let Some(mode) = mode(&name) else {
        bail!("unknown ecosystem {name:?}");
    };
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        let line = line.context("reading stdin")?;
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [] => continue,
            [a, b] => match cmp(mode, a, b) {
                Ok(o) => writeln!(out, "{}", o as i8)?,
                Err(e) => writeln!(out, "ERR {}", e.replace('\n', " "))?,
            },
            _ => writeln!(out, "ERR need two fields")?,
        }
    }
    out.flush()?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vercmp: {e:#}");
            ExitCode::from(2)
        }
    }
}
