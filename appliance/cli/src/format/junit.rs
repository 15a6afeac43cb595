//! JUnit XML: one test suite, one test case per finding.
//!
//! Unmuted findings at or above the threshold are `<failure>`s, muted ones `<skipped>`,
//! the rest pass (with the details in `<system-out>`), so a CI's test view shows exactly
//! what fails the gate. A scan without findings still has one passing test case, because
//! several CI systems treat an empty report as an error.

use super::Context;
use crate::report::Finding;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use std::io;

/// Replaces characters that XML 1.0 cannot carry at all (escaping does not help), so a
/// hostile advisory summary cannot make the report unparseable.
#[must_use]
pub fn xml_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 => '\u{FFFD}',
            '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

fn details(f: &Finding) -> String {
    let mut d = format!(
        "advisory: {}\npackage: {} {}\npurl: {}\nseverity: {}\n",
        f.id,
        f.package.name,
        f.package.version,
        f.purl(),
        f.severity
    );
    if !f.aliases.is_empty() {
        d.push_str(&format!("aliases: {}\n", f.aliases.join(", ")));
    }
    if let Some(c) = &f.cvss {
        d.push_str(&format!(
            "cvss: {} {} ({:.1})\n",
            c.version, c.vector, c.score
        ));
    }
    d.push_str(&format!(
        "fixed in: {}\n",
        if f.fixed_versions.is_empty() {
            "-".to_owned()
        } else {
            f.fixed_versions.join(", ")
        }
    ));
    if let Some(s) = &f.summary {
        d.push_str(&format!("summary: {s}\n"));
    }
    for r in &f.references {
        d.push_str(&format!("reference: {r}\n"));
    }
    xml_safe(&d)
}

fn write(ctx: &Context<'_>) -> io::Result<Vec<u8>> {
    let r = ctx.report;
    let threshold = ctx.decision.threshold;
    let mut findings: Vec<&Finding> = r.findings.iter().collect();
    findings.sort_by(|a, b| {
        (std::cmp::Reverse(a.severity), &a.id, a.purl()).cmp(&(
            std::cmp::Reverse(b.severity),
            &b.id,
            b.purl(),
        ))
    });
    let failures = findings.iter().filter(|f| ctx.decision.fails(**f)).count();
    let skipped = findings.iter().filter(|f| f.muted).count();
    let tests = findings.len().max(1);
    let suite_name = xml_safe(&format!(
        "stella scan: {}",
        ctx.name.unwrap_or(ctx.sbom_uri)
    ));
    let (tests_s, failures_s, skipped_s) =
        (tests.to_string(), failures.to_string(), skipped.to_string());

    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("testsuites")
        .with_attributes([
            ("name", "stella"),
            ("tests", tests_s.as_str()),
            ("failures", failures_s.as_str()),
            ("errors", "0"),
            ("skipped", skipped_s.as_str()),
        ])
        .write_inner_content(|w| {
            w.create_element("testsuite")
                .with_attributes([
                    ("name", suite_name.as_str()),
                    ("tests", tests_s.as_str()),
                    ("failures", failures_s.as_str()),
                    ("errors", "0"),
                    ("skipped", skipped_s.as_str()),
                ])
                .write_inner_content(|w| {
                    let props = [
                        ("scan_id", r.scan_id.clone()),
                        ("verdict", ctx.decision.verdict.as_str().to_owned()),
                        ("fail_on", threshold.as_str().to_owned()),
                        ("sbom", ctx.sbom_uri.to_owned()),
                        (
                            "findings_digest",
                            r.findings_digest.clone().unwrap_or_default(),
                        ),
                    ];
                    w.create_element("properties").write_inner_content(|w| {
                        for (k, v) in &props {
                            let v = xml_safe(v);
                            w.create_element("property")
                                .with_attributes([("name", *k), ("value", v.as_str())])
                                .write_empty()?;
                        }
                        Ok(())
                    })?;
                    if findings.is_empty() {
                        w.create_element("testcase")
                            .with_attributes([
                                ("classname", "stella"),
                                ("name", "no known vulnerabilities"),
                                ("time", "0"),
                            ])
                            .write_empty()?;
                    }
                    for f in &findings {
                        let classname = xml_safe(if f.purl().is_empty() {
                            &f.package.name
                        } else {
                            f.purl()
                        });
                        let name = xml_safe(&format!(
                            "{} ({}) in {} {}",
                            f.id, f.severity, f.package.name, f.package.version
                        ));
                        let body = details(f);
                        w.create_element("testcase")
                            .with_attributes([
                                ("classname", classname.as_str()),
                                ("name", name.as_str()),
                                ("time", "0"),
                            ])
                            .write_inner_content(|w| {
                                if f.muted {
                                    let msg = xml_safe(&format!(
                                        "muted: {}",
                                        f.mute_reason.as_deref().unwrap_or("no reason given")
                                    ));
                                    w.create_element("skipped")
                                        .with_attribute(("message", msg.as_str()))
                                        .write_empty()?;
                                } else if ctx.decision.fails(*f) {
                                    let msg = xml_safe(&format!(
                                        "{} {} has {} {}{} (fails at {threshold})",
                                        f.package.name,
                                        f.package.version,
                                        f.severity,
                                        f.id,
                                        if f.undecided {
                                            ", undecided: the version could not be compared with the advisory's ranges"
                                        } else {
                                            ""
                                        }
                                    ));
                                    w.create_element("failure")
                                        .with_attributes([
                                            ("message", msg.as_str()),
                                            ("type", f.severity.as_str()),
                                        ])
                                        .write_text_content(BytesText::new(&body))?;
                                    return Ok(());
                                }
                                w.create_element("system-out")
                                    .write_text_content(BytesText::new(&body))?;
                                Ok(())
                            })?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}

/// Renders the JUnit XML report.
#[must_use]
pub fn render(ctx: &Context<'_>) -> Vec<u8> {
    // Writing into a Vec cannot fail; the io::Result is quick-xml's general signature.
    write(ctx).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixtures;
    use crate::report::FailOn;

    fn junit(fail_on: Option<FailOn>) -> String {
        let r = fixtures::report();
        let ctx = Context {
            report: &r,
            raw: fixtures::RAW.as_bytes(),
            decision: fixtures::decision(&r, fail_on),
            sbom_uri: "bom.json",
            sbom: fixtures::SBOM.as_bytes(),
            name: None,
            color: false,
        };
        String::from_utf8(render(&ctx)).expect("utf8")
    }

    #[test]
    fn well_formed_with_failures_and_skips() {
        let xml = junit(None);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .expect("suite");
        assert_eq!(suite.attribute("tests"), Some("4"));
        assert_eq!(suite.attribute("failures"), Some("2"));
        assert_eq!(suite.attribute("skipped"), Some("1"));
        let cases: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 4);
        let failures = doc
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count();
        assert_eq!(failures, 2);
        let lodash = cases
            .iter()
            .find(|c| c.attribute("classname") == Some("pkg:npm/lodash@4.17.11"))
            .expect("lodash");
        let text = lodash
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .and_then(|n| n.text())
            .expect("failure text");
        assert!(
            text.contains("<tag> & \"quotes\""),
            "escaped and round-tripped: {text}"
        );
    }

    #[test]
    fn threshold_changes_failures() {
        let xml = junit(Some(FailOn::Low));
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("failure"))
                .count(),
            3
        );
        let xml = junit(Some(FailOn::None));
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("failure"))
                .count(),
            0
        );
    }

    #[test]
    fn xml_safe_replaces_forbidden_characters() {
        assert_eq!(xml_safe("a\u{1}b\u{FFFF}\tc"), "a\u{FFFD}b\u{FFFD}\tc");
    }
}
