//! The web console in a real browser: starts the real `stella-appliance serve` binary on
//! a loopback port against a prepared data dir (kit #1 imported), then runs the committed
//! playwright-core script `tests/browser/console_flow.js` with `node`, which drives
//! Debian's headless Chromium: login with JavaScript off, then login, dashboard tiles,
//! kit upload with the numbered report, token copy, scan, mute, re-scan → pass, CSP on
//! every page and no browser console errors. Screenshots land in
//! `target/tmp/console-screenshots/`.
//!
//! Needs `/usr/bin/chromium`, `node` and playwright-core in `.tools/node` (all installed
//! by `scripts/install-test-deps.sh`); fails with that instruction when one is missing.
//! Loopback only: passes inside `unshare -n`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::site::{SBOM, site, vendor, write_kit};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn node_modules() -> PathBuf {
    std::env::var_os("STELLA_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".tools/node/node_modules"))
}

fn require_tools() {
    let hint = "run scripts/install-test-deps.sh (installs chromium, nodejs and playwright-core into .tools/node)";
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: {hint}"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "`node` is missing: {hint}"
    );
    assert!(
        node_modules()
            .join("playwright-core/package.json")
            .is_file(),
        "playwright-core is missing from {}: {hint}",
        node_modules().display()
    );
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("addr").port()
}

/// `GET path` over a raw loopback socket (the appliance crate links no HTTP client).
fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[test]
fn console_works_in_a_real_browser() {
    require_tools();
    let site = site();
    let kit = write_kit(&site.kits, "plant-7-0002.ouk", 2, &vendor(), &vendor());
    let mut sig = kit.as_os_str().to_owned();
    sig.push(".minisig");
    let sbom = site.root.path().join("payments-api.cdx.json");
    std::fs::write(&sbom, SBOM).expect("write SBOM");
    // Kept after the run for a human to look at, so emptied first: a screenshot checked
    // below must come from this run, not an earlier one.
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    match std::fs::remove_dir_all(&out) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot empty {}: {e}", out.display()),
    }
    std::fs::create_dir_all(&out).expect("screenshot dir");

    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let log = std::fs::File::create(out.join("server.log")).expect("server log");
    let child = Command::new(env!("CARGO_BIN_EXE_stella-appliance"))
        .args(["serve", "--data"])
        .arg(&site.data)
        .arg("--listen")
        .arg(addr.to_string())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start stella-appliance serve");
    let _server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_status(addr, "/healthz") != Some(200) {
        assert!(
            Instant::now() < deadline,
            "stella-appliance serve did not answer /healthz within 60 s; see {}",
            out.join("server.log").display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The console is mounted next to the API: `/` asks for a login.
    assert_eq!(http_status(addr, "/"), Some(303));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/console_flow.js");
    let run = Command::new("node")
        .env("NODE_PATH", node_modules())
        .arg(&script)
        .arg(format!("http://{addr}"))
        .arg(&site.password)
        .arg(&kit)
        .arg(PathBuf::from(sig))
        .arg(&sbom)
        .arg(&out)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the browser flow failed:\n{stdout}\n{stderr}\n(server log: {})",
        out.join("server.log").display()
    );
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
    for shot in [
        "nojs-dashboard",
        "dashboard",
        "import-report",
        "scan-muted",
        "scan-pass",
    ] {
        let p = out.join(format!("{shot}.png"));
        let png = std::fs::read(&p).unwrap_or_default();
        assert!(
            png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "screenshot {} was written by this run as a PNG",
            p.display()
        );
    }
}
