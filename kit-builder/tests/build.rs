//! `stella-kit` end to end: keygen, build (sample feed, tokens, an OCI artifact from a
//! loopback registry), reproducibility, sequence state, stock `minisign`, inspect, verify.
mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use server::TestServer;

const BIN: &str = env!("CARGO_BIN_EXE_stella-kit");
const EPOCH: &str = "1795000000"; // 2026-11-18T11:06:40Z

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/feeds/osv")
}

fn stella_kit(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run stella-kit")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stella-kit failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    ok(&stella_kit(
        &["keygen", "--out", dir.to_str().expect("utf8")],
        &[],
    ));
    (dir.join("vendor.key"), dir.join("vendor.pub"))
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    config_with(dir, "", extra)
}

fn config_with(dir: &Path, top: &str, extra: &str) -> PathBuf {
    let p = dir.join("kit.toml");
    std::fs::write(
        &p,
        format!(
            r#"{top}
site = "plant-7"
valid_days = 30
[[source]]
kind = "dir"
path = "{}"
[[client]]
id = "ci-frontend"
[[client]]
id = "ci-backend"
max_scans_per_day = 1000
{extra}
"#,
            samples().display()
        ),
    )
    .expect("write kit.toml");
    p
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

#[test]
fn keygen_writes_a_private_key_and_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().expect("tmp");
    let (sk, pk) = keygen(d.path());
    let mode = std::fs::metadata(&sk).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        std::fs::read_to_string(&pk)
            .expect("pub")
            .starts_with("untrusted comment:")
    );
    let again = stella_kit(&["keygen", "--out", s(d.path())], &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
}

/// `SOURCE_DATE_EPOCH` seconds as the manifest writes a time (RFC 3339, UTC, `Z`).
fn rfc3339(epoch: &str) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(epoch.parse().expect("epoch")).expect("in range");
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

#[test]
fn same_inputs_and_source_date_epoch_give_a_byte_identical_kit() {
    let d = tempfile::tempdir().expect("tmp");
    let (sk, _) = keygen(d.path());
    let cfg = config(d.path(), "");
    let build_at = |out: &str, epoch: &str| {
        ok(&stella_kit(
            &[
                "build",
                "--config",
                s(&cfg),
                "--key",
                s(&sk),
                "--out",
                out,
                "--sequence",
                "7",
                "--cache",
                s(&d.path().join("cache")),
            ],
            &[("SOURCE_DATE_EPOCH", epoch)],
        ));
    };
    let build = |out: &str| build_at(out, EPOCH);
    let a = d.path().join("a.ouk");
    let b = d.path().join("b.ouk");
    build(s(&a));
    build(s(&b));
    assert!(
        std::fs::read(&a).expect("a") == std::fs::read(&b).expect("b"),
        "same inputs and SOURCE_DATE_EPOCH must give the same bytes"
    );
    // The kit's time is SOURCE_DATE_EPOCH, not the clock: a build that ignored it would
    // also give identical bytes when both runs fall in the same second.
    let manifest = |kit: &Path| -> serde_json::Value {
        serde_json::from_str(&ok(&stella_kit(&["inspect", s(kit), "--json"], &[]))).expect("json")
    };
    let m = manifest(&a);
    assert_eq!(
        m["created_at"],
        rfc3339(EPOCH).as_str(),
        "kit_id {}",
        m["kit_id"]
    );
    assert_eq!(m["created_at"], "2026-11-18T11:06:40Z");
    // Another SOURCE_DATE_EPOCH, all else equal: another kit, dated by it.
    let later = (EPOCH.parse::<i64>().expect("epoch") + 86_400).to_string();
    let c = d.path().join("c.ouk");
    build_at(s(&c), &later);
    assert!(
        std::fs::read(&a).expect("a") != std::fs::read(&c).expect("c"),
        "a different SOURCE_DATE_EPOCH must give different bytes"
    );
    assert_eq!(manifest(&c)["created_at"], rfc3339(&later).as_str());
    // The trusted comment names the file, so sign under the same name for the .minisig.
    let sig_a = std::fs::read_to_string(d.path().join("a.ouk.minisig")).expect("sig");
    let c_dir = d.path().join("again");
    std::fs::create_dir_all(&c_dir).expect("dir");
    build(s(&c_dir.join("a.ouk")));
    assert_eq!(
        std::fs::read_to_string(c_dir.join("a.ouk.minisig")).expect("sig"),
        sig_a
    );
}

#[test]
fn sequence_follows_the_key_state_and_inspect_shows_the_manifest() {
    let d = tempfile::tempdir().expect("tmp");
    let (sk, pk) = keygen(d.path());
    let cfg = config_with(d.path(), "revoked = [\"old-token-1\"]", "");
    let cache = d.path().join("cache");
    for expected in [1u64, 2] {
        let out = d.path().join(format!("k{expected}.ouk"));
        let json = ok(&stella_kit(
            &[
                "build",
                "--config",
                s(&cfg),
                "--key",
                s(&sk),
                "--out",
                s(&out),
                "--cache",
                s(&cache),
                "--json",
            ],
            &[],
        ));
        let report: serde_json::Value = serde_json::from_str(&json).expect("report json");
        assert_eq!(report["sequence"], expected);
        assert_eq!(
            report["clients"],
            serde_json::json!(["ci-backend", "ci-frontend"])
        );
        assert!(report["advisories"]["PyPI"].as_u64().expect("count") > 0);
    }
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("vendor.state.json")).expect("state"))
            .expect("json");
    assert_eq!(state["last_sequence"], 2);

    let k2 = d.path().join("k2.ouk");
    let m: serde_json::Value =
        serde_json::from_str(&ok(&stella_kit(&["inspect", s(&k2), "--json"], &[]))).expect("json");
    assert_eq!(m["format"], "stella-ouk");
    assert_eq!(m["sequence"], 2);
    assert_eq!(m["site"], "plant-7");
    let paths: Vec<&str> = m["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    assert!(paths.contains(&"advisories/PyPI.jsonl"));
    assert!(paths.contains(&"tokens/clients.json"));
    assert!(paths.contains(&"tokens/revoked.json"));
    assert_eq!(m["summary"]["feeds"]["tokens"]["counts"]["clients"], 2);
    let text = ok(&stella_kit(&["inspect", s(&k2)], &[]));
    assert!(text.contains("sequence   2"), "{text}");

    let v = ok(&stella_kit(&["verify", s(&k2), "--pub", s(&pk)], &[]));
    assert!(v.contains("entries: ok"), "{v}");
    // a foreign key does not verify
    let other = d.path().join("other");
    let (_, other_pk) = keygen(&other);
    let bad = stella_kit(&["verify", s(&k2), "--pub", s(&other_pk)], &[]);
    assert!(!bad.status.success());
}

#[test]
fn stock_minisign_verifies_the_kit() {
    let d = tempfile::tempdir().expect("tmp");
    let (sk, pk) = keygen(d.path());
    let cfg = config(d.path(), "");
    let out = d.path().join("kit.ouk");
    ok(&build(&cfg, &sk, &out, &d.path().join("c")));
    let o = Command::new("minisign")
        .args(["-V", "-p", s(&pk), "-m", s(&out)])
        .output()
        .expect("the stock `minisign` CLI must be installed (scripts/install-test-deps.sh)");
    assert!(
        o.status.success(),
        "minisign -V refused our kit: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // and a flipped byte is refused by the stock tool too
    let mut b = std::fs::read(&out).expect("kit");
    let n = b.len() / 2;
    b[n] ^= 0x40;
    std::fs::write(&out, b).expect("write");
    let o = Command::new("minisign")
        .args(["-V", "-p", s(&pk), "-m", s(&out)])
        .output()
        .expect("minisign");
    assert!(!o.status.success());
}

#[test]
fn oci_artifact_is_stored_as_an_image_layout_and_summarised() {
    let srv = TestServer::start(true);
    let db = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/trivy-db/db.tar.gz"
    ))
    .expect("fixture");
    let empty = srv.put_blob(b"{}".to_vec());
    let layer = srv.put_blob(db.clone());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.aquasec.trivy.config.v1+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[{{"mediaType":"application/vnd.aquasec.trivy.db.layer.v1.tar+gzip","digest":"{layer}","size":{},"annotations":{{"org.opencontainers.image.title":"db.tar.gz"}}}}]}}"#,
        db.len()
    );
    srv.put_manifest(
        "aquasecurity/trivy-db",
        "2",
        "application/vnd.oci.image.manifest.v1+json",
        manifest.into_bytes(),
    );
    let d = tempfile::tempdir().expect("tmp");
    let (sk, pk) = keygen(d.path());
    let cfg = config(
        d.path(),
        &format!(
            "[[source]]\nkind = \"oci\"\nname = \"trivy-db\"\nreference = \"{}/aquasecurity/trivy-db:2\"\nregistry_url = \"{}\"\n",
            srv.host(),
            srv.url("")
        ),
    );
    let out = d.path().join("kit.ouk");
    ok(&build(&cfg, &sk, &out, &d.path().join("c")));
    let m: serde_json::Value =
        serde_json::from_str(&ok(&stella_kit(&["inspect", s(&out), "--json"], &[]))).expect("json");
    let paths: Vec<String> = m["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["path"].as_str().expect("path").to_string())
        .collect();
    let hex = layer.trim_start_matches("sha256:");
    assert!(
        paths.contains(&format!("oci/trivy-db/blobs/sha256/{hex}")),
        "{paths:?}"
    );
    assert!(paths.contains(&"oci/trivy-db/index.json".to_string()));
    assert!(paths.contains(&"oci/trivy-db/oci-layout".to_string()));
    assert!(
        m["summary"]["feeds"]["trivy-db"]["updated_at"].is_string(),
        "{}",
        m["summary"]
    );
    ok(&stella_kit(&["verify", s(&out), "--pub", s(&pk)], &[]));
}

#[test]
fn a_failing_source_is_named_in_the_error() {
    let d = tempfile::tempdir().expect("tmp");
    let (sk, _) = keygen(d.path());
    let cfg = d.path().join("kit.toml");
    std::fs::write(
        &cfg,
        "[[source]]\nkind = \"osv\"\nname = \"osv-mirror\"\nbase_url = \"https://osv.invalid\"\necosystems = [\"PyPI\"]\n",
    )
    .expect("write");
    let empty = d.path().join("empty-cache");
    std::fs::create_dir_all(&empty).expect("dir");
    let o = build_with(
        &cfg,
        &sk,
        &d.path().join("k.ouk"),
        &["--offline-sources", s(&empty)],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("osv-mirror"), "{err}");
    assert!(!d.path().join("k.ouk").exists());
}

#[test]
fn rotate_root_writes_a_document_that_the_next_kit_carries() {
    let d = tempfile::tempdir().expect("tmp");
    let (sk, _) = keygen(d.path());
    let new_dir = d.path().join("new");
    let (_, new_pk) = keygen(&new_dir);
    let root = d.path().join("root.json");
    ok(&stella_kit(
        &[
            "rotate-root",
            "--key",
            s(&sk),
            "--new-pub",
            s(&new_pk),
            "--version",
            "1",
            "--out",
            s(&root),
        ],
        &[],
    ));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&root).expect("root")).expect("json");
    assert_eq!(doc["root_version"], 1);
    assert_eq!(doc["signatures"].as_array().expect("sigs").len(), 1);
    let cfg = config_with(d.path(), "trust_root = \"root.json\"", "");
    let out = d.path().join("k.ouk");
    ok(&build(&cfg, &sk, &out, &d.path().join("c")));
    let m: serde_json::Value =
        serde_json::from_str(&ok(&stella_kit(&["inspect", s(&out), "--json"], &[]))).expect("json");
    assert!(
        m["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["path"] == "trust/root.json"),
        "{m}"
    );
}

/// A tiny OCI image layout (one manifest tagged `tag`: an image config and one tar layer),
/// as `skopeo copy … oci:DIR:TAG` writes it. Returns the manifest digest.
fn write_oci_layout(dir: &Path, tag: &str) -> String {
    use sha2::Digest as _;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir");
    let put = |bytes: &[u8]| {
        let hex = hex::encode(sha2::Sha256::digest(bytes));
        std::fs::write(blobs.join(&hex), bytes).expect("blob");
        format!("sha256:{hex}")
    };
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(6);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    layer
        .append_data(&mut h, "hello.txt", &b"hello\n"[..])
        .expect("tar entry");
    let layer = layer.into_inner().expect("tar");
    let layer_digest = put(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
    );
    let config_digest = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    let manifest_digest = put(manifest.as_bytes());
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}]}}"#,
            manifest.len()
        ),
    )
    .expect("index.json");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    manifest_digest
}

/// The bytes of entry `path` of a kit, read through the verifying reader.
fn kit_entry(kit: &Path, vendor_pub: &Path, path: &str) -> Vec<u8> {
    use std::io::Read as _;
    let trust = signing::TrustRoot::single(signing::PublicKey::read(vendor_pub).expect("pub"));
    let mut r = bundles::KitReader::open(
        std::fs::File::open(kit).expect("kit"),
        &trust,
        bundles::Limits::default(),
    )
    .expect("open kit");
    while let Some(mut e) = r.next_entry().expect("entry") {
        if e.path().as_str() == path {
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).expect("read entry");
            return bytes;
        }
    }
    panic!("{path} is not in {}", kit.display());
}

#[test]
fn a_dir_source_oci_layout_keeps_its_artifact_name_as_the_repository() {
    let d = tempfile::tempdir().expect("tmp");
    let (sk, pk) = keygen(d.path());
    let mirror = d.path().join("mirror");
    let digest = write_oci_layout(&mirror.join("layout"), "2");
    let build = |extra: &str| {
        let cfg = config(
            d.path(),
            &format!(
                "[[source]]\nkind = \"dir\"\npath = \"{}\"\noci_layout = \"layout\"\n{extra}",
                mirror.display()
            ),
        );
        let out = d.path().join("kit.ouk");
        let o = build(&cfg, &sk, &out, &d.path().join("c"));
        (o, out)
    };
    let index = |kit: &Path, name: &str| -> serde_json::Value {
        serde_json::from_slice(&kit_entry(kit, &pk, &format!("oci/{name}/index.json")))
            .expect("index.json")
    };
    // Default: the artifact name (`trivy-db`) is the repository; the layout's tag is kept.
    let (o, kit) = build("");
    ok(&o);
    let idx = index(&kit, "trivy-db");
    let m = &idx["manifests"][0];
    assert_eq!(m["digest"], digest.as_str());
    assert_eq!(
        m["annotations"]["io.stella.repository"], "trivy-db",
        "{idx}"
    );
    assert_eq!(m["annotations"]["org.opencontainers.image.ref.name"], "2");
    // artifact_name and repository from kit.toml.
    let (o, kit) =
        build("artifact_name = \"java-db\"\nrepository = \"aquasecurity/trivy-java-db\"\n");
    ok(&o);
    let idx = index(&kit, "java-db");
    assert_eq!(
        idx["manifests"][0]["annotations"]["io.stella.repository"], "aquasecurity/trivy-java-db",
        "{idx}"
    );
    // A name no OCI client could ask for is refused before anything is built.
    let (o, _) = build("artifact_name = \"Java-DB\"\n");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("dir source repository \"Java-DB\""), "{err}");
}

/// `stella-kit build --config CFG --key SK --out OUT --cache CACHE`.
fn build(cfg: &Path, sk: &Path, out: &Path, cache: &Path) -> Output {
    build_with(cfg, sk, out, &["--cache", s(cache)])
}

/// `stella-kit build --config CFG --key SK --out OUT EXTRA…`.
fn build_with(cfg: &Path, sk: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["build", "--config", s(cfg), "--key", s(sk), "--out", s(out)];
    args.extend_from_slice(extra);
    stella_kit(&args, &[])
}

/// The "check it with the stock tool" line names the real public key file, and the
/// command works as printed; a key moved away from its `.pub` gets a placeholder with the
/// key id instead of a path that does not exist.
#[test]
fn the_printed_minisign_command_works_as_printed() {
    let d = tempfile::tempdir().expect("tmp");
    let (sk, pk) = keygen(&d.path().join("keys"));
    let cfg = config(d.path(), "");
    let out = d.path().join("kit.ouk");
    let stdout = ok(&build(&cfg, &sk, &out, &d.path().join("c")));
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("check it with the stock tool: "))
        .unwrap_or_else(|| panic!("no check line in {stdout}"));
    assert_eq!(line, format!("minisign -Vm {} -p {}", s(&out), s(&pk)));
    let o = Command::new("sh")
        .args(["-c", line])
        .output()
        .expect("run the printed command");
    assert!(
        o.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    let lone = d.path().join("lone.key");
    std::fs::copy(&sk, &lone).expect("copy key");
    let stdout = ok(&build(
        &cfg,
        &lone,
        &d.path().join("k2.ouk"),
        &d.path().join("c"),
    ));
    assert!(
        stdout.contains("-p <public key "),
        "no placeholder for a key without its .pub: {stdout}"
    );
}

/// Without `--cache` the download cache is `$XDG_CACHE_HOME/stella-kit`, not a
/// `.stella-kit-cache` in whatever directory the cron job happens to run in.
#[test]
fn the_default_cache_is_the_xdg_cache_directory() {
    let d = tempfile::tempdir().expect("tmp");
    let (sk, _) = keygen(d.path());
    let cfg = config(d.path(), "");
    let cwd = d.path().join("cwd");
    std::fs::create_dir(&cwd).expect("mkdir");
    let xdg = d.path().join("xdg");
    let o = Command::new(BIN)
        .current_dir(&cwd)
        .env_remove("SOURCE_DATE_EPOCH")
        .env("XDG_CACHE_HOME", &xdg)
        .args(["build", "--config", s(&cfg), "--key", s(&sk), "--out"])
        .arg(d.path().join("kit.ouk"))
        .output()
        .expect("run stella-kit");
    ok(&o);
    assert!(
        xdg.join("stella-kit").is_dir(),
        "no cache under XDG_CACHE_HOME"
    );
    let left: Vec<_> = std::fs::read_dir(&cwd).expect("ls").collect();
    assert!(
        left.is_empty(),
        "files left in the current directory: {left:?}"
    );
    // `--cache-dir` is the same option under the name Trivy and Syft users type.
    let o = build_with(
        &cfg,
        &sk,
        &d.path().join("k3.ouk"),
        &["--cache-dir", s(&d.path().join("c3"))],
    );
    ok(&o);
    assert!(d.path().join("c3").is_dir());
}

/// Errors are one line that says each thing once: a missing kit.toml is not "No such
/// file or directory (os error 2): No such file or directory (os error 2)", and a file
/// given as the key that is no minisign key is said to be none.
#[test]
fn errors_say_each_cause_once_and_name_a_non_key() {
    let d = tempfile::tempdir().expect("tmp");
    let (sk, _) = keygen(d.path());
    let missing = d.path().join("missing.toml");
    let out = d.path().join("k.ouk");
    let o = build_with(&missing, &sk, &out, &[]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
    assert!(e.contains(&format!("cannot read {}", s(&missing))), "{e}");

    let cfg = config(d.path(), "");
    let o = build_with(&cfg, &cfg, &out, &[]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("not a minisign secret key"), "{e}");
}
