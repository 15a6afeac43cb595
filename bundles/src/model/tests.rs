//! Cross-cutting tests of the advisory model: strictness, caps, round trips.
use time::macros::datetime;

use super::*;

const MINIMAL: &str = r#"{"id": "EX-1", "modified": "2024-01-01T00:00:00Z"}"#;

fn osv(json: &str) -> Result<Advisory, ModelError> {
    Advisory::from_osv_json(json.as_bytes())
}

fn with_affected(affected: &str) -> String {
    format!(r#"{{"id": "EX-1", "modified": "2024-01-01T00:00:00Z", "affected": [{affected}]}}"#)
}

#[test]
fn required_fields_are_required() {
    assert!(matches!(
        osv(r#"{"modified": "2024-01-01T00:00:00Z"}"#),
        Err(ModelError::Json { .. })
    ));
    assert!(matches!(
        osv(r#"{"id": "EX-1"}"#),
        Err(ModelError::Json { .. })
    ));
    assert!(matches!(
        osv(r#"{"id": "bad id", "modified": "2024-01-01T00:00:00Z"}"#),
        Err(ModelError::InvalidId { ref field, .. }) if field == "id"
    ));
    assert!(matches!(
        osv(r#"{"id": "EX-1", "modified": "2024-01-01"}"#),
        Err(ModelError::InvalidTimestamp { ref field, .. }) if field == "modified"
    ));
    assert!(matches!(osv("not json"), Err(ModelError::Json { .. })));
    assert!(matches!(osv("[]"), Err(ModelError::Json { .. })));
}

#[test]
fn osv_reader_is_lenient_where_real_data_is() {
    let a = osv(r#"{
        "schema_version": "1.7.5", "id": "EX-1", "modified": "2024-01-01T00:00:00Z",
        "aliases": null, "summary": "", "credits": [{"name": "x"}],
        "database_specific": "not an object",
        "affected": [
          {"ranges": [{"type": "GIT", "repo": "https://example.invalid/r",
                       "events": [{"introduced": "0"}]}]},
          {"package": {"ecosystem": "npm", "name": "x"},
           "ecosystem_specific": {"anything": [1, 2]},
           "database_specific": {"source": "y"}}
        ]
    }"#)
    .expect("lenient parse");
    assert!(a.aliases().is_empty());
    assert_eq!(a.summary(), None, "empty summary folds into None");
    assert_eq!(a.database_severity(), None);
    assert_eq!(
        a.affected().len(),
        1,
        "package-less affected entry is dropped"
    );
    // A numeric GHSA-style severity is ignored, not an error.
    let b = osv(r#"{"id": "EX-1", "modified": "2024-01-01T00:00:00Z",
                   "database_specific": {"severity": 7, "cwe_ids": "CWE-1"}}"#)
    .expect("odd database_specific");
    assert_eq!(b.database_severity(), None);
    assert!(b.cwe_ids().is_empty());
}

#[test]
fn ids_with_surrounding_whitespace_are_read_trimmed_not_refused() {
    let a = osv(
        r#"{"id": "DRUPAL-CONTRIB-2026-040", "modified": "2026-01-01T00:00:00Z",
            "aliases": [" CVE-2026-49977 "], "related": ["\tGHSA-aaaa-bbbb-cccc"]}"#,
    )
    .expect("the record loads");
    assert_eq!(a.aliases()[0].as_str(), "CVE-2026-49977");
    // inner whitespace is still no id
    let e = osv(r#"{"id": "X-1", "modified": "2026-01-01T00:00:00Z", "aliases": ["CVE 2026"]}"#)
        .expect_err("inner space");
    assert!(
        e.to_string().contains("aliases[0]: invalid advisory id"),
        "{e}"
    );
}

#[test]
fn osv_reader_is_strict_where_the_spec_is() {
    let two_keys = with_affected(
        r#"{"package": {"ecosystem": "npm", "name": "x"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0", "fixed": "1"}]}]}"#,
    );
    assert!(matches!(
        osv(&two_keys),
        Err(ModelError::InvalidEvent { ref field, found: 2 })
            if field == "affected[0].ranges[0].events[0]"
    ));
    let no_introduced = with_affected(
        r#"{"package": {"ecosystem": "npm", "name": "x"},
            "ranges": [{"type": "SEMVER", "events": [{"fixed": "1"}]}]}"#,
    );
    assert!(matches!(
        osv(&no_introduced),
        Err(ModelError::NoIntroduced { ref field }) if field == "affected[0].ranges[0].events"
    ));
    let both = with_affected(
        r#"{"package": {"ecosystem": "npm", "name": "x"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"},
                        {"fixed": "1"}, {"last_affected": "2"}]}]}"#,
    );
    assert!(matches!(
        osv(&both),
        Err(ModelError::FixedAndLastAffected { .. })
    ));
    let git_no_repo = with_affected(
        r#"{"package": {"ecosystem": "npm", "name": "x"},
            "ranges": [{"type": "GIT", "events": [{"introduced": "0"}]}]}"#,
    );
    assert!(matches!(
        osv(&git_no_repo),
        Err(ModelError::MissingRepo { .. })
    ));
    let bad_ecosystem = with_affected(r#"{"package": {"ecosystem": "", "name": "x"}}"#);
    assert!(matches!(
        osv(&bad_ecosystem),
        Err(ModelError::InvalidEcosystem { .. })
    ));
    let empty_name = with_affected(r#"{"package": {"ecosystem": "npm", "name": ""}}"#);
    assert!(matches!(
        osv(&empty_name),
        Err(ModelError::InvalidText { ref field, .. }) if field == "affected[0].package.name"
    ));
    let conflict = r#"{"id": "EX-1", "modified": "2024-01-01T00:00:00Z",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N"}],
        "affected": [{"package": {"ecosystem": "npm", "name": "x"},
                      "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L"}]}]}"#;
    assert!(matches!(
        osv(conflict),
        Err(ModelError::SeverityConflict { ref field }) if field == "affected[0]"
    ));
}

#[test]
fn canonical_reader_rejects_unknown_fields_everywhere() {
    let good = osv(&with_affected(
        r#"{"package": {"ecosystem": "PyPI", "name": "Django"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.2"}]}]}"#,
    ))
    .expect("valid");
    let canonical = String::from_utf8(good.to_canonical_json()).expect("utf-8");
    assert_eq!(
        canonical,
        r#"{"affected":[{"package":{"ecosystem":"PyPI","name":"django"},"ranges":[{"events":[{"introduced":"0"},{"fixed":"4.2"}],"type":"ECOSYSTEM"}]}],"id":"EX-1","modified":"2024-01-01T00:00:00Z"}"#
    );
    for (from, to) in [
        (r#""id":"EX-1""#, r#""id":"EX-1","extra":1"#),
        (r#""name":"django""#, r#""name":"django","x":1"#),
        (
            r#""type":"ECOSYSTEM""#,
            r#""type":"ECOSYSTEM","database_specific":{}"#,
        ),
        (r#"{"introduced":"0"}"#, r#"{"introduced":"0","note":"x"}"#),
    ] {
        let tampered = canonical.replacen(from, to, 1);
        assert_ne!(tampered, canonical);
        assert!(
            matches!(
                Advisory::from_canonical_json(tampered.as_bytes()),
                Err(ModelError::Json { .. })
            ),
            "{tampered}"
        );
        // Serde's Deserialize (try_from) is equally strict.
        assert!(serde_json::from_str::<Advisory>(&tampered).is_err());
    }
    let via_serde: Advisory = serde_json::from_str(&canonical).expect("serde path");
    assert_eq!(via_serde, good);
}

#[test]
fn canonical_form_is_deterministic_and_normalises_timestamps() {
    let a = osv(r#"{"modified": "2024-01-01T01:00:00+01:00", "id": "EX-1",
                    "withdrawn": "2024-02-01T00:00:00.000Z"}"#)
    .expect("valid");
    let b = osv(r#"{"id": "EX-1", "withdrawn": "2024-02-01T00:00:00Z",
                    "modified": "2024-01-01T00:00:00Z"}"#)
    .expect("valid");
    assert_eq!(a, b);
    assert_eq!(a.to_canonical_json(), b.to_canonical_json());
}

#[test]
fn withdrawn_is_relative_to_now() {
    let a = osv(r#"{"id": "EX-1", "modified": "2024-01-01T00:00:00Z",
                    "withdrawn": "2024-06-01T00:00:00Z"}"#)
    .expect("valid");
    assert!(!a.is_withdrawn(datetime!(2024-05-31 23:59:59 UTC)));
    assert!(a.is_withdrawn(datetime!(2024-06-01 00:00:00 UTC)));
    assert!(a.is_withdrawn(datetime!(2030-01-01 00:00:00 UTC)));
    let live = osv(MINIMAL).expect("valid");
    assert!(!live.is_withdrawn(datetime!(2030-01-01 00:00:00 UTC)));
}

#[test]
fn size_caps_hold() {
    let huge = vec![b' '; limits::MAX_ADVISORY_JSON_BYTES + 1];
    assert!(matches!(
        Advisory::from_osv_json(&huge),
        Err(ModelError::InputTooLarge { .. })
    ));
    assert!(matches!(
        Advisory::from_canonical_json(&huge),
        Err(ModelError::InputTooLarge { .. })
    ));
    let aliases: Vec<String> = (0..=limits::MAX_IDS)
        .map(|i| format!("\"A-{i}\""))
        .collect();
    let many = format!(
        r#"{{"id": "EX-1", "modified": "2024-01-01T00:00:00Z", "aliases": [{}]}}"#,
        aliases.join(",")
    );
    assert!(matches!(
        osv(&many),
        Err(ModelError::TooMany { ref field, .. }) if field == "aliases"
    ));
    let long_version = with_affected(&format!(
        r#"{{"package": {{"ecosystem": "npm", "name": "x"}}, "versions": ["{}"]}}"#,
        "1".repeat(limits::MAX_VERSION_LEN + 1)
    ));
    assert!(matches!(
        osv(&long_version),
        Err(ModelError::TooLong { ref field, .. }) if field == "affected[0].versions[0]"
    ));
    let long_summary = format!(
        r#"{{"id": "EX-1", "modified": "2024-01-01T00:00:00Z", "summary": "{}"}}"#,
        "s".repeat(limits::MAX_SUMMARY_LEN + 1)
    );
    assert!(matches!(
        osv(&long_summary),
        Err(ModelError::TooLong { .. })
    ));
}

#[test]
fn jsonl_reader_caps_lines_and_reports_line_numbers() {
    let a = osv(MINIMAL).expect("valid");
    let mut buf = Vec::new();
    write_jsonl(&mut buf, [&a, &a]).expect("write");
    assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 2);
    let line_len = a.to_canonical_json().len();

    // Exactly at the cap is fine; one byte under the line length is refused.
    let ok: Vec<_> = JsonlReader::new(buf.as_slice())
        .max_line_bytes(line_len)
        .collect::<Result<_, _>>()
        .expect("at cap");
    assert_eq!(ok.len(), 2);
    let mut capped = JsonlReader::new(buf.as_slice()).max_line_bytes(line_len - 1);
    assert!(matches!(
        capped.next(),
        Some(Err(ModelError::Line { line: 1, ref source }))
            if matches!(**source, ModelError::InputTooLarge { .. })
    ));
    assert!(capped.next().is_none(), "stops after the first error");

    // A bad second line is reported as line 2; a final line without newline is accepted.
    let mut mixed = a.to_canonical_json();
    mixed.extend_from_slice(b"\n{\"id\":\"EX-2\"}");
    let results: Vec<_> = JsonlReader::new(mixed.as_slice()).collect();
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(ModelError::Line { line: 2, .. })));
    let mut no_newline = a.to_canonical_json();
    no_newline.extend_from_slice(b"\n");
    no_newline.extend_from_slice(&a.to_canonical_json());
    assert_eq!(JsonlReader::new(no_newline.as_slice()).count(), 2);
    // Blank lines are not canonical.
    assert!(matches!(
        JsonlReader::new(&b"\n"[..]).next(),
        Some(Err(ModelError::Line { line: 1, .. }))
    ));
}

#[test]
fn evaluation_honours_versions_list_and_ranges_together() {
    let a = osv(&with_affected(
        r#"{"package": {"ecosystem": "Debian:12", "name": "openssl"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11"}]},
                       {"type": "SEMVER", "events": [{"introduced": "5.0.0"}, {"limit": "6.0.0"}]}],
            "versions": ["weird~tag"]}"#,
    ))
    .expect("valid");
    let numeric = |a: &str, b: &str| {
        let p = |v: &str| {
            v.split('.')
                .map(|x| x.parse::<u32>().ok())
                .collect::<Option<Vec<_>>>()
        };
        Some(p(a)?.cmp(&p(b)?))
    };
    let none = |_: &str, _: &str| None;
    let aff = &a.affected()[0];
    let both = Orderings {
        semver: &numeric,
        ecosystem: &numeric,
    };
    assert_eq!(aff.evaluate("weird~tag", both), Evaluation::Affected);
    assert_eq!(aff.evaluate("3.0.10", both), Evaluation::Affected);
    assert_eq!(aff.evaluate("3.0.11", both), Evaluation::NotAffected);
    assert_eq!(aff.evaluate("5.1.0", both), Evaluation::Affected);
    assert_eq!(aff.evaluate("6.0.0", both), Evaluation::NotAffected);
    // The ECOSYSTEM ordering cannot parse anything: only the SEMVER range decides.
    let semver_only = Orderings {
        semver: &numeric,
        ecosystem: &none,
    };
    assert_eq!(aff.evaluate("5.1.0", semver_only), Evaluation::Affected);
    assert_eq!(aff.evaluate("3.0.10", semver_only), Evaluation::Undecidable);
    assert_eq!(aff.fixed_versions(), vec!["3.0.11"]);
}

#[test]
fn pep503() {
    for (raw, want) in [
        ("Django", "django"),
        ("PyYAML", "pyyaml"),
        ("zope.interface", "zope-interface"),
        ("a__b--c..d", "a-b-c-d"),
        ("A-_.b", "a-b"),
    ] {
        assert_eq!(pep503_normalize(raw), want);
    }
    // Only PyPI names are normalised.
    let npm = osv(&with_affected(
        r#"{"package": {"ecosystem": "npm", "name": "JSONStream"}}"#,
    ))
    .expect("valid");
    assert_eq!(npm.affected()[0].package().name(), "JSONStream");
    let pypi = osv(&with_affected(
        r#"{"package": {"ecosystem": "PyPI", "name": "Jinja2", "purl": "pkg:pypi/jinja2"}}"#,
    ))
    .expect("valid");
    assert_eq!(pypi.affected()[0].package().name(), "jinja2");
    assert_eq!(pypi.affected()[0].package().purl(), Some("pkg:pypi/jinja2"));
}
