//! Shared helpers for the end-to-end tests.
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// A binary of the workspace in `target/<profile>/`, next to the running test binary's
/// `deps/` folder (`cargo test --workspace` builds every binary first).
///
/// # Panics
///
/// When the binary is missing, with what to run instead (a test helper: failing loudly
/// is the point).
#[allow(clippy::expect_used)]
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "{} is missing: run the suite with `cargo test --workspace` (scripts/test.sh)",
        p.display()
    );
    p
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `cmd` to completion.
///
/// # Panics
///
/// When it cannot be spawned.
#[allow(clippy::expect_used)]
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn")
}

/// The stdout of a command that must have succeeded.
///
/// # Panics
///
/// When it failed, with its exit code, stdout and stderr.
pub fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A served child process, killed and reaped when dropped (also when a test panics).
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free at the time of the call.
///
/// # Panics
///
/// When no port can be bound.
#[allow(clippy::expect_used)]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The connected side in one step: a vendor key pair in `W/keys` and a kit `W/kit.ouk`
/// built from the repository's sample OSV feed with one client `client` allowed
/// `max_scans_per_day` scans.
///
/// # Panics
///
/// When a step fails (with its output).
#[allow(clippy::expect_used)]
pub fn build_sample_kit(w: &Path, client: &str, max_scans_per_day: u32) {
    ok(
        run(Command::new(bin("stella-kit"))
            .args(["keygen", "--out"])
            .arg(w.join("keys"))),
        "keygen",
    );
    std::fs::write(
        w.join("kit.toml"),
        format!(
            "valid_days = 30\n[[source]]\nkind = \"dir\"\npath = \"{}\"\n[[client]]\nid = \"{client}\"\nmax_scans_per_day = {max_scans_per_day}\n",
            repo().join("samples/feeds/osv").display()
        ),
    )
    .expect("kit.toml");
    ok(
        run(Command::new(bin("stella-kit"))
            .arg("build")
            .arg("--config")
            .arg(w.join("kit.toml"))
            .arg("--key")
            .arg(w.join("keys/vendor.key"))
            .arg("--out")
            .arg(w.join("kit.ouk"))
            .arg("--cache")
            .arg(w.join("cache"))),
        "stella-kit build",
    );
}

/// `stella-appliance init --data W/data --trust W/keys/vendor.pub` (the key
/// [`build_sample_kit`] made); returns the data directory.
///
/// # Panics
///
/// When init fails (with its output).
pub fn init_appliance(w: &Path) -> PathBuf {
    let data = w.join("data");
    ok(
        run(Command::new(bin("stella-appliance"))
            .arg("init")
            .arg("--data")
            .arg(&data)
            .arg("--trust")
            .arg(w.join("keys/vendor.pub"))),
        "init",
    );
    data
}

/// `stella-appliance import --data DATA KIT`.
///
/// # Panics
///
/// When the import fails (with its output).
pub fn import_kit(data: &Path, kit: &Path) {
    ok(
        run(Command::new(bin("stella-appliance"))
            .arg("import")
            .arg("--data")
            .arg(data)
            .arg(kit)),
        "import",
    );
}

/// A sample kit for `client` built in `w`, an appliance initialised in `W/data` with it
/// imported; returns the data directory and the client's re-signed token.
///
/// # Panics
///
/// When a step fails (with its output).
pub fn appliance_with_sample_kit(
    w: &Path,
    client: &str,
    max_scans_per_day: u32,
) -> (PathBuf, String) {
    build_sample_kit(w, client, max_scans_per_day);
    let data = init_appliance(w);
    import_kit(&data, &w.join("kit.ouk"));
    let token = ok(
        run(Command::new(bin("stella-appliance"))
            .args(["token", "--client", client, "--data"])
            .arg(&data)),
        "token",
    );
    (data, token.trim().to_owned())
}

/// The port `stella-appliance serve --listen 127.0.0.1:0` bound, read from the
/// `serving addr=…` line of its log (its stderr, sent to the file `log`).
///
/// # Panics
///
/// When the server exits or logs no address within 30 s (with the log).
pub fn served_port(log: &Path, server: &mut Server) -> u16 {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("serving")) {
            let port = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr=127.0.0.1:"))
                .and_then(|p| p.parse().ok());
            return port.unwrap_or_else(|| panic!("no addr=127.0.0.1:PORT in {line:?}"));
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("serve exited ({status}): {text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "serve did not log its address: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
