//! Hostile SBOM text renders inert in the real console (issue 8: "an SBOM whose package
//! names contain `<script>` renders inert").
//!
//! A real scan through `POST /api/v1/scan` stores an SBOM whose project name, package
//! names, versions and purls carry `<script>alert(1)</script>` and
//! `"><img src=x onerror=alert(1)>`; the scan list, the scan detail and a scan-list search
//! for the same text must show the escaped text and contain no tag an attacker wrote.

use crate::util::site::site;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use appliance::server::{AppState, Config};
use appliance::store::{PageRequest, ScanFilter};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "\"><img src=x onerror=alert(1)>";

/// Decodes the character references an HTML escaper writes (named or numeric, whichever
/// spelling the template engine picks), giving back the text a browser would display.
fn displayed_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The page shows `text` to the reader (escaped in the markup, never raw).
fn assert_shows(page: &str, html: &str, text: &str) {
    assert!(
        displayed_text(html).contains(text),
        "{page} does not show {text:?}: {html}"
    );
}

/// CycloneDX whose components still match the sample npm feed by purl (so they appear as
/// findings on the detail page) while their names, versions and purl qualifiers are hostile.
fn hostile_sbom() -> String {
    serde_json::json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": format!("shop{IMG}{SCRIPT}")}},
        "components": [
            {"type": "library", "name": format!("minimist{SCRIPT}"), "version": "1.2.5",
             "purl": "pkg:npm/minimist@1.2.5"},
            {"type": "library", "name": format!("express{IMG}"), "version": format!("4.18.0{SCRIPT}"),
             "purl": format!("pkg:npm/express@4.18.0?note={IMG}")},
        ]
    })
    .to_string()
}

async fn send(router: &Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8(body.to_vec()).expect("utf-8"))
}

fn get(uri: &str, cookie: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request")
}

/// Every raw tag (`<` … `>`) of a document. Escaped text contains no raw `<`, so anything
/// an attacker injected that the browser would parse as markup shows up here.
fn tags(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let tail = &rest[start..];
        let end = tail.find('>').map_or(tail.len(), |e| e + 1);
        out.push(&tail[..end]);
        rest = &tail[end..];
    }
    out
}

/// Fails naming the page and the offending tag when the page holds attacker markup.
fn assert_inert(page: &str, html: &str) {
    for tag in tags(html) {
        let lower = tag.to_ascii_lowercase();
        // Escaped text may sit inside a quoted attribute value (a search box, a title);
        // an escaper turns `"` into a reference, so the value cannot end early. What is
        // left outside the quotes is markup: it must hold no attacker attribute.
        let outside_quotes: String = lower.split('"').step_by(2).collect();
        assert!(
            !outside_quotes.contains("onerror") && !outside_quotes.contains("alert("),
            "{page}: injected markup {tag:?}"
        );
        // The console's own script is external (CSP forbids inline script); any other
        // script tag was injected.
        if lower.starts_with("<script") {
            assert!(
                lower.contains(" src=\"/static/"),
                "{page}: script tag not from the console: {tag:?}"
            );
        }
        if lower.starts_with("<img") {
            assert!(
                lower.contains(" src=\"/static/"),
                "{page}: img tag not from the console: {tag:?}"
            );
        }
    }
    assert!(!html.contains(SCRIPT), "{page}: raw script payload");
    assert!(!html.contains("<img src=x"), "{page}: raw img payload");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_sbom_text_renders_escaped_on_scan_list_and_detail() {
    let site = site();
    let state = AppState::open(&site.data, Config::default()).expect("open state");
    let router = appliance::server::router(state.clone());

    // A real scan through the API: parse, match, sign, store.
    let (status, body) = send(
        &router,
        Request::builder()
            .method("POST")
            .uri("/api/v1/scan")
            .header(header::AUTHORIZATION, format!("Bearer {}", site.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(hostile_sbom()))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "scan accepted: {body}");
    let answer: Value = serde_json::from_str(&body).expect("scan JSON");
    let id = answer["scan_id"]
        .as_str()
        .or_else(|| answer["id"].as_str())
        .expect("scan id")
        .to_owned();

    // The hostile text really reached the store (otherwise the pages prove nothing).
    let rec = state
        .store
        .get_scan(&id.parse().expect("scan id"))
        .expect("get scan")
        .expect("stored");
    assert!(rec.scan.name.contains(SCRIPT) && rec.scan.name.contains(IMG));
    let findings: Value = serde_json::from_str(&rec.scan.findings_json).expect("findings");
    let texts: Vec<String> = findings
        .as_array()
        .expect("findings array")
        .iter()
        .flat_map(|f| {
            ["name", "version", "purl"]
                .map(|k| f["package"][k].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    for needle in [
        format!("minimist{SCRIPT}"),
        format!("express{IMG}"),
        format!("4.18.0{SCRIPT}"),
    ] {
        assert!(
            texts.contains(&needle),
            "finding text {needle:?} stored: {texts:?}"
        );
    }

    let session = state
        .store
        .create_session(
            "admin",
            std::time::Duration::from_secs(600),
            time::OffsetDateTime::now_utc(),
        )
        .expect("session");
    let cookie = format!("stella_session={}", session.token);

    // Scan list: the project name, escaped.
    let (status, list) = send(&router, get("/scans", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_inert("/scans", &list);
    assert_shows("/scans", &list, &rec.scan.name);

    // The search box reflects what was typed: escaped too, and it finds the scan.
    let q = percent_encoding::utf8_percent_encode(IMG, percent_encoding::NON_ALPHANUMERIC);
    let (status, search) = send(&router, get(&format!("/scans?q={q}"), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_inert("/scans?q=", &search);
    assert!(search.contains(&format!("/scans/{id}")), "{search}");

    // Dashboard: recent scans list the name.
    let (status, dash) = send(&router, get("/", &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_inert("/", &dash);
    assert_shows("/", &dash, &rec.scan.name);

    // Scan detail: name, package names, versions, purls.
    let (status, detail) = send(&router, get(&format!("/scans/{id}"), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_inert("/scans/{id}", &detail);
    // Every hostile package name, version and purl of the stored findings is shown.
    for text in texts.iter().filter(|t| t.contains('<')) {
        assert_shows("/scans/{id}", &detail, text);
    }
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("pkg:npm/express@4.18.0?note=\"><img")),
        "the hostile purl was stored as sent: {texts:?}"
    );

    // The tag scanner itself catches what it must (so the checks above can fail).
    for planted in [
        format!("<p>{SCRIPT}</p>"),
        format!("<input value=\"{IMG}\">"),
    ] {
        assert!(
            std::panic::catch_unwind(|| assert_inert("planted", &planted)).is_err(),
            "raw payload {planted:?} is reported"
        );
    }

    // The exact-name filter (the dashboard's indexed "previous scan" look-up) matches the
    // hostile name literally and nothing else.
    let exact = state
        .store
        .list_scans(
            &ScanFilter {
                name: Some(rec.scan.name.clone()),
                ..ScanFilter::default()
            },
            PageRequest::first(10),
        )
        .expect("list by name");
    assert_eq!(exact.items.len(), 1);
    let prefix = state
        .store
        .count_scans(&ScanFilter {
            name: Some("shop".into()),
            ..ScanFilter::default()
        })
        .expect("count by name");
    assert_eq!(prefix, 0, "name filter is exact, not a substring search");
}
