//! Fixture of the console tests: a real data directory (pinned vendor key, store with the
//! `admin` operator) with a real signed kit imported, plus helpers that write further
//! kits (good, or refused for a named reason) the way `stella-kit` would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use super::{sample_advisories, stranger, vendor};

use bundles::manifest::{FeedSummary, Producer, Summary};
use bundles::path::media_types;
use bundles::tokens::{ClientToken, ClientTokens, Revocations};
use bundles::{EntryPath, KitInfo, KitWriter, MediaType, Timestamp};
use importer::import::Importer;
use signing::{KeyPair, jwt};
use time::{Duration, OffsetDateTime};

/// The client whose token is valid for 30 days.
pub const CLIENT: &str = "ci-payments";
/// The client whose token expires in 5 days (inside the console's 7-day warning).
pub const EXPIRING_CLIENT: &str = "ci-legacy-erp";

/// An SBOM with one critical finding (minimist 1.2.5, GHSA-xvch-5gv4-984h) and one
/// moderate one (express 4.18.0, GHSA-rv95-896h-c2vc) against the sample npm feed: with
/// `fail_on: high` it fails, and muting the critical one makes it pass.
pub const SBOM: &str = r#"{
  "bomFormat": "CycloneDX",
  "specVersion": "1.5",
  "version": 1,
  "metadata": {"component": {"type": "application", "name": "payments-api", "version": "4.2.0"}},
  "components": [
    {"type": "library", "name": "minimist", "version": "1.2.5", "purl": "pkg:npm/minimist@1.2.5"},
    {"type": "library", "name": "express", "version": "4.18.0", "purl": "pkg:npm/express@4.18.0"},
    {"type": "library", "name": "<script>alert(1)</script>", "version": "1.0.0", "purl": "pkg:npm/x-script@1.0.0"}
  ]
}"#;

/// The critical advisory of [`SBOM`].
pub const CRITICAL: &str = "GHSA-xvch-5gv4-984h";

fn vendor_token(key: &KeyPair, client: &str, created: OffsetDateTime, days: i64) -> String {
    let claims = jwt::Claims {
        iss: Some("stella-kit:test".into()),
        sub: client.into(),
        aud: None,
        exp: (created + Duration::days(days)).unix_timestamp(),
        nbf: Some(created.unix_timestamp()),
        iat: Some(created.unix_timestamp()),
        jti: Some(format!("jti-{client}-{}", created.unix_timestamp())),
        tier: Some("Free".into()),
        max_scans_per_day: Some(333),
        extra: BTreeMap::new(),
    };
    jwt::issue(&claims, key).expect("issue token")
}

/// Writes kit `sequence` to `dir/name` with its manifest signed by `manifest_key` and a
/// detached minisign signature by `detached_key`. Returns the kit path.
pub fn write_kit(
    dir: &Path,
    name: &str,
    sequence: u64,
    manifest_key: &KeyPair,
    detached_key: &KeyPair,
) -> PathBuf {
    let created = OffsetDateTime::now_utc().replace_nanosecond(0).expect("ns") - Duration::hours(2)
        + Duration::minutes(i64::try_from(sequence).expect("small"));
    let trivy_updated = created - Duration::hours(3);
    let mut w = KitWriter::new(KitInfo {
        kit_id: format!("plant-7-{sequence:04}"),
        sequence,
        created_at: Timestamp::new(created).expect("ts"),
        expires_at: Timestamp::new(created + Duration::days(30)).expect("ts"),
        site: None,
        producer: Producer {
            name: "console-tests".into(),
            version: "1".into(),
        },
        summary: Summary::default(),
    });
    let mut counts = BTreeMap::new();
    for eco in ["PyPI", "npm"] {
        let (advisories, count) = sample_advisories(eco);
        w.add_bytes(
            EntryPath::new(format!("advisories/{eco}.jsonl")).expect("path"),
            MediaType::new(media_types::ADVISORIES_JSONL).expect("mt"),
            advisories,
        )
        .expect("add");
        counts.insert(eco.to_string(), count);
    }
    let clients = ClientTokens {
        clients: vec![
            ClientToken {
                id: CLIENT.into(),
                token: vendor_token(manifest_key, CLIENT, created, 30),
            },
            ClientToken {
                id: EXPIRING_CLIENT.into(),
                token: vendor_token(manifest_key, EXPIRING_CLIENT, created, 5),
            },
        ],
    };
    w.add_bytes(
        EntryPath::new(bundles::tokens::CLIENTS_PATH).expect("path"),
        MediaType::new(media_types::CLIENT_TOKENS).expect("mt"),
        serde_json::to_vec(&clients).expect("json"),
    )
    .expect("add");
    w.add_bytes(
        EntryPath::new(bundles::tokens::REVOKED_PATH).expect("path"),
        MediaType::new(media_types::REVOKED_TOKENS).expect("mt"),
        serde_json::to_vec(&Revocations::default()).expect("json"),
    )
    .expect("add");
    w.set_summary(Summary {
        feeds: BTreeMap::from([
            (
                "osv".to_string(),
                FeedSummary {
                    counts,
                    updated_at: Some(Timestamp::new(created).expect("ts")),
                    next_update: None,
                    source: Some("samples/feeds/osv".into()),
                },
            ),
            (
                "trivy-db".to_string(),
                FeedSummary {
                    counts: BTreeMap::new(),
                    updated_at: Some(Timestamp::new(trivy_updated).expect("ts")),
                    next_update: None,
                    source: Some("ghcr.io/aquasecurity/trivy-db:2".into()),
                },
            ),
        ]),
    });
    let path = dir.join(name);
    let file = std::fs::File::create(&path).expect("create kit");
    w.write(std::io::BufWriter::new(file), &[manifest_key])
        .expect("write kit");
    super::sign_detached(detached_key, &path, created);
    path
}

/// A prepared appliance: data dir with kit #1 active.
pub struct Site {
    /// Keeps the directory alive.
    pub root: tempfile::TempDir,
    /// The data directory.
    pub data: PathBuf,
    /// Where test kits are written.
    pub kits: PathBuf,
    /// The `admin` operator's password.
    pub password: String,
    /// The appliance-signed token of [`CLIENT`].
    pub token: String,
}

/// Initialises a data dir trusting [`vendor`], creates the operator, imports kit #1.
pub fn site() -> Site {
    let root = tempfile::tempdir().expect("tmp");
    let data = root.path().join("data");
    let kits = root.path().join("kits");
    std::fs::create_dir_all(&kits).expect("kits dir");
    let now = OffsetDateTime::now_utc();
    let (dd, password) = super::init_appliance(&data, &vendor(), super::fast_store_options(), now);
    let kit = write_kit(&kits, "plant-7-0001.ouk", 1, &vendor(), &vendor());
    Importer::new(&dd)
        .clock(now)
        .import(&kit)
        .expect("import kit #1");
    let tokens = importer::import::read_tokens(&dd.current_link().canonicalize().expect("current"))
        .expect("tokens");
    let token = tokens
        .clients
        .into_iter()
        .find(|c| c.id == CLIENT)
        .map(|c| c.token)
        .expect("re-signed token");
    Site {
        root,
        data,
        kits,
        password,
        token,
    }
}
