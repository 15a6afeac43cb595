//! Cost of a policy's Rego rules per scan (figures in docs/PERFORMANCE.md, "Policy: Rego
//! rules"): `apply_policy` over N synthetic findings (N = 1, 50, 500) with
//!
//! - `yaml_only`: two YAML mute rules, no module (the baseline: Rego costs nothing then);
//! - `rego_small`: the same YAML rules plus a small module (a severity + ecosystem `mute`
//!   and a no-fix-in-production `deny`, the README example).
//!
//! Each iteration clones the findings (so every run starts unmuted); the clone is in both
//! variants, so the difference is the Rego cost.
// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]
use std::hint::black_box;

use appliance::policy::Policy;
use appliance::policy::rego::ScanFacts;
use appliance::service::scan::apply_policy;
use bundles::model::{Finding, FindingPackage, Severity};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use time::OffsetDateTime;

const YAML: &str = "fail_on: high\nmutes:\n  - advisory: CVE-2099-0000001\n    reason: r\n  - purl: 'pkg:pypi/never@*'\n    reason: r\n";

const REGO: &str = r#"rego: |
  package stella

  mute := "npm low/medium accepted" if {
    input.package.ecosystem == "npm"
    input.severity in {"low", "medium"}
  }

  deny contains msg if {
    count(input.fixed_versions) == 0
    input.layer == "sha256:prod"
    msg := sprintf("%s in %s has no fix in production", [input.id, input.package.name])
  }
"#;

fn findings(n: usize) -> Vec<Finding> {
    let sev = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    let eco = ["npm", "PyPI", "Go"];
    (0..n)
        .map(|i| Finding {
            id: format!("GHSA-{i:04}"),
            aliases: vec![format!("CVE-2099-{i:07}")],
            package: FindingPackage {
                name: format!("pkg-{i}"),
                version: "1.0.0".into(),
                purl: Some(format!("pkg:npm/pkg-{i}@1.0.0")),
                ecosystem: eco[i % eco.len()].into(),
            },
            fixed_versions: if i % 5 == 0 {
                Vec::new()
            } else {
                vec!["1.0.1".into()]
            },
            severity: sev[i % sev.len()],
            cvss: None,
            summary: Some("synthetic".into()),
            references: Vec::new(),
            layer: Some(
                if i % 2 == 0 {
                    "sha256:prod"
                } else {
                    "sha256:dev"
                }
                .into(),
            ),
            path: None,
            muted: false,
            mute_reason: None,
            undecided: false,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let scan = ScanFacts {
        sbom_name: Some("bench".into()),
        components: 500,
        kit_sequence: 1,
        kit_age_days: 3,
    };
    let yaml = Policy::from_yaml(YAML).expect("yaml policy");
    let rego = Policy::from_yaml(&format!("{YAML}{REGO}")).expect("rego policy");
    let mut g = c.benchmark_group("policy");
    for n in [1usize, 50, 500] {
        let fs = findings(n);
        for (name, p) in [("yaml_only", &yaml), ("rego_small", &rego)] {
            g.bench_with_input(BenchmarkId::new(name, n), &fs, |b, fs| {
                b.iter(|| {
                    let mut f = fs.clone();
                    black_box(apply_policy(p, &mut f, now, &scan))
                });
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
