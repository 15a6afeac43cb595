//! Test helpers: real keys, real signed kits, data-dir snapshots.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bundles::manifest::{Producer, Summary};
use bundles::path::media_types;
use bundles::tokens::{ClientToken, ClientTokens, Revocations};
use bundles::{EntryPath, KitInfo, KitWriter, MediaType, Timestamp};
use importer::datadir::{DataDir, InitOptions};
use signing::minisign::{self, SignOptions};
use signing::{KeyId, KeyPair, jwt};
use time::OffsetDateTime;
use time::macros::datetime;

/// The vendor key of the tests (fixed seed: reproducible kits).
pub fn vendor() -> KeyPair {
    KeyPair::from_seed(KeyId([0x11; 8]), &[7; 32])
}

/// A second vendor key (co-signer / rotation).
pub fn vendor2() -> KeyPair {
    KeyPair::from_seed(KeyId([0x22; 8]), &[8; 32])
}

/// A key the appliance does not trust.
pub fn stranger() -> KeyPair {
    KeyPair::from_seed(KeyId([0x33; 8]), &[9; 32])
}

/// The appliance clock of most tests.
pub const NOW: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);

/// A fresh data dir trusting `keys` with `threshold`.
pub fn data_dir(
    keys: &[&KeyPair],
    threshold: usize,
    site: Option<&str>,
) -> (tempfile::TempDir, DataDir) {
    let d = tempfile::tempdir().expect("tmp");
    let (dd, _) = DataDir::init(
        &d.path().join("data"),
        &InitOptions {
            trust: keys.iter().map(|k| k.public()).collect(),
            threshold,
            site: site.map(str::to_string),
            now: NOW - time::Duration::days(1),
        },
    )
    .expect("init");
    (d, dd)
}

/// What a test kit contains.
#[derive(Clone)]
pub struct KitSpec {
    pub sequence: u64,
    pub kit_id: String,
    pub created_at: OffsetDateTime,
    pub valid_days: i64,
    pub site: Option<String>,
    pub advisories: Vec<u8>,
    pub clients: Vec<(String, String)>,
    pub revoked: Vec<String>,
    pub extra: Vec<(String, String, Vec<u8>)>,
}

/// One canonical advisory line (a real record from the sample feed, re-serialised).
pub fn sample_advisories() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/feeds/osv/PyPI");
    let mut out = Vec::new();
    let mut advs = Vec::new();
    for e in std::fs::read_dir(&root).expect("sample feed") {
        let p = e.expect("entry").path();
        let bytes = std::fs::read(&p).expect("read");
        advs.push(bundles::model::Advisory::from_osv_json(&bytes).expect("valid record"));
    }
    advs.sort_by(|a, b| a.id().as_str().cmp(b.id().as_str()));
    bundles::model::write_jsonl(&mut out, advs.iter()).expect("jsonl");
    out
}

impl KitSpec {
    pub fn new(sequence: u64) -> Self {
        KitSpec {
            sequence,
            kit_id: format!("test-{sequence}"),
            created_at: NOW - time::Duration::hours(2),
            valid_days: 30,
            site: None,
            advisories: sample_advisories(),
            clients: Vec::new(),
            revoked: Vec::new(),
            extra: Vec::new(),
        }
    }
}

/// A vendor token for `client`.
pub fn vendor_token(
    key: &KeyPair,
    client: &str,
    created: OffsetDateTime,
    site: Option<&str>,
) -> String {
    let claims = jwt::Claims {
        iss: Some("stella-kit:test".into()),
        sub: client.into(),
        aud: site.map(|s| jwt::Audience::One(s.to_string())),
        exp: (created + time::Duration::days(30)).unix_timestamp(),
        nbf: Some(created.unix_timestamp()),
        iat: Some(created.unix_timestamp()),
        jti: Some(format!("jti-{client}")),
        tier: Some("Free".into()),
        max_scans_per_day: Some(333),
        extra: BTreeMap::new(),
    };
    jwt::issue(&claims, key).expect("issue")
}

/// Builds the kit bytes, its manifest signed by `signers`.
pub fn kit_bytes(spec: &KitSpec, signers: &[&KeyPair]) -> Vec<u8> {
    let mut w = KitWriter::new(KitInfo {
        kit_id: spec.kit_id.clone(),
        sequence: spec.sequence,
        created_at: Timestamp::new(spec.created_at).expect("ts"),
        expires_at: Timestamp::new(spec.created_at + time::Duration::days(spec.valid_days))
            .expect("ts"),
        site: spec.site.clone(),
        producer: Producer {
            name: "importer-tests".into(),
            version: "1".into(),
        },
        summary: Summary::default(),
    });
    w.add_bytes(
        EntryPath::new("advisories/PyPI.jsonl").expect("path"),
        MediaType::new(media_types::ADVISORIES_JSONL).expect("mt"),
        spec.advisories.clone(),
    )
    .expect("add");
    if !spec.clients.is_empty() || !spec.revoked.is_empty() {
        let ct = ClientTokens {
            clients: spec
                .clients
                .iter()
                .map(|(id, token)| ClientToken {
                    id: id.clone(),
                    token: token.clone(),
                })
                .collect(),
        };
        w.add_bytes(
            EntryPath::new("tokens/clients.json").expect("path"),
            MediaType::new(media_types::CLIENT_TOKENS).expect("mt"),
            serde_json::to_vec(&ct).expect("json"),
        )
        .expect("add");
        w.add_bytes(
            EntryPath::new("tokens/revoked.json").expect("path"),
            MediaType::new(media_types::REVOKED_TOKENS).expect("mt"),
            serde_json::to_vec(&Revocations {
                revoked: spec.revoked.clone(),
            })
            .expect("json"),
        )
        .expect("add");
    }
    for (p, mt, b) in &spec.extra {
        w.add_bytes(
            EntryPath::new(p.clone()).expect("path"),
            MediaType::new(mt.clone()).expect("mt"),
            b.clone(),
        )
        .expect("add");
    }
    let (_, bytes) = w.write(Vec::new(), signers).expect("write");
    bytes
}

/// Writes `bytes` as `dir/name` plus a detached minisign signature by `sig_key`.
pub fn write_kit(dir: &Path, name: &str, bytes: &[u8], sig_key: &KeyPair) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write kit");
    sign_detached(&p, sig_key);
    p
}

/// (Re-)signs `path` with a detached minisign signature.
pub fn sign_detached(path: &Path, key: &KeyPair) {
    let sig = minisign::sign_file(
        key,
        path,
        &SignOptions {
            trusted_comment: None,
            untrusted_comment: None,
            timestamp: NOW.unix_timestamp(),
            file_name: Some("kit.ouk"),
        },
    )
    .expect("sign");
    let mut sp = path.as_os_str().to_owned();
    sp.push(".minisig");
    std::fs::write(PathBuf::from(sp), sig.as_str()).expect("write sig");
}

/// Every file under the data dir except `audit/`, with its bytes: what "nothing changed"
/// compares.
pub fn snapshot(dd: &DataDir) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(dd.root(), dd.root(), &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let mut ents: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry"))
        .collect();
    ents.sort_by_key(|e| e.file_name());
    for e in ents {
        let p = e.path();
        let rel = p
            .strip_prefix(root)
            .expect("rel")
            .to_string_lossy()
            .into_owned();
        if rel == "audit" {
            continue;
        }
        let ft = std::fs::symlink_metadata(&p).expect("meta").file_type();
        if ft.is_symlink() {
            out.insert(
                format!("{rel} -> "),
                std::fs::read_link(&p)
                    .expect("link")
                    .to_string_lossy()
                    .into_owned()
                    .into_bytes(),
            );
        } else if ft.is_dir() {
            out.insert(format!("{rel}/"), Vec::new());
            walk(root, &p, out);
        } else {
            out.insert(rel, std::fs::read(&p).expect("read"));
        }
    }
}

/// Decompresses a kit into its raw tar bytes.
pub fn untar(kit: &[u8]) -> Vec<u8> {
    zstd::decode_all(kit).expect("zstd")
}

/// Compresses raw tar bytes into a kit.
pub fn retar(tar: &[u8]) -> Vec<u8> {
    zstd::encode_all(tar, 3).expect("zstd")
}
