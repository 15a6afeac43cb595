//! The `/v2/` OCI mirror with real clients: a real Trivy DB (made by the oracle's
//! `mktrivydb.py`, committed under kit-builder/tests/data) goes into a signed kit, through
//! the importer, and back out of the appliance's registry — `skopeo` gets the same bytes,
//! and the real `trivy` 0.76 downloads the DB from the appliance and scans with it.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bundles::manifest::{Producer, Summary};
use bundles::path::media_types;
use bundles::{EntryPath, KitInfo, KitWriter, MediaType, Timestamp};
use importer::datadir::{DataDir, InitOptions};
use importer::import::Importer;
use sha2::{Digest as _, Sha256};
use signing::{KeyId, KeyPair};
use time::OffsetDateTime;

const LAYER_TYPE: &str = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip";

fn db_fixture() -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../kit-builder/tests/data/trivy-db/db.tar.gz"),
    )
    .expect("committed Trivy DB fixture")
}

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// A data dir with an imported kit carrying the Trivy DB as `oci/trivy-db`.
fn appliance_with_trivy_db(root: &Path) -> (DataDir, Vec<u8>, String) {
    let vendor = KeyPair::from_seed(KeyId([0x55; 8]), &[5; 32]);
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).expect("ns");
    let db = db_fixture();
    let config = b"{}".to_vec();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.aquasec.trivy.config.v1+json","config":{{"mediaType":"application/vnd.aquasec.trivy.config.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"{LAYER_TYPE}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.title":"db.tar.gz"}}}}]}}"#,
        digest(&config),
        digest(&db),
        db.len()
    )
    .into_bytes();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest(&manifest),
            "size": manifest.len(),
            "annotations": {
                "org.opencontainers.image.ref.name": "2",
                "io.stella.repository": "aquasecurity/trivy-db",
            }
        }]
    });
    let mut w = KitWriter::new(KitInfo {
        kit_id: "registry-test".into(),
        sequence: 1,
        created_at: Timestamp::new(now - time::Duration::minutes(5)).expect("ts"),
        expires_at: Timestamp::new(now + time::Duration::days(30)).expect("ts"),
        site: None,
        producer: Producer {
            name: "registry-test".into(),
            version: "1".into(),
        },
        summary: Summary::default(),
    });
    let blob = |b: &[u8]| {
        EntryPath::new(format!("oci/trivy-db/blobs/sha256/{}", &digest(b)[7..])).expect("path")
    };
    let mt = |m: &str| MediaType::new(m).expect("mt");
    w.add_bytes(blob(&db), mt(media_types::OCI_BLOB), db.clone())
        .expect("db");
    w.add_bytes(blob(&config), mt(media_types::OCI_BLOB), config.clone())
        .expect("cfg");
    w.add_bytes(blob(&manifest), mt(media_types::OCI_BLOB), manifest.clone())
        .expect("m");
    w.add_bytes(
        EntryPath::new("oci/trivy-db/index.json").expect("p"),
        mt(media_types::OCI_INDEX),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("index");
    w.add_bytes(
        EntryPath::new("oci/trivy-db/oci-layout").expect("p"),
        mt(media_types::OCI_LAYOUT),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    )
    .expect("layout");
    let kit = root.join("kit.ouk");
    let f = std::fs::File::create(&kit).expect("create");
    w.write(f, &[&vendor]).expect("write");
    crate::util::sign_detached(&vendor, &kit, now);
    let (dd, _) = DataDir::init(
        &root.join("data"),
        &InitOptions {
            trust: vec![vendor.public()],
            threshold: 1,
            site: None,
            now: now - time::Duration::hours(1),
        },
    )
    .expect("init");
    Importer::new(&dd).clock(now).import(&kit).expect("import");
    (dd, db, digest(&manifest))
}

/// Serves the registry on 127.0.0.1:0 in a background runtime; returns the port.
fn serve(dd: &DataDir) -> (u16, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = appliance::registry::router(Arc::new(appliance::registry::CurrentLink(
        dd.current_link(),
    )));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, rt)
}

fn tool(name: &str) -> PathBuf {
    let local = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/venv/bin")
        .join(name);
    if local.is_file() {
        return local;
    }
    if let Ok(paths) = std::env::var("PATH") {
        for d in std::env::split_paths(&paths) {
            if d.join(name).is_file() {
                return d.join(name);
            }
        }
    }
    panic!(
        "`{name}` is needed by this test: run scripts/install-test-deps.sh (installs skopeo and trivy)"
    );
}

fn run(cmd: &mut Command) -> std::process::Output {
    let o = cmd.output().expect("run tool");
    assert!(
        o.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

#[test]
fn skopeo_pulls_the_artifact_byte_for_byte() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (dd, db, manifest_digest) = appliance_with_trivy_db(tmp.path());
    let (port, _rt) = serve(&dd);
    let skopeo = tool("skopeo");
    let reference = format!("docker://127.0.0.1:{port}/aquasecurity/trivy-db:2");
    let raw =
        run(Command::new(&skopeo).args(["inspect", "--raw", "--tls-verify=false", &reference]));
    assert_eq!(
        digest(&raw.stdout),
        manifest_digest,
        "manifest served byte for byte"
    );
    let tags = run(Command::new(&skopeo).args([
        "list-tags",
        "--tls-verify=false",
        &format!("docker://127.0.0.1:{port}/aquasecurity/trivy-db"),
    ]));
    assert!(String::from_utf8_lossy(&tags.stdout).contains("\"2\""));
    let out = tmp.path().join("copy");
    run(Command::new(&skopeo).args([
        "copy",
        "-q",
        "--src-tls-verify=false",
        &reference,
        &format!("dir:{}", out.display()),
    ]));
    let layer = std::fs::read(out.join(&digest(&db)[7..])).expect("layer copied");
    assert_eq!(layer, db);
    // unknown names and digests are OCI errors, not crashes
    let missing = Command::new(&skopeo)
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://127.0.0.1:{port}/aquasecurity/trivy-db:nope"),
        ])
        .output()
        .expect("skopeo");
    assert!(!missing.status.success());
}

#[test]
fn real_trivy_downloads_the_db_from_the_appliance_and_scans_with_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (dd, db, _) = appliance_with_trivy_db(tmp.path());
    let (port, _rt) = serve(&dd);
    let trivy = tool("trivy");
    let cache = tmp.path().join("trivy-cache");
    run(Command::new(&trivy).args([
        "image",
        "--download-db-only",
        "--db-repository",
        &format!("127.0.0.1:{port}/aquasecurity/trivy-db:2"),
        "--cache-dir",
        cache.to_str().expect("utf8"),
        "--quiet",
    ]));
    // The DB Trivy stored is the one inside the layer we shipped.
    let unpack = tmp.path().join("unpacked");
    std::fs::create_dir_all(&unpack).expect("dir");
    std::fs::write(tmp.path().join("db.tar.gz"), &db).expect("db");
    run(Command::new("tar")
        .arg("-xzf")
        .arg(tmp.path().join("db.tar.gz"))
        .arg("-C")
        .arg(&unpack));
    assert_eq!(
        std::fs::read(cache.join("db/trivy.db")).expect("trivy stored the db"),
        std::fs::read(unpack.join("trivy.db")).expect("fixture db")
    );
    // And it scans with it: the fixture DB knows demo-pkg < 1.2.0 (GHSA-test-0001).
    let sbom = tmp.path().join("bom.json");
    std::fs::write(
        &sbom,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
"metadata":{"component":{"type":"application","name":"demo","bom-ref":"app"}},
"components":[{"type":"library","name":"demo-pkg","version":"1.0.0","purl":"pkg:pypi/demo-pkg@1.0.0","bom-ref":"pkg:pypi/demo-pkg@1.0.0"}]}"#,
    )
    .expect("sbom");
    let out = run(Command::new(&trivy).args([
        "sbom",
        "--skip-db-update",
        "--cache-dir",
        cache.to_str().expect("utf8"),
        "--format",
        "json",
        "--quiet",
        sbom.to_str().expect("utf8"),
    ]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("trivy json");
    let ids: Vec<String> = report["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Vulnerabilities"].as_array().into_iter().flatten())
        .filter_map(|v| v["VulnerabilityID"].as_str().map(str::to_string))
        .collect();
    assert!(
        ids.iter()
            .any(|i| i == "CVE-2026-0001" || i == "GHSA-test-0001"),
        "trivy found {ids:?} in {report}"
    );
}
