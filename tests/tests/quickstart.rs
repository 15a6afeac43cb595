//! `stella-appliance quickstart` from the built binary: ready in well under 60 s, the
//! printed next steps work *as printed* (pasted into `sh`: the `export` line, `stella
//! scan` on the shipped sample SBOM, `stella quota`), and Ctrl-C (SIGINT) stops it
//! cleanly. A busy port and a `--samples` folder without the feed are refused before
//! anything is printed; `--no-serve` does not claim a server.
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
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
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    while !ready(port) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "quickstart not ready within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ready_after = start.elapsed();
    // The printed steps, pasted into a shell from another directory, with PATH holding
    // only the system (`stella` is named by its full path when it is not on PATH).
    let printed = printed_lines(&rx);
    let step = |after: &str, n: usize| -> String {
        let i = printed
            .iter()
            .position(|l| l.contains(after))
            .unwrap_or_else(|| panic!("no {after:?} in {printed:#?}"));
        printed[i + n].trim().to_string()
    };
    let export = step("1. scan an SBOM from CI:", 1);
    let scan_line = step("1. scan an SBOM from CI:", 2);
    let quota_line = step("3. see the quota left today: ", 0);
    let quota_line = quota_line
        .split_once("today: ")
        .expect("quota step")
        .1
        .to_string();
    let sh = |cmd: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("{export}; {cmd}"))
            .current_dir(d.path())
            .env("PATH", "/usr/bin:/bin")
            .env_remove("STELLA_TOKEN")
            .env_remove("STELLA_SERVER")
            .env_remove("STELLA_TOKEN_FILE")
            .output()
            .expect("sh")
    };
    let scan = sh(&format!("{scan_line} --format json"));
    assert!(
        matches!(scan.status.code(), Some(0 | 1)),
        "{scan_line}: {:?} {}",
        scan.status,
        String::from_utf8_lossy(&scan.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&scan.stdout).expect("json");
    assert!(v["scan_id"].is_string());
    let quota = sh(&quota_line);
    assert!(
        quota.status.success(),
        "{quota_line}: {}",
        String::from_utf8_lossy(&quota.stderr)
    );

    // A second quickstart on the same (now busy) port fails before it makes or prints
    // anything.
    let busy = Command::new(bin("stella-appliance"))
        .arg("quickstart")
        .arg("--dir")
        .arg(d.path().join("demo2"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .expect("second quickstart");
    assert_eq!(busy.status.code(), Some(4), "{busy:?}");
    assert!(busy.stdout.is_empty(), "printed before failing: {busy:?}");
    let e = String::from_utf8_lossy(&busy.stderr);
    assert!(
        e.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{e}"
    );
    assert!(
        !d.path().join("demo2").exists(),
        "made a demo before failing"
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
    let out = printed.join("\n");
    assert!(out.contains(&format!("http://127.0.0.1:{port}/")), "{out}");
    assert!(out.contains("Ctrl-C stops the server."), "{out}");
    eprintln!("quickstart ready after {ready_after:?}");
}

/// The summary the quickstart printed, up to its last line.
fn printed_lines(rx: &std::sync::mpsc::Receiver<String>) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let l = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("summary incomplete ({e}): {out:#?}"));
        let last = l.contains("Ctrl-C stops the server.");
        out.push(l);
        if last {
            return out;
        }
    }
}

#[test]
fn no_serve_prints_how_to_start_and_a_bad_samples_folder_is_refused() {
    let d = tempfile::tempdir().expect("tmp");
    let o = Command::new(bin("stella-appliance"))
        .args(["quickstart", "--no-serve", "--dir"])
        .arg(d.path().join("demo"))
        .output()
        .expect("quickstart");
    assert!(o.status.success(), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("Ctrl-C"), "claims a server: {out}");
    // The printed serve line starts the server as printed.
    let serve_line = out
        .lines()
        .find(|l| l.contains(" serve --data "))
        .unwrap_or_else(|| panic!("no serve line: {out}"))
        .trim()
        .to_string();
    assert!(
        serve_line.ends_with(&format!(
            "stella-appliance serve --data {} --listen 127.0.0.1:8080",
            d.path().join("demo/data").display()
        )),
        "{serve_line}"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let serve_line = serve_line.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    let mut server = Command::new("sh")
        .args(["-c", &format!("exec {serve_line}")])
        .env("PATH", "/usr/bin:/bin")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("printed serve line");
    let start = Instant::now();
    while !ready(port) {
        if let Some(s) = server.try_wait().expect("wait") {
            panic!("{serve_line}: exited {s:?}");
        }
        assert!(start.elapsed() < Duration::from_secs(30), "not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();

    let o = Command::new(bin("stella-appliance"))
        .args([
            "quickstart",
            "--no-serve",
            "--samples",
            "/nonexistent",
            "--dir",
        ])
        .arg(d.path().join("demo2"))
        .output()
        .expect("quickstart");
    assert!(!o.status.success());
    assert!(o.stdout.is_empty(), "{o:?}");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("--samples /nonexistent: no sample feed there"),
        "{e}"
    );
}
