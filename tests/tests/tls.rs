//! HTTPS end to end with the real binaries: a site CA and server certificate (rcgen),
//! `stella-appliance serve --tls-cert --tls-key`, and the `stella` CI client scanning over
//! HTTPS with `--ca-file` (and refusing the appliance without it: exit 4). Also the
//! startup refusals of `serve` for a missing key, a mismatched key and half a pair.
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tests::{Server, appliance_with_sample_kit, bin, free_port, repo, run};

/// The site PKI: `ca.pem`, `cert.pem` (server chain for localhost/127.0.0.1), `key.pem`,
/// and `other-key.pem` (a key that belongs to no certificate here).
struct Pki {
    ca: PathBuf,
    ca_der: rustls::pki_types::CertificateDer<'static>,
    cert: PathBuf,
    key: PathBuf,
    other_key: PathBuf,
}

fn pki(dir: &Path) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Stella e2e site CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca cert");
    let key = KeyPair::generate().expect("server key");
    let cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("server params")
        .signed_by(&key, &ca)
        .expect("server cert");
    let p = Pki {
        ca: dir.join("ca.pem"),
        ca_der: ca.der().clone(),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        other_key: dir.join("other-key.pem"),
    };
    std::fs::write(&p.ca, ca.pem()).expect("ca.pem");
    std::fs::write(&p.cert, format!("{}{}", cert.pem(), ca.pem())).expect("cert.pem");
    std::fs::write(&p.key, key.serialize_pem()).expect("key.pem");
    std::fs::write(
        &p.other_key,
        KeyPair::generate().expect("other key").serialize_pem(),
    )
    .expect("other-key.pem");
    p
}

/// `GET /readyz` over HTTPS trusting `ca`, with a plain rustls client (no HTTP client
/// crate); the status code, or `None` while the server is not up.
fn https_status(port: u16, ca: &rustls::pki_types::CertificateDer<'static>) -> Option<u16> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).ok()?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").ok()?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).ok()?;
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = Vec::new();
    // A close without close_notify still leaves the answer in `buf`.
    let _ = tls.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.split(' ').nth(1)?.parse().ok()
}

fn wait_ready(port: u16, ca: &rustls::pki_types::CertificateDer<'static>, server: &mut Server) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if https_status(port, ca) == Some(200) {
            return;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("the appliance exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the appliance did not become ready over HTTPS on port {port}");
}

/// A data dir with a kit from the sample feed imported; returns the client token.
fn appliance_with_kit(w: &Path) -> (PathBuf, String) {
    appliance_with_sample_kit(w, "ci-tls", 10)
}

#[test]
fn stella_scans_over_https_with_the_site_ca_and_refuses_without_it() {
    let d = tempfile::tempdir().expect("tmp");
    let w = d.path();
    let (data, token) = appliance_with_kit(w);
    std::fs::write(w.join("token"), &token).expect("token file");
    let pki = pki(w);

    let port = free_port();
    let mut server = Server(
        Command::new(bin("stella-appliance"))
            .arg("serve")
            .arg("--data")
            .arg(&data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--tls-cert")
            .arg(&pki.cert)
            .arg("--tls-key")
            .arg(&pki.key)
            .env_remove("STELLA_TLS_CERT")
            .env_remove("STELLA_TLS_KEY")
            .env("STELLA_MAX_SBOM_BYTES", "65536")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve"),
    );
    wait_ready(port, &pki.ca_der, &mut server);

    let demo = repo().join("samples/sboms/demo-cyclonedx.json");
    let stella_with = |sbom: &Path, server_url: &str, ca: Option<&Path>| {
        let mut cmd = Command::new(bin("stella"));
        cmd.args(["scan", "--retries", "0", "--format", "json", "--sbom"])
            .arg(sbom)
            .args(["--server", server_url])
            .env("STELLA_TOKEN_FILE", w.join("token"))
            .env_remove("STELLA_TOKEN")
            .env_remove("STELLA_SERVER")
            .env_remove("STELLA_CA_FILE");
        if let Some(ca) = ca {
            cmd.arg("--ca-file").arg(ca);
        }
        run(&mut cmd)
    };
    let stella = |server_url: &str, ca: Option<&Path>| stella_with(&demo, server_url, ca);

    // With the site CA: the scan goes through; the verdict decides 0 or 1.
    for url in [
        format!("https://127.0.0.1:{port}"),
        format!("https://localhost:{port}"),
    ] {
        let scan = stella(&url, Some(&pki.ca));
        let code = scan.status.code();
        assert!(
            code == Some(0) || code == Some(1),
            "stella scan over {url} exited {code:?}:\n{}",
            String::from_utf8_lossy(&scan.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&scan.stdout).expect("scan json");
        assert!(
            !v["findings"].as_array().expect("findings").is_empty(),
            "the demo SBOM has known-vulnerable components: {v}"
        );
    }

    // Without it the built-in public roots do not know the site CA: exit 4, and the
    // message says why.
    let refused = stella(&format!("https://127.0.0.1:{port}"), None);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(4), "{err}");
    assert!(
        err.to_ascii_lowercase().contains("certificate")
            || err.to_ascii_lowercase().contains("issuer"),
        "the refusal names the certificate problem: {err}"
    );
    assert!(err.contains("--ca-file"), "and the way out: {err}");

    // Plain HTTP to the TLS port does not get an answer either (exit 4).
    let plain = stella(&format!("http://127.0.0.1:{port}"), None);
    assert_eq!(
        plain.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );

    // An SBOM over the appliance's limit: its 413, sent before the upload ended, is what
    // the client reports over TLS too (exit 2), not the broken-off upload.
    let huge = w.join("huge.cdx.json");
    std::fs::write(
        &huge,
        format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","components":[],"x":"{}"}}"#,
            "x".repeat(32 << 20)
        ),
    )
    .expect("sbom");
    let too_large = stella_with(&huge, &format!("https://127.0.0.1:{port}"), Some(&pki.ca));
    let err = String::from_utf8_lossy(&too_large.stderr);
    assert_eq!(too_large.status.code(), Some(2), "{err}");
    assert!(
        err.contains("(HTTP 413 too_large): the SBOM is larger than the 65536-byte limit"),
        "{err}"
    );

    // And the appliance still serves after the refused clients.
    assert_eq!(https_status(port, &pki.ca_der), Some(200));
    drop(server);
}

/// Runs `serve` with the given TLS flags on a port nobody listens on; it must refuse to
/// start: exit 2 and one line on stderr.
fn serve_refused(w: &Path, flags: &[(&str, &Path)]) -> String {
    let mut cmd = Command::new(bin("stella-appliance"));
    cmd.arg("serve")
        .arg("--data")
        .arg(w.join("no-data-dir"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .env_remove("STELLA_TLS_CERT")
        .env_remove("STELLA_TLS_KEY")
        .env_remove("STELLA_CONFIG");
    for (flag, path) in flags {
        cmd.arg(flag).arg(path);
    }
    let o = cmd.output().expect("spawn serve");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("stella-appliance: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {err}");
    lines[0].to_owned()
}

#[test]
fn serve_refuses_bad_tls_files_with_one_line_naming_the_file() {
    let d = tempfile::tempdir().expect("tmp");
    let w = d.path();
    let pki = pki(w);
    let missing = w.join("missing-key.pem");

    let line = serve_refused(w, &[("--tls-cert", &pki.cert), ("--tls-key", &missing)]);
    assert!(line.contains(&*missing.to_string_lossy()), "{line}");
    assert!(line.contains("private key"), "{line}");

    let line = serve_refused(
        w,
        &[("--tls-cert", &pki.cert), ("--tls-key", &pki.other_key)],
    );
    assert!(line.contains("does not match"), "{line}");
    assert!(line.contains(&*pki.other_key.to_string_lossy()), "{line}");

    let line = serve_refused(w, &[("--tls-cert", &pki.cert)]);
    assert!(line.contains("--tls-key"), "{line}");

    // the same pair from the config file: the same checks
    let config = w.join("appliance.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            pki.cert.display(),
            pki.other_key.display()
        ),
    )
    .expect("config");
    let line = serve_refused(w, &[("--config", &config)]);
    assert!(line.contains("does not match"), "{line}");
}
