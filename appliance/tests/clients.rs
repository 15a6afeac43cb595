//! Clients on the sealed side: one daily counter per client however many of its tokens
//! are valid, tokens of clients the active kit no longer lists refused, and local
//! revocation of a client or a token by an operator (API, audit, persistence, lifting).

use appliance::server::{AppState, Config};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::util::{Env, KitSpec, VULN_SBOM, bearer, call, get, json_of, scan};

fn kit1() -> KitSpec {
    KitSpec {
        kit_id: "clients-test",
        clients: vec![("ci-a", 5), ("ci-b", 333)],
        revoked: None,
    }
}

async fn used(st: &AppState, token: &str) -> u64 {
    let (s, _, b) = call(st, get("/api/v1/quota", Some(&bearer(token)))).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    json_of(&b)["used"].as_u64().expect("used")
}

async fn scan_status(st: &AppState, token: &str) -> (StatusCode, Value) {
    let (s, _, v) = scan(st, token, VULN_SBOM).await;
    (s, v)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_tokens_of_one_client_share_one_counter_and_dropped_clients_are_refused() {
    let env = Env::imported(&kit1());
    let last_month = env.token("ci-a");
    let dropped = env.token("ci-b");
    // kit 2 issues ci-a a new token (same limit) and no longer lists ci-b
    let kit2 = KitSpec {
        kit_id: "clients-test",
        clients: vec![("ci-a", 5)],
        revoked: None,
    }
    .write_sequence(env.tmp.path(), env.now + time::Duration::minutes(1), 2);
    env.import_kit(&kit2);
    let this_month = env.token("ci-a");
    assert_ne!(last_month, this_month, "kit 2 carries a new token");
    let st = env.state(Config::default());

    // 5 scans a day for ci-a, whichever token it uses
    for t in [
        &last_month,
        &this_month,
        &last_month,
        &this_month,
        &this_month,
    ] {
        let (s, v) = scan_status(&st, t).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    for t in [&last_month, &this_month] {
        let (s, v) = scan_status(&st, t).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    }
    assert_eq!(used(&st, &last_month).await, 5);
    assert_eq!(used(&st, &this_month).await, 5);

    // ci-b's token is still signed by this appliance and unexpired, but kit 2 dropped it
    let (s, v) = scan_status(&st, &dropped).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let msg = v["message"].as_str().expect("message");
    assert!(
        msg.contains("\"ci-b\" is not a client of the active kit") && msg.contains("sequence 2"),
        "{msg}"
    );
}

fn revoke(env: &Env, body: Value) -> Request<Body> {
    Request::post("/api/v1/revocations")
        .header("authorization", env.basic())
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

fn lift(env: &Env, kind: &str, id: &str) -> Request<Body> {
    Request::delete(format!("/api/v1/revocations/{kind}/{id}"))
        .header("authorization", env.basic())
        .body(Body::empty())
        .expect("request")
}

async fn clients(st: &AppState, env: &Env) -> Value {
    let (s, _, b) = call(st, get("/api/v1/clients", Some(&env.basic()))).await;
    assert_eq!(s, StatusCode::OK);
    json_of(&b)
}

fn client<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .find(|c| c["client"] == id)
        .expect("listed")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_revokes_a_client_or_a_token_audited_persistent_and_liftable() {
    let env = Env::imported(&kit1());
    let (a, b) = (env.token("ci-a"), env.token("ci-b"));
    let st = env.state(Config::default());

    // refused requests change nothing
    for bad in [
        json!({"client": "ci-a", "reason": "  "}),
        json!({"client": "ci-a", "token": "jti-ci-a", "reason": "both"}),
        json!({"reason": "neither"}),
    ] {
        let (s, _, body) = call(&st, revoke(&env, bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(json_of(&body)["error"], "invalid_revocation", "{bad}");
    }
    let (s, _, _) = call(
        &st,
        post_revocation_without_auth(json!({"client": "ci-a", "reason": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(scan_status(&st, &a).await.0, StatusCode::OK);

    // revoke the whole client: every token of it is refused, others are not
    let (s, _, _) = call(
        &st,
        revoke(&env, json!({"client": "ci-a", "reason": "laptop stolen"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = call(
        &st,
        revoke(&env, json!({"client": "ci-a", "reason": "again"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "already revoked");
    let (s, v) = scan_status(&st, &a).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert!(
        v["message"]
            .as_str()
            .expect("message")
            .contains("client \"ci-a\" is revoked on this appliance"),
        "{v}"
    );
    assert_eq!(scan_status(&st, &b).await.0, StatusCode::OK);
    let list = clients(&st, &env).await;
    assert_eq!(client(&list, "ci-a")["revoked"], true);
    assert_eq!(client(&list, "ci-b")["revoked"], false);

    // revoke one token (ci-b's jti)
    let (s, _, _) = call(
        &st,
        revoke(
            &env,
            json!({"token": "jti-ci-b", "reason": "leaked in a log"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = scan_status(&st, &b).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert!(
        v["message"]
            .as_str()
            .expect("m")
            .contains("\"jti-ci-b\" is revoked")
    );
    assert_eq!(
        client(&clients(&st, &env).await, "ci-b")["token"]["revoked"],
        true
    );

    // a restart keeps both
    drop(st);
    let st = env.state(Config::default());
    assert_eq!(scan_status(&st, &a).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(scan_status(&st, &b).await.0, StatusCode::UNAUTHORIZED);
    let list = clients(&st, &env).await;
    let kinds: Vec<(&str, &str)> = list["revocations"]
        .as_array()
        .expect("revocations")
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().expect("k"),
                r["id"].as_str().expect("id"),
            )
        })
        .collect();
    assert_eq!(kinds, [("client", "ci-a"), ("token", "jti-ci-b")]);

    // lifting brings them back; lifting twice is 404
    let (s, _, _) = call(&st, lift(&env, "client", "ci-a")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = call(&st, lift(&env, "client", "ci-a")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call(&st, lift(&env, "token", "jti-ci-b")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(scan_status(&st, &a).await.0, StatusCode::OK);
    assert_eq!(scan_status(&st, &b).await.0, StatusCode::OK);

    // each change is one audit record naming who, what, why and which door
    let audit: Vec<Value> = env
        .audit()
        .into_iter()
        .filter(|(k, _)| k.starts_with("revocation."))
        .map(|(k, mut e)| {
            e["kind_of_record"] = Value::from(k);
            e
        })
        .collect();
    let summary: Vec<(String, String, String, String)> = audit
        .iter()
        .map(|e| {
            (
                e["kind_of_record"].as_str().expect("k").to_owned(),
                e["id"].as_str().expect("id").to_owned(),
                e["actor"].as_str().expect("actor").to_owned(),
                e["via"].as_str().expect("via").to_owned(),
            )
        })
        .collect();
    let row = |k: &str, id: &str| (k.to_owned(), id.to_owned(), "admin".into(), "api".into());
    assert_eq!(
        summary,
        [
            row("revocation.add", "ci-a"),
            row("revocation.add", "jti-ci-b"),
            row("revocation.lift", "ci-a"),
            row("revocation.lift", "jti-ci-b"),
        ]
    );
    assert_eq!(audit[0]["reason"], "laptop stolen");
    assert_eq!(audit[1]["reason"], "leaked in a log");
    env.dd()
        .audit()
        .verify(Some(&env.appliance_key().public()))
        .expect("the audit log verifies");
}

fn post_revocation_without_auth(body: Value) -> Request<Body> {
    Request::post("/api/v1/revocations")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}
