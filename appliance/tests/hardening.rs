//! The serve path's defences, attacked over real loopback TCP ([`Server`]: `serve_on` with
//! small limits, and a byte-level client). Each test fails when its defence is taken out.
//!
//! - The console's session cookie is ambient authority: a change through the JSON
//!   operator API made with it needs the session's CSRF token and this origin; Basic does
//!   not.
//! - Slowloris: request heads that never finish, and idle keep-alive connections, are
//!   closed after `header_timeout_secs`; connections beyond `max_connections_per_address`
//!   are closed as they are accepted.
//! - Scan bodies are admitted against `max_inflight_body_bytes`: beyond it 503 `busy`,
//!   no quota spent, and the share comes back when an upload ends or is abandoned.
//! - Failed HTTP Basic logins put the client's *address* into backoff, whatever user name
//!   comes next; every attempt is audited with `via: "api"`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use appliance::server::Config;
use serde_json::Value;

use crate::util::tcp::{
    Server, console_login, header, hidden_csrf, raw_http, read_response, set_cookie, wait_closed,
};
use crate::util::{Env, KitSpec, VULN_SBOM, basic, json_of};

/// One client, `ci-a`, with room for every scan these tests make.
fn spec() -> KitSpec {
    KitSpec {
        kit_id: "hardening-1",
        clients: vec![("ci-a", 100)],
        revoked: None,
    }
}

/// One request on a new connection (`Connection: close`), with `headers` and `body`.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    raw_http(addr, &req)
}

/// The `error` code of a JSON error answer.
fn code(body: &str) -> Value {
    json_of(body.as_bytes())["error"].clone()
}

fn audit(env: &Env) -> Vec<(String, Value)> {
    env.audit()
}

// ----- CSRF on the JSON operator API -----

/// A browser attaches the session cookie to any request to the appliance, whoever's page
/// sends it. For both changes (a mute rule, an issued token): without the session's CSRF
/// token, with a foreign `Origin`, or marked `Sec-Fetch-Site: cross-site`, the cookie is
/// refused with 403 `csrf` and nothing happens; with the token from this origin, or with
/// HTTP Basic (never sent by a browser on its own) and no token at all, the change is made.
#[test]
fn cookie_changes_on_the_api_need_the_csrf_token_and_this_origin() {
    let env = Env::imported(&spec());
    let server = Server::start(env.state(Config::default()));
    let addr = server.addr;
    let (status, head, body) = console_login(addr, "admin", &env.password);
    assert_eq!(status, 303, "signed in: {head}\n{body}");
    let cookie = set_cookie(&head, "stella_session").expect("session cookie");
    let (status, _, page) = send(addr, "GET", "/", &[("Cookie", cookie.as_str())], "");
    assert_eq!(status, 200, "{page}");
    let token = hidden_csrf(&page).expect("console pages carry the session's CSRF token");
    let wrong = "0".repeat(token.len());
    let origin = format!("http://{addr}");
    let admin = env.basic();
    let (cookie, token, wrong, origin, admin) = (
        cookie.as_str(),
        token.as_str(),
        wrong.as_str(),
        origin.as_str(),
        admin.as_str(),
    );
    let json = ("Content-Type", "application/json");

    let mutes = || {
        let (s, _, b) = send(
            addr,
            "GET",
            "/api/v1/policy/mute",
            &[("Authorization", admin)],
            "",
        );
        assert_eq!(s, 200, "{b}");
        json_of(b.as_bytes())["mutes"]
            .as_array()
            .expect("mutes")
            .len()
    };
    let issued = || {
        audit(&env)
            .iter()
            .filter(|(k, e)| k == "token.issued" && e["via"] == "api")
            .count()
    };
    let changes: [(&str, &str, u16, &dyn Fn() -> usize); 2] = [
        (
            "/api/v1/policy/mute",
            r#"{"advisory":"GHSA-xvch-5gv4-984h","reason":"csrf test"}"#,
            201,
            &mutes,
        ),
        (
            "/api/v1/token/offline",
            r#"{"client":"ci-a"}"#,
            200,
            &issued,
        ),
    ];
    let refused: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "a form-like text/plain POST without the token",
            vec![("Cookie", cookie), ("Content-Type", "text/plain")],
        ),
        (
            "a wrong token",
            vec![("Cookie", cookie), json, ("X-CSRF-Token", wrong)],
        ),
        (
            "the right token from a foreign Origin",
            vec![
                ("Cookie", cookie),
                json,
                ("X-CSRF-Token", token),
                ("Origin", "http://evil.example"),
            ],
        ),
        (
            "the right token on a cross-site fetch",
            vec![
                ("Cookie", cookie),
                json,
                ("X-CSRF-Token", token),
                ("Sec-Fetch-Site", "cross-site"),
            ],
        ),
    ];
    // Every case on both endpoints is tried before judging, so a gap shows all it lets
    // through.
    let mut let_through = Vec::new();
    for (path, body, _, effects) in &changes {
        assert_eq!(effects(), 0, "{path}: nothing yet");
        for (what, headers) in &refused {
            let (s, _, b) = send(addr, "POST", path, headers, body);
            if s != 403 || code(&b) != "csrf" {
                let_through.push(format!("{path}, {what}: {s} {b}"));
            }
        }
        if effects() != 0 {
            let_through.push(format!("{path}: changed by {} refusals", effects()));
        }
    }
    assert!(
        let_through.is_empty(),
        "not refused as csrf: {let_through:#?}"
    );
    for (path, body, ok, effects) in &changes {
        let (s, _, b) = send(
            addr,
            "POST",
            path,
            &[
                ("Cookie", cookie),
                json,
                ("X-CSRF-Token", token),
                ("Origin", origin),
                ("Sec-Fetch-Site", "same-origin"),
            ],
            body,
        );
        assert_eq!(s, *ok, "{path}, cookie + token from this origin: {b}");
        let (s, _, b) = send(addr, "POST", path, &[("Authorization", admin), json], body);
        assert_eq!(s, *ok, "{path}, Basic without a token: {b}");
        assert_eq!(effects(), 2, "{path}: both accepted requests took effect");
    }
    server.stop();
}

// ----- slowloris and connection caps -----

/// With `header_timeout_secs = 1`: heads dripped one byte every 300 ms (the whole head
/// would take ~50 s), a head that stops half way, and a keep-alive connection left idle
/// after one request are all closed by the server within the timeout (+ 2 s), none of them
/// sooner than half of it (so it is the timer, not a parse error), while a normal request
/// on a new connection is served meanwhile. (hyper closes them without an answer.)
#[test]
fn slow_heads_and_idle_keep_alive_connections_are_closed_after_the_header_timeout() {
    let env = Env::imported(&spec());
    let server = Server::start(env.state(Config {
        header_timeout_secs: 1,
        ..Config::default()
    }));
    let addr = server.addr;
    let (least, most) = (Duration::from_millis(500), Duration::from_secs(3));
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(100)
    );
    let mut waiting = Vec::new();
    for i in 0..3 {
        let head = head.clone();
        waiting.push((
            format!("dripping head {i}"),
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).expect("connect");
                wait_closed(
                    &mut s,
                    head.as_bytes(),
                    Duration::from_millis(300),
                    most * 2,
                )
            }),
        ));
    }
    waiting.push((
        "stalled head".into(),
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(b"GET /healthz HTTP/1.1\r\nHo").expect("send");
            wait_closed(&mut s, &[], Duration::from_millis(100), most * 2)
        }),
    ));
    waiting.push((
        "idle keep-alive".into(),
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).expect("connect");
            assert_eq!(healthz_on(&mut s, addr), 200);
            wait_closed(&mut s, &[], Duration::from_millis(100), most * 2)
        }),
    ));
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let (status, _, body) = send(addr, "GET", "/healthz", &[], "");
    assert_eq!(status, 200, "{body}");
    assert!(start.elapsed() < Duration::from_secs(1), "served promptly");
    // All are judged before failing, so a gap shows every connection it leaves open.
    let wrong: Vec<String> = waiting
        .into_iter()
        .filter_map(|(what, t)| match t.join().expect("thread") {
            None => Some(format!("{what}: still open after {:?}", most * 2)),
            Some(c) if !(least..=most).contains(&c.after) => {
                Some(format!("{what}: closed after {:?}", c.after))
            }
            Some(c) if c.received.starts_with(b"HTTP/1.1 200") => Some(format!(
                "{what}: answered {:?}",
                String::from_utf8_lossy(&c.received)
            )),
            Some(_) => None,
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
    server.stop();
}

/// A `GET /healthz` on a kept-alive connection.
fn healthz_on(s: &mut TcpStream, addr: SocketAddr) -> u16 {
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .expect("send");
    read_response(s).0
}

/// `GET /healthz` on a new connection; `None` if the server closed it unanswered.
fn try_healthz(addr: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split(' ').nth(1)?.parse().ok()
}

/// With `max_connections_per_address = 2`, two open connections from 127.0.0.1 are the
/// most it gets: a third is accepted by the kernel but closed by the server unanswered
/// (at once, not after a timeout), the two keep working, and once one of them closes a
/// new connection is served again.
#[test]
fn connections_beyond_the_per_address_cap_are_closed_at_once() {
    let env = Env::imported(&spec());
    let server = Server::start(env.state(Config {
        max_connections_per_address: 2,
        header_timeout_secs: 30,
        ..Config::default()
    }));
    let addr = server.addr;
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connect");
            assert_eq!(healthz_on(&mut s, addr), 200);
            s
        })
        .collect();
    let mut third = TcpStream::connect(addr).expect("the kernel accepts the connection");
    let _ = third.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let closed = wait_closed(
        &mut third,
        &[],
        Duration::from_millis(100),
        Duration::from_secs(2),
    )
    .expect("the third connection is closed at once");
    assert!(
        closed.received.is_empty(),
        "unanswered: {:?}",
        String::from_utf8_lossy(&closed.received)
    );
    for s in &mut held {
        assert_eq!(
            healthz_on(s, addr),
            200,
            "the admitted connections still work"
        );
    }
    drop(held.pop());
    // The server notices the close on its own schedule: allow it a moment.
    let deadline = Instant::now() + Duration::from_secs(2);
    while try_healthz(addr) != Some(200) {
        assert!(Instant::now() < deadline, "a slot came free");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(held);
    server.stop();
}

// ----- the in-flight body budget -----

const SBOM_CAP: usize = 64 << 10;

/// [`VULN_SBOM`] padded with trailing whitespace to `len` bytes.
fn sbom_of(len: usize) -> String {
    let mut s = VULN_SBOM.to_owned();
    s.push_str(&" ".repeat(len - s.len()));
    s
}

fn scan_tcp(addr: SocketAddr, token: &str, sbom: &str) -> (u16, String, String) {
    let auth = format!("Bearer {token}");
    send(
        addr,
        "POST",
        "/api/v1/scan",
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ],
        sbom,
    )
}

fn quota_used(addr: SocketAddr, token: &str) -> u64 {
    let auth = format!("Bearer {token}");
    let (s, _, b) = send(
        addr,
        "GET",
        "/api/v1/quota",
        &[("Authorization", auth.as_str())],
        "",
    );
    assert_eq!(s, 200, "{b}");
    json_of(b.as_bytes())["used"].as_u64().expect("used")
}

fn busy_refusals(addr: SocketAddr) -> u64 {
    let (s, _, b) = send(addr, "GET", "/metrics", &[], "");
    assert_eq!(s, 200, "{b}");
    b.lines()
        .find_map(|l| l.strip_prefix("stella_busy_refusals_total "))
        .expect("stella_busy_refusals_total")
        .trim()
        .parse()
        .expect("count")
}

/// Starts a scan upload of `sbom` and sends its first half: returns once the server has
/// admitted the body (hyper answers `Expect: 100-continue` when the handler starts reading).
fn start_upload(addr: SocketAddr, token: &str, sbom: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(
        format!(
            "POST /api/v1/scan HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
            sbom.len()
        )
        .as_bytes(),
    )
    .expect("send head");
    let (status, head, _) = read_response(&mut s);
    assert_eq!(status, 100, "admitted: {head}");
    s.write_all(&sbom.as_bytes()[..sbom.len() / 2])
        .expect("send half");
    s
}

/// With `max_inflight_body_bytes` at three times the SBOM cap (192 KiB; a body is charged
/// three times its `Content-Length`): while a 60 000-byte upload is half sent (175 KiB
/// charged), a 10 000-byte scan (29 KiB) is refused with 503 `busy` and `Retry-After`, costs no quota
/// and counts in `stella_busy_refusals_total`. When the upload finishes, or is abandoned,
/// its share is free again and the same scan goes through.
#[test]
fn scans_beyond_the_body_budget_get_503_busy_and_cost_no_quota() {
    let env = Env::imported(&spec());
    let server = Server::start(env.state(Config {
        max_sbom_bytes: SBOM_CAP,
        max_inflight_body_bytes: 3 * SBOM_CAP as u64,
        ..Config::default()
    }));
    let addr = server.addr;
    let token = env.token("ci-a");
    let (big, small) = (sbom_of(60_000), sbom_of(10_000));
    let (used, busy) = (quota_used(addr, &token), busy_refusals(addr));

    let mut first = start_upload(addr, &token, &big);
    let (s, head, b) = scan_tcp(addr, &token, &small);
    assert_eq!(s, 503, "{head}\n{b}");
    assert_eq!(code(&b), "busy", "{b}");
    assert_eq!(header(&head, "retry-after"), Some("1"), "{head}");
    assert_eq!(
        quota_used(addr, &token),
        used,
        "a refused scan costs no quota"
    );
    assert_eq!(busy_refusals(addr), busy + 1);

    first
        .write_all(&big.as_bytes()[big.len() / 2..])
        .expect("send the rest");
    let (s, _, b) = read_response(&mut first);
    assert_eq!(s, 200, "the admitted upload is scanned: {b}");
    drop(first);
    let (s, _, b) = scan_tcp(addr, &token, &small);
    assert_eq!(s, 200, "the finished upload gave its share back: {b}");
    assert_eq!(quota_used(addr, &token), used + 2);

    let abandoned = start_upload(addr, &token, &big);
    drop(abandoned);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (s, _, b) = scan_tcp(addr, &token, &small);
        if s == 200 {
            break;
        }
        assert_eq!(code(&b), "busy", "{b}");
        assert!(
            Instant::now() < deadline,
            "the abandoned upload gave its share back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(quota_used(addr, &token), used + 3);
    server.stop();
}

// ----- operator login over HTTP Basic -----

/// `FREE_LOGIN_FAILURES` wrong Basic passwords from 127.0.0.1, each under a different user
/// name (so no user is ever backing off), put the address into backoff: the next attempt
/// is refused with 429 `login_backoff` and `Retry-After` without checking the password,
/// under a name never tried and for `admin` with the right password. Each attempt is one
/// `login` audit record with the name, the address, the result and `via: "api"`.
#[test]
fn failed_basic_logins_put_the_address_into_backoff_whatever_the_name() {
    let env = Env::imported(&spec());
    let server = Server::start(env.state_fast_login(Config::default()));
    let addr = server.addr;
    let clients = |user: &str, password: &str| {
        send(
            addr,
            "GET",
            "/api/v1/clients",
            &[("Authorization", basic(user, password).as_str())],
            "",
        )
    };
    let refused = |user: &str, password: &str| {
        let (s, head, b) = clients(user, password);
        assert_eq!(s, 429, "{user}: {head}\n{b}");
        assert_eq!(code(&b), "login_backoff", "{b}");
        let wait: u64 = header(&head, "retry-after")
            .expect("Retry-After")
            .parse()
            .expect("seconds");
        assert!((1..=2).contains(&wait), "{wait}");
    };
    let free = appliance::store::FREE_LOGIN_FAILURES;
    let mut last_sent = Instant::now();
    for i in 0..free {
        last_sent = Instant::now();
        let (s, _, b) = clients(&format!("nobody-{i}"), "wrong");
        assert_eq!(s, 401, "{b}");
        assert_eq!(code(&b), "operator_required");
    }
    // The address now waits 1 s from that last failure: an attempt inside it is refused
    // (if this machine was too slow to make one inside it, the next step still checks).
    if last_sent.elapsed() < Duration::from_millis(900) {
        refused("nobody-next", "wrong");
    }
    // After the wait one more failure (the address then waits 2 s), and inside that wait
    // a new name and the right password are refused alike.
    std::thread::sleep(Duration::from_millis(1100));
    let (s, _, b) = clients(&format!("nobody-{free}"), "wrong");
    assert_eq!(s, 401, "the 1 s wait is over: {b}");
    refused("never-tried", "wrong");
    refused("admin", &env.password);
    server.stop();

    let logins: Vec<(String, String)> = audit(&env)
        .into_iter()
        .filter(|(k, _)| k == "login")
        .map(|(_, e)| {
            assert_eq!(e["via"], "api", "{e}");
            assert_eq!(e["ip"], "127.0.0.1", "{e}");
            (
                e["actor"].as_str().expect("actor").to_owned(),
                e["result"].as_str().expect("result").to_owned(),
            )
        })
        .collect();
    let failed: Vec<&str> = logins
        .iter()
        .filter(|(_, r)| r == "failed")
        .map(|(a, _)| a.as_str())
        .collect();
    let expected: Vec<String> = (0..=free).map(|i| format!("nobody-{i}")).collect();
    assert_eq!(failed, expected, "{logins:?}");
    for name in ["never-tried", "admin"] {
        assert!(
            logins.contains(&(name.to_owned(), "throttled".to_owned())),
            "{logins:?}"
        );
    }
    assert!(
        !logins.iter().any(|(_, r)| r == "ok"),
        "no password was checked while backing off: {logins:?}"
    );
}
