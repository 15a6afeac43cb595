//! Rego rules of the policy through the HTTP API: a real data dir, a real signed kit
//! imported by the importer, the real router (oneshot); then a replay of a scan made
//! under a Rego policy (issue 6).

use appliance::server::{AppState, Config};
use appliance::store::{StoreOptions, Verdict};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use importer::datadir::DataDir;
use serde_json::Value;

use crate::util::{Env, KitSpec};

const SBOM: &str = r#"{
  "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
  "metadata": {"component": {"type": "application", "name": "shop-frontend"}},
  "components": [
    {"type": "library", "name": "minimist", "version": "1.2.5", "purl": "pkg:npm/minimist@1.2.5"},
    {"type": "library", "name": "express", "version": "4.18.0", "purl": "pkg:npm/express@4.18.0"},
    {"type": "library", "name": "lodash", "version": "4.17.21", "purl": "pkg:npm/lodash@4.17.21"}
  ]
}"#;

/// `fail_on: none`, so only the Rego `deny` can fail the verdict. `mute` takes the
/// minimist findings (a package + ecosystem rule); `deny` names every express finding
/// that has a fix, with `input.scan` in the message.
const REGO_POLICY: &str = r#"fail_on: none
rego: |
  package stella

  mute := "minimist is only used by the build" if {
    input.package.ecosystem == "npm"
    input.package.name == "minimist"
  }

  deny contains msg if {
    input.package.name == "express"
    count(input.fixed_versions) > 0
    msg := sprintf("%s: upgrade express to %s (%s, kit %d)", [input.id, input.fixed_versions[0], input.scan.sbom_name, input.scan.kit_sequence])
  }
"#;

/// One client, `ci-a`, 333 scans a day.
fn spec() -> KitSpec {
    KitSpec {
        kit_id: "rego-test-1",
        clients: vec![("ci-a", 333)],
        revoked: None,
    }
}

async fn call(st: &AppState, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let (s, _, b) = crate::util::call(st, req).await;
    (s, b)
}

async fn put_policy(st: &AppState, env: &Env, yaml: &str) -> (StatusCode, Value) {
    let req = Request::put("/api/v1/policy")
        .header("authorization", env.basic())
        .body(Body::from(yaml.to_owned()))
        .expect("request");
    let (s, b) = call(st, req).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn scan(st: &AppState, token: &str) -> Value {
    let req = Request::post("/api/v1/scan")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(SBOM))
        .expect("request");
    let (s, b) = call(st, req).await;
    let v: Value = serde_json::from_slice(&b).expect("json");
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn findings_of<'a>(v: &'a Value, package: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["package"]["name"] == package)
        .collect()
}

fn warnings(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn rego_mutes_and_denies_through_the_api_and_replays() {
    let env = Env::imported(&spec());
    let st = env.state(Config::default());
    let token = env.token("ci-a");

    // Without Rego, `fail_on: none` passes and nothing is muted.
    let (s, b) = put_policy(&st, &env, "fail_on: none\n").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let plain = scan(&st, &token).await;
    assert_eq!(plain["verdict"], "pass", "{plain}");
    assert_eq!(plain["summary"]["muted"], 0);
    let minimist = findings_of(&plain, "minimist").len();
    let express: Vec<&Value> = findings_of(&plain, "express");
    assert!(
        minimist > 0,
        "the sample feed has minimist findings: {plain}"
    );
    assert!(
        express
            .iter()
            .any(|f| !f["fixed_versions"].as_array().expect("array").is_empty()),
        "the sample feed has a fixed express finding: {plain}"
    );

    // With the Rego rules: minimist muted with a `rego:` reason, the verdict fails on deny.
    let (s, b) = put_policy(&st, &env, REGO_POLICY).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v = scan(&st, &token).await;
    let id = v["scan_id"].as_str().expect("id").to_owned();
    assert_eq!(v["verdict"], "fail", "{v}");
    assert_eq!(v["summary"]["muted"], minimist, "{v}");
    for f in findings_of(&v, "minimist") {
        assert_eq!(f["muted"], true, "{f}");
        assert_eq!(f["mute_reason"], "rego: minimist is only used by the build");
    }
    for f in findings_of(&v, "express") {
        assert_eq!(f["muted"], false, "deny does not mute: {f}");
    }
    let w = warnings(&v);
    let deny: Vec<&String> = w
        .iter()
        .filter(|w| w.starts_with("policy deny: "))
        .collect();
    assert!(!deny.is_empty(), "{w:?}");
    assert!(
        deny.iter()
            .all(|d| d.contains("upgrade express to") && d.contains("(shop-frontend, kit 1)")),
        "{deny:?}"
    );
    // The evidence records the policy that had the Rego text.
    assert_eq!(v["policy_version"], b["version"], "{b}");

    // YAML mute rules win over Rego for the same finding.
    let yaml_too = REGO_POLICY.replacen(
        "fail_on: none\n",
        "fail_on: none\nmutes:\n  - purl: 'pkg:npm/minimist@*'\n    reason: yaml says so\n",
        1,
    );
    let (s, b) = put_policy(&st, &env, &yaml_too).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let y = scan(&st, &token).await;
    for f in findings_of(&y, "minimist") {
        assert_eq!(f["mute_reason"], "yaml says so", "{f}");
    }

    // A module that does not parse: 400 naming the line and column; the policy stays.
    let (s, b) = put_policy(
        &st,
        &env,
        "rego: |\n  package stella\n  mute := \"x\" if {\n    input.severity ==\n  }\n",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["error"], "invalid_policy");
    let msg = b["message"].as_str().expect("message");
    assert!(msg.contains("rego module: line 4, column 1"), "{msg}");
    let (s, b) = put_policy(&st, &env, "rego: |\n  package other\n  mute := \"x\"\n").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b["message"]
            .as_str()
            .expect("message")
            .contains("package stella"),
        "{b}"
    );

    // A runtime error: the scan still answers, the finding is not muted, the verdict fails
    // and a warning says why.
    let (s, b) = put_policy(
        &st,
        &env,
        "fail_on: none\nrego: |\n  package stella\n  mute := concat(\",\", input.severity) if input.package.name == \"minimist\"\n",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let e = scan(&st, &token).await;
    assert_eq!(e["verdict"], "fail", "{e}");
    assert_eq!(e["summary"]["muted"], 0, "{e}");
    let w = warnings(&e);
    assert!(
        w.iter()
            .any(|w| w.starts_with("policy rego error on ") && w.contains("in minimist")),
        "{w:?}"
    );

    // Replay of the Rego scan, after the policy changed: same digest, same failing verdict.
    drop(st);
    let store =
        appliance::store::EmbeddedStore::open(&env.data, StoreOptions::default()).expect("store");
    let dd = DataDir::open(&env.data).expect("open");
    let sid: appliance::store::ScanId = id.parse().expect("id");
    let r = appliance::evidence::replay::replay(&store, &dd, &sid).expect("replay");
    assert!(r.matches(), "{r:?}");
    assert_eq!(r.recorded, v["findings_digest"].as_str().expect("digest"));
    assert_eq!(r.recorded_verdict, Verdict::Fail);
    assert_eq!(r.replayed_verdict, Verdict::Fail, "{r:?}");
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}
