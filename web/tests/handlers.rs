//! Handler tests: the whole router, driven with `tower::ServiceExt::oneshot` against the
//! in-memory `FakeConsole` (no sockets, no network).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use tower::ServiceExt;
mod support;

use support::fake::{DEMO_PASSWORD, DEMO_USER, FakeConsole, HOSTILE_SCAN_ID};
use web::{Console, ConsoleError, WebOptions};

const UPLOAD_CAP: u64 = 4096;

struct App {
    router: Router,
    fake: Arc<FakeConsole>,
    upload_dir: tempfile::TempDir,
}

fn app() -> App {
    let fake = Arc::new(FakeConsole::demo());
    let upload_dir = tempfile::tempdir().expect("temp dir");
    let opts = WebOptions {
        secure_cookies: true,
        max_upload: UPLOAD_CAP,
        upload_dir: upload_dir.path().to_owned(),
        ..WebOptions::default()
    };
    let router = web::router(fake.clone(), opts);
    App {
        router,
        fake,
        upload_dir,
    }
}

async fn send(router: &Router, req: Request<Body>) -> Response<Body> {
    router
        .clone()
        .oneshot(req)
        .await
        .expect("router is infallible")
}

async fn body_text(resp: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("utf-8 body")
}

fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().uri(uri);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).expect("request")
}

fn post_form(uri: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Request<Body> {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut b = Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::from(body)).expect("request")
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn set_cookies(resp: &Response<Body>) -> Vec<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii cookie").to_owned())
        .collect()
}

fn location(resp: &Response<Body>) -> &str {
    resp.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The value of the first hidden `csrf` field in a page.
fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a csrf field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

/// GET /login, then POST the form. Returns the POST response.
async fn attempt_login(
    app: &App,
    user: &str,
    password: &str,
    ip: Option<IpAddr>,
) -> Response<Body> {
    let page = send(&app.router, get("/login", None)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = set_cookies(&page)
        .into_iter()
        .find(|c| c.starts_with("stella_login_csrf="))
        .expect("login csrf cookie");
    let cookie = cookie.split(';').next().expect("name=value").to_owned();
    let csrf = csrf_in(&body_text(page).await);
    let mut req = post_form(
        "/login",
        Some(&cookie),
        &[("user", user), ("password", password), ("csrf", &csrf)],
    );
    if let Some(ip) = ip {
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
    }
    send(&app.router, req).await
}

/// Logs in as the demo operator. Returns (`Cookie` header value, session CSRF token).
async fn login(app: &App) -> (String, String) {
    let resp = attempt_login(app, DEMO_USER, DEMO_PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let session = set_cookies(&resp)
        .into_iter()
        .find(|c| c.starts_with("stella_session="))
        .expect("session cookie");
    let cookie = session.split(';').next().expect("name=value").to_owned();
    let page = send(&app.router, get("/policy", Some(&cookie))).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_in(&body_text(page).await);
    (cookie, csrf)
}

fn first_failing_scan(app: &App) -> (String, String, String) {
    let d = app
        .fake
        .scan(HOSTILE_SCAN_ID)
        .expect("scan")
        .expect("exists");
    let f = &d.findings[0];
    (d.scan.id.clone(), f.finding.id.clone(), f.purl().to_owned())
}

// ----- login ----------------------------------------------------------------------

#[tokio::test]
async fn login_sets_a_hardened_session_cookie_and_opens_the_dashboard() {
    let app = app();
    let resp = attempt_login(&app, DEMO_USER, DEMO_PASSWORD, None).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/");
    let cookies = set_cookies(&resp);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("stella_session="))
        .expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("stella_login_csrf=;") && c.contains("Max-Age=0")),
        "login CSRF cookie is cleared: {cookies:?}"
    );
    let cookie = session.split(';').next().expect("pair");
    let dash = send(&app.router, get("/", Some(cookie))).await;
    assert_eq!(dash.status(), StatusCode::OK);
    let html = body_text(dash).await;
    assert!(html.contains("<h1>Dashboard</h1>"));
    assert!(html.contains("Signed in as<strong>admin</strong>"));
    assert!(
        app.fake
            .audit_actions()
            .contains(&("admin".into(), "login".into(), true)),
        "login is audited"
    );
}

#[tokio::test]
async fn cookies_are_not_secure_when_serving_plain_http() {
    let fake = Arc::new(FakeConsole::demo());
    let router = web::router(
        fake,
        WebOptions {
            secure_cookies: false,
            ..WebOptions::default()
        },
    );
    let resp = send(&router, get("/login", None)).await;
    let cookies = set_cookies(&resp);
    assert!(!cookies.is_empty());
    assert!(
        cookies
            .iter()
            .all(|c| !c.contains("Secure") && c.contains("HttpOnly"))
    );
}

#[tokio::test]
async fn wrong_password_is_refused_without_a_session_and_audited() {
    let app = app();
    let resp = attempt_login(&app, DEMO_USER, "hunter2", None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        set_cookies(&resp)
            .iter()
            .all(|c| !c.starts_with("stella_session="))
    );
    let html = body_text(resp).await;
    assert!(html.contains("Wrong user name or password."));
    assert!(
        app.fake
            .audit_actions()
            .contains(&("admin".into(), "login".into(), false))
    );
}

#[tokio::test]
async fn repeated_failures_trigger_backoff_even_for_the_right_password() {
    let app = app();
    let ip: IpAddr = "10.7.0.99".parse().expect("ip");
    for _ in 0..support::fake::FREE_FAILURES {
        let r = attempt_login(&app, DEMO_USER, "guess", Some(ip)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = attempt_login(&app, DEMO_USER, DEMO_PASSWORD, Some(ip)).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r
        .headers()
        .get(header::RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=30).contains(&retry), "retry after {retry}");
    assert!(
        set_cookies(&r)
            .iter()
            .all(|c| !c.starts_with("stella_session="))
    );
    assert!(
        body_text(r)
            .await
            .contains("Too many failed sign-in attempts")
    );
}

#[tokio::test]
async fn login_form_needs_its_csrf_cookie() {
    let app = app();
    let logins = |app: &App| {
        app.fake
            .audit_actions()
            .iter()
            .filter(|(_, a, _)| a == "login")
            .count()
    };
    let before = logins(&app);
    let no_cookie = post_form(
        "/login",
        None,
        &[
            ("user", DEMO_USER),
            ("password", DEMO_PASSWORD),
            ("csrf", "abc"),
        ],
    );
    assert_eq!(
        send(&app.router, no_cookie).await.status(),
        StatusCode::FORBIDDEN
    );
    let mismatch = post_form(
        "/login",
        Some("stella_login_csrf=abd"),
        &[
            ("user", DEMO_USER),
            ("password", DEMO_PASSWORD),
            ("csrf", "abc"),
        ],
    );
    assert_eq!(
        send(&app.router, mismatch).await.status(),
        StatusCode::FORBIDDEN
    );
    // Refused before the credentials were even looked at: no login attempt recorded.
    assert_eq!(logins(&app), before);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = app();
    let (cookie, csrf) = login(&app).await;
    let bad = send(
        &app.router,
        post_form("/logout", Some(&cookie), &[("csrf", "x")]),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::FORBIDDEN);
    let resp = send(
        &app.router,
        post_form("/logout", Some(&cookie), &[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/login");
    assert!(
        set_cookies(&resp)
            .iter()
            .any(|c| c.starts_with("stella_session=;") && c.contains("Max-Age=0"))
    );
    let after = send(&app.router, get("/", Some(&cookie))).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&after), "/login");
}

// ----- every page -----------------------------------------------------------------

fn page_paths(app: &App) -> Vec<String> {
    let (scan, advisory, purl) = first_failing_scan(app);
    vec![
        "/".into(),
        "/scans".into(),
        "/scans?q=hmi&verdict=fail&from=2026-11-01&to=2026-11-30&page=1".into(),
        "/scans?page=2".into(),
        format!("/scans/{scan}"),
        format!("/scans/{scan}?sort=layer&dir=desc"),
        format!(
            "/scans/{scan}/mute?advisory={}&purl={}",
            enc(&advisory),
            enc(&purl)
        ),
        format!("/scans/{scan}/evidence"),
        format!("/scans/{scan}/bundle"),
        "/policy".into(),
        "/policy/versions/1".into(),
        "/kits".into(),
        "/tokens".into(),
        "/audit".into(),
    ]
}

#[tokio::test]
async fn every_page_redirects_to_login_without_a_session() {
    let app = app();
    for path in page_paths(&app) {
        for cookie in [None, Some("stella_session=forged-or-expired")] {
            let resp = send(&app.router, get(&path, cookie)).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path} {cookie:?}");
            assert_eq!(location(&resp), "/login", "{path}");
        }
    }
    for path in ["/policy", "/kits/activate", "/logout"] {
        let resp = send(&app.router, post_form(path, None, &[("csrf", "x")])).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "POST {path}");
    }
}

#[tokio::test]
async fn every_page_renders_when_logged_in() {
    let app = app();
    let (cookie, _) = login(&app).await;
    for path in page_paths(&app) {
        let resp = send(&app.router, get(&path, Some(&cookie))).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let ct = resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .to_owned();
        let body = body_text(resp).await;
        if path.ends_with("/evidence") || path.ends_with("/bundle") {
            assert!(ct.contains("json"), "{path}: {ct}");
            assert!(body.contains("findings_digest"));
        } else {
            assert!(ct.starts_with("text/html"), "{path}: {ct}");
            assert!(body.contains("</html>"), "{path} renders a whole page");
        }
    }
    // The already-logged-in visitor of /login goes to the dashboard.
    let resp = send(&app.router, get("/login", Some(&cookie))).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/");
}

#[tokio::test]
async fn downloads_are_attachments_with_safe_names() {
    let app = app();
    let (cookie, _) = login(&app).await;
    let resp = send(
        &app.router,
        get(&format!("/scans/{HOSTILE_SCAN_ID}/evidence"), Some(&cookie)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cd = resp.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("ascii");
    assert_eq!(
        cd,
        format!("attachment; filename=\"{HOSTILE_SCAN_ID}.dsse.json\"")
    );
    let missing = send(&app.router, get("/scans/nope/bundle", Some(&cookie))).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_scan_is_a_404_that_says_so() {
    let app = app();
    let (cookie, _) = login(&app).await;
    let resp = send(&app.router, get("/scans/01NOPE", Some(&cookie))).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(body_text(resp).await.contains("scan 01NOPE not found"));
}

// ----- security headers -----------------------------------------------------------

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = app();
    let (cookie, _) = login(&app).await;
    let css = send(&app.router, get("/", Some(&cookie))).await;
    let html = body_text(css).await;
    let css_url = html
        .split("href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("stylesheet link")
        .to_owned();
    assert!(css_url.starts_with("/static/") && css_url.ends_with("/console.css"));
    for (uri, cookie) in [
        ("/login", None),
        ("/", Some(cookie.as_str())),
        ("/", None),
        ("/scans/missing", Some(cookie.as_str())),
        (css_url.as_str(), None),
    ] {
        let resp = send(&app.router, get(uri, cookie)).await;
        let h = resp.headers();
        assert_eq!(
            h[header::CONTENT_SECURITY_POLICY],
            web::CONTENT_SECURITY_POLICY,
            "{uri}"
        );
        assert!(web::CONTENT_SECURITY_POLICY.starts_with("default-src 'self'"));
        assert!(!web::CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{uri}");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{uri}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
    }
}

#[tokio::test]
async fn assets_are_embedded_typed_and_cached_long() {
    let app = app();
    let login = body_text(send(&app.router, get("/login", None)).await).await;
    for (suffix, ct) in [
        ("console.css", "text/css; charset=utf-8"),
        ("logo.svg", "image/svg+xml"),
    ] {
        let url = login
            .split('"')
            .find(|s| s.starts_with("/static/") && s.ends_with(suffix))
            .expect("asset url in login page")
            .to_owned();
        let resp = send(&app.router, get(&url, None)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], ct);
        assert!(
            resp.headers()[header::CACHE_CONTROL]
                .to_str()
                .expect("ascii")
                .contains("immutable")
        );
        assert!(!body_text(resp).await.is_empty());
    }
    let js = send(&app.router, get("/static/0/console.js", None)).await;
    assert_eq!(
        js.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        js.headers()[header::CACHE_CONTROL],
        "no-cache",
        "stale version"
    );
    let none = send(&app.router, get("/static/0/secret.txt", None)).await;
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    // Pages themselves are never cached.
    assert_eq!(
        send(&app.router, get("/login", None)).await.headers()[header::CACHE_CONTROL],
        "no-store"
    );
}

#[tokio::test]
async fn templates_contain_no_inline_script_or_style() {
    let app = app();
    let (cookie, _) = login(&app).await;
    for path in page_paths(&app)
        .into_iter()
        .filter(|p| !p.ends_with("evidence") && !p.ends_with("bundle"))
    {
        let html = body_text(send(&app.router, get(&path, Some(&cookie))).await).await;
        assert!(!html.contains("style="), "{path} has an inline style");
        assert!(!html.contains("<style"), "{path} has a style element");
        for chunk in html.split("<script").skip(1) {
            assert!(
                chunk.trim_start().starts_with("src="),
                "{path} has an inline script"
            );
        }
    }
}

// ----- escaping -------------------------------------------------------------------

#[tokio::test]
async fn hostile_sbom_text_is_escaped_everywhere() {
    let app = app();
    let (cookie, _) = login(&app).await;
    let (scan, advisory, purl) = first_failing_scan(&app);
    for path in [
        format!("/scans/{scan}"),
        format!(
            "/scans/{scan}/mute?advisory={}&purl={}",
            enc(&advisory),
            enc(&purl)
        ),
        "/scans".into(),
        "/".into(),
    ] {
        let html = body_text(send(&app.router, get(&path, Some(&cookie))).await).await;
        assert!(!html.contains("<script>alert(1)</script>"), "{path}");
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(!html.contains("<svg onload"), "{path}");
        assert!(!html.contains("<b>bold</b>"), "{path}");
        if path.contains(&scan) {
            assert!(
                html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
                "{path}"
            );
        }
    }
    // The filter box echoes the query back, escaped.
    let html = body_text(
        send(
            &app.router,
            get(
                &format!("/scans?q={}", enc("\"><script>x</script>")),
                Some(&cookie),
            ),
        )
        .await,
    )
    .await;
    assert!(!html.contains("<script>x</script>"));
    assert!(html.contains("value=\"&#34;&#62;&#60;script&#62;x&#60;/script&#62;\""));
}

// ----- CSRF -----------------------------------------------------------------------

#[tokio::test]
async fn state_changing_forms_refuse_missing_or_wrong_csrf_tokens() {
    let app = app();
    let (cookie, _) = login(&app).await;
    let (scan, advisory, purl) = first_failing_scan(&app);
    let mute = format!("/scans/{scan}/mute");
    for token in [None, Some("0000"), Some("")] {
        let with = |mut f: Vec<(&'static str, String)>| {
            if let Some(t) = token {
                f.push(("csrf", t.to_owned()));
            }
            f
        };
        let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
            ("/policy", with(vec![("yaml", "fail_on: low\n".into())])),
            (
                mute.as_str(),
                with(vec![
                    ("advisory", advisory.clone()),
                    ("purl", purl.clone()),
                    ("reason", "not reachable".into()),
                ]),
            ),
            ("/kits/activate", with(vec![("import_id", "imp-1".into())])),
            (
                "/tokens/revoke",
                with(vec![
                    ("target", "client".into()),
                    ("id", "ci-payments".into()),
                    ("reason", "leaked".into()),
                ]),
            ),
            ("/logout", with(vec![])),
        ];
        for (path, fields) in cases {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let resp = send(&app.router, post_form(path, Some(&cookie), &fields)).await;
            assert_eq!(
                resp.status(),
                StatusCode::FORBIDDEN,
                "{path} with {token:?}"
            );
            assert!(body_text(resp).await.contains("security token"));
        }
    }
    assert!(app.fake.mute_rules().is_empty(), "no rule stored");
    let policy = app.fake.policy().expect("policy");
    assert_eq!(policy.version, 2, "policy unchanged");
    // The session survived (logout was refused).
    assert_eq!(
        send(&app.router, get("/", Some(&cookie))).await.status(),
        StatusCode::OK
    );
}

// ----- tokens ---------------------------------------------------------------------

#[tokio::test]
async fn revoking_a_client_needs_a_reason_shows_on_the_page_and_can_be_lifted() {
    let app = app();
    let (cookie, _) = login(&app).await;
    let page = body_text(send(&app.router, get("/tokens", Some(&cookie))).await).await;
    let csrf = csrf_in(&page);
    let client = "ci-payments";
    assert!(page.contains("Revoke client"), "{page}");
    // No reason: refused, nothing changes.
    let no_reason = [
        ("csrf", csrf.as_str()),
        ("target", "client"),
        ("id", client),
        ("reason", " "),
    ];
    let resp = send(
        &app.router,
        post_form("/tokens/revoke", Some(&cookie), &no_reason),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // A bad target is refused too.
    let bad = [
        ("csrf", csrf.as_str()),
        ("target", "everyone"),
        ("id", client),
        ("reason", "x"),
    ];
    let resp = send(
        &app.router,
        post_form("/tokens/revoke", Some(&cookie), &bad),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let page = body_text(send(&app.router, get("/tokens", Some(&cookie))).await).await;
    assert!(!page.contains("revoked by"), "nothing revoked yet");
    let ok = [
        ("csrf", csrf.as_str()),
        ("target", "client"),
        ("id", client),
        ("reason", "token leaked in a CI log"),
    ];
    let resp = send(&app.router, post_form("/tokens/revoke", Some(&cookie), &ok)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/tokens");
    let page = body_text(send(&app.router, get("/tokens", Some(&cookie))).await).await;
    assert!(page.contains("revoked by admin"), "{page}");
    assert!(page.contains("token leaked in a CI log"));
    assert!(page.contains("Lift revocation"));
    assert!(
        app.fake
            .audit_actions()
            .iter()
            .any(|(_, a, _)| a == "revocation.add")
    );
    let lift = [
        ("csrf", csrf.as_str()),
        ("target", "client"),
        ("id", client),
    ];
    let resp = send(&app.router, post_form("/tokens/lift", Some(&cookie), &lift)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let page = body_text(send(&app.router, get("/tokens", Some(&cookie))).await).await;
    assert!(!page.contains("revoked by"), "lifted");
    // Lifting again: nothing to lift.
    let resp = send(&app.router, post_form("/tokens/lift", Some(&cookie), &lift)).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

// ----- mute -----------------------------------------------------------------------

#[tokio::test]
async fn mute_requires_a_reason_and_a_future_expiry_then_greys_the_finding() {
    let app = app();
    let (cookie, csrf) = login(&app).await;
    let (scan, advisory, purl) = first_failing_scan(&app);
    let path = format!("/scans/{scan}/mute");
    let form = |reason: &'static str, expires: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("advisory", advisory.clone()),
            ("purl", purl.clone()),
            ("reason", reason.to_owned()),
            ("expires", expires.to_owned()),
            ("scope", "package".to_owned()),
        ]
    };
    let send_form = |fields: Vec<(&'static str, String)>| {
        let fields: Vec<(&str, String)> = fields;
        let router = app.router.clone();
        let cookie = cookie.clone();
        let path = path.clone();
        async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(&router, post_form(&path, Some(&cookie), &f)).await
        }
    };

    let r = send_form(form("   ", "")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body_text(r).await;
    assert!(html.contains("A reason is required"));
    assert!(html.contains("aria-invalid=\"true\""));

    let r = send_form(form("fine", "2001-01-01")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body_text(r).await;
    assert!(html.contains("The expiry date is in the past."));
    assert!(html.contains(">fine</textarea>"), "reason kept");

    let r = send_form(form("fine", "31/12/2099")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(r).await.contains("Use a date like"));
    assert!(app.fake.mute_rules().is_empty());

    // The only failing finding of this scan: muting it flips the verdict to pass.
    let before = app.fake.scan(&scan).expect("scan").expect("exists");
    assert_eq!(before.scan.verdict, web::Verdict::Fail);
    let r = send_form(form("Test fixture only; never shipped", "2099-12-31")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/scans/{scan}?muted=1#findings"));
    let rules = app.fake.mute_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].request.reason, "Test fixture only; never shipped");
    assert_eq!(rules[0].request.scope, web::MuteScope::Package);
    assert_eq!(rules[0].created_by, "admin");
    assert!(
        app.fake
            .audit_actions()
            .contains(&("admin".into(), "mute".into(), true))
    );

    let html = body_text(
        send(
            &app.router,
            get(&format!("/scans/{scan}?muted=1"), Some(&cookie)),
        )
        .await,
    )
    .await;
    assert!(html.contains("class=\"is-muted\""));
    assert!(html.contains("Test fixture only; never shipped"));
    assert!(html.contains("Mute rule saved"));
    assert!(html.contains("verdict-pass"));
}

#[tokio::test]
async fn mute_of_an_unknown_finding_is_404() {
    let app = app();
    let (cookie, csrf) = login(&app).await;
    let r = send(
        &app.router,
        post_form(
            &format!("/scans/{HOSTILE_SCAN_ID}/mute"),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("advisory", "CVE-0"),
                ("purl", "pkg:x/y@1"),
                ("reason", "r"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

// ----- policy ---------------------------------------------------------------------

#[tokio::test]
async fn policy_errors_are_shown_inline_and_nothing_is_saved() {
    let app = app();
    let (cookie, csrf) = login(&app).await;
    let yaml =
        "version: 1\r\nfail_on: hihg\r\nmax_feed_age_days: 7\r\nfavourite_colour: <blue>\r\n";
    let r = send(
        &app.router,
        post_form("/policy", Some(&cookie), &[("csrf", &csrf), ("yaml", yaml)]),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body_text(r).await;
    assert!(html.contains("2 problems"));
    assert!(html.contains("line 2: fail_on must be one of"));
    assert!(html.contains("line 4: unknown key `favourite_colour`"));
    assert!(html.contains("class=\"has-error\""));
    assert!(
        html.contains("favourite_colour: &#60;blue&#62;"),
        "submitted text kept, escaped"
    );
    assert_eq!(app.fake.policy().expect("policy").version, 2);

    let r = send(
        &app.router,
        post_form(
            "/policy",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("yaml", "fail_on: critical\nmax_feed_age_days: 3\n"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/policy?saved=3");
    let html = body_text(send(&app.router, get("/policy?saved=3", Some(&cookie))).await).await;
    assert!(html.contains("Saved as version 3."));
    assert!(html.contains("/policy/versions/3"));
    // The new maximum feed age colours the dashboard: the demo feeds are 4 days old.
    let dash = body_text(send(&app.router, get("/", Some(&cookie))).await).await;
    assert!(dash.contains("tile tile-bad") && dash.contains("policy maximum 3 days"));

    let r = send(
        &app.router,
        post_form(
            "/policy",
            Some(&cookie),
            &[("csrf", &csrf), ("yaml", "  \n")],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(r).await.contains("The policy is empty."));
}

// ----- kit upload -----------------------------------------------------------------

fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----stella-test-boundary-7MA4YWxkTrZu0gW".to_owned();
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

fn upload_req(
    cookie: &str,
    parts: &[(&str, Option<&str>, &[u8])],
    content_length: bool,
) -> Request<Body> {
    let (boundary, body) = multipart(parts);
    let mut b = Request::builder()
        .method("POST")
        .uri("/kits")
        .header(header::COOKIE, cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        );
    if content_length {
        b = b.header(header::CONTENT_LENGTH, body.len());
    }
    b.body(Body::from(body)).expect("request")
}

fn upload_dir_is_empty(app: &App) -> bool {
    std::fs::read_dir(app.upload_dir.path())
        .expect("read dir")
        .next()
        .is_none()
}

#[tokio::test]
async fn oversized_uploads_get_413_and_leave_nothing_behind() {
    let app = app();
    let (cookie, csrf) = login(&app).await;
    let big = vec![b'k'; UPLOAD_CAP as usize + 1];
    // Streaming path: no Content-Length, the cap trips while writing.
    let r = send(
        &app.router,
        upload_req(
            &cookie,
            &[
                ("csrf", None, csrf.as_bytes()),
                ("kit", Some("big.ouk"), &big),
            ],
            false,
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        body_text(r)
            .await
            .contains("larger than the limit of 4096 bytes")
    );
    assert!(upload_dir_is_empty(&app), "temporary files removed");
    // Announced size: refused before reading.
    let huge = vec![b'k'; UPLOAD_CAP as usize + 80 * 1024];
    let r = send(
        &app.router,
        upload_req(
            &cookie,
            &[
                ("csrf", None, csrf.as_bytes()),
                ("kit", Some("big.ouk"), &huge),
            ],
            true,
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(upload_dir_is_empty(&app));
}

#[tokio::test]
async fn upload_refuses_files_before_or_without_the_csrf_token() {
    let app = app();
    let (cookie, csrf) = login(&app).await;
    let r = send(
        &app.router,
        upload_req(
            &cookie,
            &[
                ("kit", Some("k.ouk"), b"sequence=43"),
                ("csrf", None, csrf.as_bytes()),
            ],
            false,
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = send(
        &app.router,
        upload_req(
            &cookie,
            &[
                ("csrf", None, b"wrong"),
                ("kit", Some("k.ouk"), b"sequence=43"),
            ],
            false,
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(upload_dir_is_empty(&app));
    assert_eq!(
        app.fake.imports().expect("imports").len(),
        3,
        "nothing imported"
    );
}

#[tokio::test]
async fn upload_verify_and_activate_a_kit() {
    let app = app();
    let (cookie, csrf) = login(&app).await;
    let r = send(
        &app.router,
        upload_req(
            &cookie,
            &[
                ("csrf", None, csrf.as_bytes()),
                ("kit", Some("plant-7-0043.ouk"), b"FAKE-OUK sequence=43"),
                (
                    "signature",
                    Some("plant-7-0043.ouk.minisig"),
                    b"untrusted comment: sig",
                ),
            ],
            true,
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = body_text(r).await;
    assert!(html.contains("All checks passed."));
    assert!(html.contains("Not a rollback"));
    assert!(
        upload_dir_is_empty(&app),
        "temporary files removed after the console call"
    );
    let import_id = {
        let marker = "name=\"import_id\" value=\"";
        let s = html.find(marker).expect("activate form") + marker.len();
        html[s..].split('"').next().expect("value").to_owned()
    };
    let r = send(
        &app.router,
        post_form(
            "/kits/activate",
            Some(&cookie),
            &[("csrf", &csrf), ("import_id", &import_id)],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/kits?activated=43");
    let html = body_text(send(&app.router, get("/kits?activated=43", Some(&cookie))).await).await;
    assert!(html.contains("Kit #43 is now active."));
    assert!(html.contains("plant-7-0043.ouk"));
    // Activating twice is a conflict-free 404: the staged import is gone.
    let r = send(
        &app.router,
        post_form(
            "/kits/activate",
            Some(&cookie),
            &[("csrf", &csrf), ("import_id", &import_id)],
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn refused_kits_show_the_failed_check_and_no_activate_button() {
    let app = app();
    let (cookie, csrf) = login(&app).await;
    let r = send(
        &app.router,
        upload_req(
            &cookie,
            &[
                ("csrf", None, csrf.as_bytes()),
                ("kit", Some("old.ouk"), b"FAKE-OUK sequence=40"),
                ("signature", Some("old.ouk.minisig"), b"sig"),
            ],
            false,
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = body_text(r).await;
    assert!(html.contains("Kit refused."));
    assert!(html.contains("sequence 40 is not newer than the active kit #42"));
    assert!(!html.contains("name=\"import_id\""));
    let history = app.fake.imports().expect("imports");
    assert_eq!(history[0].status, web::ImportStatus::Refused);

    let r = send(
        &app.router,
        upload_req(&cookie, &[("csrf", None, csrf.as_bytes())], false),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(r).await.contains("Choose a kit file"));
}

// ----- list filters and sorting ---------------------------------------------------

#[tokio::test]
async fn scan_list_filters_and_pages_server_side() {
    let app = app();
    let (cookie, _) = login(&app).await;
    let html = body_text(send(&app.router, get("/scans?verdict=pass", Some(&cookie))).await).await;
    assert!(html.contains("verdict-pass"));
    assert!(!html.contains("<span class=\"verdict verdict-fail\""));
    let html = body_text(send(&app.router, get("/scans?q=HMI", Some(&cookie))).await).await;
    assert!(html.contains(">hmi-panel</a>"));
    assert!(!html.contains(">payments-api</a>"));
    let html = body_text(send(&app.router, get("/scans", Some(&cookie))).await).await;
    assert!(html.contains("1–25 of 48"));
    assert!(html.contains("href=\"/scans?page=2\""));
    let html = body_text(send(&app.router, get("/scans?page=2", Some(&cookie))).await).await;
    assert!(html.contains("26–48 of 48"));
    let html = body_text(
        send(
            &app.router,
            get("/scans?from=yesterday&page=x", Some(&cookie)),
        )
        .await,
    )
    .await;
    assert!(html.contains("The from date must look like"));
}

#[tokio::test]
async fn findings_sort_links_toggle_direction() {
    let app = app();
    let id = app.fake.add_scan_with_findings(40);
    let (cookie, _) = login(&app).await;
    let html = body_text(
        send(
            &app.router,
            get(&format!("/scans/{id}?sort=package"), Some(&cookie)),
        )
        .await,
    )
    .await;
    assert!(html.contains(&format!("<th aria-sort=\"ascending\"><a class=\"sort sort-ascending\" href=\"/scans/{id}?sort=package&#38;dir=desc#findings\">Package</a>")));
    let html = body_text(
        send(
            &app.router,
            get(&format!("/scans/{id}?sort=package&dir=desc"), Some(&cookie)),
        )
        .await,
    )
    .await;
    assert!(html.contains("aria-sort=\"descending\""));
    let names: Vec<String> = html
        .split("<td><span class=\"strong\">")
        .skip(1)
        .filter_map(|rest| rest.split("</span>").next())
        .map(str::to_lowercase)
        .collect();
    assert_eq!(names.len(), 40, "every finding is rendered");
    assert!(
        names.windows(2).all(|w| w[0] >= w[1]),
        "descending by package name: {names:?}"
    );
}

// ----- 5xx hides internals --------------------------------------------------------

/// Delegates to the fake but fails the dashboard with an internal error.
struct Broken(FakeConsole);

impl Console for Broken {
    fn verify_login(
        &self,
        u: &str,
        p: &str,
        ip: Option<IpAddr>,
    ) -> Result<web::LoginOutcome, ConsoleError> {
        self.0.verify_login(u, p, ip)
    }
    fn session(&self, t: &str) -> Result<Option<web::Session>, ConsoleError> {
        self.0.session(t)
    }
    fn end_session(&self, t: &str) -> Result<(), ConsoleError> {
        self.0.end_session(t)
    }
    fn dashboard(&self) -> Result<web::DashboardData, ConsoleError> {
        Err(ConsoleError::Internal(
            "sqlite: /var/lib/stella/secret.db is locked".into(),
        ))
    }
    fn scans(&self, q: &web::ScanQuery) -> Result<web::ScanPage, ConsoleError> {
        self.0.scans(q)
    }
    fn scan(&self, id: &str) -> Result<Option<web::ScanDetail>, ConsoleError> {
        self.0.scan(id)
    }
    fn download(
        &self,
        id: &str,
        k: web::DownloadKind,
    ) -> Result<Option<web::Download>, ConsoleError> {
        self.0.download(id, k)
    }
    fn policy(&self) -> Result<web::PolicyView, ConsoleError> {
        self.0.policy()
    }
    fn policy_version(&self, v: u32) -> Result<Option<web::PolicyVersionText>, ConsoleError> {
        self.0.policy_version(v)
    }
    fn tokens(&self) -> Result<web::TokensView, ConsoleError> {
        self.0.tokens()
    }
    fn audit(&self, p: u32) -> Result<web::AuditView, ConsoleError> {
        self.0.audit(p)
    }
    fn imports(&self) -> Result<Vec<web::ImportRow>, ConsoleError> {
        self.0.imports()
    }
    fn mute(&self, r: &web::MuteRequest, a: &str) -> Result<web::MuteRule, ConsoleError> {
        self.0.mute(r, a)
    }
    fn save_policy(&self, y: &str, a: &str) -> Result<web::PolicySave, ConsoleError> {
        self.0.save_policy(y, a)
    }
    fn import_kit(&self, u: &web::KitUpload, a: &str) -> Result<web::ImportReport, ConsoleError> {
        self.0.import_kit(u, a)
    }
    fn activate_kit(&self, i: &str, a: &str) -> Result<web::KitInfo, ConsoleError> {
        self.0.activate_kit(i, a)
    }
    fn revoke(&self, t: web::RevokeTarget, i: &str, r: &str, a: &str) -> Result<(), ConsoleError> {
        self.0.revoke(t, i, r, a)
    }
    fn lift_revocation(&self, t: web::RevokeTarget, i: &str, a: &str) -> Result<(), ConsoleError> {
        self.0.lift_revocation(t, i, a)
    }
}

#[tokio::test]
async fn internal_errors_are_500_without_details() {
    let fake = Arc::new(FakeConsole::demo());
    let session = match fake
        .verify_login(DEMO_USER, DEMO_PASSWORD, None)
        .expect("login")
    {
        web::LoginOutcome::Success(s) => s,
        other => panic!("login failed: {other:?}"),
    };
    let broken = Arc::new(Broken(FakeConsole::demo()));
    // Sessions live in the inner fake: open one there.
    let session = match broken
        .verify_login(DEMO_USER, DEMO_PASSWORD, None)
        .expect("login")
    {
        web::LoginOutcome::Success(s) => s,
        other => panic!("login failed: {other:?} (unrelated session {session:?})"),
    };
    let router = web::router(broken, WebOptions::default());
    let resp = send(
        &router,
        get("/", Some(&format!("stella_session={}", session.token))),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(resp.headers()[header::X_FRAME_OPTIONS], "DENY");
    let html = body_text(resp).await;
    assert!(html.contains("Something went wrong inside the appliance"));
    assert!(!html.contains("secret.db") && !html.contains("sqlite"));
}

#[tokio::test]
async fn dashboard_shows_quota_banner_toasts_and_kit() {
    let app = app();
    let (cookie, _) = login(&app).await;
    let html = body_text(send(&app.router, get("/", Some(&cookie))).await).await;
    // ci-payments is at 333/333: red, with the 429 note.
    assert!(html.contains("quota quota-bad"));
    assert!(html.contains("333 / 333"));
    assert!(html.contains("exhausted: further scans get HTTP 429"));
    // ci-legacy-erp's token expires in 5 days: a red toast; the kit (26 days) does not.
    assert_eq!(html.matches("class=\"toast\"").count(), 1);
    assert!(html.contains("The token of client ci-legacy-erp expires in 5 d"));
    // Feed age 4 d 3 h against a 7-day maximum: green.
    assert!(html.contains("tile tile-ok") && html.contains("4 d 3 h"));
    assert!(html.contains("#42") && html.contains("Debian:12") && html.contains("38410"));
    assert!(html.contains("Trivy DB"));

    let empty = Arc::new(FakeConsole::demo().without_kit());
    let router = web::router(empty.clone(), WebOptions::default());
    let s = match empty
        .verify_login(DEMO_USER, DEMO_PASSWORD, None)
        .expect("login")
    {
        web::LoginOutcome::Success(s) => s,
        other => panic!("{other:?}"),
    };
    let html = body_text(
        send(
            &router,
            get("/", Some(&format!("stella_session={}", s.token))),
        )
        .await,
    )
    .await;
    assert!(html.contains("No kit has been activated"));
    assert!(html.contains("tile tile-bad"));
}
