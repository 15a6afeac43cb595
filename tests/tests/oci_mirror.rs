//! An OCI image layout carried by a `dir` source comes out of the appliance's `/v2/` under
//! the artifact name from `kit.toml`, and the stock `skopeo` pulls it byte for byte:
//! `stella-kit build` (a tiny image layout written here) → `stella-appliance import` →
//! `serve` on 127.0.0.1 port 0 → `skopeo copy docker://… oci:…`.
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::Digest as _;
use tests::{Server, bin, import_kit, init_appliance, ok, repo, run, served_port};

/// What [`write_layout`] put on disk.
struct Layout {
    manifest: (String, Vec<u8>),
    config: (String, Vec<u8>),
    layer: (String, Vec<u8>),
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A tiny OCI image layout in `dir`: `oci-layout`, `index.json` (one manifest tagged
/// `tag`), the manifest, an image config and one tar+gzip layer under `blobs/sha256/`
/// (gzip: skopeo would compress an uncompressed layer into an `oci:` copy, changing its
/// digest and the manifest's).
fn write_layout(dir: &Path, tag: &str, motd: &str) -> Layout {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir");
    let put = |bytes: Vec<u8>| {
        let d = sha256(&bytes);
        std::fs::write(blobs.join(&d[7..]), &bytes).expect("blob");
        (d, bytes)
    };
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(motd.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    tar.append_data(&mut h, "etc/motd", motd.as_bytes())
        .expect("tar entry");
    let tar = tar.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip");
    let layer = put(gz.finish().expect("gzip"));
    let config = put(serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        // diff_ids name the uncompressed layer
        "rootfs": {"type": "layers", "diff_ids": [sha256(&tar)]},
    }))
    .expect("json"));
    let manifest = put(
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.0, "size": layer.1.len()}],
        }))
        .expect("json"),
    );
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest.0,
            "size": manifest.1.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).expect("index.json");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
    Layout {
        manifest,
        config,
        layer,
    }
}

/// `skopeo` from PATH, or a panic saying how to install it.
fn skopeo() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("skopeo"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`skopeo` is needed by this test: run scripts/install-test-deps.sh (apt-get install skopeo)")
    })
}

/// `GET path` on the appliance: (status line, body).
fn get(port: u16, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

/// `skopeo copy` of `name:tag` from the appliance into `out`, then every blob compared
/// with the one that went into the kit.
fn pull_and_compare(skopeo: &Path, port: u16, name: &str, tag: &str, out: &Path, layout: &Layout) {
    ok(
        run(Command::new(skopeo)
            // --preserve-digests: skopeo must refuse rather than rewrite anything.
            .args(["--insecure-policy", "copy", "-q", "--preserve-digests"])
            .arg("--src-tls-verify=false")
            .arg(format!("docker://127.0.0.1:{port}/{name}:{tag}"))
            .arg(format!("oci:{}:{tag}", out.display()))),
        &format!("skopeo copy {name}:{tag}"),
    );
    for (what, (digest, bytes)) in [
        ("manifest", &layout.manifest),
        ("config", &layout.config),
        ("layer", &layout.layer),
    ] {
        let pulled =
            std::fs::read(out.join("blobs/sha256").join(&digest[7..])).unwrap_or_else(|e| {
                panic!(
                    "skopeo did not store the {what} {digest} of {name} ({e}); it wrote {:?}",
                    std::fs::read_dir(out.join("blobs/sha256"))
                        .map(|r| r.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                        .unwrap_or_default(),
                )
            });
        assert!(
            pulled == *bytes,
            "the pulled {what} of {name} differs from the kit's"
        );
    }
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).expect("pulled index"))
            .expect("json");
    assert_eq!(
        index["manifests"][0]["digest"], layout.manifest.0,
        "skopeo kept the manifest of {name} as served: {index}"
    );
}

#[test]
fn a_dir_source_layout_is_served_under_its_artifact_name_and_skopeo_pulls_it() {
    let d = tempfile::tempdir().expect("tmp");
    let w = d.path();
    let skopeo = skopeo();
    // --- connected side: a kit carrying the layouts of a mirror directory -----------------
    // One served under its artifact name (the default), one under the repository set.
    let image = write_layout(&w.join("mirror/image"), "1.0", "served from the mirror\n");
    let tools = write_layout(&w.join("mirror/tools"), "2", "the tools image\n");
    ok(
        run(Command::new(bin("stella-kit"))
            .args(["keygen", "--out"])
            .arg(w.join("keys"))),
        "keygen",
    );
    std::fs::write(
        w.join("kit.toml"),
        format!(
            "valid_days = 30\n\
             [[source]]\nkind = \"dir\"\npath = \"{}\"\n\
             [[source]]\nkind = \"dir\"\npath = \"mirror\"\noci_layout = \"image\"\nartifact_name = \"demo-image\"\n\
             [[source]]\nkind = \"dir\"\npath = \"mirror\"\noci_layout = \"tools\"\nartifact_name = \"tools\"\nrepository = \"mirror/demo-tools\"\n\
             [[client]]\nid = \"ci-e2e\"\n",
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
    // --- sealed side ----------------------------------------------------------------------
    let data = init_appliance(w);
    import_kit(&data, &w.join("kit.ouk"));
    let log = w.join("serve.log");
    let mut server = Server(
        Command::new(bin("stella-appliance"))
            .arg("serve")
            .arg("--data")
            .arg(&data)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("serve"),
    );
    let port = served_port(&log, &mut server);

    // The catalog names the artifacts as kit.toml did (it was ["", ""] before).
    let (status, body) = get(port, "/v2/_catalog");
    assert!(status.contains(" 200 "), "{status}: {body}");
    let catalog: serde_json::Value = serde_json::from_str(&body).expect("catalog json");
    assert_eq!(
        catalog["repositories"],
        serde_json::json!(["demo-image", "mirror/demo-tools"]),
        "{body}"
    );

    // The stock client pulls each, and every blob is the one that went into the kit.
    pull_and_compare(
        &skopeo,
        port,
        "demo-image",
        "1.0",
        &w.join("pulled-image"),
        &image,
    );
    pull_and_compare(
        &skopeo,
        port,
        "mirror/demo-tools",
        "2",
        &w.join("pulled-tools"),
        &tools,
    );
    drop(server);
}
