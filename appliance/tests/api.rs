//! The HTTP API end to end: a real data dir, a real signed kit imported by the importer,
//! the real router (oneshot) and a real loopback socket for the concurrency test.

use std::collections::BTreeMap;
use std::path::Path;

use appliance::server::{AppState, Config};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use importer::datadir::DataDir;
use serde_json::{Value, json};
use signing::jwt;
use time::OffsetDateTime;

use crate::util::tcp::{console_login, raw_http};
use crate::util::{
    Env, KitSpec, VULN_SBOM, bearer, call, get, json_of, post, scan, stranger, vendor,
};

/// Two clients: `ci-a` with a daily limit of 5, `ci-b` with 333; one revoked jti.
fn spec() -> KitSpec {
    KitSpec {
        kit_id: "api-test-1",
        clients: vec![("ci-a", 5), ("ci-b", 333)],
        revoked: Some(vec!["jti-revoked".into()]),
    }
}

fn claims(sub: &str, iss: &str, now: OffsetDateTime, limit: u32) -> jwt::Claims {
    jwt::Claims {
        iss: Some(iss.into()),
        sub: sub.into(),
        aud: None,
        exp: (now + time::Duration::days(30)).unix_timestamp(),
        nbf: Some((now - time::Duration::hours(3)).unix_timestamp()),
        iat: Some((now - time::Duration::hours(3)).unix_timestamp()),
        jti: Some(format!("jti-{sub}")),
        tier: Some("Free".into()),
        max_scans_per_day: Some(limit),
        extra: BTreeMap::new(),
    }
}

/// The kit imported and the state opened.
fn ready() -> (Env, AppState) {
    let env = Env::imported(&spec());
    let st = env.state(Config::default());
    (env, st)
}

async fn quota_used(st: &AppState, token: &str) -> u64 {
    let (s, _, b) = call(st, get("/api/v1/quota", Some(&bearer(token)))).await;
    assert_eq!(s, StatusCode::OK);
    json_of(&b)["used"].as_u64().expect("used")
}

#[tokio::test]
async fn health_and_readiness_follow_the_active_kit() {
    let env = Env::new(&spec());
    let st = env.state(Config::default());
    let (s, _, _) = call(&st, get("/healthz", None)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, b) = call(&st, get("/readyz", None)).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(&b)["error"], "no_active_kit");
    env.import();
    assert!(st.reload_kit_if_changed().expect("reload"), "current moved");
    let (s, _, b) = call(&st, get("/readyz", None)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json_of(&b)["kit"]["id"], "api-test-1");
}

#[tokio::test]
async fn scan_answers_findings_verdict_headers_and_signed_evidence() {
    let (env, st) = ready();
    let token = env.token("ci-a");
    let (s, h, v) = scan(&st, &token, VULN_SBOM).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["verdict"], "fail",
        "minimist 1.2.5 has a critical advisory"
    );
    assert_eq!(v["summary"]["components"], 3);
    assert_eq!(v["summary"]["findings"], 2, "lodash 4.17.21 is fixed: {v}");
    assert_eq!(v["summary"]["by_severity"]["critical"], 1);
    assert_eq!(v["summary"]["by_severity"]["medium"], 1);
    assert_eq!(v["summary"]["fail_on"], "high");
    assert_eq!(v["summary"]["stale_feed"], false);
    assert_eq!(v["kit"]["id"], "api-test-1");
    assert_eq!(v["kit"]["sequence"], 1);
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["GHSA-rv95-896h-c2vc", "GHSA-xvch-5gv4-984h"]);
    let f0 = &v["findings"][1];
    assert_eq!(f0["package"]["purl"], "pkg:npm/minimist@1.2.5");
    assert_eq!(f0["package"]["ecosystem"], "npm");
    assert_eq!(f0["severity"], "critical");
    assert_eq!(f0["fixed_versions"], json!(["1.2.6"]));
    assert_eq!(f0["muted"], false);
    assert_eq!(f0["mute_reason"], Value::Null);
    assert_eq!(h["x-ratelimit-limit"], "5");
    assert_eq!(h["x-ratelimit-remaining"], "4");
    let reset: i64 = h["x-ratelimit-reset"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("unix");
    assert_eq!(reset % 86_400, 0, "resets at a UTC midnight");
    assert!(reset > env.now.unix_timestamp() && reset <= env.now.unix_timestamp() + 86_400);

    // The stored result is the same.
    let id = v["scan_id"].as_str().expect("id").to_owned();
    let (s, _, b) = call(
        &st,
        get(&format!("/api/v1/scans/{id}"), Some(&bearer(&token))),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let stored = json_of(&b);
    assert_eq!(stored["findings_digest"], v["findings_digest"]);
    assert_eq!(stored["findings"], v["findings"]);
    assert_eq!(stored["summary"], v["summary"]);
    // Another client cannot read it.
    let other = env.token("ci-b");
    let (s, _, _) = call(
        &st,
        get(&format!("/api/v1/scans/{id}"), Some(&bearer(&other))),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Evidence: DSSE over an in-toto statement whose subject is the exact SBOM bytes.
    assert_eq!(v["evidence_url"], format!("/api/v1/scans/{id}/evidence"));
    let (s, _, env_bytes) = call(
        &st,
        get(
            &format!("/api/v1/scans/{id}/evidence"),
            Some(&bearer(&token)),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let envelope = signing::dsse::Envelope::from_json(&env_bytes).expect("envelope");
    let trust = signing::TrustRoot::single(env.appliance_key().public());
    let verified =
        signing::dsse::verify(&envelope, &trust).expect("verifies with the appliance key");
    assert_eq!(verified.payload_type, "application/vnd.in-toto+json");
    let statement: Value = serde_json::from_slice(&verified.body).expect("statement");
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        statement["predicateType"],
        appliance::evidence::PREDICATE_TYPE
    );
    let sbom_hex = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(VULN_SBOM.as_bytes()));
    assert_eq!(statement["subject"][0]["digest"]["sha256"], sbom_hex);
    assert_eq!(statement["predicate"]["verdict"], "fail");
    assert_eq!(
        statement["predicate"]["findings_digest"],
        v["findings_digest"]
    );
    assert_eq!(statement["predicate"]["kit"]["id"], "api-test-1");
    assert_eq!(
        statement["predicate"]["appliance"]["id"],
        env.appliance_id()
    );
    let keys: Vec<&str> = statement
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "only the four Statement fields: {keys:?}");
    // The library verifier agrees, and a wrong key fails.
    let text = String::from_utf8(env_bytes.clone()).expect("utf8");
    appliance::evidence::verify(&text, &env.appliance_key().public()).expect("verify");
    let e = appliance::evidence::verify(&text, &stranger().public()).expect_err("wrong key");
    assert!(
        matches!(
            e,
            appliance::evidence::EvidenceError::Verify(
                signing::SigningError::ThresholdNotMet { .. }
            )
        ),
        "{e:?}"
    );
    // A tampered payload fails.
    let mut tampered: Value = json_of(&env_bytes);
    let body = String::from_utf8(verified.body.clone())
        .expect("utf8")
        .replace("\"fail\"", "\"pass\"");
    tampered["payload"] = Value::from(base64::engine::general_purpose::STANDARD.encode(body));
    let e = appliance::evidence::verify(&tampered.to_string(), &env.appliance_key().public())
        .expect_err("tampered payload");
    assert!(
        matches!(
            e,
            appliance::evidence::EvidenceError::Verify(
                signing::SigningError::ThresholdNotMet { .. }
            )
        ),
        "{e:?}"
    );

    // The same SBOM, kit and policy give the same findings digest.
    let (_, _, again) = scan(&st, &token, VULN_SBOM).await;
    assert_eq!(again["findings_digest"], v["findings_digest"]);
}

#[tokio::test]
async fn image_digest_becomes_a_second_subject() {
    let (env, st) = ready();
    let token = env.token("ci-b");
    let digest = format!("sha256:{}", "ab".repeat(32));
    let (s, _, b) = call(
        &st,
        post(
            &format!("/api/v1/scan?name=web&image_digest={digest}"),
            Some(&bearer(&token)),
            VULN_SBOM,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let v = json_of(&b);
    assert_eq!(v["name"], "web");
    let id = v["scan_id"].as_str().expect("id");
    let (_, _, e) = call(
        &st,
        get(
            &format!("/api/v1/scans/{id}/evidence"),
            Some(&bearer(&token)),
        ),
    )
    .await;
    let st_ = appliance::evidence::verify(
        std::str::from_utf8(&e).expect("utf8"),
        &env.appliance_key().public(),
    )
    .expect("verify");
    assert_eq!(st_.subject.len(), 2);
    assert_eq!(st_.subject[1].digest["sha256"], "ab".repeat(32));
    let (s, _, _) = call(
        &st,
        post(
            "/api/v1/scan?image_digest=sha256:xyz",
            Some(&bearer(&token)),
            VULN_SBOM,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_and_oversized_sboms_cost_nothing() {
    let env = Env::new(&spec());
    env.import();
    let st = env.state(Config {
        max_sbom_bytes: 2048,
        ..Config::default()
    });
    let token = env.token("ci-a");
    for bad in [
        "not json",
        "{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.2\"}",
        "{}",
    ] {
        let (s, _, v) = scan(&st, &token, bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_eq!(v["error"], "invalid_sbom");
        assert!(v["message"].as_str().expect("message").len() > 10);
    }
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(4096));
    let (s, _, v) = scan(&st, &token, &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"], "too_large");
    assert_eq!(quota_used(&st, &token).await, 0, "refused uploads are free");
    let (s, _, _) = scan(&st, &token, VULN_SBOM).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(quota_used(&st, &token).await, 1);
}

fn forge(header: &Value, claims: &jwt::Claims, sig: &[u8]) -> String {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        b.encode(header.to_string()),
        b.encode(serde_json::to_vec(claims).expect("claims")),
        b.encode(sig)
    )
}

#[tokio::test]
async fn every_bad_token_is_refused_with_401_json() {
    let (env, st) = ready();
    let key = env.appliance_key();
    let iss = env.appliance_id();
    let now = OffsetDateTime::now_utc();
    let good = claims("ci-b", &iss, now, 333);
    let mut expired = good.clone();
    expired.exp = (now - time::Duration::days(1)).unix_timestamp();
    expired.nbf = Some((now - time::Duration::days(31)).unix_timestamp());
    expired.iat = expired.nbf;
    let mut not_yet = good.clone();
    not_yet.nbf = Some((now + time::Duration::days(1)).unix_timestamp());
    let mut revoked = good.clone();
    revoked.jti = Some("jti-revoked".into());
    let wrong_iss = claims("ci-b", "stella-kit:test", now, 333);
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("garbage", Some("not.a.jwt".into())),
        (
            "alg none",
            Some(forge(&json!({"alg": "none", "typ": "JWT"}), &good, b"")),
        ),
        (
            "HMAC confusion",
            Some(forge(
                &json!({"alg": "HS256", "typ": "JWT"}),
                &good,
                &key.public().raw(),
            )),
        ),
        (
            "vendor-signed, not re-signed",
            Some(jwt::issue(&wrong_iss, &vendor()).expect("issue")),
        ),
        (
            "foreign key with our issuer",
            Some(jwt::issue(&good, &stranger()).expect("issue")),
        ),
        (
            "wrong issuer",
            Some(jwt::issue(&wrong_iss, &key).expect("issue")),
        ),
        ("expired", Some(jwt::issue(&expired, &key).expect("issue"))),
        (
            "not yet valid",
            Some(jwt::issue(&not_yet, &key).expect("issue")),
        ),
        (
            "revoked jti",
            Some(jwt::issue(&revoked, &key).expect("issue")),
        ),
    ];
    for (name, token) in &cases {
        let auth = token.as_deref().map(bearer);
        for req in [
            post("/api/v1/scan", auth.as_deref(), VULN_SBOM),
            get("/api/v1/quota", auth.as_deref()),
        ] {
            let (s, h, b) = call(&st, req).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}");
            let v = json_of(&b);
            assert_eq!(v["error"], "unauthorized", "{name}");
            assert!(h.contains_key("www-authenticate"), "{name}");
        }
    }
    if let Some(t) = &cases[9].1 {
        let (_, _, b) = call(&st, get("/api/v1/quota", Some(&bearer(t)))).await;
        assert!(
            json_of(&b)["message"]
                .as_str()
                .expect("msg")
                .contains("revoked")
        );
    }
    // The control: an appliance-signed, valid token is accepted.
    let ok = jwt::issue(&good, &key).expect("issue");
    let (s, _, _) = call(&st, get("/api/v1/quota", Some(&bearer(&ok)))).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn quota_429_has_retry_after_and_reset_time() {
    let (env, st) = ready();
    let token = env.token("ci-a");
    for i in 0..5 {
        let (s, h, _) = scan(&st, &token, VULN_SBOM).await;
        assert_eq!(s, StatusCode::OK, "scan {i}");
        assert_eq!(h["x-ratelimit-remaining"], (4 - i).to_string());
    }
    let (s, h, v) = scan(&st, &token, VULN_SBOM).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["error"], "quota_exhausted");
    let next = appliance::quota::next_utc_midnight(OffsetDateTime::now_utc()).expect("midnight");
    assert_eq!(h["retry-after"], appliance::quota::http_date(next).as_str());
    assert_eq!(v["resets_at"], importer::datadir::rfc3339(next));
    assert_eq!(h["x-ratelimit-remaining"], "0");
    let (_, _, b) = call(&st, get("/api/v1/quota", Some(&bearer(&token)))).await;
    let q = json_of(&b);
    assert_eq!(
        (
            q["limit"].as_u64(),
            q["used"].as_u64(),
            q["remaining"].as_u64()
        ),
        (Some(5), Some(5), Some(0))
    );
    // Another token is unaffected.
    let (s, _, _) = scan(&st, &env.token("ci-b"), VULN_SBOM).await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, m) = call(&st, get("/metrics", None)).await;
    let m = String::from_utf8(m).expect("utf8");
    assert!(m.contains("stella_quota_refusals_total 1\n"), "{m}");
    assert!(
        m.contains("stella_scans_total{verdict=\"fail\"} 6\n"),
        "{m}"
    );
    assert!(m.contains("stella_kit_age_seconds "), "{m}");
    assert!(
        m.contains("stella_kit_imports_total{result=\"accepted\"} 1\n"),
        "{m}"
    );
}

#[tokio::test]
async fn operator_endpoints_need_operator_credentials() {
    let (env, st) = ready();
    let client = bearer(&env.token("ci-b"));
    let wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:wrong")
    );
    for auth in [None, Some(client.as_str()), Some(wrong.as_str())] {
        let (s, _, b) = call(&st, get("/api/v1/scans", auth)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(json_of(&b)["error"].is_string());
    }
    let (s, _, _) = scan(&st, &env.token("ci-b"), VULN_SBOM).await;
    assert_eq!(s, StatusCode::OK);
    let basic = env.basic();
    let (s, _, b) = call(&st, get("/api/v1/scans?limit=10", Some(&basic))).await;
    assert_eq!(s, StatusCode::OK);
    let page = json_of(&b);
    assert_eq!(page["items"].as_array().expect("items").len(), 1);
    assert_eq!(page["items"][0]["subject"], "ci-b");
    // A console session cookie works too.
    let store = st.store.clone();
    let sess = tokio::task::spawn_blocking(move || {
        store.create_session(
            "admin",
            std::time::Duration::from_secs(600),
            OffsetDateTime::now_utc(),
        )
    })
    .await
    .expect("join")
    .expect("session");
    let req = Request::get("/api/v1/scans")
        .header("cookie", format!("other=1; stella_session={}", sess.token))
        .body(Body::empty())
        .expect("req");
    let (s, _, _) = call(&st, req).await;
    assert_eq!(s, StatusCode::OK);
    // Offline token: the re-signed token of the kit.
    let (s, _, b) = call(
        &st,
        post(
            "/api/v1/token/offline",
            Some(&basic),
            r#"{"client":"ci-a"}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let t = json_of(&b);
    assert_eq!(t["token"], env.token("ci-a"));
    assert!(t["expires_at"].as_str().expect("exp").ends_with('Z'));
    let (s, _, _) = call(
        &st,
        post(
            "/api/v1/token/offline",
            Some(&basic),
            r#"{"client":"nobody"}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call(
        &st,
        post(
            "/api/v1/token/offline",
            Some(&client),
            r#"{"client":"ci-a"}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Audited.
    let dd = DataDir::open(&env.data).expect("open");
    let kinds: Vec<String> = dd
        .audit()
        .records()
        .expect("audit")
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert!(kinds.contains(&"token.issued".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"scan".to_owned()), "{kinds:?}");
    dd.audit()
        .verify(Some(&env.appliance_key().public()))
        .expect("chain and head verify");
}

#[tokio::test]
async fn mute_rules_flip_the_verdict_and_expire() {
    let (env, st) = ready();
    let token = env.token("ci-b");
    let basic = env.basic();
    let (_, _, v) = scan(&st, &token, VULN_SBOM).await;
    assert_eq!(v["verdict"], "fail");
    // Mute the critical minimist advisory by its CVE alias.
    let (s, _, b) = call(
        &st,
        post(
            "/api/v1/policy/mute",
            Some(&basic),
            r#"{"advisory":"CVE-2021-44906","purl":"pkg:npm/minimist@*","reason":"only parses our own argv"}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let rule = json_of(&b)["rule"].clone();
    assert_eq!(rule["author"], "admin");
    let id = rule["id"].as_str().expect("rule id").to_owned();
    let (_, _, v) = scan(&st, &token, VULN_SBOM).await;
    assert_eq!(v["verdict"], "pass", "{v}");
    assert_eq!(v["summary"]["muted"], 1);
    assert_eq!(
        v["summary"]["findings"], 2,
        "muted findings stay in the results"
    );
    let f = &v["findings"][1];
    assert_eq!(f["id"], "GHSA-xvch-5gv4-984h");
    assert_eq!(f["muted"], true);
    assert_eq!(f["mute_reason"], "only parses our own argv");
    let (s, _, b) = call(&st, get("/api/v1/policy/mute", Some(&basic))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json_of(&b)["mutes"][0]["active"], true);
    // Delete it: the verdict fails again.
    let req = Request::delete(format!("/api/v1/policy/mute?id={id}"))
        .header("authorization", &basic)
        .body(Body::empty())
        .expect("req");
    let (s, _, _) = call(&st, req).await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, v) = scan(&st, &token, VULN_SBOM).await;
    assert_eq!(v["verdict"], "fail");
    // An expired rule does not apply.
    let (s, _, _) = call(
        &st,
        post(
            "/api/v1/policy/mute",
            Some(&basic),
            r#"{"advisory":"GHSA-xvch-5gv4-984h","reason":"old","expires_at":"2020-01-01T00:00:00Z"}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, _, v) = scan(&st, &token, VULN_SBOM).await;
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["findings"][1]["muted"], false);
    // A rule without a selector is refused.
    let (s, _, b) = call(
        &st,
        post("/api/v1/policy/mute", Some(&basic), r#"{"reason":"x"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(json_of(&b)["error"], "invalid_policy");
    // PUT a YAML policy: fail_on critical + a stale-feed threshold of 0 days... (kit is 2h old).
    let req = Request::put("/api/v1/policy")
        .header("authorization", &basic)
        .body(Body::from("fail_on: medium\nmax_feed_age_days: 0\n"))
        .expect("req");
    let (s, _, b) = call(&st, req).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (s, h, b) = call(&st, get("/api/v1/policy", Some(&basic))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&b).contains("fail_on: medium"));
    assert!(h.contains_key("x-policy-version"));
    let (_, _, v) = scan(&st, &token, VULN_SBOM).await;
    assert_eq!(v["summary"]["fail_on"], "medium");
    assert_eq!(
        v["summary"]["stale_feed"], false,
        "0 full days old is not older than 0"
    );
    let req = Request::put("/api/v1/policy")
        .header("authorization", &basic)
        .body(Body::from("fail_on: severe\n"))
        .expect("req");
    let (s, _, _) = call(&st, req).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Every change is audited.
    let dd = DataDir::open(&env.data).expect("open");
    let kinds: Vec<String> = dd
        .audit()
        .records()
        .expect("audit")
        .into_iter()
        .map(|r| r.kind)
        .collect();
    for k in ["policy.mute", "policy.unmute", "policy.update"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

#[tokio::test]
async fn layers_missing_reports_unseen_digests_and_scans_register_layers() {
    let (env, st) = ready();
    let token = env.token("ci-b");
    let auth = bearer(&token);
    let known = "sha256:40be1f9f2ef3d666f47b891145baf974566634c10aaf59fb9bd6c324c4700a57";
    let unknown = format!("sha256:{}", "0".repeat(64));
    let body = json!({"layers": [known, unknown]}).to_string();
    let (s, _, b) = call(
        &st,
        post("/api/v1/layers/missing", Some(&auth), body.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json_of(&b)["missing"], json!([known, unknown]));
    let sbom = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scanner/tests/data/sbom/debian12-image.syft.json"),
    )
    .expect("fixture");
    let (s, _, v) = scan(&st, &token, &sbom).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, _, b) = call(&st, post("/api/v1/layers/missing", Some(&auth), body)).await;
    assert_eq!(json_of(&b)["missing"], json!([unknown]));
    let (s, _, b) = call(
        &st,
        post(
            "/api/v1/layers/missing",
            Some(&auth),
            r#"{"layers":["md5:1"]}"#,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(json_of(&b)["error"], "invalid_digest");
    let (s, _, _) = call(
        &st,
        post("/api/v1/layers/missing", None, r#"{"layers":[]}"#),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

// ----- real sockets -----

/// A minimal HTTP/1.1 client (std only: the appliance has no HTTP client crate).
fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, String) {
    let (status, _, body) = raw_http(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    (status, body)
}

/// Serves `env`'s data dir on a loopback port for the length of `f`, then shuts down
/// gracefully (the store is released when this returns).
fn serve_once(env: &Env, rt: &tokio::runtime::Runtime, f: &dyn Fn(std::net::SocketAddr)) {
    let st = env.state(Config::default());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(appliance::server::serve_on(listener, st, async {
        let _ = rx.await;
    }));
    f(addr);
    let _ = tx.send(());
    rt.block_on(server).expect("join").expect("serve");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn quota_is_exact_under_concurrency_and_survives_a_restart() {
    let env = Env::new(&spec());
    env.import();
    let token = env.token("ci-a"); // 5 scans per day
    let rt = runtime();
    serve_once(&env, &rt, &|addr| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let token = token.clone();
                std::thread::spawn(move || http(addr, "POST", "/api/v1/scan", &token, VULN_SBOM).0)
            })
            .collect();
        let mut codes: Vec<u16> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        codes.sort_unstable();
        assert_eq!(codes.iter().filter(|c| **c == 200).count(), 5, "{codes:?}");
        assert_eq!(codes.iter().filter(|c| **c == 429).count(), 15, "{codes:?}");
    });
    // Restart: a new process state over the same data dir keeps the count.
    serve_once(&env, &rt, &|addr| {
        let (s, body) = http(addr, "GET", "/api/v1/quota", &token, "");
        assert_eq!(s, 200);
        let q: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(q["used"], 5);
        assert_eq!(q["remaining"], 0);
        assert_eq!(http(addr, "POST", "/api/v1/scan", &token, VULN_SBOM).0, 429);
    });
}

/// `serve` hands the console the peer's address: failed sign-ins under many user names
/// from one address put that address into backoff, and even the right password is then
/// refused with 429 (the per-user backoff alone would let it through).
#[test]
fn console_login_backoff_is_per_address_over_tcp() {
    let env = Env::new(&spec());
    serve_once(&env, &runtime(), &|addr| {
        for i in 0..appliance::store::FREE_LOGIN_FAILURES + 5 {
            let (status, _, body) = console_login(addr, &format!("nobody-{i}"), "wrong");
            assert_ne!(status, 303, "{body}");
        }
        let (status, _, body) = console_login(addr, "admin", &env.password);
        assert_eq!(status, 429, "{body}");
        assert!(body.contains("Too many"), "{body}");
    });
    // The audit trail names the address.
    let log = std::fs::read_to_string(env.data.join("audit/audit.jsonl")).expect("audit log");
    assert!(
        log.lines()
            .any(|l| l.contains("\"result\":\"throttled\"") && l.contains("\"ip\":\"127.0.0.1\"")),
        "{log}"
    );
}
