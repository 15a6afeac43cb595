//! Evidence bundles, replay and the import statement, end to end: a real data dir, a real
//! signed kit imported by the importer, real scans through the router (oneshot), and the
//! real `stella-appliance` binary for `evidence export` and `replay`.

use std::path::Path;

use appliance::server::{AppState, Config};
use appliance::store::StoreOptions;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use bundles::evidence as fmt;
use bundles::{Limits, Manifest};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use signing::{KeyId, KeyPair, TrustRoot};
use time::OffsetDateTime;

use crate::util::{self, Env, KitSpec, VULN_SBOM, call, text, vendor};

/// Two clients, `ci-a` and `ci-b`, 333 scans a day each.
fn spec() -> KitSpec {
    KitSpec {
        kit_id: "evidence-test-1",
        clients: vec![("ci-a", 333), ("ci-b", 333)],
        revoked: None,
    }
}

fn env() -> Env {
    Env::imported(&spec())
}

fn state(env: &Env) -> AppState {
    env.state(Config::default())
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn get(path: &str, auth: &str) -> Request<Body> {
    util::get(path, Some(auth))
}

async fn scan(st: &AppState, token: &str, sbom: &str) -> Value {
    let (s, _, v) = util::scan(st, token, sbom).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn bundle_holds_every_input_cross_checked_and_is_deterministic() {
    let env = env();
    let st = state(&env);
    let token = env.token("ci-a");
    let v = scan(&st, &token, VULN_SBOM).await;
    let id = v["scan_id"].as_str().expect("id").to_owned();
    let url = format!("/api/v1/scans/{id}/bundle");

    let (s, h, bytes) = call(&st, get(&url, &format!("Bearer {token}"))).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(h["content-type"], "application/zstd");
    assert_eq!(
        h["content-disposition"],
        format!("attachment; filename=\"scan-{id}.evidence.tar.zst\"").as_str()
    );
    // Same bytes every time (deterministic archive), and for the operator too.
    let (_, _, again) = call(&st, get(&url, &format!("Bearer {token}"))).await;
    assert_eq!(bytes, again);
    let (s, _, op) = call(&st, get(&url, &env.basic())).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(bytes, op);
    // Another client's scan is not disclosed; an unknown scan is 404.
    let (s, _, _) = call(&st, get(&url, &format!("Bearer {}", env.token("ci-b")))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call(
        &st,
        get(
            "/api/v1/scans/01JD3Q6Z000000000000000000/bundle",
            &env.basic(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let e = fmt::read_bundle(&bytes[..], &fmt::BundleLimits::default()).expect("read bundle");
    let names: Vec<&str> = e.keys().map(String::as_str).collect();
    assert_eq!(names, fmt::ENTRY_NAMES, "every entry, in byte order");
    // The SBOM, exactly as uploaded.
    assert_eq!(e[fmt::SBOM], VULN_SBOM.as_bytes());
    // The envelope verifies with the bundled appliance key, which is the appliance's.
    let key = signing::PublicKeyBox::from_text(
        String::from_utf8(e[fmt::APPLIANCE_PUB].clone()).expect("utf8"),
    )
    .parse()
    .expect("appliance.pub");
    assert_eq!(key, env.dd().appliance_public().expect("pub"));
    let st_ =
        appliance::evidence::verify(std::str::from_utf8(&e[fmt::ENVELOPE]).expect("utf8"), &key)
            .expect("envelope verifies");
    let p = &st_.predicate;
    assert_eq!(
        st_.subject[0].digest["sha256"],
        sha256_hex(VULN_SBOM.as_bytes())
    );
    // sha256sum findings.json == findings_digest (canonical bytes in the bundle).
    assert_eq!(
        format!("sha256:{}", sha256_hex(&e[fmt::FINDINGS])),
        p.findings_digest
    );
    assert_eq!(p.findings_digest, v["findings_digest"]);
    assert_eq!(
        fmt::findings_digest_of_json(&e[fmt::FINDINGS]).expect("digest"),
        p.findings_digest
    );
    assert_eq!(sha256_hex(&e[fmt::POLICY]), p.policy.sha256);
    assert_eq!(sha256_hex(&e[fmt::KIT_MANIFEST]), p.kit.manifest_sha256);
    // The kit manifest carries the vendor signature.
    let m = Manifest::parse_and_verify(
        &e[fmt::KIT_MANIFEST],
        &TrustRoot::single(vendor().public()),
        &Limits::default(),
    )
    .expect("vendor-signed manifest");
    assert_eq!(
        (m.kit_id.as_str(), m.sequence),
        (p.kit.id.as_str(), p.kit.sequence)
    );
    // Audit: the scan's record and the kit's accepted import, as stored.
    let audit: Vec<Value> = std::str::from_utf8(&e[fmt::AUDIT])
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("record"))
        .collect();
    assert!(
        audit
            .iter()
            .any(|r| r["kind"] == "scan" && r["event"]["scan_id"] == id.as_str()),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|r| r["kind"] == "import" && r["event"]["sequence"] == 1),
        "{audit:?}"
    );
    let readme = String::from_utf8(e[fmt::README].clone()).expect("utf8");
    assert!(readme.contains("sha256sum findings.json"), "{readme}");

    // Fixed tar headers: mtime = scan time, mode 0644, uid/gid 0.
    let scanned = time::OffsetDateTime::parse(
        &p.scanned_at,
        &time::format_description::well_known::Rfc3339,
    )
    .expect("scanned_at");
    let dec = zstd::stream::read::Decoder::new(&bytes[..]).expect("zstd");
    let mut ar = tar::Archive::new(dec);
    for ent in ar.entries().expect("entries") {
        let ent = ent.expect("entry");
        let hd = ent.header();
        assert_eq!(hd.mtime().expect("mtime"), scanned.unix_timestamp() as u64);
        assert_eq!(hd.mode().expect("mode"), 0o644);
        assert_eq!((hd.uid().expect("uid"), hd.gid().expect("gid")), (0, 0));
    }

    // The console's "Evidence bundle" download is the same .tar.zst.
    let console = appliance::console::ApplianceConsole::new(st.clone());
    let d = web::Console::download(&console, &id, web::DownloadKind::Bundle)
        .expect("download")
        .expect("bundle");
    assert_eq!(d.content_type, "application/zstd");
    assert_eq!(d.bytes, bytes);

    // A pruned kit: the bundle says so (410), it does not ship without the manifest.
    let kit_dir = env.kit_dir();
    let aside = env.tmp.path().join("kit-aside");
    std::fs::rename(&kit_dir, &aside).expect("move kit");
    let (s, _, b) = call(&st, get(&url, &env.basic())).await;
    assert_eq!(s, StatusCode::GONE, "{}", String::from_utf8_lossy(&b));
    assert!(String::from_utf8_lossy(&b).contains("pruned"));
    std::fs::rename(&aside, &kit_dir).expect("move kit back");
}

#[tokio::test]
async fn export_cli_writes_the_same_bundle_and_refuses_while_the_server_holds_the_store() {
    let env = env();
    let st = state(&env);
    let token = env.token("ci-a");
    let v = scan(&st, &token, VULN_SBOM).await;
    let id = v["scan_id"].as_str().expect("id").to_owned();
    let (_, _, api) = call(
        &st,
        get(&format!("/api/v1/scans/{id}/bundle"), &env.basic()),
    )
    .await;
    let data = env.data.to_str().expect("utf8").to_owned();

    // The state (as `serve` does) holds the store's lock.
    let o = env.appliance(&["evidence", "export", "--data", &data, &id]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "the server holds the store: download it from GET /api/v1/scans/{id}/bundle or the console"
        )),
        "{err}"
    );
    let o = env.appliance(&["replay", "--data", &data, &id]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o).1);
    assert!(text(&o).1.contains("the server holds the store"));

    drop(st);
    let o = env.appliance(&["evidence", "export", "--data", &data, &id]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let file = env.tmp.path().join(format!("scan-{id}.evidence.tar.zst"));
    assert_eq!(std::fs::read(&file).expect("bundle written"), api);
    assert!(out.contains(&sha256_hex(&api)), "{out}");
    let o = env.appliance(&[
        "evidence",
        "export",
        "--data",
        &data,
        &id,
        "--out",
        "b.tar.zst",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        std::fs::read(env.tmp.path().join("b.tar.zst")).expect("written"),
        api
    );
    // Unknown scan: usage error naming it.
    let o = env.appliance(&[
        "evidence",
        "export",
        "--data",
        &data,
        "01JD3Q6Z000000000000000000",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no scan"), "{}", text(&o).1);
}

#[tokio::test]
async fn replay_confirms_the_digest_with_the_scans_own_time_and_explains_differences() {
    let env = env();
    let st = state(&env);
    let token = env.token("ci-a");
    // A mute that is active at scan time and expires two seconds later.
    let expires = OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let rfc = expires
        .format(&time::format_description::well_known::Rfc3339)
        .expect("fmt");
    let req = Request::post("/api/v1/policy/mute")
        .header("authorization", env.basic())
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"purl": "pkg:npm/minimist*", "reason": "test mute", "expires_at": rfc})
                .to_string(),
        ))
        .expect("request");
    let (s, _, b) = call(&st, req).await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let v = scan(&st, &token, VULN_SBOM).await;
    let id = v["scan_id"].as_str().expect("id").to_owned();
    assert_eq!(v["summary"]["muted"], 1, "{v}");
    // A later policy change must not affect the replay either: it uses the recorded one.
    let req = Request::put("/api/v1/policy")
        .header("authorization", env.basic())
        .body(Body::from("fail_on: low\n"))
        .expect("request");
    let (s, _, b) = call(&st, req).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    drop(st);
    // Let the mute expire.
    let wait = expires - OffsetDateTime::now_utc() + time::Duration::milliseconds(300);
    if wait.is_positive() {
        std::thread::sleep(wait.unsigned_abs());
    }

    let data = env.data.to_str().expect("utf8").to_owned();
    let o = env.appliance(&["replay", "--data", &data, &id]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("same findings digest"), "{out}");
    assert!(
        out.contains(v["findings_digest"].as_str().expect("digest")),
        "{out}"
    );

    // Library view of the same replay.
    let store =
        appliance::store::EmbeddedStore::open(&env.data, StoreOptions::default()).expect("store");
    let sid: appliance::store::ScanId = id.parse().expect("id");
    let r = appliance::evidence::replay::replay(&store, &env.dd(), &sid).expect("replay");
    assert!(r.matches(), "{r:?}");
    assert_eq!(r.kit, ("evidence-test-1".to_owned(), 1));
    // Every retained scan names kit 1: prune must keep it.
    let refs = appliance::evidence::replay::referenced_kit_sequences(&store).expect("refs");
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), [1]);
    drop(store);

    // Edit the retained kit's advisories: replay explains what disappeared (exit 1).
    let adv = env.kit_dir().join("content/advisories/npm.jsonl");
    let original = std::fs::read_to_string(&adv).expect("advisories");
    let kept: Vec<&str> = original
        .lines()
        .filter(|l| !l.contains("minimist"))
        .collect();
    assert!(
        kept.len() < original.lines().count(),
        "the feed names minimist"
    );
    std::fs::write(&adv, kept.join("\n") + "\n").expect("edit");
    let o = env.appliance(&["replay", "--data", &data, &id]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("findings digest differs"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("disappeared:") && l.contains("pkg:npm/minimist@1.2.5")),
        "{out}"
    );
    std::fs::write(&adv, original).expect("restore");

    // A pruned kit: replay says so.
    let kit_dir = env.kit_dir();
    let aside = env.tmp.path().join("kit-aside");
    std::fs::rename(&kit_dir, &aside).expect("move kit");
    let o = env.appliance(&["replay", "--data", &data, &id]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(
        err.contains("sequence 1") && err.contains("pruned"),
        "{err}"
    );
    std::fs::rename(&aside, &kit_dir).expect("move back");
}

#[test]
fn import_records_a_signed_statement_over_the_kit() {
    let env = env();
    let dir = env.kit_dir();
    let text =
        std::fs::read(dir.join(importer::import::IMPORT_STATEMENT_FILE)).expect("import.dsse.json");
    let envl = signing::dsse::Envelope::from_json(&text).expect("DSSE");
    let key = env.dd().appliance_public().expect("pub");
    let verified = signing::dsse::verify_typed(
        &envl,
        &TrustRoot::single(key),
        signing::dsse::IN_TOTO_PAYLOAD_TYPE,
    )
    .expect("signed by the appliance key");
    // Written for the oracle check (tests/data/evidence/check-import-statement.sh:
    // securesystemslib + in-toto-attestation verify it independently).
    if let Ok(out) = std::env::var("STELLA_IMPORT_VECTOR_DIR") {
        let out = Path::new(&out);
        std::fs::write(out.join("import.dsse.json"), &text).expect("write");
        let key = env.dd().appliance_public().expect("pub");
        std::fs::write(out.join("import-pub.hex"), hex::encode(key.raw())).expect("write");
    }
    let st: Value = serde_json::from_slice(&verified.body).expect("statement");
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["predicateType"], importer::import::IMPORT_PREDICATE_TYPE);
    let kit_sha = sha256_hex(&std::fs::read(&env.kit).expect("kit"));
    assert_eq!(st["subject"][0]["digest"]["sha256"], kit_sha.as_str());
    assert_eq!(st["subject"][0]["name"], "kit.ouk");
    let p = &st["predicate"];
    assert_eq!(p["verified"], true);
    assert_eq!(p["activated"], true);
    assert_eq!(p["kit_id"], "evidence-test-1");
    assert_eq!(p["sequence"], 1);
    assert_eq!(
        p["appliance_id"],
        env.dd().appliance_id().expect("id").as_str()
    );
    assert_eq!(p["checks_passed"].as_array().expect("checks").len(), 10);
    let _ = env.now;
    // Another key does not verify it.
    let other = KeyPair::from_seed(KeyId([0x99; 8]), &[9; 32]);
    let e = signing::dsse::verify_typed(
        &envl,
        &TrustRoot::single(other.public()),
        signing::dsse::IN_TOTO_PAYLOAD_TYPE,
    )
    .expect_err("another key");
    assert!(
        matches!(e, signing::SigningError::ThresholdNotMet { .. }),
        "{e:?}"
    );
}
