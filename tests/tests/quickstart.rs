//! `stella-appliance quickstart` from the built binary: ready in well under 60 s, the
//! printed next steps work (`stella scan` on the shipped sample SBOM with the printed
//! token file, `stella quota`), and Ctrl-C (SIGINT) stops it cleanly.
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tests::bin;

fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

#[test]
fn quickstart_is_ready_fast_its_next_steps_work_and_ctrl_c_stops_it() {
    let d = tempfile::tempdir().expect("tmp");
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let start = Instant::now();
    let mut child = Command::new(bin("stella-appliance"))
        .arg("quickstart")
        .arg("--dir")
        .arg(d.path().join("demo"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("quickstart");
    let stdout = child.stdout.take().expect("stdout");
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    while !ready(port) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "quickstart not ready within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ready_after = start.elapsed();
    let token_file = d.path().join("demo/token");
    let sbom = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/sboms/demo-cyclonedx.json");
    let scan = Command::new(bin("stella"))
        .arg("scan")
        .arg("--sbom")
        .arg(&sbom)
        .arg("--format")
        .arg("json")
        .env("STELLA_SERVER", format!("http://127.0.0.1:{port}"))
        .env("STELLA_TOKEN_FILE", &token_file)
        .env_remove("STELLA_TOKEN")
        .output()
        .expect("stella scan");
    assert!(
        matches!(scan.status.code(), Some(0 | 1)),
        "scan: {:?} {}",
        scan.status,
        String::from_utf8_lossy(&scan.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&scan.stdout).expect("json");
    assert!(v["scan_id"].is_string());
    let quota = Command::new(bin("stella"))
        .arg("quota")
        .env("STELLA_SERVER", format!("http://127.0.0.1:{port}"))
        .env("STELLA_TOKEN_FILE", &token_file)
        .env_remove("STELLA_TOKEN")
        .output()
        .expect("stella quota");
    assert!(
        quota.status.success(),
        "{}",
        String::from_utf8_lossy(&quota.stderr)
    );

    // Ctrl-C
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let stop = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            stop.elapsed() < Duration::from_secs(15),
            "quickstart did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit on Ctrl-C: {status:?}");
    let out = lines.join().expect("stdout").join("\n");
    assert!(out.contains("stella scan --sbom"), "{out}");
    assert!(out.contains(&format!("http://127.0.0.1:{port}/")), "{out}");
    assert!(out.contains("stella quota"), "{out}");
    eprintln!("quickstart ready after {ready_after:?}");
}
