//! The whole product across the air gap, with the three real binaries: `stella-kit`
//! builds and signs a kit from the repository's sample feed, the stock `minisign` checks
//! it, `stella-appliance` initialises, imports (and refuses a tampered copy), serves on
//! loopback, and the `stella` CI client scans a sample SBOM, reads its quota and verifies
//! the signed evidence offline.
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tests::{Server, bin, build_sample_kit, free_port, init_appliance, ok, repo, run};

fn wait_ready(port: u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the appliance did not become ready on port {port}");
}

#[test]
fn kit_to_scan_across_the_air_gap() {
    let d = tempfile::tempdir().expect("tmp");
    let w = d.path();
    // --- connected side -----------------------------------------------------------------
    build_sample_kit(w, "ci-e2e", 2);
    ok(
        run(Command::new("minisign")
            .arg("-Vm")
            .arg(w.join("kit.ouk"))
            .arg("-p")
            .arg(w.join("keys/vendor.pub"))),
        "stock minisign -V",
    );

    // --- sealed side --------------------------------------------------------------------
    let data = init_appliance(w);
    // a tampered copy is refused with the check named, exit 1
    let mut bad = std::fs::read(w.join("kit.ouk")).expect("kit");
    let n = bad.len() - 100;
    bad[n] ^= 1;
    std::fs::write(w.join("bad.ouk"), bad).expect("bad");
    std::fs::copy(w.join("kit.ouk.minisig"), w.join("bad.ouk.minisig")).expect("sig");
    let refused = run(Command::new(bin("stella-appliance"))
        .arg("import")
        .arg("--data")
        .arg(&data)
        .arg(w.join("bad.ouk")));
    assert_eq!(refused.status.code(), Some(1));
    let line = String::from_utf8_lossy(&refused.stderr);
    assert!(line.contains("check 2 (detached signature)"), "{line}");

    let out = ok(
        run(Command::new(bin("stella-appliance"))
            .arg("import")
            .arg("--data")
            .arg(&data)
            .arg(w.join("kit.ouk"))),
        "import",
    );
    assert!(out.contains("imported kit"), "{out}");
    let token = ok(
        run(Command::new(bin("stella-appliance"))
            .args(["token", "--client", "ci-e2e", "--data"])
            .arg(&data)),
        "token",
    );
    std::fs::write(w.join("token"), token.trim()).expect("token file");

    let port = free_port();
    let server = Server(
        Command::new(bin("stella-appliance"))
            .arg("serve")
            .arg("--data")
            .arg(&data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(w.join("serve.log")).expect("log file"))
            .spawn()
            .expect("serve"),
    );
    wait_ready(port);
    // Logs written to a file are plain text: no terminal colour codes.
    let log = std::fs::read_to_string(w.join("serve.log")).expect("serve log");
    assert!(log.contains("serving"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a log file: {log:?}"
    );

    // --- CI -----------------------------------------------------------------------------
    let stella = |args: &[&str]| {
        run(Command::new(bin("stella"))
            .args(args)
            .env("STELLA_SERVER", format!("http://127.0.0.1:{port}"))
            .env("STELLA_TOKEN_FILE", w.join("token"))
            .env_remove("STELLA_TOKEN"))
    };
    let sbom = repo().join("samples/sboms/demo-cyclonedx.json");
    let scan = stella(&[
        "scan",
        "--sbom",
        sbom.to_str().expect("utf8"),
        "--format",
        "json",
        "--fail-on",
        "none",
        "--evidence",
        w.join("evidence.json").to_str().expect("utf8"),
    ]);
    let body = ok(scan, "stella scan");
    let v: serde_json::Value = serde_json::from_str(&body).expect("scan json");
    assert!(
        !v["findings"].as_array().expect("findings").is_empty(),
        "the demo SBOM has known-vulnerable components: {v}"
    );
    ok(
        run(Command::new(bin("stella"))
            .arg("verify-evidence")
            .arg(w.join("evidence.json"))
            .arg("--pub")
            .arg(data.join("appliance.pub"))
            .arg("--sbom")
            .arg(&sbom)),
        "stella verify-evidence",
    );
    // the same scan with a high threshold fails the pipeline (exit 1)
    let gate = stella(&[
        "scan",
        "--sbom",
        sbom.to_str().expect("utf8"),
        "--fail-on",
        "low",
    ]);
    assert_eq!(
        gate.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&gate.stderr)
    );
    // quota: 2 per day → the third scan is refused with exit 3
    let third = stella(&["scan", "--sbom", sbom.to_str().expect("utf8")]);
    assert_eq!(
        third.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
    let q = ok(stella(&["quota", "--json"]), "stella quota");
    let q: serde_json::Value = serde_json::from_str(&q).expect("quota json");
    assert_eq!(q["remaining"], 0);
    drop(server);
}
