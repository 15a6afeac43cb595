//! SARIF 2.1.0: one rule per advisory, one result per finding, muted findings suppressed.
//!
//! Validated in the tests against the official OASIS schema
//! (`tests/data/sarif-schema-2.1.0.json`). Choices that code-scanning dashboards rely on:
//! - `partialFingerprints["stellaFinding/v1"]` = sha256 of advisory id + purl, so the same
//!   finding keeps its identity across scans and line shifts;
//! - the location is the SBOM file (with the line that names the purl when it can be
//!   found) plus a logical location whose fully qualified name is the purl;
//! - `rules[].properties["security-severity"]` carries the CVSS score (or a score standing
//!   for the severity band) so dashboards rank findings like the appliance does.

use super::Context;
use crate::report::{Finding, Severity};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The `$schema` URI written into every log.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The partial-fingerprint key.
pub const FINGERPRINT_KEY: &str = "stellaFinding/v1";

// Characters left alone in an advisory id placed in a URL path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// SARIF level for a severity.
#[must_use]
pub fn level(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical | Severity::High => "error",
        // Unknown is a warning, not a note: the feeds could not say it is minor.
        Severity::Medium | Severity::Unknown => "warning",
        Severity::Low => "note",
    }
}

/// The stable fingerprint of a finding: hex sha256 over the advisory id and the purl.
#[must_use]
pub fn fingerprint(f: &Finding) -> String {
    let mut h = Sha256::new();
    h.update(b"stella-finding/v1\0");
    h.update(f.id.as_bytes());
    h.update(b"\0");
    h.update(f.purl().as_bytes());
    hex::encode(h.finalize())
}

fn security_severity(f: &Finding) -> String {
    if let Some(score) = f.cvss.as_ref().map(|c| c.score)
        && (0.0..=10.0).contains(&score)
    {
        return format!("{score:.1}");
    }
    // GitHub's bands: critical > 9.0, high 7.0–8.9, medium 4.0–6.9, low 0.1–3.9.
    match f.severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Unknown => "0.0",
    }
    .to_owned()
}

/// A reference usable as `helpUri`: an absolute http(s) URL with no spaces or controls.
fn usable_uri(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > "https://".len()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
}

fn help_uri(f: &Finding) -> String {
    f.references
        .iter()
        .find(|r| usable_uri(r))
        .cloned()
        .unwrap_or_else(|| {
            format!(
                "https://osv.dev/vulnerability/{}",
                utf8_percent_encode(&f.id, SEGMENT)
            )
        })
}

fn help_text(f: &Finding) -> String {
    let mut t = String::new();
    t.push_str(f.summary.as_deref().unwrap_or(&f.id));
    if !f.aliases.is_empty() {
        t.push_str("\nAliases: ");
        t.push_str(&f.aliases.join(", "));
    }
    if !f.references.is_empty() {
        t.push_str("\nReferences:\n");
        for r in &f.references {
            t.push_str("  ");
            t.push_str(r);
            t.push('\n');
        }
    }
    t
}

fn message(f: &Finding) -> String {
    let mut m = format!(
        "{} {} is affected by {} ({}).",
        f.package.name, f.package.version, f.id, f.severity
    );
    if f.fixed_versions.is_empty() {
        m.push_str(" No fixed version is known.");
    } else {
        m.push_str(" Fixed in: ");
        m.push_str(&f.fixed_versions.join(", "));
        m.push('.');
    }
    if let Some(s) = f.summary.as_deref().filter(|s| !s.is_empty()) {
        m.push(' ');
        m.push_str(s);
    }
    m
}

/// 1-based line of the first occurrence of `needle` in `text`, if any.
fn line_of(text: &[u8], needle: &str) -> Option<u64> {
    if needle.is_empty() {
        return None;
    }
    let pos = memfind(text, needle.as_bytes())?;
    Some(1 + text[..pos].iter().filter(|&&b| b == b'\n').count() as u64)
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Renders the SARIF log (pretty JSON, newline-terminated).
#[must_use]
pub fn render(ctx: &Context<'_>) -> Vec<u8> {
    let r = ctx.report;
    let mut findings: Vec<&Finding> = r.findings.iter().collect();
    findings.sort_by(|a, b| (&a.id, a.purl()).cmp(&(&b.id, b.purl())));

    // One rule per advisory id; the most severe finding of that id describes it.
    let mut rule_src: BTreeMap<&str, &Finding> = BTreeMap::new();
    for f in &findings {
        rule_src
            .entry(f.id.as_str())
            .and_modify(|cur| {
                if f.severity > cur.severity {
                    *cur = f;
                }
            })
            .or_insert(f);
    }
    let rule_index: BTreeMap<&str, usize> =
        rule_src.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let rules: Vec<Value> = rule_src
        .values()
        .map(|f| {
            let short = f
                .summary
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| f.id.clone());
            json!({
                "id": f.id,
                "shortDescription": {"text": short},
                "fullDescription": {"text": help_text(f)},
                "helpUri": help_uri(f),
                "help": {"text": help_text(f)},
                "defaultConfiguration": {"level": level(f.severity)},
                "properties": {
                    "tags": ["security", "vulnerability", f.severity.as_str()],
                    "security-severity": security_severity(f),
                    "aliases": f.aliases,
                },
            })
        })
        .collect();

    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut region = serde_json::Map::new();
            region.insert(
                "startLine".into(),
                json!(line_of(ctx.sbom, f.purl()).unwrap_or(1)),
            );
            let mut result = json!({
                "ruleId": f.id,
                "ruleIndex": rule_index.get(f.id.as_str()).copied().unwrap_or(0),
                "level": level(f.severity),
                "message": {"text": message(f)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": ctx.sbom_uri, "index": 0},
                        "region": region,
                    },
                    "logicalLocations": [{
                        "name": f.package.name,
                        "fullyQualifiedName": f.purl(),
                        "kind": "package",
                    }],
                }],
                "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f)},
                "properties": {
                    "severity": f.severity.as_str(),
                    "package": f.package.name,
                    "installedVersion": f.package.version,
                    "ecosystem": f.package.ecosystem,
                    "fixedVersions": f.fixed_versions,
                    "failsPolicy": ctx.decision.fails(*f),
                },
            });
            if f.undecided {
                result["properties"]["undecided"] = json!(true);
            }
            if f.muted {
                result["suppressions"] = json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": f.mute_reason.as_deref().unwrap_or("muted by site policy"),
                }]);
            }
            result
        })
        .collect();

    let mut run = json!({
        "tool": {"driver": {
            "name": "stella",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        }},
        "artifacts": [{"location": {"uri": ctx.sbom_uri}, "roles": ["analysisTarget"]}],
        "invocations": [{
            "executionSuccessful": true,
            "properties": {
                "verdict": ctx.decision.verdict.as_str(),
                "failOn": ctx.decision.threshold.as_str(),
            },
        }],
        "results": results,
        "properties": {
            "scanId": r.scan_id,
            "findingsDigest": r.findings_digest,
            "staleFeed": r.summary.stale_feed,
            "kit": r.kit.as_ref().map(|k| json!({"id": k.id, "sequence": k.sequence, "createdAt": k.created_at})),
        },
    });
    if let Some(name) = ctx.name {
        // automationDetails.id groups runs of the same target in dashboards.
        run["automationDetails"] = json!({"id": format!("stella/{name}/")});
    }
    let log = json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [run],
    });
    let mut out = serde_json::to_vec_pretty(&log).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixtures;

    fn sarif(r: &crate::report::ScanReport) -> Value {
        let ctx = Context {
            report: r,
            raw: fixtures::RAW.as_bytes(),
            decision: fixtures::decision(r, None),
            sbom_uri: "bom.json",
            sbom: fixtures::SBOM.as_bytes(),
            name: Some("web"),
            color: false,
        };
        serde_json::from_slice(&render(&ctx)).expect("SARIF is JSON")
    }

    #[test]
    fn one_rule_per_advisory_one_result_per_finding() {
        let r = fixtures::report();
        let v = sarif(&r);
        let run = &v["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"]
                .as_array()
                .expect("rules")
                .len(),
            4
        );
        let results = run["results"].as_array().expect("results");
        assert_eq!(results.len(), 4);
        for res in results {
            let idx = res["ruleIndex"].as_u64().expect("index") as usize;
            assert_eq!(run["tool"]["driver"]["rules"][idx]["id"], res["ruleId"]);
        }
    }

    #[test]
    fn muted_findings_are_suppressed_with_justification() {
        let r = fixtures::report();
        let v = sarif(&r);
        let results = v["runs"][0]["results"].as_array().expect("results");
        let muted: Vec<&Value> = results
            .iter()
            .filter(|x| x.get("suppressions").is_some())
            .collect();
        assert_eq!(muted.len(), 1);
        assert_eq!(muted[0]["ruleId"], "GHSA-muted-0000-0000");
        assert_eq!(
            muted[0]["suppressions"][0]["justification"],
            "not reachable: build-time only (SEC-42)"
        );
    }

    #[test]
    fn levels_lines_and_logical_locations() {
        let r = fixtures::report();
        let v = sarif(&r);
        let results = v["runs"][0]["results"].as_array().expect("results");
        let lodash = results
            .iter()
            .find(|x| x["ruleId"] == "GHSA-jf85-cpcp-j695")
            .expect("lodash");
        assert_eq!(lodash["level"], "error");
        assert_eq!(
            lodash["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert_eq!(
            lodash["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            "pkg:npm/lodash@4.17.11"
        );
        let zlib = results
            .iter()
            .find(|x| x["ruleId"] == "DSA-5000-1")
            .expect("zlib");
        assert_eq!(zlib["level"], "note");
        assert_eq!(
            zlib["locations"][0]["physicalLocation"]["region"]["startLine"],
            1
        );
        let rules = v["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules");
        let rule = rules
            .iter()
            .find(|x| x["id"] == "GHSA-jf85-cpcp-j695")
            .expect("rule");
        assert_eq!(
            rule["helpUri"],
            "https://github.com/advisories/GHSA-jf85-cpcp-j695"
        );
        assert_eq!(rule["properties"]["security-severity"], "9.1");
        let dsa = rules.iter().find(|x| x["id"] == "DSA-5000-1").expect("dsa");
        assert_eq!(dsa["helpUri"], "https://osv.dev/vulnerability/DSA-5000-1");
    }

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        let a = fixtures::report();
        let b = fixtures::report();
        let fa: Vec<String> = a.findings.iter().map(fingerprint).collect();
        let fb: Vec<String> = b.findings.iter().map(fingerprint).collect();
        assert_eq!(fa, fb);
        let mut dedup = fa.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), fa.len());
        // Pinned: a change here breaks dashboards' finding identity across versions.
        let mut h = Sha256::new();
        h.update(b"stella-finding/v1\0GHSA-jf85-cpcp-j695\0pkg:npm/lodash@4.17.11");
        assert_eq!(fa[0], hex::encode(h.finalize()));
    }
}
