//! What the appliance's integration tests share: the test keys, the sample advisories, a
//! real data directory with a real store, kits written and signed the way `stella-kit`
//! writes them, and the in-process HTTP helpers. Every module of the test binary builds
//! its appliance from these, so a change to the kit format or to `init` is made once.
//!
//! - [`Env`]: a data directory, the `admin` password and one signed kit described by a
//!   [`KitSpec`] (imported or not), for the API, evidence and Rego tests.
//! - [`site`]: the console's richer fixture (two ecosystems, feed summaries, an expiring
//!   client, further kits refused for a named reason).
//! - [`tcp`]: the real serve path on a loopback port, and a byte-level HTTP/1.1 client.
#![allow(dead_code)]

pub mod site;
pub mod tcp;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use appliance::server::{AppState, Config, router};
use appliance::store::{PasswordCost, StoreOptions};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine as _;
use bundles::manifest::{Producer, Summary};
use bundles::path::media_types;
use bundles::tokens::{ClientToken, ClientTokens, Revocations};
use bundles::{EntryPath, KitInfo, KitWriter, MediaType, Timestamp};
use importer::datadir::{DataDir, InitOptions};
use serde_json::Value;
use signing::minisign::{self, SignOptions};
use signing::{KeyId, KeyPair, jwt};
use time::{Duration, OffsetDateTime};
use tower::ServiceExt as _;

/// The path of the `stella-appliance` binary cargo built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_stella-appliance");

/// The vendor key of the tests (fixed seed; a test key, never used for anything real).
pub fn vendor() -> KeyPair {
    KeyPair::from_seed(KeyId([0x11; 8]), &[7; 32])
}

/// A key the appliance does not trust.
pub fn stranger() -> KeyPair {
    KeyPair::from_seed(KeyId([0x33; 8]), &[9; 32])
}

/// An SBOM with a critical (minimist 1.2.5), a moderate (express 4.18.0) and a clean
/// (lodash 4.17.21) npm component against the sample feed.
pub const VULN_SBOM: &str = r#"{
  "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
  "metadata": {"component": {"type": "application", "name": "demo-app"}},
  "components": [
    {"type": "library", "name": "minimist", "version": "1.2.5", "purl": "pkg:npm/minimist@1.2.5"},
    {"type": "library", "name": "express", "version": "4.18.0", "purl": "pkg:npm/express@4.18.0"},
    {"type": "library", "name": "lodash", "version": "4.17.21", "purl": "pkg:npm/lodash@4.17.21"}
  ]
}"#;

/// The sample advisories of one ecosystem (`samples/feeds/osv/<ecosystem>`) as the kit's
/// canonical JSONL, and their count.
pub fn sample_advisories(ecosystem: &str) -> (Vec<u8>, u64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/feeds/osv")
        .join(ecosystem);
    let mut advs = Vec::new();
    for e in std::fs::read_dir(&root).expect("sample feed") {
        let bytes = std::fs::read(e.expect("entry").path()).expect("read");
        advs.push(bundles::model::Advisory::from_osv_json(&bytes).expect("valid record"));
    }
    advs.sort_by(|a, b| a.id().as_str().cmp(b.id().as_str()));
    let mut out = Vec::new();
    bundles::model::write_jsonl(&mut out, advs.iter()).expect("jsonl");
    (out, advs.len() as u64)
}

/// Store options with a cheap password hash, so tests that log in stay fast.
pub fn fast_store_options() -> StoreOptions {
    StoreOptions {
        password_cost: PasswordCost {
            m_kib: 256,
            t: 1,
            p: 1,
        },
        ..StoreOptions::default()
    }
}

/// `stella-appliance init` in-process: a data directory trusting `trust` (threshold 1)
/// and a store with the `admin` operator. Returns the directory and the admin password.
pub fn init_appliance(
    data: &Path,
    trust: &KeyPair,
    store: StoreOptions,
    now: OffsetDateTime,
) -> (DataDir, String) {
    let (dd, _) = DataDir::init(
        data,
        &InitOptions {
            trust: vec![trust.public()],
            threshold: 1,
            site: None,
            now: now - Duration::days(1),
        },
    )
    .expect("init data dir");
    let report = appliance::store::init(data, store, now).expect("init store");
    let password = report.admin_password.clone();
    (dd, password)
}

/// Writes `KIT.minisig` beside `kit`, signed by `key` the way `stella-kit` does.
pub fn sign_detached(key: &KeyPair, kit: &Path, timestamp: OffsetDateTime) {
    let sig = minisign::sign_file(
        key,
        kit,
        &SignOptions {
            trusted_comment: None,
            untrusted_comment: None,
            timestamp: timestamp.unix_timestamp(),
            file_name: kit.file_name().and_then(|n| n.to_str()),
        },
    )
    .expect("sign");
    let mut sp = kit.as_os_str().to_owned();
    sp.push(".minisig");
    sig.write(&PathBuf::from(sp)).expect("write signature");
}

/// A vendor token of `client` (token id `jti`) issued an hour before `created`, valid 30
/// days after it.
pub fn kit_token(
    key: &KeyPair,
    client: &str,
    jti: &str,
    created: OffsetDateTime,
    limit: u32,
) -> String {
    let claims = jwt::Claims {
        iss: Some("stella-kit:test".into()),
        sub: client.into(),
        aud: None,
        exp: (created + Duration::days(30)).unix_timestamp(),
        nbf: Some((created - Duration::hours(1)).unix_timestamp()),
        iat: Some((created - Duration::hours(1)).unix_timestamp()),
        jti: Some(jti.into()),
        tier: Some("Free".into()),
        max_scans_per_day: Some(limit),
        extra: BTreeMap::new(),
    };
    jwt::issue(&claims, key).expect("issue token")
}

/// What a one-ecosystem test kit holds: the sample npm advisories, tokens for `clients`
/// (id, daily limit; token id `jti-<client>` in kit 1, `jti-<client>-<sequence>` later)
/// and, when given, the kit's revocation list. Signed by [`vendor`].
pub struct KitSpec {
    pub kit_id: &'static str,
    pub clients: Vec<(&'static str, u32)>,
    pub revoked: Option<Vec<String>>,
}

impl KitSpec {
    /// Writes the kit as `dir/kit.ouk` (+ `.minisig`), created two hours before `now`.
    pub fn write(&self, dir: &Path, now: OffsetDateTime) -> PathBuf {
        self.write_sequence(dir, now, 1)
    }

    /// Writes the kit as kit `sequence` (`dir/kit.ouk` for 1, `dir/kit-<n>.ouk` after),
    /// created two hours before `now`.
    pub fn write_sequence(&self, dir: &Path, now: OffsetDateTime, sequence: u64) -> PathBuf {
        let created = now - Duration::hours(2);
        let mut w = KitWriter::new(KitInfo {
            kit_id: if sequence == 1 {
                self.kit_id.into()
            } else {
                format!("{}-{sequence}", self.kit_id)
            },
            sequence,
            created_at: Timestamp::new(created).expect("ts"),
            expires_at: Timestamp::new(created + Duration::days(30)).expect("ts"),
            site: None,
            producer: Producer {
                name: "appliance-tests".into(),
                version: "1".into(),
            },
            summary: Summary::default(),
        });
        w.add_bytes(
            EntryPath::new("advisories/npm.jsonl").expect("path"),
            MediaType::new(media_types::ADVISORIES_JSONL).expect("mt"),
            sample_advisories("npm").0,
        )
        .expect("add");
        let v = vendor();
        let clients = ClientTokens {
            clients: self
                .clients
                .iter()
                .map(|(id, limit)| {
                    let jti = if sequence == 1 {
                        format!("jti-{id}")
                    } else {
                        format!("jti-{id}-{sequence}")
                    };
                    ClientToken {
                        id: (*id).into(),
                        token: kit_token(&v, id, &jti, created, *limit),
                    }
                })
                .collect(),
        };
        w.add_bytes(
            EntryPath::new(bundles::tokens::CLIENTS_PATH).expect("path"),
            MediaType::new(media_types::CLIENT_TOKENS).expect("mt"),
            serde_json::to_vec(&clients).expect("json"),
        )
        .expect("add");
        if let Some(revoked) = &self.revoked {
            w.add_bytes(
                EntryPath::new(bundles::tokens::REVOKED_PATH).expect("path"),
                MediaType::new(media_types::REVOKED_TOKENS).expect("mt"),
                serde_json::to_vec(&Revocations {
                    revoked: revoked.clone(),
                })
                .expect("json"),
            )
            .expect("add");
        }
        let p = if sequence == 1 {
            dir.join("kit.ouk")
        } else {
            dir.join(format!("kit-{sequence}.ouk"))
        };
        let file = std::fs::File::create(&p).expect("create kit");
        w.write(std::io::BufWriter::new(file), &[&v])
            .expect("write kit");
        sign_detached(&v, &p, now);
        p
    }
}

/// A data dir with a store, the admin password, and a signed kit file ready to import.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub data: PathBuf,
    pub kit: PathBuf,
    pub password: String,
    pub now: OffsetDateTime,
}

impl Env {
    /// A fresh appliance trusting [`vendor`], with `spec`'s kit written but not imported.
    pub fn new(spec: &KitSpec) -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("data");
        let now = OffsetDateTime::now_utc();
        let (_, password) = init_appliance(&data, &vendor(), fast_store_options(), now);
        let kit = spec.write(tmp.path(), now);
        Self {
            tmp,
            data,
            kit,
            password,
            now,
        }
    }

    /// As [`Env::new`], with the kit imported.
    pub fn imported(spec: &KitSpec) -> Self {
        let env = Self::new(spec);
        env.import();
        env
    }

    pub fn import(&self) {
        self.import_kit(&self.kit);
    }

    /// Imports another kit (written with [`KitSpec::write_sequence`]) at the env's clock.
    pub fn import_kit(&self, kit: &Path) {
        importer::Importer::new(&self.dd())
            .clock(self.now)
            .import(kit)
            .expect("import the test kit");
    }

    /// The audit log's records as (kind, event), oldest first.
    pub fn audit(&self) -> Vec<(String, Value)> {
        audit_records(&self.dd())
    }

    pub fn dd(&self) -> DataDir {
        DataDir::open(&self.data).expect("open")
    }

    pub fn state(&self, config: Config) -> AppState {
        AppState::open(&self.data, config).expect("open state")
    }

    /// As [`Env::state`] with the store's cheap password hash ([`fast_store_options`]):
    /// a login under an unknown name is checked against a dummy hash of the store's own
    /// cost, which takes most of a second in a debug build.
    pub fn state_fast_login(&self, config: Config) -> AppState {
        let store = appliance::store::EmbeddedStore::open(&self.data, fast_store_options())
            .expect("open store");
        AppState::with_store(self.dd(), std::sync::Arc::new(store), config).expect("open state")
    }

    /// The active kit's directory.
    pub fn kit_dir(&self) -> PathBuf {
        std::fs::canonicalize(self.dd().current_link()).expect("current kit")
    }

    /// The appliance-signed token of `client` in the active kit.
    pub fn token(&self, client: &str) -> String {
        importer::import::read_tokens(&self.kit_dir())
            .expect("tokens")
            .clients
            .into_iter()
            .find(|c| c.id == client)
            .expect("client in kit")
            .token
    }

    pub fn appliance_key(&self) -> KeyPair {
        self.dd().appliance_key().expect("key")
    }

    pub fn appliance_id(&self) -> String {
        self.dd().appliance_id().expect("id")
    }

    /// The `Authorization` value of the `admin` operator.
    pub fn basic(&self) -> String {
        basic("admin", &self.password)
    }

    /// Runs the real `stella-appliance` with `args`, in the temp dir.
    pub fn appliance(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(self.tmp.path())
            .env_remove("STELLA_DATA")
            .output()
            .expect("run stella-appliance")
    }
}

/// The audit log of `dd` as (kind, event), oldest first.
pub fn audit_records(dd: &DataDir) -> Vec<(String, Value)> {
    dd.audit()
        .records()
        .expect("audit records")
        .into_iter()
        .map(|r| (r.kind, r.event))
        .collect()
}

/// An HTTP Basic `Authorization` value.
pub fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A bearer `Authorization` value.
pub fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// One request through the full router, in process.
pub async fn call(st: &AppState, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let resp = router(st.clone()).oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .expect("body")
        .to_vec();
    (status, headers, body)
}

/// The body as JSON, or a panic that shows it.
pub fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}", String::from_utf8_lossy(body));
    })
}

/// `GET path` with an optional `Authorization`.
pub fn get(path: &str, auth: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    b.body(Body::empty()).expect("request")
}

/// `POST path` with an optional `Authorization`.
pub fn post(path: &str, auth: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post(path);
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    b.body(body.into()).expect("request")
}

/// `POST /api/v1/scan` of `sbom` with `token`; the answer as JSON.
pub async fn scan(st: &AppState, token: &str, sbom: &str) -> (StatusCode, HeaderMap, Value) {
    let (s, h, b) = call(
        st,
        post("/api/v1/scan", Some(&bearer(token)), sbom.to_owned()),
    )
    .await;
    (s, h, json_of(&b))
}

/// Standard output and error of a finished process, as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
