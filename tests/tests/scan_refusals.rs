//! The `stella` client against a real appliance when the upload is refused: an SBOM over
//! the appliance's `max_sbom_bytes` is answered 413 from its `Content-Length` before the
//! body is read, and the connection closed mid-upload; the client reports that answer
//! (exit 2), not the broken pipe of the rest of its upload. An appliance that is not
//! there stays "unreachable" (exit 4).
use std::path::Path;
use std::process::{Command, Output, Stdio};

use tests::{Server, appliance_with_sample_kit, bin, free_port, repo, run, served_port};

const MAX_SBOM_BYTES: &str = "65536";

fn stella(w: &Path, server: &str, sbom: &Path) -> Output {
    run(Command::new(bin("stella"))
        .args(["scan", "--fail-on", "none", "--sbom"])
        .arg(sbom)
        .env("STELLA_SERVER", server)
        .env("STELLA_TOKEN_FILE", w.join("token"))
        .env_remove("STELLA_TOKEN"))
}

#[test]
fn an_oversized_sbom_is_refused_with_the_servers_413_and_exit_2() {
    let d = tempfile::tempdir().expect("tmp");
    let w = d.path();
    let (data, token) = appliance_with_sample_kit(w, "ci-e2e", 10);
    std::fs::write(w.join("token"), &token).expect("token file");
    let log = w.join("serve.log");
    let mut server = Server(
        Command::new(bin("stella-appliance"))
            .arg("serve")
            .arg("--data")
            .arg(&data)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("STELLA_MAX_SBOM_BYTES", MAX_SBOM_BYTES)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("serve"),
    );
    let url = format!("http://127.0.0.1:{}", served_port(&log, &mut server));

    // 32 MiB: more than the socket buffers hold, so the upload is still being written
    // when the appliance answers and closes.
    let huge = w.join("huge.cdx.json");
    std::fs::write(
        &huge,
        format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","components":[],"x":"{}"}}"#,
            "x".repeat(32 << 20)
        ),
    )
    .expect("sbom");
    let o = stella(w, &url, &huge);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains(&format!(
            "the appliance refused the request (HTTP 413 too_large): the SBOM is larger than the {MAX_SBOM_BYTES}-byte limit"
        )),
        "{err}"
    );
    assert!(!err.contains("cannot reach"), "{err}");

    // The appliance is none the worse: an SBOM within the limit scans (exit 0).
    let small = repo().join("samples/sboms/demo-cyclonedx.json");
    let size = std::fs::metadata(&small).expect("sample sbom").len();
    assert!(
        size < MAX_SBOM_BYTES.parse().expect("number"),
        "the sample SBOM ({size} bytes) must fit the limit"
    );
    let o = stella(w, &url, &small);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    drop(server);

    // Nobody listening: unreachable, exit 4.
    let o = stella(w, &format!("http://127.0.0.1:{}", free_port()), &huge);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "stderr: {err}");
    assert!(err.contains("cannot reach the appliance at"), "{err}");
}
