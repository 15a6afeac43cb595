//! Network layer and sources against an in-process loopback server (no real network).
mod server;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use kit_builder::fetch::{FetchError, FetchOptions, Fetcher, ProgressMode};
use kit_builder::sources::SourceErrorKind;
use kit_builder::sources::nvd::{NvdIndex, NvdLocation, NvdSource};
use kit_builder::sources::oci::{
    OCI_MANIFEST, OciSource, Reference, TRIVY_DB_LAYER, TRIVY_JAVA_DB_LAYER, TrivyMetadata,
    read_oci_layout,
};
use kit_builder::sources::osv::{OsvSource, ZipLimits, collect_advisories};
use server::{Fault, TestServer, sha256};

const EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
const TRIVY_CONFIG: &str = "application/vnd.aquasec.trivy.config.v1+json";

fn fast() -> FetchOptions {
    FetchOptions {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        max_attempts: 4,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        progress: ProgressMode::Log,
        ..FetchOptions::default()
    }
}

fn fetcher(dir: &Path) -> Fetcher {
    Fetcher::new(dir.join("cache"), fast()).expect("fetcher")
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(*name, opts).expect("start entry");
        w.write_all(bytes).expect("write entry");
    }
    w.finish().expect("finish zip").into_inner()
}

fn osv(id: &str, modified: &str, extra: &str) -> Vec<u8> {
    format!(
        r#"{{"id":"{id}","modified":"{modified}"{extra},"affected":[{{"package":{{"ecosystem":"PyPI","name":"demo"}},"versions":["1.0"]}}]}}"#
    )
    .into_bytes()
}

fn sample_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

// ---------------------------------------------------------------- OSV

#[test]
fn osv_dumps_over_http_parse_dedup_and_drop_withdrawn() {
    let srv = TestServer::start(false);
    let pypi = zip_of(&[
        ("PYSEC-1.json", &osv("PYSEC-1", "2024-01-01T00:00:00Z", "")),
        (
            "PYSEC-2.json",
            &osv(
                "PYSEC-2",
                "2024-01-01T00:00:00Z",
                r#","withdrawn":"2024-02-01T00:00:00Z""#,
            ),
        ),
        ("README.txt", b"not json"),
        ("BAD.json", b"{\"id\": 5}"),
    ]);
    let npm = zip_of(&[
        (
            "PYSEC-1.json",
            &osv("PYSEC-1", "2025-01-01T00:00:00Z", r#","summary":"newer""#),
        ),
        ("GHSA-3.json", &osv("GHSA-3", "2024-01-01T00:00:00Z", "")),
    ]);
    srv.put_file("/osv/PyPI/all.zip", "application/zip", pypi);
    srv.put_file("/osv/npm/all.zip", "application/zip", npm);
    let tmp = tempfile::tempdir().expect("tempdir");
    let f = fetcher(tmp.path());
    let src = OsvSource {
        name: "osv".into(),
        base_url: srv.url("/osv"),
        ecosystems: vec!["PyPI".into(), "npm".into()],
        limits: ZipLimits::default(),
    };
    let dumps = src.fetch(&f).expect("fetch dumps");
    assert_eq!(dumps.len(), 2);
    let mut docs = Vec::new();
    for d in &dumps {
        for doc in src.open(d).expect("open zip") {
            docs.push(doc.expect("document"));
        }
    }
    let names: Vec<_> = docs
        .iter()
        .map(|d| format!("{}/{}", d.ecosystem, d.file_name))
        .collect();
    assert_eq!(
        names,
        [
            "PyPI/PYSEC-1.json",
            "PyPI/PYSEC-2.json",
            "PyPI/BAD.json",
            "npm/PYSEC-1.json",
            "npm/GHSA-3.json"
        ]
    );
    let now = time::macros::datetime!(2026-01-01 00:00 UTC);
    let c = collect_advisories(docs, now);
    let ids: Vec<_> = c
        .advisories
        .iter()
        .map(|a| a.id().as_str().to_string())
        .collect();
    assert_eq!(ids, ["GHSA-3", "PYSEC-1"]);
    assert_eq!(
        c.advisories[1].summary(),
        Some("newer"),
        "newest modified wins"
    );
    assert_eq!((c.withdrawn, c.duplicates, c.rejected.len()), (1, 1, 1));
    assert_eq!(c.rejected[0].0, "PyPI/BAD.json");
}

#[test]
fn osv_cache_revalidates_with_etag_and_serves_offline() {
    let srv = TestServer::start(false);
    let zip = zip_of(&[("A-1.json", &osv("A-1", "2024-01-01T00:00:00Z", ""))]);
    srv.put_file("/osv/PyPI/all.zip", "application/zip", zip.clone());
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = OsvSource {
        name: "osv-main".into(),
        base_url: srv.url("/osv/"),
        ecosystems: vec!["PyPI".into()],
        limits: ZipLimits::default(),
    };
    let first = src.fetch(&fetcher(tmp.path())).expect("first fetch");
    let second = src.fetch(&fetcher(tmp.path())).expect("second fetch");
    assert_eq!(first, second);
    let seen = srv.requests_to("/osv/PyPI/all.zip");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].status, 200);
    assert!(
        seen[1].if_none_match.is_some(),
        "revalidation sends If-None-Match"
    );
    assert_eq!(seen[1].status, 304);
    assert_eq!(std::fs::read(&second[0].path).expect("read"), zip);

    // Offline: same dumps from the cache alone, and a clear error for what is missing.
    let off = Fetcher::offline(tmp.path().join("cache"), fast()).expect("offline fetcher");
    assert_eq!(src.fetch(&off).expect("offline fetch"), first);
    let missing = OsvSource {
        ecosystems: vec!["Go".into()],
        ..src.clone()
    };
    let err = missing.fetch(&off).expect_err("Go was never fetched");
    assert!(matches!(
        *err.error,
        SourceErrorKind::Fetch(FetchError::NotCached { .. })
    ));
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "source \"osv-main\" (osv {}): offline: ",
            srv.url("/osv/")
        )),
        "{msg}"
    );
    assert!(msg.contains("/osv/Go/all.zip is not in the cache"), "{msg}");
}

#[test]
fn osv_file_url_and_dir_source() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mirror = tmp.path().join("mirror");
    std::fs::create_dir_all(mirror.join("crates.io")).expect("mkdir");
    std::fs::write(
        mirror.join("crates.io/all.zip"),
        zip_of(&[(
            "RUSTSEC-1.json",
            &osv("RUSTSEC-1", "2024-01-01T00:00:00Z", ""),
        )]),
    )
    .expect("write");
    let f = Fetcher::offline(tmp.path(), fast()).expect("offline fetcher");
    let dir = kit_builder::sources::dir::DirSource {
        name: "mirror".into(),
        path: mirror.clone(),
        ecosystems: vec!["crates.io".into()],
        oci_layout: None,
        zip_limits: ZipLimits::default(),
        oci_limits: Default::default(),
    };
    let dumps = dir.osv_dumps(&f).expect("dir dumps");
    assert_eq!(
        dumps[0].path,
        mirror.join("crates.io/all.zip"),
        "file:// is read in place"
    );
    let osv = dir.as_osv().expect("as osv");
    let docs: Vec<_> = osv
        .open(&dumps[0])
        .expect("open")
        .collect::<Result<_, _>>()
        .expect("docs");
    assert_eq!(docs[0].file_name, "RUSTSEC-1.json");
}

fn zip_error(entries: &[(&str, &[u8])], limits: ZipLimits) -> SourceErrorKind {
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path().join("all.zip");
    std::fs::write(&p, zip_of(entries)).expect("write");
    match kit_builder::sources::osv::OsvZipReader::open(&p, "PyPI", limits) {
        Err(e) => e,
        Ok(reader) => reader
            .filter_map(Result::err)
            .next()
            .expect("an error while reading"),
    }
}

#[test]
fn osv_zip_refuses_traversal_and_enforces_caps() {
    let e = zip_error(
        &[("ok.json", b"{}"), ("../evil.json", b"{}")],
        ZipLimits::default(),
    );
    assert!(
        matches!(&e, SourceErrorKind::UnsafeZipPath { name, .. } if name == "../evil.json"),
        "{e}"
    );
    let e = zip_error(&[("/abs.json", b"{}")], ZipLimits::default());
    assert!(
        matches!(
            &e,
            SourceErrorKind::UnsafeZipPath {
                reason: "absolute path",
                ..
            }
        ),
        "{e}"
    );

    let limits = ZipLimits {
        max_entries: 2,
        ..ZipLimits::default()
    };
    let e = zip_error(
        &[("a.json", b"{}"), ("b.json", b"{}"), ("c.json", b"{}")],
        limits,
    );
    assert!(
        matches!(
            e,
            SourceErrorKind::Limit {
                actual: 3,
                limit: 2,
                ..
            }
        ),
        "{e}"
    );

    // A highly compressible entry: small on the wire, over the per-entry cap inflated.
    let big = vec![b' '; 100_000];
    let limits = ZipLimits {
        max_entry_bytes: 50_000,
        ..ZipLimits::default()
    };
    let e = zip_error(&[("big.json", &big)], limits);
    assert!(
        matches!(e, SourceErrorKind::Limit { limit: 50_000, .. }),
        "{e}"
    );

    let limits = ZipLimits {
        max_total_bytes: 150_000,
        ..ZipLimits::default()
    };
    let e = zip_error(&[("a.json", &big), ("b.json", &big)], limits);
    assert!(
        matches!(
            e,
            SourceErrorKind::Limit {
                actual: 200_000,
                limit: 150_000,
                ..
            }
        ),
        "{e}"
    );
}

// ---------------------------------------------------------------- retry, resume, timeouts

#[test]
fn http_500s_then_success_is_retried() {
    let srv = TestServer::start(false);
    srv.put_file("/f.bin", "application/octet-stream", sample_bytes(1000));
    srv.fault("/f.bin", Fault::Status(500));
    srv.fault("/f.bin", Fault::Status(503));
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = fetcher(tmp.path())
        .fetch_url(&srv.url("/f.bin"), 1 << 20)
        .expect("third attempt succeeds");
    assert_eq!(std::fs::read(p).expect("read"), sample_bytes(1000));
    let statuses: Vec<_> = srv.requests_to("/f.bin").iter().map(|s| s.status).collect();
    assert_eq!(statuses, [500, 503, 200]);
}

#[test]
fn persistent_500_gives_up_with_the_url_and_reason() {
    let srv = TestServer::start(false);
    srv.put_file("/f.bin", "application/octet-stream", sample_bytes(10));
    for _ in 0..10 {
        srv.fault("/f.bin", Fault::Status(500));
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = fetcher(tmp.path())
        .fetch_url(&srv.url("/f.bin"), 1 << 20)
        .expect_err("never succeeds");
    assert!(
        matches!(&err, FetchError::RetriesExhausted { attempts: 4, last, .. } if last == "HTTP 500"),
        "{err}"
    );
    assert_eq!(srv.requests_to("/f.bin").len(), 4);
    // A 404 is not retried.
    let err = fetcher(tmp.path())
        .fetch_url(&srv.url("/nope"), 1 << 20)
        .expect_err("404");
    assert!(
        matches!(err, FetchError::Status { status: 404, .. }),
        "{err}"
    );
    assert_eq!(srv.requests_to("/nope").len(), 1);
}

#[test]
fn truncated_body_is_resumed_with_range_and_if_range() {
    let srv = TestServer::start(false);
    let data = sample_bytes(300_000);
    srv.put_file("/big.zip", "application/zip", data.clone());
    srv.fault("/big.zip", Fault::Truncate(100_000));
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = fetcher(tmp.path())
        .fetch_url(&srv.url("/big.zip"), 1 << 20)
        .expect("resumed");
    assert_eq!(std::fs::read(p).expect("read"), data);
    let seen = srv.requests_to("/big.zip");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].status, 206);
    let range = seen[1]
        .range
        .as_deref()
        .expect("second request is a Range request");
    let start: u64 = range
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse().ok())
        .expect("bytes=N-");
    assert!(start > 0 && start <= 100_000, "resumed from {start}");
    assert!(seen[1].if_range.is_some(), "resume is guarded by If-Range");
}

#[test]
fn oversized_download_is_refused() {
    let srv = TestServer::start(false);
    srv.put_file("/big", "application/octet-stream", sample_bytes(5000));
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = fetcher(tmp.path())
        .fetch_url(&srv.url("/big"), 4096)
        .expect_err("too large");
    assert!(
        matches!(err, FetchError::TooLarge { limit: 4096, .. }),
        "{err}"
    );
}

#[test]
fn slow_response_times_out_then_retry_succeeds() {
    let srv = TestServer::start(false);
    srv.put_file("/slow", "text/plain", b"ok".to_vec());
    srv.fault("/slow", Fault::Delay(Duration::from_secs(3)));
    let tmp = tempfile::tempdir().expect("tempdir");
    let once = FetchOptions {
        read_timeout: Duration::from_millis(300),
        max_attempts: 1,
        ..fast()
    };
    let f = Fetcher::new(tmp.path().join("c1"), once.clone()).expect("fetcher");
    let t = Instant::now();
    let err = f.fetch_url(&srv.url("/slow"), 1024).expect_err("times out");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "gave up after the read timeout, not the delay"
    );
    assert!(
        matches!(&err, FetchError::RetriesExhausted { last, .. } if last.contains("timed out")),
        "{err}"
    );

    srv.fault("/slow", Fault::Delay(Duration::from_secs(3)));
    let f = Fetcher::new(
        tmp.path().join("c2"),
        FetchOptions {
            max_attempts: 2,
            ..once
        },
    )
    .expect("fetcher");
    let p = f
        .fetch_url(&srv.url("/slow"), 1024)
        .expect("second attempt is fast");
    assert_eq!(std::fs::read(p).expect("read"), b"ok");
}

#[test]
fn retry_after_on_429_is_honoured_and_bounded() {
    let srv = TestServer::start(false);
    srv.put_file("/limited", "text/plain", b"ok".to_vec());
    srv.fault("/limited", Fault::RetryAfter(429, "1".into()));
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    fetcher(tmp.path())
        .fetch_url(&srv.url("/limited"), 1024)
        .expect("after waiting");
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        t.elapsed()
    );

    // An hour-long Retry-After (as an HTTP date) is cut to max_retry_after.
    let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600));
    srv.fault("/limited", Fault::RetryAfter(503, later));
    let bounded = FetchOptions {
        max_retry_after: Duration::from_millis(200),
        ..fast()
    };
    let f = Fetcher::new(tmp.path().join("c2"), bounded).expect("fetcher");
    let t = Instant::now();
    f.fetch_url(&srv.url("/limited"), 1024)
        .expect("after the capped wait");
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(3),
        "waited {waited:?}"
    );
    let statuses: Vec<_> = srv
        .requests_to("/limited")
        .iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(statuses, [429, 200, 503, 200]);
}

#[test]
fn connection_refused_is_retried_then_reported() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = fetcher(tmp.path())
        .fetch_url(&format!("http://127.0.0.1:{port}/x"), 10)
        .expect_err("nothing listens");
    assert!(
        matches!(&err, FetchError::RetriesExhausted { last, .. } if last.contains("connection failed")),
        "{err}"
    );
}

// ---------------------------------------------------------------- OCI

struct Pushed {
    manifest: Vec<u8>,
    digest: String,
    layer_digest: String,
}

/// Pushes an oras-shaped Trivy artifact (FORMATS.md §1): empty config, one layer with a
/// title annotation, `artifactType` = the Trivy config type.
fn push_trivy(
    srv: &TestServer,
    repo: &str,
    tag: &str,
    layer: &[u8],
    layer_type: &str,
    title: &str,
) -> Pushed {
    assert_eq!(srv.put_blob(b"{}".to_vec()), EMPTY_DIGEST);
    let layer_digest = srv.put_blob(layer.to_vec());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{TRIVY_CONFIG}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{EMPTY_DIGEST}","size":2,"data":"e30="}},"layers":[{{"mediaType":"{layer_type}","digest":"{layer_digest}","size":{},"annotations":{{"org.opencontainers.image.title":"{title}"}}}}],"annotations":{{"org.opencontainers.image.created":"2026-11-22T00:00:00Z"}}}}"#,
        layer.len()
    )
    .into_bytes();
    let digest = srv.put_manifest(repo, tag, OCI_MANIFEST, manifest.clone());
    Pushed {
        manifest,
        digest,
        layer_digest,
    }
}

fn trivy_fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/trivy-db/db.tar.gz"
    ))
    .expect("fixture db.tar.gz")
}

fn trivy_source(srv: &TestServer, tag_or_digest: &str) -> OciSource {
    let reference: Reference = format!("{}/aquasecurity/trivy-db{tag_or_digest}", srv.host())
        .parse()
        .expect("reference");
    OciSource {
        registry_url: Some(srv.url("")),
        ..OciSource::new("trivy-db", reference)
    }
}

#[test]
fn trivy_db_pull_with_bearer_token_keeps_bytes_and_reads_metadata() {
    let srv = TestServer::start(true);
    let db = trivy_fixture();
    let pushed = push_trivy(
        &srv,
        "aquasecurity/trivy-db",
        "2",
        &db,
        TRIVY_DB_LAYER,
        "db.tar.gz",
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let f = fetcher(tmp.path());
    let art = trivy_source(&srv, ":2").pull(&f).expect("pull");

    // The anonymous bearer-token flow happened: a 401 with a challenge, a token request with
    // service and scope, then authorized requests.
    let log = srv.log();
    assert_eq!(log[0].status, 401);
    let token_req = log
        .iter()
        .find(|s| s.path == "/token")
        .expect("token requested");
    assert!(
        token_req
            .query
            .contains("scope=repository%3Aaquasecurity%2Ftrivy-db%3Apull"),
        "{}",
        token_req.query
    );
    assert!(token_req.query.contains("service=test-registry"));
    let manifest_ok = log
        .iter()
        .find(|s| s.path.ends_with("/manifests/2") && s.status == 200)
        .expect("manifest served");
    assert_eq!(
        manifest_ok.authorization.as_deref(),
        Some("Bearer test-anonymous-token")
    );
    assert_eq!(
        log.iter().filter(|s| s.path == "/token").count(),
        1,
        "one token for the pull"
    );

    // Byte for byte.
    assert_eq!(art.manifest.bytes, pushed.manifest);
    assert_eq!(art.manifest.digest, pushed.digest);
    assert_eq!(art.manifest.media_type, OCI_MANIFEST);
    assert_eq!(
        std::fs::read(&art.manifest.path).expect("stored manifest"),
        pushed.manifest
    );
    assert_eq!(art.artifact_type.as_deref(), Some(TRIVY_CONFIG));
    assert_eq!(art.config.descriptor.digest, EMPTY_DIGEST);
    assert_eq!(std::fs::read(&art.config.path).expect("config"), b"{}");
    assert_eq!(art.layers.len(), 1);
    assert_eq!(art.layers[0].descriptor.title(), Some("db.tar.gz"));
    assert_eq!(art.layers[0].descriptor.digest, pushed.layer_digest);
    assert_eq!(std::fs::read(&art.layers[0].path).expect("layer"), db);
    assert_eq!(art.repository, "aquasecurity/trivy-db");
    assert_eq!(art.tag.as_deref(), Some("2"));

    // metadata.json from inside db.tar.gz, compared with the oracle's own copy.
    let meta = art
        .trivy_metadata()
        .expect("read metadata")
        .expect("is a trivy db");
    let expected: TrivyMetadata = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/trivy-db/metadata.json"
        ))
        .expect("fixture"),
    )
    .expect("fixture metadata");
    assert_eq!(meta, expected);
    assert_eq!(meta.version, Some(2));
    assert!(meta.updated_at.is_some() && meta.next_update > meta.updated_at);
    assert_eq!(
        meta.downloaded_at.map(|t| t.year()),
        Some(1),
        "zero time in a fresh build"
    );

    // A second pull is served from the cache: only the manifest is asked for again.
    let before = srv.log().len();
    let again = trivy_source(&srv, ":2").pull(&f).expect("second pull");
    assert_eq!(again, art);
    let blob_gets = srv.log()[before..]
        .iter()
        .filter(|s| s.path.contains("/blobs/"))
        .count();
    assert_eq!(blob_gets, 0);

    // Offline: the same artifact from the cache alone.
    let off = Fetcher::offline(tmp.path().join("cache"), fast()).expect("offline");
    let before = srv.log().len();
    let offline = trivy_source(&srv, ":2").pull(&off).expect("offline pull");
    assert_eq!(offline, art);
    assert_eq!(srv.log().len(), before, "offline pull made no request");
}

#[test]
fn java_db_and_pull_by_digest() {
    let srv = TestServer::start(true);
    // A javadb.tar.gz in the upstream shape: trivy-java.db + metadata.json (Version 1).
    let mut tar_bytes = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut tar_bytes, flate2::Compression::default());
        let mut t = tar::Builder::new(gz);
        for (name, body) in [
            ("trivy-java.db", b"SQLite format 3\0 (not a real db)".as_slice()),
            (
                "metadata.json",
                br#"{"Version":1,"NextUpdate":"2026-11-25T00:00:00Z","UpdatedAt":"2026-11-22T01:02:03.456Z","DownloadedAt":"2026-11-22T05:00:00Z"}"#,
            ),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, name, body).expect("append");
        }
        t.into_inner().expect("tar").finish().expect("gz");
    }
    let pushed = push_trivy(
        &srv,
        "aquasecurity/trivy-java-db",
        "1",
        &tar_bytes,
        TRIVY_JAVA_DB_LAYER,
        "javadb.tar.gz",
    );
    let reference: Reference = format!(
        "{}/aquasecurity/trivy-java-db@{}",
        srv.host(),
        pushed.digest
    )
    .parse()
    .expect("reference");
    let src = OciSource {
        registry_url: Some(srv.url("/")),
        ..OciSource::new("trivy-java-db", reference)
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let art = src.pull(&fetcher(tmp.path())).expect("pull by digest");
    assert_eq!(art.manifest.bytes, pushed.manifest);
    let meta = art.trivy_metadata().expect("metadata").expect("java db");
    assert_eq!(meta.version, Some(1));
    assert_eq!(
        meta.updated_at,
        Some(time::macros::datetime!(2026-11-22 01:02:03.456 UTC))
    );
}

#[test]
fn wrong_blob_digest_is_refused_with_the_exact_error() {
    let srv = TestServer::start(true);
    let db = trivy_fixture();
    let pushed = push_trivy(
        &srv,
        "aquasecurity/trivy-db",
        "2",
        &db,
        TRIVY_DB_LAYER,
        "db.tar.gz",
    );
    let blob_path = format!("/v2/aquasecurity/trivy-db/blobs/{}", pushed.layer_digest);
    srv.fault(&blob_path, Fault::Corrupt);
    let tmp = tempfile::tempdir().expect("tempdir");
    let f = fetcher(tmp.path());
    let err = trivy_source(&srv, ":2")
        .pull(&f)
        .expect_err("corrupt layer");
    let mut corrupt = db.clone();
    corrupt[0] ^= 0xff;
    assert_eq!(
        err.to_string(),
        format!(
            "source \"trivy-db\" (oci {}/aquasecurity/trivy-db:2): blob {} digest mismatch (content hashes to {})",
            srv.host(),
            pushed.layer_digest,
            sha256(&corrupt)
        )
    );
    assert!(matches!(
        *err.error,
        SourceErrorKind::Fetch(FetchError::DigestMismatch { what: "blob", .. })
    ));
    assert!(
        !f.cache()
            .blob_path(&pushed.layer_digest)
            .expect("path")
            .exists(),
        "nothing unverified is kept"
    );
    // The next run downloads cleanly (the bad partial file was not resumed).
    trivy_source(&srv, ":2").pull(&f).expect("clean pull");
}

#[test]
fn manifest_digest_is_verified_by_digest_and_by_header() {
    let srv = TestServer::start(true);
    let db = trivy_fixture();
    let pushed = push_trivy(
        &srv,
        "aquasecurity/trivy-db",
        "2",
        &db,
        TRIVY_DB_LAYER,
        "db.tar.gz",
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let f = fetcher(tmp.path());

    // Pull by digest while the registry serves different bytes for that digest.
    srv.fault(
        &format!("/v2/aquasecurity/trivy-db/manifests/{}", pushed.digest),
        Fault::Corrupt,
    );
    let err = trivy_source(&srv, &format!("@{}", pushed.digest))
        .pull(&f)
        .expect_err("tampered manifest");
    assert!(
        err.to_string()
            .contains(&format!("manifest {} digest mismatch", pushed.digest)),
        "{err}"
    );

    // By tag: the Docker-Content-Digest header no longer matches the body.
    srv.fault("/v2/aquasecurity/trivy-db/manifests/2", Fault::Corrupt);
    let err = trivy_source(&srv, ":2")
        .pull(&f)
        .expect_err("header mismatch");
    assert!(
        matches!(
            *err.error,
            SourceErrorKind::Fetch(FetchError::DigestMismatch {
                what: "manifest",
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn truncated_blob_is_resumed_and_verified() {
    let srv = TestServer::start(true);
    let layer = sample_bytes(400_000);
    let pushed = push_trivy(
        &srv,
        "x/artifact",
        "v1",
        &layer,
        "application/octet-stream",
        "blob.bin",
    );
    let blob_path = format!("/v2/x/artifact/blobs/{}", pushed.layer_digest);
    srv.fault(&blob_path, Fault::Truncate(150_000));
    srv.fault(&blob_path, Fault::Status(502));
    let reference: Reference = format!("{}/x/artifact:v1", srv.host())
        .parse()
        .expect("reference");
    let src = OciSource {
        registry_url: Some(srv.url("")),
        ..OciSource::new("artifact", reference)
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let art = src.pull(&fetcher(tmp.path())).expect("pull");
    assert_eq!(std::fs::read(&art.layers[0].path).expect("layer"), layer);
    let seen: Vec<_> = srv
        .requests_to(&blob_path)
        .into_iter()
        .filter(|s| s.status != 401)
        .collect();
    let statuses: Vec<_> = seen.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [200, 502, 206], "{seen:?}");
    assert!(seen[2].range.as_deref().is_some_and(|r| r != "bytes=0-"));
}

#[test]
fn registry_errors_name_the_source() {
    let srv = TestServer::start(true);
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = trivy_source(&srv, ":9")
        .pull(&fetcher(tmp.path()))
        .expect_err("no such tag");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "source \"trivy-db\" (oci {}/aquasecurity/trivy-db:9): GET ",
            srv.host()
        )),
        "{msg}"
    );
    assert!(msg.contains("HTTP 404"), "{msg}");
    // Offline with an empty cache: says the tag is not cached.
    let off = Fetcher::offline(tmp.path().join("cache"), fast()).expect("offline");
    let err = trivy_source(&srv, ":2").pull(&off).expect_err("not cached");
    assert!(
        matches!(
            *err.error,
            SourceErrorKind::Fetch(FetchError::NotCached { .. })
        ),
        "{err}"
    );
}

#[test]
fn oci_layout_dir_is_read_and_verified() {
    let srv = TestServer::start(false);
    let db = trivy_fixture();
    let pushed = push_trivy(
        &srv,
        "aquasecurity/trivy-db",
        "2",
        &db,
        TRIVY_DB_LAYER,
        "db.tar.gz",
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let art = trivy_source(&srv, ":2")
        .pull(&fetcher(tmp.path()))
        .expect("pull");
    // Write an OCI image layout from what was pulled.
    let layout = tmp.path().join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).expect("mkdir");
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("write");
    for (digest, path) in [
        (&art.manifest.digest, &art.manifest.path),
        (&art.config.descriptor.digest, &art.config.path),
        (&art.layers[0].descriptor.digest, &art.layers[0].path),
    ] {
        std::fs::copy(path, layout.join("blobs/sha256").join(&digest[7..])).expect("copy blob");
    }
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"2"}}}}]}}"#,
        pushed.digest,
        pushed.manifest.len()
    );
    std::fs::write(layout.join("index.json"), index).expect("index");
    let read = read_oci_layout(&layout, Some("2"), "mirror/trivy-db", &Default::default())
        .expect("layout");
    assert_eq!(read.manifest.bytes, pushed.manifest);
    // Served under the name given (a layout has none of its own), with the layout's tag.
    assert_eq!(read.repository, "mirror/trivy-db");
    assert_eq!(read.tag.as_deref(), Some("2"));
    // Without a tag asked for, the only manifest's ref.name is the tag.
    let read = read_oci_layout(&layout, None, "trivy-db", &Default::default()).expect("layout");
    assert_eq!(
        (read.repository.as_str(), read.tag.as_deref()),
        ("trivy-db", Some("2"))
    );
    // No name, or one no OCI client could ask for, is refused up front.
    for bad in ["", "Trivy-DB", "a//b", "-x"] {
        let err = read_oci_layout(&layout, Some("2"), bad, &Default::default())
            .expect_err("invalid repository");
        assert!(
            matches!(&err, SourceErrorKind::Config(m) if m.contains("not a valid OCI repository name")),
            "{bad:?}: {err}"
        );
    }
    assert_eq!(
        read.trivy_metadata().expect("meta"),
        art.trivy_metadata().expect("meta")
    );
    // Tamper with the layer: refused by digest.
    let layer = layout.join("blobs/sha256").join(&pushed.layer_digest[7..]);
    let mut bytes = std::fs::read(&layer).expect("read");
    bytes[10] ^= 1;
    std::fs::write(&layer, bytes).expect("write");
    let err =
        read_oci_layout(&layout, Some("2"), "trivy-db", &Default::default()).expect_err("tampered");
    assert!(
        err.to_string()
            .starts_with(&format!("blob {} digest mismatch", pushed.layer_digest)),
        "{err}"
    );
}

// ---------------------------------------------------------------- NVD

fn cve(id: &str, score: f64) -> serde_json::Value {
    serde_json::json!({"cve": {
        "id": id, "sourceIdentifier": "cve@mitre.org", "published": "2024-01-01T00:00:00.000",
        "lastModified": "2024-02-01T00:00:00.000", "vulnStatus": "Analyzed",
        "descriptions": [{"lang": "es", "value": "descripción"}, {"lang": "en", "value": format!("{id} description")}],
        "metrics": {
            "cvssMetricV31": [
                {"source": "cna@example.org", "type": "Secondary", "cvssData": {"version": "3.1",
                  "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", "baseScore": 5.3, "baseSeverity": "MEDIUM"}},
                {"source": "nvd@nist.gov", "type": "Primary", "cvssData": {"version": "3.1",
                  "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": score, "baseSeverity": "CRITICAL"},
                  "exploitabilityScore": 3.9, "impactScore": 5.9}
            ],
            "cvssMetricV40": [
                {"source": "cna@example.org", "type": "Secondary", "cvssData": {"version": "4.0",
                  "vectorString": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "baseScore": 9.3, "baseSeverity": "CRITICAL"}}
            ]
        }
    }})
}

#[test]
fn nvd_pages_are_followed_and_index_enriches_by_alias() {
    let srv = TestServer::start(false);
    srv.inner().nvd = (1..=5)
        .map(|i| cve(&format!("CVE-2024-000{i}"), 9.8))
        .collect();
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = NvdSource {
        results_per_page: 2,
        page_delay: Duration::ZERO,
        ..NvdSource::new(
            "nvd",
            NvdLocation::Url(srv.url("/nvd?lastModStartDate=2024-01-01T00:00:00.000")),
        )
    };
    let f = fetcher(tmp.path());
    let pages = src.fetch_pages(&f).expect("pages");
    assert_eq!(pages.len(), 3);
    let starts: Vec<_> = srv
        .requests_to("/nvd")
        .iter()
        .map(|s| s.query.clone())
        .collect();
    assert_eq!(
        starts,
        [0, 2, 4].map(|s| format!(
            "lastModStartDate=2024-01-01T00%3A00%3A00.000&startIndex={s}&resultsPerPage=2"
        ))
    );
    let index = NvdIndex::from_pages(&pages);
    assert_eq!(index.len(), 5);
    let e = index.get("CVE-2024-0003").expect("indexed");
    assert_eq!(e.description.as_deref(), Some("CVE-2024-0003 description"));
    let v31 = e.cvss_v31.as_ref().expect("v3.1");
    assert_eq!(
        (
            v31.base_score,
            v31.base_severity.as_str(),
            v31.source.as_str()
        ),
        (9.8, "CRITICAL", "nvd@nist.gov")
    );
    assert!(
        e.cvss_v40
            .as_ref()
            .is_some_and(|m| m.vector.starts_with("CVSS:4.0/"))
    );

    let adv = bundles::model::Advisory::from_osv_json(
        br#"{"id":"GHSA-aaaa-bbbb-cccc","modified":"2024-01-01T00:00:00Z","aliases":["PYSEC-1","CVE-2024-0004"]}"#,
    )
    .expect("advisory");
    assert_eq!(
        index.for_advisory(&adv).map(|e| e.id.as_str()),
        Some("CVE-2024-0004")
    );

    // Offline, the same pages come from the cache.
    let off = Fetcher::offline(tmp.path().join("cache"), fast()).expect("offline");
    assert_eq!(src.fetch_pages(&off).expect("offline pages"), pages);

    // And from a directory of saved pages.
    let dir = tmp.path().join("nvd-pages");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (i, p) in pages.iter().enumerate() {
        std::fs::write(
            dir.join(format!("page-{i}.json")),
            serde_json::to_vec(p).expect("json"),
        )
        .expect("write");
    }
    let from_dir = NvdSource::new("nvd-dir", NvdLocation::Dir(dir))
        .fetch_pages(&f)
        .expect("dir pages");
    assert_eq!(from_dir, pages);
}

#[test]
fn nvd_paging_that_does_not_add_up_is_refused() {
    let srv = TestServer::start(false);
    // Claims more results than it ever serves: an empty page mid-way must stop the loop.
    srv.inner().nvd = vec![cve("CVE-2024-0001", 5.0)];
    srv.put_file(
        "/nvd-broken",
        "application/json",
        br#"{"resultsPerPage":0,"startIndex":0,"totalResults":10,"vulnerabilities":[]}"#.to_vec(),
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = NvdSource {
        page_delay: Duration::ZERO,
        ..NvdSource::new("nvd", NvdLocation::Url(srv.url("/nvd-broken")))
    };
    let err = src
        .fetch_pages(&fetcher(tmp.path()))
        .expect_err("broken paging");
    assert!(matches!(*err.error, SourceErrorKind::Paging(_)), "{err}");
}
