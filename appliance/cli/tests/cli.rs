//! End-to-end tests of the real `stella` binary against a fake appliance on loopback.
//! Every exit code of CONTRACT.md, retries, quota waits, each output format (SARIF
//! validated against the official schema, JUnit parsed), tokens from env and files.

mod util;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use util::{FakeServer, Req, Resp, code, stderr, stdout};

const TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.test-token.c2ln";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).expect("test data")
}

fn ok_scan(name: &'static str) -> impl Fn(&Req, usize) -> Resp + Send + Sync + 'static {
    let body = read(name);
    move |_req, _i| {
        Resp::json(200, &body)
            .with_header("X-RateLimit-Limit", "333")
            .with_header("X-RateLimit-Remaining", "12")
            .with_header("X-RateLimit-Reset", "1795392000")
    }
}

struct Env {
    dir: tempfile::TempDir,
    bom: PathBuf,
}

fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let bom = dir.path().join("bom.cdx.json");
    std::fs::copy(data("bom.cdx.json"), &bom).expect("copy bom");
    Env { dir, bom }
}

impl Env {
    fn run(&self, server: &str, args: &[&str]) -> std::process::Output {
        util::stella(
            args,
            &[("STELLA_SERVER", server), ("STELLA_TOKEN", TOKEN)],
            None,
            self.dir.path(),
        )
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn assert_no_token(o: &std::process::Output) {
    assert!(!stdout(o).contains(TOKEN), "token leaked on stdout");
    assert!(!stderr(o).contains(TOKEN), "token leaked on stderr");
}

// ---------------------------------------------------------------- exit 0 / 1 and the request

#[test]
fn pass_exits_0_and_sends_the_sbom_with_token_and_query() {
    let e = env();
    let srv = FakeServer::start(ok_scan("scan-pass.json"));
    let digest = format!("sha256:{}", "ab".repeat(32));
    let o = e.run(
        &srv.url,
        &[
            "scan",
            "--sbom",
            "bom.cdx.json",
            "--name",
            "web front",
            "--image-digest",
            &digest,
        ],
    );
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/api/v1/scan")
    );
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, std::fs::read(&e.bom).expect("bom"));
    assert!(r.query.contains("name=web%20front"), "query: {}", r.query);
    assert!(
        r.query
            .contains(&format!("image_digest=sha256%3A{}", "ab".repeat(32)))
            || r.query.contains(&format!("image_digest={digest}")),
        "query: {}",
        r.query
    );
    assert!(
        stderr(&o).contains("quota: 12/333 scans left today, resets 00:00 UTC"),
        "stderr: {}",
        stderr(&o)
    );
    let out = stdout(&o);
    assert!(out.contains("verdict: PASS"), "{out}");
    assert!(out.contains("GHSA-p6mc-m468-83gw"));
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    assert_no_token(&o);
}

#[test]
fn fail_verdict_exits_1() {
    let e = env();
    let srv = FakeServer::start(ok_scan("scan-fail.json"));
    let o = e.run(&srv.url, &["scan", "--sbom", "bom.cdx.json"]);
    assert_eq!(code(&o), 1, "stderr: {}", stderr(&o));
    assert!(stdout(&o).contains("verdict: FAIL (2 unmuted at or above high, appliance policy)"));
    assert!(stderr(&o).contains("verdict: fail"));
}

#[test]
fn fail_on_recomputes_the_verdict_locally() {
    let e = env();
    let fail = FakeServer::start(ok_scan("scan-fail.json"));
    // Server says fail (critical lodash unmuted): still fails at critical...
    let o = e.run(
        &fail.url,
        &["scan", "--sbom", "bom.cdx.json", "--fail-on", "critical"],
    );
    assert_eq!(code(&o), 1);
    // ...and passes with none.
    let o = e.run(
        &fail.url,
        &["scan", "--sbom", "bom.cdx.json", "--fail-on", "none"],
    );
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));

    let pass = FakeServer::start(ok_scan("scan-pass.json"));
    // Server says pass; the unmuted medium fails at medium; the muted critical never counts.
    let o = e.run(
        &pass.url,
        &["scan", "--sbom", "bom.cdx.json", "--fail-on", "medium"],
    );
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("--fail-on"));
    let o = e.run(
        &pass.url,
        &["scan", "--sbom", "bom.cdx.json", "--fail-on", "high"],
    );
    assert_eq!(code(&o), 0);
    let o = e.run(
        &pass.url,
        &["scan", "--sbom", "bom.cdx.json", "--fail-on", "critical"],
    );
    assert_eq!(code(&o), 0, "muted critical must not fail");
}

// ---------------------------------------------------------------- exit 2

#[test]
fn bad_sbom_400_and_too_large_413_exit_2() {
    let e = env();
    let srv = FakeServer::start(|_r, _i| {
        Resp::json(
            400,
            r#"{"error":"bad_sbom","message":"not a CycloneDX, SPDX or Syft JSON document","path":"$.components"}"#,
        )
    });
    let o = e.run(&srv.url, &["scan", "--sbom", "bom.cdx.json"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("not a CycloneDX, SPDX or Syft JSON document"),
        "{}",
        stderr(&o)
    );
    assert_eq!(srv.requests().len(), 1, "4xx is never retried");

    let srv = FakeServer::start(|_r, _i| {
        Resp::json(
            413,
            r#"{"error":"too_large","message":"the SBOM is larger than 64 MiB"}"#,
        )
    });
    let o = e.run(&srv.url, &["scan", "--sbom", "bom.cdx.json"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("larger than 64 MiB"));
    assert_eq!(srv.requests().len(), 1);
}

/// An appliance that answers from the request headers alone and then closes without
/// reading the body, as the real one refuses an oversized SBOM (413 from its
/// `Content-Length`): the rest of the upload then fails with a broken pipe or a reset.
/// `answer` is written first when given. Returns the URL and how many connections came.
fn answers_before_the_body(
    answer: Option<String>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read as _, Write as _};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            if let Some(a) = &answer {
                let _ = stream.write_all(a.as_bytes());
            }
            // Closed with the body unread: the kernel resets the connection.
        }
    });
    (url, seen)
}

/// An SBOM larger than any socket buffer, so the upload cannot complete into them.
fn huge_sbom(e: &Env) -> PathBuf {
    let p = e.path("huge.cdx.json");
    let filler = "x".repeat(32 << 20);
    std::fs::write(
        &p,
        format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","components":[],"x":"{filler}"}}"#
        ),
    )
    .expect("write sbom");
    p
}

#[test]
fn a_413_sent_before_the_upload_ended_is_reported_with_exit_2() {
    let e = env();
    let body = r#"{"error":"too_large","message":"the SBOM is larger than the 1000-byte limit","limit":1000}"#;
    let (url, seen) = answers_before_the_body(Some(format!(
        "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )));
    let sbom = huge_sbom(&e);
    let o = e.run(&url, &["scan", "--sbom", sbom.to_str().expect("utf8")]);
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "stderr: {err}");
    assert!(
        err.contains("the appliance refused the request (HTTP 413 too_large): the SBOM is larger than the 1000-byte limit"),
        "{err}"
    );
    assert!(!err.contains("cannot reach"), "{err}");
    assert!(!err.to_lowercase().contains("broken pipe"), "{err}");
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "a refusal is not retried"
    );
}

#[test]
fn token_refused_401_exits_2_without_printing_the_token() {
    let e = env();
    let srv = FakeServer::start(|_r, _i| {
        Resp::json(
            401,
            r#"{"error":"bad_token","message":"the token expired on 2026-10-01"}"#,
        )
    });
    let o = e.run(&srv.url, &["scan", "--sbom", "bom.cdx.json"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("token refused: the token expired on 2026-10-01"),
        "{}",
        stderr(&o)
    );
    assert_no_token(&o);
    assert_eq!(srv.requests().len(), 1);
}

#[test]
fn local_input_and_configuration_errors_exit_2() {
    let e = env();
    let srv = FakeServer::start(ok_scan("scan-pass.json"));
    // Unreadable SBOM.
    let o = e.run(&srv.url, &["scan", "--sbom", "missing.json"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("cannot read SBOM missing.json"),
        "{}",
        stderr(&o)
    );
    // Empty SBOM.
    std::fs::write(e.path("empty.json"), b"").expect("write");
    let o = e.run(&srv.url, &["scan", "--sbom", "empty.json"]);
    assert_eq!(code(&o), 2);
    // Bad image digest.
    let o = e.run(
        &srv.url,
        &[
            "scan",
            "--sbom",
            "bom.cdx.json",
            "--image-digest",
            "sha256:abc",
        ],
    );
    assert_eq!(code(&o), 2);
    // Bad flag value (clap).
    let o = e.run(
        &srv.url,
        &["scan", "--sbom", "bom.cdx.json", "--fail-on", "severe"],
    );
    assert_eq!(code(&o), 2);
    // No server.
    let o = util::stella(
        &["scan", "--sbom", "bom.cdx.json"],
        &[("STELLA_TOKEN", TOKEN)],
        None,
        e.dir.path(),
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--server URL or set STELLA_SERVER"));
    // No token.
    let o = util::stella(
        &["scan", "--sbom", "bom.cdx.json"],
        &[("STELLA_SERVER", &srv.url)],
        None,
        e.dir.path(),
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no token"));
    // Bad server URL.
    let o = e.run("127.0.0.1:1", &["scan", "--sbom", "bom.cdx.json"]);
    assert_eq!(code(&o), 2);
    // Missing and malformed CA files.
    let o = e.run(
        &srv.url,
        &["scan", "--sbom", "bom.cdx.json", "--ca-file", "nope.pem"],
    );
    assert_eq!(code(&o), 2);
    std::fs::write(e.path("bad.pem"), b"not a certificate\n").expect("write");
    let o = e.run(
        &srv.url,
        &["scan", "--sbom", "bom.cdx.json", "--ca-file", "bad.pem"],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no PEM certificate"), "{}", stderr(&o));
    // None of these reached the appliance.
    assert!(srv.requests().is_empty());
}

// ---------------------------------------------------------------- exit 3: quota

fn quota_429(retry_after: &'static str) -> impl Fn(&Req, usize) -> Resp + Send + Sync + 'static {
    move |_r, _i| {
        Resp::json(429, r#"{"error":"quota_exhausted","message":"333 of 333 scans used today","resets_at":"2099-01-01T00:00:00Z"}"#)
            .with_header("Retry-After", retry_after)
            .with_header("X-RateLimit-Limit", "333")
            .with_header("X-RateLimit-Remaining", "0")
    }
}

#[test]
fn quota_exhausted_exits_3_without_waiting() {
    let e = env();
    let srv = FakeServer::start(quota_429("Thu, 01 Jan 2099 00:00:00 GMT"));
    let o = e.run(&srv.url, &["scan", "--sbom", "bom.cdx.json"]);
    assert_eq!(code(&o), 3, "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("quota exhausted: 333 of 333 scans used today"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("(resets 2099-01-01T00:00:00Z; use --wait-quota to wait)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        srv.requests().len(),
        1,
        "429 is not retried without --wait-quota"
    );
}

#[test]
fn wait_quota_sleeps_until_the_reset_then_scans() {
    let e = env();
    let pass = read("scan-pass.json");
    let srv = FakeServer::start(move |_r, i| {
        if i == 0 {
            Resp::json(
                429,
                r#"{"error":"quota_exhausted","message":"quota spent"}"#,
            )
            .with_header("Retry-After", "1")
        } else {
            Resp::json(200, &pass)
        }
    });
    let t = Instant::now();
    let o = e.run(
        &srv.url,
        &[
            "scan",
            "--sbom",
            "bom.cdx.json",
            "--wait-quota",
            "--max-wait",
            "30s",
        ],
    );
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "waited for the reset"
    );
    assert!(
        stderr(&o).contains("quota exhausted; waiting"),
        "{}",
        stderr(&o)
    );
    assert_eq!(srv.requests().len(), 2);
}

#[test]
fn wait_quota_is_bounded_by_max_wait() {
    let e = env();
    let srv = FakeServer::start(quota_429("3600"));
    let t = Instant::now();
    let o = e.run(
        &srv.url,
        &[
            "scan",
            "--sbom",
            "bom.cdx.json",
            "--wait-quota",
            "--max-wait",
            "2s",
        ],
    );
    assert_eq!(code(&o), 3);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "did not sleep an hour"
    );
    assert!(
        stderr(&o).contains("beyond --max-wait 2s"),
        "{}",
        stderr(&o)
    );
    // The user gave --wait-quota: the message does not tell them to use it.
    assert!(!stderr(&o).contains("use --wait-quota"), "{}", stderr(&o));
    assert_eq!(srv.requests().len(), 1);
}

// ---------------------------------------------------------------- exit 4 and retries

#[test]
fn unreachable_exits_4_after_bounded_retries() {
    let e = env();
    // A port nobody listens on: bind, note, release.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let o = e.run(&url, &["scan", "--sbom", "bom.cdx.json"]);
    assert_eq!(code(&o), 4, "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("after 3 tries"), "{}", stderr(&o));
    let o = e.run(&url, &["scan", "--sbom", "bom.cdx.json", "--retries", "0"]);
    assert_eq!(code(&o), 4);
    assert!(stderr(&o).contains("after 1 tries"), "{}", stderr(&o));
}

#[test]
fn an_upload_cut_off_without_an_answer_exits_4() {
    // The connection is accepted and closed mid-upload with nothing said: still
    // unreachable (exit 4), naming the write error, and the POST is not sent twice.
    let e = env();
    let (url, seen) = answers_before_the_body(None);
    let sbom = huge_sbom(&e);
    let o = e.run(&url, &["scan", "--sbom", sbom.to_str().expect("utf8")]);
    let err = stderr(&o);
    assert_eq!(code(&o), 4, "stderr: {err}");
    assert!(err.contains("cannot reach the appliance at"), "{err}");
    assert!(
        err.contains(
            "the connection closed while the request was sent, and no answer could be read"
        ),
        "{err}"
    );
    assert!(err.contains("after 1 tries"), "{err}");
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    // A "success" before the SBOM was even sent is no scan result: exit 4.
    let body = read("scan-pass.json");
    let (url, _) = answers_before_the_body(Some(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )));
    let o = e.run(&url, &["scan", "--sbom", sbom.to_str().expect("utf8")]);
    let err = stderr(&o);
    assert_eq!(code(&o), 4, "stderr: {err}");
    assert!(
        err.contains("HTTP 200 before the request was fully sent"),
        "{err}"
    );
}

#[test]
fn server_down_then_up_is_retried() {
    let e = env();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let url = format!("http://{addr}");
    let bom = e.bom.clone();
    let child = std::thread::spawn(move || {
        util::stella(
            // Extra retries so a loaded CI box that is slow to bring the server up
            // still passes (tries at 0, 0.5, 1.5, 3.5 and 7.5 s).
            &[
                "scan",
                "--sbom",
                bom.to_str().expect("utf8 path"),
                "--retries",
                "4",
            ],
            &[("STELLA_SERVER", &url), ("STELLA_TOKEN", TOKEN)],
            None,
            Path::new("/"),
        )
    });
    // First try hits a closed port; the retry after 0.5 s finds the server.
    std::thread::sleep(Duration::from_millis(250));
    let listener = TcpListener::bind(addr).expect("rebind the same port");
    let srv = FakeServer::start_on(listener, ok_scan("scan-pass.json"));
    let o = child.join().expect("join");
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(srv.requests().len(), 1);
}

#[test]
fn gateway_errors_are_retried_then_succeed() {
    let e = env();
    let pass = read("scan-pass.json");
    let srv = FakeServer::start(move |_r, i| match i {
        0 => Resp::json(503, r#"{"error":"unavailable","message":"starting"}"#),
        1 => Resp::json(502, "<html>bad gateway</html>"),
        _ => Resp::json(200, &pass),
    });
    let o = e.run(&srv.url, &["scan", "--sbom", "bom.cdx.json"]);
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(srv.requests().len(), 3);
}

#[test]
fn persistent_5xx_exits_4_and_500_is_not_retried() {
    let e = env();
    let srv = FakeServer::start(|_r, _i| {
        Resp::json(504, r#"{"error":"timeout","message":"upstream timed out"}"#)
    });
    let o = e.run(&srv.url, &["scan", "--sbom", "bom.cdx.json"]);
    assert_eq!(code(&o), 4);
    assert_eq!(srv.requests().len(), 3, "1 try + 2 retries");
    assert!(stderr(&o).contains("HTTP 504"), "{}", stderr(&o));

    let srv = FakeServer::start(|_r, _i| {
        Resp::json(
            500,
            r#"{"error":"internal","message":"internal error (see the appliance log)"}"#,
        )
    });
    let o = e.run(&srv.url, &["scan", "--sbom", "bom.cdx.json"]);
    assert_eq!(code(&o), 4);
    assert_eq!(
        srv.requests().len(),
        1,
        "500 may have spent quota: not retried"
    );
}

#[test]
fn garbage_answer_exits_4() {
    let e = env();
    let srv = FakeServer::start(|_r, _i| Resp::json(200, "<html>captive portal</html>"));
    let o = e.run(&srv.url, &["scan", "--sbom", "bom.cdx.json"]);
    assert_eq!(code(&o), 4);
    assert!(stderr(&o).contains("not a scan result"), "{}", stderr(&o));
}

// ---------------------------------------------------------------- formats and --output

fn sarif_validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(&read("sarif-schema-2.1.0.json")).expect("schema JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

#[test]
fn sarif_output_validates_against_the_official_schema() {
    let e = env();
    let validator = sarif_validator();
    for fixture in ["scan-fail.json", "scan-pass.json"] {
        let srv = FakeServer::start(ok_scan(fixture));
        let o = e.run(
            &srv.url,
            &[
                "scan",
                "--sbom",
                "bom.cdx.json",
                "--format",
                "sarif",
                "--output",
                "out.sarif",
                "--name",
                "web",
            ],
        );
        assert!(code(&o) <= 1, "stderr: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "report goes to --output only");
        let sarif: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.path("out.sarif")).expect("out.sarif"))
                .expect("JSON");
        let errors: Vec<String> = validator
            .iter_errors(&sarif)
            .map(|er| format!("{er} at {}", er.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{fixture}: {errors:#?}");
        let results = sarif["runs"][0]["results"].as_array().expect("results");
        let n =
            serde_json::from_str::<serde_json::Value>(&read(fixture)).expect("fixture")["findings"]
                .as_array()
                .expect("findings")
                .len();
        assert_eq!(results.len(), n);
        assert_eq!(
            sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
                ["uri"],
            "bom.cdx.json"
        );
    }
}

#[test]
fn the_schema_check_can_fail() {
    // Guards the test above: the validator rejects a SARIF log with a bad level.
    let e = env();
    let srv = FakeServer::start(ok_scan("scan-fail.json"));
    let o = e.run(
        &srv.url,
        &["scan", "--sbom", "bom.cdx.json", "--format", "sarif"],
    );
    let mut sarif: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert!(sarif_validator().is_valid(&sarif));
    sarif["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!sarif_validator().is_valid(&sarif));
}

#[test]
fn junit_output_is_well_formed_with_failures_and_skips() {
    let e = env();
    let srv = FakeServer::start(ok_scan("scan-fail.json"));
    let o = e.run(
        &srv.url,
        &[
            "scan",
            "--sbom",
            "bom.cdx.json",
            "--format",
            "junit",
            "--output",
            "junit.xml",
        ],
    );
    assert_eq!(code(&o), 1);
    let xml = std::fs::read_to_string(e.path("junit.xml")).expect("junit.xml");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed");
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    let failures = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    let skipped = doc
        .descendants()
        .filter(|n| n.has_tag_name("skipped"))
        .count();
    assert_eq!((cases, failures, skipped), (3, 2, 1));

    // --fail-on critical: only lodash fails.
    let o = e.run(
        &srv.url,
        &[
            "scan",
            "--sbom",
            "bom.cdx.json",
            "--format",
            "junit",
            "--fail-on",
            "critical",
        ],
    );
    let doc = roxmltree::Document::parse(std::str::from_utf8(&o.stdout).expect("utf8"))
        .expect("well-formed");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("failure"))
            .count(),
        1
    );
}

#[test]
fn json_output_is_the_server_answer() {
    let e = env();
    let srv = FakeServer::start(ok_scan("scan-fail.json"));
    let o = e.run(
        &srv.url,
        &["scan", "--sbom", "bom.cdx.json", "--format", "json"],
    );
    assert_eq!(code(&o), 1);
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let want: serde_json::Value = serde_json::from_str(&read("scan-fail.json")).expect("fixture");
    assert_eq!(got, want);
    let text = stdout(&o);
    // Key order of the server is kept (scan_id first, evidence_url last).
    assert!(text.find("\"scan_id\"") < text.find("\"verdict\""));
    assert!(text.find("\"findings_digest\"") < text.find("\"evidence_url\""));
}

/// `--format json` prints the server's bytes but still decides the exit code from the
/// findings: `--fail-on` recomputes it from unmuted findings (the muted critical does not
/// count), and the summary line counts them.
#[test]
fn json_output_exit_code_follows_fail_on() {
    let e = env();
    let srv = FakeServer::start(ok_scan("scan-fail.json"));
    let run = |fail_on: &str| {
        e.run(
            &srv.url,
            &[
                "scan",
                "--sbom",
                "bom.cdx.json",
                "--format",
                "json",
                "--fail-on",
                fail_on,
            ],
        )
    };
    let o = run("none");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("verdict: pass (0 unmuted findings at or above none; 3 findings, 1 muted"),
        "{}",
        stderr(&o)
    );
    let o = run("critical");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("(1 unmuted findings at or above critical"),
        "{}",
        stderr(&o)
    );
    let o = run("high");
    assert!(
        stderr(&o).contains("(2 unmuted findings at or above high"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn output_replaces_an_existing_file() {
    let e = env();
    std::fs::write(
        e.path("report.txt"),
        "old content that is longer than nothing".repeat(100),
    )
    .expect("write");
    let srv = FakeServer::start(ok_scan("scan-pass.json"));
    let o = e.run(
        &srv.url,
        &["scan", "--sbom", "bom.cdx.json", "--output", "report.txt"],
    );
    assert_eq!(code(&o), 0);
    let text = std::fs::read_to_string(e.path("report.txt")).expect("read");
    assert!(
        text.starts_with("SEVERITY") && text.contains("verdict: PASS"),
        "{text}"
    );
    assert!(!text.contains("old content"));
    // An unwritable destination is exit 2.
    let o = e.run(
        &srv.url,
        &[
            "scan",
            "--sbom",
            "bom.cdx.json",
            "--output",
            "no/such/dir/r.txt",
        ],
    );
    assert_eq!(code(&o), 2);
}

#[test]
fn sbom_from_stdin() {
    let e = env();
    let srv = FakeServer::start(ok_scan("scan-pass.json"));
    let bom = std::fs::read(&e.bom).expect("bom");
    let o = util::stella(
        &["scan", "--sbom", "-", "--format", "sarif"],
        &[("STELLA_SERVER", &srv.url), ("STELLA_TOKEN", TOKEN)],
        Some(&bom),
        e.dir.path(),
    );
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(srv.requests()[0].body, bom);
    let sarif: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(sarif["runs"][0]["artifacts"][0]["location"]["uri"], "stdin");
}

// ---------------------------------------------------------------- tokens

#[test]
fn token_from_file_flag_and_env() {
    let e = env();
    let srv = FakeServer::start(ok_scan("scan-pass.json"));
    std::fs::write(e.path("token"), format!("  {TOKEN}\n")).expect("write");
    let o = util::stella(
        &["scan", "--sbom", "bom.cdx.json"],
        &[("STELLA_SERVER", &srv.url), ("STELLA_TOKEN_FILE", "token")],
        None,
        e.dir.path(),
    );
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    let o = util::stella(
        &[
            "scan",
            "--sbom",
            "bom.cdx.json",
            "--server",
            &srv.url,
            "--token-file",
            "token",
        ],
        &[],
        None,
        e.dir.path(),
    );
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    // --token beats STELLA_TOKEN.
    let o = util::stella(
        &["scan", "--sbom", "bom.cdx.json", "--token", "flag-token"],
        &[("STELLA_SERVER", &srv.url), ("STELLA_TOKEN", TOKEN)],
        None,
        e.dir.path(),
    );
    assert_eq!(code(&o), 0);
    let auth: Vec<String> = srv
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        auth,
        vec![
            format!("Bearer {TOKEN}"),
            format!("Bearer {TOKEN}"),
            "Bearer flag-token".to_owned()
        ]
    );
    // A missing token file is exit 2 and names the file.
    let o = util::stella(
        &["scan", "--sbom", "bom.cdx.json"],
        &[
            ("STELLA_SERVER", &srv.url),
            ("STELLA_TOKEN_FILE", "missing-token"),
        ],
        None,
        e.dir.path(),
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("missing-token"));
}

#[test]
fn help_never_shows_the_token() {
    let e = env();
    let o = e.run("http://127.0.0.1:1", &["scan", "--help"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Examples:"));
    assert_no_token(&o);
}

// ---------------------------------------------------------------- evidence, quota, misc

#[test]
fn evidence_is_saved_next_to_the_report() {
    let e = env();
    let pass = read("scan-pass.json");
    let envelope = r#"{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"k","sig":"c2ln"}]}"#;
    let srv = FakeServer::start(move |r, _i| {
        if r.method == "GET" && r.path == "/api/v1/scans/01JDQ40000000000000000PASS/evidence" {
            Resp::json(200, envelope)
        } else {
            Resp::json(200, &pass)
        }
    });
    let o = e.run(
        &srv.url,
        &[
            "scan",
            "--sbom",
            "bom.cdx.json",
            "--evidence",
            "verdict.dsse.json",
        ],
    );
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(e.path("verdict.dsse.json")).expect("evidence"),
        envelope
    );
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[test]
fn quota_command_human_and_json() {
    let e = env();
    let body = r#"{"client":"ci-frontend","limit":333,"used":321,"remaining":12,"resets_at":"2099-01-01T00:00:00Z"}"#;
    let srv = FakeServer::start(move |r, _i| {
        assert_eq!(r.path, "/api/v1/quota");
        Resp::json(200, body)
    });
    let o = e.run(&srv.url, &["quota"]);
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert!(
        stdout(&o).starts_with(
            "client ci-frontend: 12 of 333 scans left today (321 used); resets 2099-01-01T00:00:00Z"
        ),
        "{}",
        stdout(&o)
    );
    let o = e.run(&srv.url, &["quota", "--json"]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["remaining"], 12);

    let srv = FakeServer::start(|_r, _i| {
        Resp::json(401, r#"{"error":"bad_token","message":"unknown client"}"#)
    });
    let o = e.run(&srv.url, &["quota"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("token refused: unknown client"));
}

#[test]
fn version_help_and_completions() {
    let e = env();
    let o = e.run("http://x", &["--version"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).starts_with("stella "));
    for sub in ["scan", "quota", "verify-evidence", "completions"] {
        let o = e.run("http://x", &[sub, "--help"]);
        assert_eq!(code(&o), 0, "{sub} --help");
        assert!(
            stdout(&o).contains("Examples:"),
            "{sub} --help has examples"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let o = e.run("http://x", &["completions", shell]);
        assert_eq!(code(&o), 0);
        assert!(
            stdout(&o).contains("verify-evidence"),
            "{shell} completion lists subcommands"
        );
    }
    let o = e.run("http://x", &[]);
    assert_eq!(code(&o), 2, "no subcommand is a usage error");
}

// ---------------------------------------------------------------- verify-evidence

fn signed_evidence(e: &Env, key_seed: u8) -> (PathBuf, PathBuf) {
    use sha2::Digest as _;
    let kp = signing::KeyPair::from_seed(signing::KeyId([key_seed; 8]), &[key_seed; 32]);
    let sbom = std::fs::read(&e.bom).expect("bom");
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "bom.cdx.json", "digest": {"sha256": hex::encode(sha2::Sha256::digest(&sbom))}}],
        "predicateType": "https://stella-ops.org/attestations/scan-verdict/v1",
        "predicate": {"verdict": "fail", "findings_digest": "sha256:11", "kit": {"id": "kit-7", "sequence": 7}, "signed_at": "2026-11-22T10:00:00Z"},
    });
    let env = signing::dsse::sign(
        signing::dsse::IN_TOTO_PAYLOAD_TYPE,
        &serde_json::to_vec(&statement).expect("json"),
        &[&kp],
    )
    .expect("sign");
    let env_path = e.path(&format!("evidence-{key_seed}.dsse.json"));
    std::fs::write(&env_path, env.to_json()).expect("write envelope");
    let pub_path = e.path(&format!("appliance-{key_seed}.pub"));
    kp.public().to_box().write(&pub_path).expect("write pub");
    (env_path, pub_path)
}

#[test]
fn verify_evidence_exit_codes() {
    let e = env();
    let (env1, pub1) = signed_evidence(&e, 1);
    let (_env2, pub2) = signed_evidence(&e, 2);
    let s = |p: &PathBuf| p.to_str().expect("utf8").to_owned();
    let run = |args: &[&str]| util::stella(args, &[], None, e.dir.path());

    let o = run(&[
        "verify-evidence",
        &s(&env1),
        "--pub",
        &s(&pub1),
        "--sbom",
        "bom.cdx.json",
    ]);
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert!(
        stdout(&o).contains("ok  sbom: matches subject \"bom.cdx.json\""),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("verdict: fail"));

    // Each failed check: exit 1 and one line on stderr naming it.
    let fails = |args: &[&str], needle: &str| {
        let o = run(args);
        let err = stderr(&o);
        assert_eq!(code(&o), 1, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with("stella: error: evidence does not verify: "),
            "{err}"
        );
        assert!(
            err.contains(needle),
            "{args:?}: {err} (expected {needle:?})"
        );
    };
    let sig_check = "signature check with appliance key 0101010101010101 failed";
    // Wrong key: the signature check, naming the key tried.
    fails(
        &["verify-evidence", &s(&env1), "--pub", &s(&pub2)],
        "signature check with appliance key 0202020202020202 failed",
    );
    // Another SBOM: the subject check, naming the SBOM's digest.
    std::fs::write(e.path("other.json"), b"{\"bomFormat\":\"CycloneDX\"}").expect("write");
    fails(
        &[
            "verify-evidence",
            &s(&env1),
            "--pub",
            &s(&pub1),
            "--sbom",
            "other.json",
        ],
        "is not a subject of the statement (subjects: bom.cdx.json sha256:",
    );
    // Tampered envelopes, each against the right key.
    let good: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&env1).expect("envelope")).expect("json");
    let tampered = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        edit(&mut v);
        let p = e.path(name);
        std::fs::write(&p, serde_json::to_vec(&v).expect("json")).expect("write");
        s(&p)
    };
    // The payload swapped for another statement (signed by the same key), the
    // signature kept.
    let kp = signing::KeyPair::from_seed(signing::KeyId([1; 8]), &[1; 32]);
    let sign = |statement: &serde_json::Value| {
        signing::dsse::sign(
            signing::dsse::IN_TOTO_PAYLOAD_TYPE,
            &serde_json::to_vec(statement).expect("json"),
            &[&kp],
        )
        .expect("sign")
        .to_json()
    };
    let other: serde_json::Value = serde_json::from_slice(&sign(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "bom.cdx.json", "digest": {"sha256": "00"}}],
        "predicateType": "https://stella-ops.org/attestations/scan-verdict/v1",
        "predicate": {"verdict": "pass"},
    })))
    .expect("json");
    let p = tampered("payload.json", &|v| v["payload"] = other["payload"].clone());
    fails(&["verify-evidence", &p, "--pub", &s(&pub1)], sig_check);
    // One signature character changed (still valid base64, another signature).
    let p = tampered("sig.json", &|v| {
        let sig = v["signatures"][0]["sig"].as_str().expect("sig");
        let c = if sig.as_bytes()[10] == b'A' { "B" } else { "A" };
        v["signatures"][0]["sig"] = format!("{}{c}{}", &sig[..10], &sig[11..]).into();
    });
    fails(&["verify-evidence", &p, "--pub", &s(&pub1)], sig_check);
    // The payload type edited (it is signed too).
    let p = tampered("type.json", &|v| {
        v["payloadType"] = "application/json".into()
    });
    fails(&["verify-evidence", &p, "--pub", &s(&pub1)], sig_check);
    // The signatures removed.
    let p = tampered("unsigned.json", &|v| {
        v["signatures"] = serde_json::json!([])
    });
    fails(&["verify-evidence", &p, "--pub", &s(&pub1)], sig_check);
    // Not a DSSE envelope at all.
    std::fs::write(e.path("not-dsse.json"), b"{\"hello\":1}").expect("write");
    fails(
        &["verify-evidence", "not-dsse.json", "--pub", &s(&pub1)],
        "not a DSSE envelope",
    );
    // Validly signed, but not a scan verdict.
    let slsa = sign(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "x", "digest": {"sha256": "00"}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {},
    }));
    std::fs::write(e.path("slsa.json"), slsa).expect("write");
    fails(
        &["verify-evidence", "slsa.json", "--pub", &s(&pub1)],
        "predicateType is \"https://slsa.dev/provenance/v1\", expected \"https://stella-ops.org/attestations/scan-verdict/v1\" (not a scan verdict)",
    );

    // Unusable inputs are usage errors: exit 2, naming the file.
    let usage = |args: &[&str], needle: &str| {
        let o = run(args);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: {err} (expected {needle:?})"
        );
    };
    usage(
        &["verify-evidence", "missing.json", "--pub", &s(&pub1)],
        "cannot read evidence envelope missing.json",
    );
    usage(
        &["verify-evidence", &s(&env1), "--pub", "bom.cdx.json"],
        "appliance public key bom.cdx.json",
    );
    // A bundle needs its vendor key, and vice versa.
    usage(
        &[
            "verify-evidence",
            &s(&env1),
            "--pub",
            &s(&pub1),
            "--bundle",
            "b.tar.zst",
        ],
        "the following required arguments were not provided:\n  --vendor-pub",
    );
    usage(
        &[
            "verify-evidence",
            "--bundle",
            "missing.tar.zst",
            "--vendor-pub",
            &s(&pub2),
        ],
        "cannot read evidence bundle missing.tar.zst",
    );
}

/// Writes an evidence bundle as the appliance does (bundles::evidence format) for the
/// test's SBOM; returns (bundle, appliance.pub, vendor.pub, other-vendor.pub).
fn evidence_bundle(e: &Env, findings: &[u8]) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    use bundles::evidence as fmt;
    use sha2::Digest as _;
    let app = signing::KeyPair::from_seed(signing::KeyId([0x44; 8]), &[4; 32]);
    let vendor = signing::KeyPair::from_seed(signing::KeyId([0x11; 8]), &[7; 32]);
    let stranger = signing::KeyPair::from_seed(signing::KeyId([0x33; 8]), &[9; 32]);
    let w = bundles::KitWriter::new(bundles::KitInfo {
        kit_id: "kit-7".into(),
        sequence: 7,
        created_at: bundles::Timestamp::parse("2026-11-20T00:00:00Z").expect("ts"),
        expires_at: bundles::Timestamp::parse("2026-12-20T00:00:00Z").expect("ts"),
        site: None,
        producer: bundles::manifest::Producer {
            name: "cli-tests".into(),
            version: "1".into(),
        },
        summary: bundles::manifest::Summary::default(),
    });
    let (m, _) = w.write(Vec::new(), &[&vendor]).expect("kit");
    let manifest = m.to_json_bytes().expect("manifest");
    let sbom = std::fs::read(&e.bom).expect("bom");
    let policy = b"fail_on: high\n".to_vec();
    let canonical = br#"[{"id":"GHSA-1","package":{"name":"a","version":"1"}}]"#;
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "bom.cdx.json", "digest": {"sha256": hex::encode(sha2::Sha256::digest(&sbom))}}],
        "predicateType": "https://stella-ops.org/attestations/scan-verdict/v1",
        "predicate": {
            "verdict": "fail",
            "findings_digest": fmt::findings_digest_of_json(canonical).expect("digest"),
            "policy": {"version": 1, "sha256": hex::encode(sha2::Sha256::digest(&policy))},
            "kit": {"id": "kit-7", "sequence": 7, "manifest_sha256": hex::encode(sha2::Sha256::digest(&manifest))},
            "signed_at": "2026-11-22T10:00:00Z",
        },
    });
    let env = signing::dsse::sign(
        signing::dsse::IN_TOTO_PAYLOAD_TYPE,
        &serde_json::to_vec(&statement).expect("json"),
        &[&app],
    )
    .expect("sign")
    .to_json();
    let entries: std::collections::BTreeMap<String, Vec<u8>> = [
        (fmt::SBOM, sbom),
        (fmt::FINDINGS, findings.to_vec()),
        (fmt::POLICY, policy),
        (fmt::ENVELOPE, env),
        (
            fmt::APPLIANCE_PUB,
            app.public().to_box().as_str().as_bytes().to_vec(),
        ),
        (fmt::KIT_MANIFEST, manifest),
        (fmt::AUDIT, Vec::new()),
        (fmt::README, b"see stella verify-evidence --help".to_vec()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let bundle = e.path("scan.evidence.tar.zst");
    std::fs::write(
        &bundle,
        fmt::write_bundle(Vec::new(), &entries, 1_790_000_000).expect("bundle"),
    )
    .expect("write bundle");
    let paths = [
        ("app.pub", &app),
        ("vendor.pub", &vendor),
        ("stranger.pub", &stranger),
    ]
    .map(|(n, k)| {
        let p = e.path(n);
        // Called twice per test: the key writer refuses to overwrite.
        let _ = std::fs::remove_file(&p);
        k.public().to_box().write(&p).expect("write pub");
        p
    });
    let [a, v, st] = paths;
    (bundle, a, v, st)
}

#[test]
fn verify_evidence_bundle_exit_codes() {
    let e = env();
    let s = |p: &PathBuf| p.to_str().expect("utf8").to_owned();
    let run = |args: &[&str]| util::stella(args, &[], None, e.dir.path());
    let good = br#"[{"id":"GHSA-1","package":{"name":"a","version":"1"}}]"#;
    let (bundle, app, vendor, stranger) = evidence_bundle(&e, good);
    let o = run(&[
        "verify-evidence",
        "--bundle",
        &s(&bundle),
        "--vendor-pub",
        &s(&vendor),
    ]);
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            "ok  kit manifest: signed by vendor key 1111111111111111, kit kit-7 (sequence 7)"
        ),
        "{out}"
    );
    assert!(out.contains("appliance key taken from the bundle"), "{out}");
    assert!(
        out.contains("ok  sbom: matches subject \"bom.cdx.json\""),
        "{out}"
    );
    // Pinned appliance key: no warning.
    let o = run(&[
        "verify-evidence",
        "--bundle",
        &s(&bundle),
        "--vendor-pub",
        &s(&vendor),
        "--pub",
        &s(&app),
    ]);
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert!(!stdout(&o).contains("taken from the bundle"));
    // Wrong vendor key: exit 1, one line naming the manifest check.
    let o = run(&[
        "verify-evidence",
        "--bundle",
        &s(&bundle),
        "--vendor-pub",
        &s(&stranger),
    ]);
    assert_eq!(code(&o), 1);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("kit/manifest.json: vendor signature check failed"),
        "{}",
        stderr(&o)
    );
    // Wrong pinned appliance key: exit 1, the signature check.
    let o = run(&[
        "verify-evidence",
        "--bundle",
        &s(&bundle),
        "--vendor-pub",
        &s(&vendor),
        "--pub",
        &s(&stranger),
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("signature check"), "{}", stderr(&o));
    // Edited findings: exit 1 naming findings.json.
    let (bundle, _, vendor, _) = evidence_bundle(
        &e,
        br#"[{"id":"GHSA-2","package":{"name":"a","version":"1"}}]"#,
    );
    let o = run(&[
        "verify-evidence",
        "--bundle",
        &s(&bundle),
        "--vendor-pub",
        &s(&vendor),
    ]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("findings.json: digest"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn verify_evidence_accepts_the_appliances_golden_envelope() {
    // The appliance's own golden scan-verdict envelope (appliance/tests/data/evidence,
    // checked there by the securesystemslib/in-toto oracle), signed by its deterministic
    // test key (KeyId 0x44…, seed [4; 32]). This pins the client to the server's format.
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/evidence/envelope.json");
    assert!(
        golden.exists(),
        "missing {}: the appliance's golden evidence vector moved",
        golden.display()
    );
    let e = env();
    let kp = signing::KeyPair::from_seed(signing::KeyId([0x44; 8]), &[4; 32]);
    let pub_path = e.path("appliance.pub");
    kp.public().to_box().write(&pub_path).expect("write pub");
    // The golden statement's SBOM subject is sha256 "aa…a": no file has that digest, so
    // check the signature and statement only, then that a real SBOM is refused.
    let args = [
        "verify-evidence",
        golden.to_str().expect("utf8"),
        "--pub",
        "appliance.pub",
    ];
    let o = util::stella(&args, &[], None, e.dir.path());
    assert_eq!(code(&o), 0, "stderr: {}", stderr(&o));
    assert!(
        stdout(&o).contains("ok  signature: appliance key 4444444444444444"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("verdict: fail"));
    let mut with_sbom = args.to_vec();
    with_sbom.extend(["--sbom", "bom.cdx.json"]);
    let o = util::stella(&with_sbom, &[], None, e.dir.path());
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("is not a subject of the statement"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn slow_appliance_times_out_with_exit_4_and_the_upload_is_not_repeated() {
    let e = env();
    let pass = read("scan-pass.json");
    let srv = FakeServer::start(move |_r, _i| {
        std::thread::sleep(Duration::from_millis(2500));
        Resp::json(200, &pass)
    });
    let t = Instant::now();
    let o = e.run(
        &srv.url,
        &["scan", "--sbom", "bom.cdx.json", "--timeout", "1s"],
    );
    assert_eq!(code(&o), 4, "stderr: {}", stderr(&o));
    assert!(
        t.elapsed() < Duration::from_millis(2400),
        "gave up at the timeout"
    );
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    // The scan may have been accepted (and counted) by then: a POST is not sent twice.
    assert_eq!(srv.requests().len(), 1);
}
