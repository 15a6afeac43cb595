//! Report formats: an 80-column table, the server's JSON, SARIF 2.1.0 and JUnit XML.
//!
//! Every formatter is a pure function of a [`Context`] so it can be unit-tested without a
//! server and the bytes written to `--output` are the bytes tested.

pub mod junit;
pub mod sarif;
pub mod table;

use crate::report::{Decision, ScanReport};

/// Output format of `stella scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable table for an 80-column CI log.
    Table,
    /// The appliance's JSON answer, verbatim (pretty-printed, key order kept).
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// JUnit XML: one test case per finding.
    Junit,
}

/// What a formatter needs.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The parsed answer.
    pub report: &'a ScanReport,
    /// The answer's exact bytes (for `json`).
    pub raw: &'a [u8],
    /// Threshold and verdict in force.
    pub decision: Decision,
    /// How the SBOM is named in SARIF/JUnit (a relative URI reference, or `stdin`).
    pub sbom_uri: &'a str,
    /// The SBOM bytes (SARIF looks up the line of each purl).
    pub sbom: &'a [u8],
    /// `--name`, when given.
    pub name: Option<&'a str>,
    /// Whether to emit ANSI colour (table only).
    pub color: bool,
}

/// Renders `ctx` in `format`.
///
/// # Errors
/// Only `json`: the server's bytes are not JSON (the other formats render parsed data).
pub fn render(format: Format, ctx: &Context<'_>) -> Result<Vec<u8>, serde_json::Error> {
    Ok(match format {
        Format::Table => table::render(ctx).into_bytes(),
        Format::Json => json_pretty(ctx.raw)?,
        Format::Sarif => sarif::render(ctx),
        Format::Junit => junit::render(ctx),
    })
}

/// Pretty-prints JSON bytes without reordering keys, in exactly the layout of
/// `serde_json::to_vec_pretty` (two-space indent, `": "`, `[]`/`{}` when empty) plus a final
/// newline. Strings and numbers are copied byte for byte as the appliance sent them.
///
/// The document is validated with serde_json first; the layout itself is a single pass
/// that only inserts and drops whitespace between tokens. Re-serialising through
/// `serde_transcode` did the same job at ~10× the cost (2.7 ms of the 20 ms a 467-finding
/// `stella scan --format json` took; docs/PERFORMANCE.md).
///
/// # Errors
/// `raw` is not one JSON document.
pub fn json_pretty(raw: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::from_slice::<serde::de::IgnoredAny>(raw)?;
    Ok(reindent(raw))
}

/// [`json_pretty`] of bytes already validated as one JSON document (serde_json parsed
/// them: `from_slice` checks the whole text, trailing characters included). On anything
/// else the output is unspecified but the function still returns.
#[must_use]
pub fn json_pretty_valid(raw: &[u8]) -> Vec<u8> {
    reindent(raw)
}

/// The whitespace pass of [`json_pretty`] over a document already known to be valid JSON.
fn reindent(raw: &[u8]) -> Vec<u8> {
    fn newline(out: &mut Vec<u8>, depth: usize) {
        out.push(b'\n');
        out.resize(out.len() + 2 * depth, b' ');
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 2 + 1);
    let mut depth = 0usize;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'"' => {
                // Copy the string through its closing quote; a backslash escapes the next
                // byte (`\"`, `\\`; `\uXXXX` needs no special case).
                let start = i;
                i += 1;
                while i < raw.len() {
                    match raw[i] {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                i = (i + 1).min(raw.len());
                out.extend_from_slice(&raw[start..i]);
                continue;
            }
            b'{' | b'[' => {
                let close = if b == b'{' { b'}' } else { b']' };
                let mut j = i + 1;
                while j < raw.len() && raw[j].is_ascii_whitespace() {
                    j += 1;
                }
                out.push(b);
                if raw.get(j) == Some(&close) {
                    out.push(close);
                    i = j;
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b',');
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => out.push(b),
        }
        i += 1;
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! A report with one finding of each interesting kind, shared by the formatter tests.
    use crate::report::{Decision, FailOn, ScanReport};

    pub(crate) const RAW: &str = r#"{
  "scan_id": "01JDQ3Z6Y7W8X9A0B1C2D3E4F5",
  "verdict": "fail",
  "summary": {"components": 4, "findings": 4, "muted": 1,
    "by_severity": {"critical": 1, "high": 1, "medium": 0, "low": 1, "unknown": 0},
    "fail_on": "high", "stale_feed": true},
  "findings": [
    {"id": "GHSA-jf85-cpcp-j695", "aliases": ["CVE-2019-10744"],
     "package": {"name": "lodash", "version": "4.17.11", "purl": "pkg:npm/lodash@4.17.11", "ecosystem": "npm"},
     "fixed_versions": ["4.17.12"], "severity": "critical",
     "cvss": {"version": "3.1", "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H", "score": 9.1},
     "summary": "Prototype pollution in lodash <tag> & \"quotes\" \u0001 ctrl",
     "references": ["https://github.com/advisories/GHSA-jf85-cpcp-j695"],
     "layer": null, "path": null, "muted": false, "mute_reason": null},
    {"id": "PYSEC-2021-1", "aliases": [],
     "package": {"name": "a-really-long-package-name-that-will-never-fit-in-eighty-columns", "version": "1.0.0.post1.dev0+local.build.123", "purl": "pkg:pypi/a-really-long-package-name-that-will-never-fit-in-eighty-columns@1.0.0.post1.dev0%2Blocal.build.123", "ecosystem": "PyPI"},
     "fixed_versions": ["1.0.1", "2.0.0", "3.0.0"], "severity": "high", "cvss": null,
     "summary": null, "references": [], "layer": "sha256:aaaa", "path": "/usr/lib/python3/x",
     "muted": false, "mute_reason": null},
    {"id": "DSA-5000-1", "aliases": ["CVE-2021-1"],
     "package": {"name": "zlib1g", "version": "1:1.2.13.dfsg-1", "purl": "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64", "ecosystem": "Debian:12"},
     "fixed_versions": [], "severity": "low", "cvss": null, "summary": "zlib thing",
     "references": [], "muted": false, "mute_reason": null},
    {"id": "GHSA-muted-0000-0000", "aliases": [],
     "package": {"name": "minimist", "version": "0.0.8", "purl": "pkg:npm/minimist@0.0.8", "ecosystem": "npm"},
     "fixed_versions": ["0.2.1"], "severity": "critical", "cvss": null,
     "summary": "muted one", "references": [], "muted": true,
     "mute_reason": "not reachable: build-time only (SEC-42)"}
  ],
  "warnings": ["component pkg:generic/foo has no version"],
  "kit": {"id": "kit-7", "sequence": 7, "created_at": "2026-11-20T00:00:00Z"},
  "findings_digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
  "evidence_url": "/api/v1/scans/01JDQ3Z6Y7W8X9A0B1C2D3E4F5/evidence"
}"#;

    pub(crate) const SBOM: &str = "{\n  \"components\": [\n    {\"purl\": \"pkg:npm/lodash@4.17.11\"},\n    {\"purl\": \"pkg:npm/minimist@0.0.8\"}\n  ]\n}\n";

    pub(crate) fn report() -> ScanReport {
        ScanReport::from_json(RAW.as_bytes()).expect("fixture parses")
    }

    pub(crate) fn decision(r: &ScanReport, fail_on: Option<FailOn>) -> Decision {
        Decision::new(r, fail_on)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_key_order_and_numbers() {
        let raw = br#"{"z":1,"a":{"y":1.50,"b":[1,2]},"m":"x"}"#;
        let out = String::from_utf8(json_pretty(raw).expect("json")).expect("utf8");
        let z = out.find("\"z\"").expect("z");
        let a = out.find("\"a\"").expect("a");
        let m = out.find("\"m\"").expect("m");
        assert!(z < a && a < m, "{out}");
        assert!(out.ends_with("}\n"));
        let back: serde_json::Value = serde_json::from_str(&out).expect("reparse");
        assert_eq!(
            back,
            serde_json::from_slice::<serde_json::Value>(raw).expect("raw")
        );
    }

    /// The same bytes as serde_json's own pretty printer, on the formatter fixture and on
    /// documents with empty containers, nesting, escapes and odd whitespace.
    #[test]
    fn json_matches_serde_json_pretty() {
        let docs = [
            fixtures::RAW,
            r#"{"a":[],"b":{},"c":[{}],"d":[[],[1,[2,{"x":null}]]],"e":"q\"uo{te},[]:"}"#,
            " { \"k\" :\t[ 1 , 2 ] ,\r\n \"s\" : \"a\\\\\" } ",
            "[]",
            "\"just a string\"",
            "-1.5e3",
            r#"{"unicode":"\u00e9\u2028 é","slash":"a\/b"}"#,
        ];
        for doc in docs {
            let v: serde_json::Value = serde_json::from_str(doc).expect("fixture is JSON");
            let mut want = serde_json::to_vec_pretty(&v).expect("pretty");
            want.push(b'\n');
            // serde_json sorts a Value's keys and normalises escapes and numbers: compare
            // against the pretty form of the compact, already-normalised text.
            let compact = serde_json::to_vec(&v).expect("compact");
            assert_eq!(
                String::from_utf8(json_pretty(&compact).expect("valid")).expect("utf8"),
                String::from_utf8(want).expect("utf8"),
                "{doc}"
            );
            // And the original text keeps its value.
            let back: serde_json::Value =
                serde_json::from_slice(&json_pretty(doc.as_bytes()).expect("valid"))
                    .expect("reparse");
            assert_eq!(back, v, "{doc}");
        }
    }

    proptest::proptest! {
        /// Any JSON value: the reindented compact text is serde_json's pretty text.
        #[test]
        fn json_pretty_equals_serde_pretty(v in arb_json()) {
            let compact = serde_json::to_vec(&v).expect("compact");
            let mut want = serde_json::to_vec_pretty(&v).expect("pretty");
            want.push(b'\n');
            proptest::prop_assert_eq!(json_pretty(&compact).expect("valid"), want);
        }

        /// Arbitrary bytes never panic the whitespace pass (json_pretty refuses them first,
        /// but the pass itself must be total).
        #[test]
        fn reindent_is_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = reindent(&bytes);
        }
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(serde_json::Value::String),
            "[\"\\\\{}\\[\\]:, \\n\\t/]{0,8}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("\\PC{0,6}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn json_rejects_trailing_garbage() {
        let e = json_pretty(b"{} x").expect_err("trailing garbage");
        assert_eq!(e.classify(), serde_json::error::Category::Syntax, "{e}");
        assert!(e.to_string().contains("trailing characters"), "{e}");
        let e = json_pretty(b"").expect_err("empty");
        assert_eq!(e.classify(), serde_json::error::Category::Eof, "{e}");
    }
}
