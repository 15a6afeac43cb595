//! The boundary between the service and the matcher: [`Scanner`] turns a parsed SBOM into
//! findings. The service applies the policy, signs and stores; it never looks inside the
//! matcher, so a different engine (the full `scan::engine`, or a site plug-in) slots in
//! by implementing this trait.
//!
//! [`OsvScanner`] is the built-in implementation: an in-memory index of the kit's
//! canonical OSV advisories keyed by (ecosystem, package), evaluated with the
//! ecosystem's own version ordering from [`crate::scan::versions`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bundles::model::{Advisory, Ecosystem, JsonlReader, Orderings, pep503_normalize};
use serde::Serialize;

use crate::policy::Level;
use crate::scan::sbom::Sbom;
use crate::scan::versions;

/// Version string of the built-in matcher, recorded in evidence.
pub const OSV_SCANNER_VERSION: &str = concat!("osv-scanner/", env!("CARGO_PKG_VERSION"));

/// Most advisories one kit may load (bounds memory on a hostile or broken kit).
pub const MAX_ADVISORIES: usize = 2_000_000;

/// The package a finding is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingPackage {
    /// Name as the SBOM gives it.
    pub name: String,
    /// Version as the SBOM gives it.
    pub version: String,
    /// purl (empty when the SBOM has none).
    pub purl: String,
    /// OSV ecosystem.
    pub ecosystem: String,
}

/// One finding: an advisory affecting one component. Serialises to the finding JSON of
/// the API (CONTRACT.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Advisory id.
    pub id: String,
    /// Its aliases (CVE ids, ...).
    pub aliases: Vec<String>,
    /// The affected component.
    pub package: FindingPackage,
    /// Versions that fix it.
    pub fixed_versions: Vec<String>,
    /// `critical|high|medium|low|unknown`.
    pub severity: Level,
    /// One-line summary of the advisory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Layer that introduced the component, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Path of the component, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Whether a policy rule mutes it.
    pub muted: bool,
    /// The rule's reason, when muted.
    pub mute_reason: Option<String>,
}

/// What a scan found.
#[derive(Clone, Debug, Default)]
pub struct ScanOutput {
    /// Findings, in a canonical order (id, then purl).
    pub findings: Vec<Finding>,
    /// Non-fatal problems (unmatched components, undecidable ranges).
    pub warnings: Vec<String>,
    /// Components in the SBOM.
    pub components: u32,
}

/// Turns an SBOM into findings.
pub trait Scanner: Send + Sync {
    /// Matches every component of `sbom` against the kit's advisories.
    fn scan(&self, sbom: &Sbom) -> ScanOutput;
    /// The matcher's version (recorded in evidence for replay).
    fn version(&self) -> &str;
    /// How many advisories are loaded.
    fn advisories(&self) -> usize;
}

/// One `affected` entry of an advisory: the advisory and the entry's index.
type Candidate = (Arc<Advisory>, usize);

/// The built-in OSV matcher (see the module docs).
#[derive(Debug, Default)]
pub struct OsvScanner {
    /// (ecosystem text, normalised package name) → (advisory, index of its `affected`).
    index: HashMap<(String, String), Vec<Candidate>>,
    count: usize,
}

fn norm_name(eco: &Ecosystem, name: &str) -> String {
    match eco.base().as_str() {
        "PyPI" => pep503_normalize(name),
        _ => name.to_owned(),
    }
}

impl OsvScanner {
    /// Loads every `*.jsonl` file of `dir` (canonical advisories, one per line).
    pub fn from_jsonl_dir(dir: &Path) -> Result<Self, String> {
        let mut s = Self::default();
        let rd = match std::fs::read_dir(dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(s),
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        };
        let mut files: Vec<_> = rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        files.sort();
        for f in files {
            let file = std::fs::File::open(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            for adv in JsonlReader::new(std::io::BufReader::new(file)) {
                let adv = adv.map_err(|e| format!("{}: {e}", f.display()))?;
                s.add(adv)?;
            }
        }
        Ok(s)
    }

    /// Adds one advisory.
    pub fn add(&mut self, adv: Advisory) -> Result<(), String> {
        self.count += 1;
        if self.count > MAX_ADVISORIES {
            return Err(format!("more than {MAX_ADVISORIES} advisories"));
        }
        let adv = Arc::new(adv);
        for (i, a) in adv.affected().iter().enumerate() {
            let p = a.package();
            let key = (
                p.ecosystem().to_string(),
                norm_name(p.ecosystem(), p.name()),
            );
            self.index.entry(key).or_default().push((adv.clone(), i));
        }
        Ok(())
    }
}

fn severity_of(adv: &Advisory) -> Level {
    adv.database_severity().map_or(Level::Unknown, Level::parse)
}

impl Scanner for OsvScanner {
    fn scan(&self, sbom: &Sbom) -> ScanOutput {
        let mut out = ScanOutput {
            components: u32::try_from(sbom.components.len()).unwrap_or(u32::MAX),
            warnings: sbom.warnings.clone(),
            ..ScanOutput::default()
        };
        for c in &sbom.components {
            let Some(eco) = &c.ecosystem else { continue };
            let name = norm_name(eco, &c.package);
            let mut keys = vec![(eco.to_string(), name.clone())];
            if eco.release().is_some() {
                keys.push((eco.without_release().to_string(), name));
            }
            let orderings = Orderings {
                semver: versions::ordering(bundles::model::VersionScheme::Semver),
                ecosystem: versions::ordering(eco.scheme()),
            };
            for key in &keys {
                for (adv, i) in self.index.get(key).into_iter().flatten() {
                    let Some(aff) = adv.affected().get(*i) else {
                        continue;
                    };
                    if !aff.affects(&c.match_version, orderings) {
                        continue;
                    }
                    out.findings.push(Finding {
                        id: adv.id().as_str().to_owned(),
                        aliases: adv
                            .aliases()
                            .iter()
                            .map(|a| a.as_str().to_owned())
                            .collect(),
                        package: FindingPackage {
                            name: c.name.clone(),
                            version: c.version.clone(),
                            purl: c.purl.clone().unwrap_or_default(),
                            ecosystem: eco.to_string(),
                        },
                        fixed_versions: aff
                            .fixed_versions()
                            .into_iter()
                            .map(str::to_owned)
                            .collect(),
                        severity: severity_of(adv),
                        summary: adv.summary().map(str::to_owned),
                        layer: c.layer.clone(),
                        path: c.path.clone(),
                        muted: false,
                        mute_reason: None,
                    });
                }
            }
        }
        out.findings.sort_by(|a, b| {
            (&a.id, &a.package.purl, &a.package.name, &a.package.version).cmp(&(
                &b.id,
                &b.package.purl,
                &b.package.name,
                &b.package.version,
            ))
        });
        out.findings
            .dedup_by(|a, b| a.id == b.id && a.package == b.package);
        out
    }

    fn version(&self) -> &str {
        OSV_SCANNER_VERSION
    }

    fn advisories(&self) -> usize {
        self.count
    }
}

/// `sha256:<hex>` of the canonical JSON of `findings` (sorted keys, no whitespace):
/// the same SBOM, kit and policy always give the same digest.
pub fn findings_digest(findings: &[Finding]) -> Result<String, String> {
    let v = serde_json::to_value(findings).map_err(|e| e.to_string())?;
    let bytes = bundles::manifest::canonical_json(&v).map_err(|e| e.to_string())?;
    Ok(crate::store::Sha256Digest::of(&bytes).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> OsvScanner {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/feeds/osv/npm");
        let mut s = OsvScanner::default();
        let mut files: Vec<_> = std::fs::read_dir(&root)
            .expect("sample feed")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        for p in files {
            let bytes = std::fs::read(&p).expect("read");
            s.add(Advisory::from_osv_json(&bytes).expect("valid"))
                .expect("add");
        }
        s
    }

    #[test]
    fn matches_affected_versions_only() {
        let s = sample();
        let sbom = crate::scan::sbom::parse(
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[
              {"type":"library","name":"minimist","version":"1.2.5","purl":"pkg:npm/minimist@1.2.5"},
              {"type":"library","name":"minimist","version":"1.2.6","purl":"pkg:npm/minimist@1.2.6"},
              {"type":"library","name":"express","version":"4.18.0","purl":"pkg:npm/express@4.18.0"}]}"#,
            &crate::scan::sbom::SbomLimits::default(),
        )
        .expect("sbom");
        let out = s.scan(&sbom);
        let got: Vec<(&str, &str, Level)> = out
            .findings
            .iter()
            .map(|f| (f.id.as_str(), f.package.version.as_str(), f.severity))
            .collect();
        assert_eq!(
            got,
            [
                ("GHSA-rv95-896h-c2vc", "4.18.0", Level::Medium),
                ("GHSA-xvch-5gv4-984h", "1.2.5", Level::Critical)
            ],
            "{:?} / {:?}",
            sbom.components,
            s.index.keys().collect::<Vec<_>>()
        );
        let d1 = findings_digest(&out.findings).expect("digest");
        assert_eq!(
            d1,
            findings_digest(&s.scan(&sbom).findings).expect("digest")
        );
        assert!(d1.starts_with("sha256:"));
    }
}
