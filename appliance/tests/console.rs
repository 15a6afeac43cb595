//! The web console over a real appliance: a real data dir, a real signed kit imported,
//! real scans through the HTTP API, driven with `tower::ServiceExt::oneshot` (no sockets).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::util::site::{
    CLIENT, CRITICAL, EXPIRING_CLIENT, SBOM, Site, site, stranger, vendor, write_kit,
};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use appliance::server::{AppState, Config};

struct App {
    site: Site,
    state: AppState,
    router: Router,
}

fn app() -> App {
    let site = site();
    let state = AppState::open(&site.data, Config::default()).expect("open state");
    // The service's own router: the console is mounted there next to the API.
    let router = appliance::server::router(state.clone());
    App {
        site,
        state,
        router,
    }
}

async fn send(router: &Router, req: Request<Body>) -> Response<Body> {
    router.clone().oneshot(req).await.expect("infallible")
}

async fn text(resp: Response<Body>) -> String {
    let b = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8(b.to_vec()).expect("utf-8")
}

fn get(uri: &str, cookie: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request")
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn post_form(uri: &str, cookie: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .expect("request")
}

fn cookie_named(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a csrf field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

/// GET /login then POST it; returns the POST response.
async fn attempt_login(app: &App, user: &str, password: &str) -> Response<Body> {
    let page = send(
        &app.router,
        Request::builder()
            .uri("/login")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = cookie_named(&page, "stella_login_csrf").expect("login csrf cookie");
    let csrf = csrf_in(&text(page).await);
    let mut req = post_form(
        "/login",
        &cookie,
        &[("user", user), ("password", password), ("csrf", &csrf)],
    );
    req.extensions_mut().insert(ConnectInfo(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 7, 0, 12)),
        40_000,
    )));
    send(&app.router, req).await
}

/// Logs in as `admin`; returns (cookie header, session csrf).
async fn login(app: &App) -> (String, String) {
    let resp = attempt_login(app, "admin", &app.site.password).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login succeeds");
    let cookie = cookie_named(&resp, "stella_session").expect("session cookie");
    let page = text(send(&app.router, get("/policy", &cookie)).await).await;
    (cookie.clone(), csrf_in(&page))
}

/// Scans [`SBOM`] through the real API as [`CLIENT`]; returns the JSON answer.
async fn api_scan(app: &App) -> Value {
    api_scan_of(app, SBOM).await
}

fn audit_kinds(app: &App) -> Vec<(String, Value)> {
    crate::util::audit_records(&app.state.data)
}

#[tokio::test(flavor = "multi_thread")]
async fn login_logout_and_the_audit_trail() {
    let app = app();
    // Wrong password: no session, audited as failed.
    let resp = attempt_login(&app, "admin", "not the password").await;
    assert!(cookie_named(&resp, "stella_session").is_none());
    assert!(text(resp).await.contains("Wrong user name or password"));
    // Right password: a session that opens the dashboard.
    let (cookie, csrf) = login(&app).await;
    let dash = send(&app.router, get("/", &cookie)).await;
    assert_eq!(dash.status(), StatusCode::OK);
    // Mounted in the service, the console keeps its security headers.
    assert_eq!(
        dash.headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok()),
        Some(web::CONTENT_SECURITY_POLICY)
    );
    let logins: Vec<String> = audit_kinds(&app)
        .into_iter()
        .filter(|(k, _)| k == "login")
        .map(|(_, e)| e["result"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(logins, ["failed", "ok"]);
    // The audit page shows them and an intact chain.
    let audit = text(send(&app.router, get("/audit", &cookie)).await).await;
    assert!(audit.contains("login"), "{audit}");
    assert!(
        audit.contains("every hash link and the signed head verify"),
        "{audit}"
    );
    // Logout ends the session in the store.
    let out = send(
        &app.router,
        post_form("/logout", &cookie, &[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = send(&app.router, get("/", &cookie)).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert!(
        after
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.starts_with("/login"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failures_are_throttled() {
    let app = app();
    // Enough failures that the backoff (1 s, doubling) outlasts the slow debug-build
    // argon2 of the attempts themselves.
    for _ in 0..appliance::store::FREE_LOGIN_FAILURES + 5 {
        let r = attempt_login(&app, "admin", "wrong").await;
        assert!(cookie_named(&r, "stella_session").is_none());
    }
    // Even the right password is not checked while backing off.
    let r = attempt_login(&app, "admin", &app.site.password).await;
    assert!(cookie_named(&r, "stella_session").is_none());
    let body = text(r).await;
    assert!(body.contains("Too many"), "{body}");
    assert!(
        audit_kinds(&app)
            .iter()
            .any(|(k, e)| k == "login" && e["result"] == "throttled")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_shows_kit_feed_age_quota_expiry_and_scans() {
    let app = app();
    let scan = api_scan(&app).await;
    assert_eq!(scan["verdict"], "fail", "{scan}");
    let (cookie, _) = login(&app).await;
    let dash = text(send(&app.router, get("/", &cookie)).await).await;
    // Feed-age tile: the kit is ~2 hours old, well inside the default 30 days.
    assert!(dash.contains("Feed age"), "{dash}");
    assert!(dash.contains("tile tile-ok"), "{dash}");
    // Active kit facts from the manifest summary.
    assert!(dash.contains("plant-7-0001"), "{dash}");
    assert!(dash.contains("PyPI"), "{dash}");
    assert!(dash.contains("Trivy DB"), "{dash}");
    // Quota banner: the scan above counts against ci-payments.
    assert!(dash.contains(CLIENT), "{dash}");
    assert!(dash.contains("1 / 333"), "{dash}");
    // 7-day expiry toast for the client whose token expires in 5 days, not the other.
    let toasts: Vec<&str> = dash
        .split("class=\"toast\"")
        .skip(1)
        .map(|t| t.split("</div>").next().unwrap_or_default())
        .collect();
    assert!(
        toasts.iter().any(|t| t.contains(EXPIRING_CLIENT)),
        "{toasts:?}"
    );
    assert!(!toasts.iter().any(|t| t.contains(CLIENT)), "{toasts:?}");
    // Recent scans and the new critical (first scan of this name with this kit).
    assert!(dash.contains("payments-api"), "{dash}");
    assert!(dash.contains(CRITICAL), "{dash}");
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_detail_mute_and_rescan_passes() {
    let app = app();
    let first = api_scan(&app).await;
    assert_eq!(first["verdict"], "fail");
    let id = first["scan_id"].as_str().expect("id").to_owned();
    let (cookie, csrf) = login(&app).await;

    let detail = text(send(&app.router, get(&format!("/scans/{id}"), &cookie)).await).await;
    assert!(detail.contains(CRITICAL), "{detail}");
    assert!(detail.contains("verdict-fail"), "{detail}");
    assert!(!detail.contains("is-muted"), "{detail}");
    // The hostile component name is in the SBOM; nothing of it renders as markup.
    assert!(!detail.contains("<script>alert"), "{detail}");

    // Mute the critical finding for this package.
    let resp = send(
        &app.router,
        post_form(
            &format!("/scans/{id}/mute"),
            &cookie,
            &[
                ("csrf", &csrf),
                ("advisory", CRITICAL),
                ("purl", "pkg:npm/minimist@1.2.5"),
                ("scope", "package"),
                ("reason", "minimist only parses our own CLI flags"),
                ("expires", ""),
            ],
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", text(resp).await);
    // Stored as a policy mute rule, audited.
    let lp = app.state.policy();
    let rule = lp.policy.mutes.last().expect("a mute rule");
    assert_eq!(rule.advisory.as_deref(), Some(CRITICAL));
    assert_eq!(rule.purl.as_deref(), Some("pkg:npm/minimist@*"));
    assert_eq!(rule.author, "admin");
    assert!(
        audit_kinds(&app)
            .iter()
            .any(|(k, e)| k == "policy.mute" && e["scan_id"] == id.as_str())
    );
    // The scan page greys it with the reason; the recorded verdict stays.
    let detail = text(send(&app.router, get(&format!("/scans/{id}"), &cookie)).await).await;
    assert!(detail.contains("is-muted"), "{detail}");
    assert!(detail.contains("minimist only parses our own CLI flags"));
    // Re-scanning the same SBOM passes: that was the only failing finding.
    let second = api_scan(&app).await;
    assert_eq!(second["verdict"], "pass", "{second}");
    let id2 = second["scan_id"].as_str().expect("id");
    let detail2 = text(send(&app.router, get(&format!("/scans/{id2}"), &cookie)).await).await;
    assert!(detail2.contains("verdict-pass"), "{detail2}");

    // Downloads: the DSSE envelope verifies with the appliance key; the bundle carries it.
    let ev = send(&app.router, get(&format!("/scans/{id}/evidence"), &cookie)).await;
    assert_eq!(ev.status(), StatusCode::OK);
    let envelope = text(ev).await;
    let st = appliance::evidence::verify(&envelope, &app.state.public).expect("evidence verifies");
    assert_eq!(st.predicate.verdict, "fail");
    let b = send(&app.router, get(&format!("/scans/{id}/bundle"), &cookie)).await;
    assert_eq!(b.status(), StatusCode::OK);
    assert_eq!(b.headers()[header::CONTENT_TYPE], "application/zstd");
    let bytes = axum::body::to_bytes(b.into_body(), 64 << 20)
        .await
        .expect("bundle body");
    // The evidence bundle (.tar.zst, bundles::evidence): the same envelope and the key.
    let bundle =
        bundles::evidence::read_bundle(&bytes[..], &Default::default()).expect("evidence bundle");
    assert_eq!(
        bundle[bundles::evidence::ENVELOPE],
        envelope.as_bytes(),
        "scan {id}"
    );
    assert!(
        String::from_utf8_lossy(&bundle[bundles::evidence::APPLIANCE_PUB])
            .contains("untrusted comment")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_errors_show_inline_and_valid_saves_are_versioned() {
    let app = app();
    let (cookie, csrf) = login(&app).await;
    let before = app.state.policy().version.version;
    let bad = "fail_on: high\nmax_feed_age_days: [not, a, number]\n";
    let resp = send(
        &app.router,
        post_form("/policy", &cookie, &[("csrf", &csrf), ("yaml", bad)]),
    )
    .await;
    let page = text(resp).await;
    assert!(page.contains("Not saved"), "{page}");
    assert!(page.contains("line 2"), "{page}");
    assert_eq!(app.state.policy().version.version, before, "nothing stored");

    let good = "# tightened after the audit\nfail_on: medium\nmax_feed_age_days: 14\n";
    let resp = send(
        &app.router,
        post_form("/policy", &cookie, &[("csrf", &csrf), ("yaml", good)]),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let lp = app.state.policy();
    assert_eq!(lp.version.version, before + 1);
    // The operator's text is kept as typed (comments included).
    assert_eq!(lp.version.yaml, good);
    assert!(
        audit_kinds(&app)
            .iter()
            .any(|(k, e)| k == "policy.update" && e["actor"] == "admin")
    );
    let page = text(send(&app.router, get("/policy", &cookie)).await).await;
    assert!(page.contains("tightened after the audit"), "{page}");
    let v1 = send(
        &app.router,
        get(&format!("/policy/versions/{before}"), &cookie),
    )
    .await;
    assert_eq!(v1.status(), StatusCode::OK);
}

fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----stella-console-test-boundary".to_owned();
    let mut body = Vec::new();
    for (name, file, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

async fn upload(app: &App, cookie: &str, csrf: &str, kit: &std::path::Path) -> String {
    let bytes = std::fs::read(kit).expect("kit");
    let mut sig = kit.as_os_str().to_owned();
    sig.push(".minisig");
    let sig = std::fs::read(std::path::PathBuf::from(sig)).expect("signature");
    let name = kit
        .file_name()
        .and_then(|n| n.to_str())
        .expect("file name")
        .to_owned();
    let sig_name = format!("{name}.minisig");
    let (boundary, body) = multipart(&[
        ("csrf", None, csrf.as_bytes()),
        ("kit", Some(&name), &bytes),
        ("signature", Some(&sig_name), &sig),
    ]);
    let req = Request::builder()
        .method("POST")
        .uri("/kits")
        .header(header::COOKIE, cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .expect("request");
    let resp = send(&app.router, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    text(resp).await
}

#[tokio::test(flavor = "multi_thread")]
async fn kit_upload_accepted_and_refused_with_the_failing_check() {
    let app = app();
    let (cookie, csrf) = login(&app).await;

    // A good kit #2: every check passes and it becomes the active kit.
    let good = write_kit(&app.site.kits, "plant-7-0002.ouk", 2, &vendor(), &vendor());
    let page = upload(&app, &cookie, &csrf, &good).await;
    assert!(page.contains("All checks passed"), "{page}");
    assert!(page.contains("now active"), "{page}");
    assert!(!page.contains("check-bad"), "{page}");
    assert_eq!(app.state.kit().map(|k| k.sequence), Some(2));
    let dash = text(send(&app.router, get("/", &cookie)).await).await;
    assert!(dash.contains("plant-7-0002"), "{dash}");

    // A kit whose detached signature is by a key the appliance does not trust: check 2.
    let bad = write_kit(
        &app.site.kits,
        "plant-7-0003.ouk",
        3,
        &vendor(),
        &stranger(),
    );
    let page = upload(&app, &cookie, &csrf, &bad).await;
    assert!(page.contains("Kit refused"), "{page}");
    let failed = page
        .split("check check-bad")
        .nth(1)
        .expect("a failed check is shown");
    assert!(failed.contains("check-num\">2<"), "{failed}");
    assert_eq!(
        app.state.kit().map(|k| k.sequence),
        Some(2),
        "nothing changed"
    );

    // The import history lists both, newest first, with the refusal's reason.
    let kits = text(send(&app.router, get("/kits", &cookie)).await).await;
    let refused = kits
        .find("plant-7-0003.ouk")
        .expect("refused upload listed");
    let accepted = kits
        .find("plant-7-0002.ouk")
        .expect("accepted upload listed");
    assert!(refused < accepted, "newest first");
    assert!(kits.contains("refused"), "{kits}");
    assert!(kits.contains("check 2"), "{kits}");

    // Tokens page: clients of the active kit with their re-signed tokens.
    let tokens = text(send(&app.router, get("/tokens", &cookie)).await).await;
    assert!(
        tokens.contains(CLIENT) && tokens.contains(EXPIRING_CLIENT),
        "{tokens}"
    );
    assert!(tokens.contains("eyJ"), "{tokens}");
}

/// An npm component whose version no SemVer reading accepts (`1.2.5-x_y`: `_` is not a
/// SemVer character) against the critical minimist advisory.
const UNDECIDED_SBOM: &str = r#"{
  "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
  "metadata": {"component": {"type": "application", "name": "odd-build"}},
  "components": [
    {"type": "library", "name": "minimist", "version": "1.2.5-x_y", "purl": "pkg:npm/minimist@1.2.5-x_y"}
  ]
}"#;

/// Scans `sbom` through the real API as [`CLIENT`]; returns the JSON answer.
async fn api_scan_of(app: &App, sbom: &str) -> Value {
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/scan")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.site.token))
        .body(Body::from(sbom.to_owned()))
        .expect("request");
    let resp = send(&app.router, req).await;
    let status = resp.status();
    let body = text(resp).await;
    assert_eq!(status, StatusCode::OK, "scan accepted: {body}");
    serde_json::from_str(&body).expect("scan JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undecided_finding_fails_the_build_shows_in_the_console_and_can_be_ignored() {
    let app = app();
    let v = api_scan_of(&app, UNDECIDED_SBOM).await;
    let f = &v["findings"][0];
    assert_eq!(
        (
            f["id"].as_str(),
            f["severity"].as_str(),
            f["undecided"].as_bool()
        ),
        (Some(CRITICAL), Some("critical"), Some(true)),
        "{v}"
    );
    assert_eq!(
        v["verdict"], "fail",
        "a scanner that cannot decide must not pass"
    );
    assert_eq!(v["summary"]["undecided"], 1);
    assert!(v["summary"].get("undecided_ignored").is_none(), "{v}");
    let warning = v["warnings"][0].as_str().expect("warning");
    assert!(warning.contains("reported as undecided"), "{warning}");

    let (cookie, csrf) = login(&app).await;
    let id = v["scan_id"].as_str().expect("id");
    let page = text(send(&app.router, get(&format!("/scans/{id}"), &cookie)).await).await;
    assert!(page.contains("pill-undecided"), "the scan page marks it");

    // `undecided: ignore` reports it and passes
    let resp = send(
        &app.router,
        post_form(
            "/policy",
            &cookie,
            &[
                ("csrf", &csrf),
                ("yaml", "fail_on: high\nundecided: ignore\n"),
            ],
        ),
    )
    .await;
    assert!(
        resp.status().is_redirection() || resp.status().is_success(),
        "{}",
        resp.status()
    );
    let v = api_scan_of(&app, UNDECIDED_SBOM).await;
    assert_eq!(v["findings"][0]["undecided"], true);
    assert_eq!(v["verdict"], "pass", "{v}");
    assert_eq!(v["summary"]["undecided_ignored"], true);
}
