//! `GET /scans` (filter, paging) and `GET /scans/{id}` (findings sortable by severity,
//! package, fix available or layer; muted findings greyed with their reason), plus the
//! evidence and bundle downloads. Sorting and filtering are query strings, so they work
//! without JavaScript.

use std::cmp::Ordering;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{Chrome, html, non_empty};
use crate::auth::Operator;
use crate::console::{
    DownloadKind, FindingRow, ScanDetail, ScanQuery, ScanRow, SeverityCounts, Verdict,
};
use crate::error::WebError;
use crate::fmt;
use crate::state::AppState;

/// Rows per page of the scan list.
pub(crate) const PER_PAGE: u32 = 25;
// Why: a hostile query string must not make the console count to u32::MAX.
const MAX_PAGE: u32 = 100_000;
const MAX_FILTER_LEN: usize = 200;

/// One scan in a table (dashboard and scan list share `scan_table.html`).
pub(crate) struct ScanLine {
    pub(crate) href: String,
    pub(crate) name: String,
    pub(crate) image: Option<String>,
    pub(crate) created: String,
    pub(crate) ago: String,
    pub(crate) verdict: &'static str,
    pub(crate) counts: SeverityCounts,
    pub(crate) client: String,
    pub(crate) kit: u64,
}

impl ScanLine {
    pub(crate) fn new(r: &ScanRow, now: OffsetDateTime) -> Self {
        ScanLine {
            href: format!("/scans/{}", fmt::seg(&r.id)),
            name: r.name.clone(),
            image: r.image.clone(),
            created: fmt::date_time(r.created),
            ago: fmt::relative(now, r.created),
            verdict: r.verdict.as_str(),
            counts: r.counts,
            client: r.client_id.clone(),
            kit: r.kit_sequence,
        }
    }
}

/// Query string of the scan list.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListParams {
    q: Option<String>,
    verdict: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

/// The scan list.
#[derive(Template)]
#[template(path = "scans.html")]
pub(crate) struct ScansPage {
    chrome: Chrome,
    q: String,
    verdict: String,
    from: String,
    to: String,
    problems: Vec<String>,
    rows: Vec<ScanLine>,
    total: u64,
    first: u64,
    last: u64,
    page: u32,
    pages: u32,
    prev: Option<String>,
    next: Option<String>,
}

/// `GET /scans`.
pub(crate) async fn list(
    State(st): State<AppState>,
    op: Operator,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Html<String>, WebError> {
    // A malformed query string is treated as no filter rather than a bare 400.
    let p = params.ok().map(|Query(p)| p).unwrap_or_default();
    let mut problems = Vec::new();
    let text = non_empty(p.q).map(|s| s.chars().take(MAX_FILTER_LEN).collect::<String>());
    let verdict_s = non_empty(p.verdict).unwrap_or_default();
    let verdict = match verdict_s.as_str() {
        "" | "any" => None,
        v => {
            let parsed = Verdict::parse(v);
            if parsed.is_none() {
                problems.push("Unknown verdict ignored.".to_owned());
            }
            parsed
        }
    };
    let mut date = |v: Option<String>, what: &str| {
        let s = non_empty(v)?;
        let d = fmt::parse_date(&s);
        if d.is_none() {
            problems.push(format!(
                "The {what} date must look like 2026-11-22; ignored."
            ));
        }
        d
    };
    let from = date(p.from, "from");
    let to = date(p.to, "to");
    let page = non_empty(p.page)
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_PAGE);
    let query = ScanQuery {
        text: text.clone(),
        verdict,
        from,
        to,
        page,
        per_page: PER_PAGE,
    };
    let result = st.call(move |c| c.scans(&query)).await?;
    let now = OffsetDateTime::now_utc();
    let pages = u32::try_from(result.total.div_ceil(u64::from(PER_PAGE)))
        .unwrap_or(u32::MAX)
        .max(1);
    let link = |page: u32| {
        let mut s = format!("/scans?page={page}");
        for (k, v) in [
            ("q", text.clone()),
            ("verdict", verdict.map(|v| v.as_str().to_owned())),
            ("from", from.map(fmt::date)),
            ("to", to.map(fmt::date)),
        ] {
            if let Some(v) = v {
                s.push_str(&format!("&{k}={}", fmt::q(&v)));
            }
        }
        s
    };
    let first = u64::from(page - 1) * u64::from(PER_PAGE) + 1;
    let shown = result.rows.len() as u64;
    let page_view = ScansPage {
        chrome: Chrome::new(&op, "scans"),
        q: text.clone().unwrap_or_default(),
        verdict: verdict.map(|v| v.as_str().to_owned()).unwrap_or_default(),
        from: from.map(fmt::date).unwrap_or_default(),
        to: to.map(fmt::date).unwrap_or_default(),
        problems,
        rows: result.rows.iter().map(|r| ScanLine::new(r, now)).collect(),
        total: result.total,
        first: if shown == 0 { 0 } else { first },
        last: if shown == 0 { 0 } else { first + shown - 1 },
        page,
        pages,
        prev: (page > 1).then(|| link(page - 1)),
        next: (page < pages).then(|| link(page + 1)),
    };
    html(&page_view)
}

/// Sort column of the findings table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortKey {
    Severity,
    Package,
    Fix,
    Layer,
}

impl SortKey {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "severity" => SortKey::Severity,
            "package" => SortKey::Package,
            "fix" => SortKey::Fix,
            "layer" => SortKey::Layer,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            SortKey::Severity => "severity",
            SortKey::Package => "package",
            SortKey::Fix => "fix",
            SortKey::Layer => "layer",
        }
    }
}

/// Sorts findings server-side. Ties fall back to severity, then package, then advisory,
/// so the order is total and stable across reloads.
pub(crate) fn sort_findings(findings: &mut [FindingRow], key: SortKey, descending: bool) {
    // Most severe first in ascending order (`Severity` orders `Critical` highest).
    let base = |a: &FindingRow, b: &FindingRow| {
        let (a, b) = (&a.finding, &b.finding);
        b.severity
            .cmp(&a.severity)
            .then_with(|| lower(&a.package.name).cmp(&lower(&b.package.name)))
            .then_with(|| a.package.version.cmp(&b.package.version))
            .then_with(|| a.id.cmp(&b.id))
    };
    findings.sort_by(|a, b| {
        let primary = match key {
            SortKey::Severity => Ordering::Equal,
            SortKey::Package => lower(&a.finding.package.name).cmp(&lower(&b.finding.package.name)),
            // "Fix available" first in ascending order: those are the actionable ones.
            SortKey::Fix => a
                .finding
                .fixed_versions
                .is_empty()
                .cmp(&b.finding.fixed_versions.is_empty()),
            // Findings without a layer sort last.
            SortKey::Layer => match (&a.finding.layer, &b.finding.layer) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        };
        let o = primary.then_with(|| base(a, b));
        if descending { o.reverse() } else { o }
    });
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// Query string of the scan detail page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DetailParams {
    sort: Option<String>,
    dir: Option<String>,
    muted: Option<String>,
}

/// A column header that sorts.
pub(crate) struct SortLink {
    pub(crate) label: &'static str,
    pub(crate) href: String,
    /// `ascending`, `descending` or `none` (the `aria-sort` value).
    pub(crate) aria: &'static str,
}

/// A finding, ready to display.
pub(crate) struct FindingLine {
    pub(crate) advisory: String,
    pub(crate) aliases: String,
    pub(crate) summary: String,
    pub(crate) severity: &'static str,
    pub(crate) package: String,
    pub(crate) version: String,
    pub(crate) purl: String,
    pub(crate) ecosystem: String,
    pub(crate) fixed: String,
    pub(crate) layer: String,
    pub(crate) layer_full: String,
    pub(crate) muted: Option<MutedLine>,
    pub(crate) mute_href: String,
    /// The appliance could not compare the version with the advisory's ranges.
    pub(crate) undecided: bool,
}

/// Why a finding is greyed out.
pub(crate) struct MutedLine {
    pub(crate) reason: String,
    pub(crate) by: String,
    pub(crate) until: String,
    pub(crate) scope: &'static str,
}

/// The scan detail page.
#[derive(Template)]
#[template(path = "scan.html")]
pub(crate) struct ScanPage {
    chrome: Chrome,
    scan: ScanLine,
    id: String,
    sbom_format: String,
    components: u32,
    policy_version: u32,
    digest: String,
    evidence: bool,
    notice: Option<String>,
    columns: Vec<SortLink>,
    findings: Vec<FindingLine>,
    muted_count: usize,
}

impl ScanPage {
    pub(crate) fn build(
        chrome: Chrome,
        mut d: ScanDetail,
        key: SortKey,
        descending: bool,
        notice: Option<String>,
        now: OffsetDateTime,
    ) -> Self {
        sort_findings(&mut d.findings, key, descending);
        let id = d.scan.id.clone();
        let base = format!("/scans/{}", fmt::seg(&id));
        let columns = [
            ("Severity", SortKey::Severity),
            ("Package", SortKey::Package),
            ("Fix", SortKey::Fix),
            ("Layer", SortKey::Layer),
        ]
        .into_iter()
        .map(|(label, k)| {
            let active = k == key;
            // Clicking the active column flips the direction.
            let dir = if active && !descending { "desc" } else { "asc" };
            SortLink {
                label,
                href: format!("{base}?sort={}&dir={dir}#findings", k.as_str()),
                aria: match (active, descending) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
            }
        })
        .collect();
        let muted_count = d.findings.iter().filter(|f| f.muted.is_some()).count();
        let findings = d
            .findings
            .iter()
            .map(|row| {
                let f = &row.finding;
                FindingLine {
                    advisory: f.id.clone(),
                    aliases: f.aliases.join(", "),
                    summary: f.summary.clone().unwrap_or_default(),
                    severity: f.severity.as_str(),
                    package: f.package.name.clone(),
                    version: f.package.version.clone(),
                    purl: row.purl().to_owned(),
                    ecosystem: f.package.ecosystem.clone(),
                    fixed: f.fixed_versions.join(", "),
                    layer: f
                        .layer
                        .as_deref()
                        .map(fmt::short_digest)
                        .unwrap_or_default(),
                    layer_full: f.layer.clone().unwrap_or_default(),
                    muted: row.muted.as_ref().map(|m| MutedLine {
                        reason: m.reason.clone(),
                        by: m.by.clone(),
                        until: m.expires.map(fmt::date).unwrap_or_default(),
                        scope: m.scope.as_str(),
                    }),
                    mute_href: format!(
                        "{base}/mute?advisory={}&purl={}",
                        fmt::q(&f.id),
                        fmt::q(row.purl())
                    ),
                    undecided: f.undecided,
                }
            })
            .collect();
        ScanPage {
            chrome,
            scan: ScanLine::new(&d.scan, now),
            id,
            sbom_format: d.sbom_format,
            components: d.components,
            policy_version: d.policy_version,
            digest: d.findings_digest,
            evidence: d.evidence_available,
            notice,
            columns,
            findings,
            muted_count,
        }
    }
}

/// `GET /scans/{id}`.
pub(crate) async fn detail(
    State(st): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    params: Result<Query<DetailParams>, QueryRejection>,
) -> Result<Html<String>, WebError> {
    let p = params.ok().map(|Query(p)| p).unwrap_or_default();
    let key = p
        .sort
        .as_deref()
        .and_then(SortKey::parse)
        .unwrap_or(SortKey::Severity);
    let descending = p.dir.as_deref() == Some("desc");
    let lookup = id.clone();
    let detail = st
        .call(move |c| c.scan(&lookup))
        .await?
        .ok_or_else(|| WebError::NotFound(format!("scan {id}")))?;
    let notice = p.muted.is_some().then(|| {
        "Mute rule saved. It applies to new scans: re-scan the SBOM to update the verdict."
            .to_owned()
    });
    html(&ScanPage::build(
        Chrome::new(&op, "scans"),
        detail,
        key,
        descending,
        notice,
        OffsetDateTime::now_utc(),
    ))
}

/// `GET /scans/{id}/evidence`.
pub(crate) async fn evidence(
    st: State<AppState>,
    op: Operator,
    id: Path<String>,
) -> Result<Response, WebError> {
    download(st, op, id, DownloadKind::Evidence).await
}

/// `GET /scans/{id}/bundle`.
pub(crate) async fn bundle(
    st: State<AppState>,
    op: Operator,
    id: Path<String>,
) -> Result<Response, WebError> {
    download(st, op, id, DownloadKind::Bundle).await
}

async fn download(
    State(st): State<AppState>,
    _op: Operator,
    Path(id): Path<String>,
    kind: DownloadKind,
) -> Result<Response, WebError> {
    let lookup = id.clone();
    let d = st
        .call(move |c| c.download(&lookup, kind))
        .await?
        .ok_or_else(|| WebError::NotFound(format!("download for scan {id}")))?;
    let content_type = HeaderValue::from_str(&d.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        safe_file_name(&d.file_name)
    ))
    .map_err(WebError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        d.bytes,
    )
        .into_response())
}

/// A file name safe inside a quoted `Content-Disposition` parameter.
pub(crate) fn safe_file_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let s = s.trim_start_matches('.').to_owned();
    if s.is_empty() { "download".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::{Finding, Severity};
    use bundles::model::FindingPackage;

    fn f(adv: &str, sev: Severity, pkg: &str, fix: bool, layer: Option<&str>) -> FindingRow {
        FindingRow {
            finding: Finding {
                id: adv.into(),
                aliases: vec![],
                summary: None,
                severity: sev,
                package: FindingPackage {
                    name: pkg.into(),
                    version: "1".into(),
                    purl: Some(format!("pkg:npm/{pkg}@1")),
                    ecosystem: "npm".into(),
                },
                fixed_versions: if fix { vec!["2".into()] } else { vec![] },
                layer: layer.map(Into::into),
                cvss: None,
                references: vec![],
                path: None,
                muted: false,
                mute_reason: None,
                undecided: false,
            },
            muted: None,
        }
    }

    fn ids(v: &[FindingRow]) -> Vec<&str> {
        v.iter().map(|f| f.finding.id.as_str()).collect()
    }

    #[test]
    fn findings_sort_by_each_column_both_ways() {
        let mut v = vec![
            f("A", Severity::Low, "zlib", true, Some("sha256:bb")),
            f("B", Severity::Critical, "openssl", false, None),
            f("C", Severity::High, "Apache", true, Some("sha256:aa")),
        ];
        sort_findings(&mut v, SortKey::Severity, false);
        assert_eq!(ids(&v), ["B", "C", "A"]);
        sort_findings(&mut v, SortKey::Severity, true);
        assert_eq!(ids(&v), ["A", "C", "B"]);
        sort_findings(&mut v, SortKey::Package, false);
        assert_eq!(ids(&v), ["C", "B", "A"], "case-insensitive");
        sort_findings(&mut v, SortKey::Fix, false);
        assert_eq!(ids(&v), ["C", "A", "B"], "fixable first, then severity");
        sort_findings(&mut v, SortKey::Layer, false);
        assert_eq!(ids(&v), ["C", "A", "B"], "no layer last");
    }

    #[test]
    fn download_names_cannot_break_the_header() {
        assert_eq!(safe_file_name("evidence.dsse.json"), "evidence.dsse.json");
        assert_eq!(safe_file_name("a\"b\r\nc.json"), "a_b__c.json");
        assert_eq!(safe_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_file_name(""), "download");
    }
}
