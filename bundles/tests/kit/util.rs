//! Fixture builders shared by the kit tests.
#![allow(dead_code)]

use std::io::{Cursor, Read};

use bundles::manifest::{FeedSummary, Producer, Summary};
use bundles::path::media_types;
use bundles::{
    Digest, EntryPath, KitError, KitInfo, KitReader, KitWriter, Limits, Manifest, ManifestEntry,
    MediaType, Timestamp,
};
use sha2::{Digest as _, Sha256};
use signing::{KeyId, KeyPair, TrustRoot};

/// Test-only key (fixed seed, clearly not a production key).
pub fn test_key(n: u8) -> KeyPair {
    KeyPair::from_seed(KeyId([n; 8]), &[n.wrapping_mul(7).wrapping_add(1); 32])
}

pub fn trust() -> TrustRoot {
    TrustRoot::single(test_key(1).public())
}

pub fn info() -> KitInfo {
    let mut summary = Summary::default();
    summary.feeds.insert(
        "osv".into(),
        FeedSummary {
            counts: [("PyPI".to_string(), 2u64), ("npm".to_string(), 1)]
                .into_iter()
                .collect(),
            updated_at: Some(Timestamp::parse("2026-11-19T23:00:00Z").expect("ts")),
            next_update: None,
            source: None,
        },
    );
    KitInfo {
        kit_id: "01JTESTKIT".into(),
        sequence: 42,
        created_at: Timestamp::parse("2026-11-20T00:00:00Z").expect("ts"),
        expires_at: Timestamp::parse("2026-12-20T00:00:00Z").expect("ts"),
        site: Some("plant-7".into()),
        producer: Producer {
            name: "stella-kit".into(),
            version: "0.1.0".into(),
        },
        summary,
    }
}

pub fn p(s: &str) -> EntryPath {
    EntryPath::new(s).expect("valid test path")
}

pub fn mt(s: &str) -> MediaType {
    MediaType::new(s).expect("valid test media type")
}

/// The standard small kit content: (path, bytes), sorted.
pub fn contents() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "advisories/PyPI.jsonl",
            b"{\"id\":\"GHSA-aaaa\"}\n{\"id\":\"GHSA-bbbb\"}\n".to_vec(),
        ),
        ("advisories/npm.jsonl", b"{\"id\":\"GHSA-cccc\"}\n".to_vec()),
        ("empty.bin", Vec::new()),
        ("oci/trivy-db/blob", vec![7u8; 1500]),
    ]
}

/// A valid kit written by `KitWriter`.
pub fn good_kit() -> (Manifest, Vec<u8>) {
    let mut w = KitWriter::new(info());
    for (path, data) in contents() {
        w.add_bytes(p(path), mt(media_types::OCI_BLOB), data)
            .expect("add");
    }
    w.write(Vec::new(), &[&test_key(1)]).expect("write kit")
}

pub fn entry(path: &str, data: &[u8]) -> ManifestEntry {
    ManifestEntry {
        path: p(path),
        size: data.len() as u64,
        sha256: Digest::from_bytes(Sha256::digest(data).into()),
        media_type: mt(media_types::OCI_BLOB),
    }
}

/// An unsigned manifest listing `files` (must be sorted for a valid one).
pub fn manifest_for(files: &[(&str, &[u8])]) -> Manifest {
    let i = info();
    Manifest {
        kit_id: i.kit_id,
        sequence: i.sequence,
        created_at: i.created_at,
        expires_at: i.expires_at,
        site: i.site,
        producer: i.producer,
        summary: i.summary,
        entries: files.iter().map(|(p, d)| entry(p, d)).collect(),
        signatures: vec![],
    }
}

/// Signs the canonical bytes directly, skipping `Manifest::sign`'s structure checks, so
/// tests can produce validly signed but malformed manifests.
pub fn force_sign(m: &mut Manifest, keys: &[&KeyPair]) {
    let msg = m.canonical_bytes().expect("canonical");
    m.signatures = keys
        .iter()
        .map(|k| bundles::manifest::ManifestSignature {
            keyid: k.id(),
            sig: k.sign(&msg).to_vec(),
        })
        .collect();
}

pub fn signed_bytes(mut m: Manifest) -> Vec<u8> {
    m.sign(&[&test_key(1)]).expect("sign");
    m.to_json_bytes().expect("json")
}

/// A ustar header with raw name bytes (bypassing every path check of the tar crate).
pub fn header(path: &[u8], size: u64, ty: tar::EntryType, link: &[u8]) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    {
        let old = h.as_old_mut();
        old.name.fill(0);
        old.name[..path.len()].copy_from_slice(path);
        old.linkname[..link.len()].copy_from_slice(link);
    }
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(ty);
    h.set_cksum();
    h
}

/// Raw tar bytes, block by block.
#[derive(Default)]
pub struct RawTar(pub Vec<u8>);

impl RawTar {
    pub fn new() -> Self {
        RawTar(Vec::new())
    }

    pub fn raw(mut self, h: &tar::Header, data: &[u8]) -> Self {
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    pub fn file(self, path: &str, data: &[u8]) -> Self {
        let h = header(
            path.as_bytes(),
            data.len() as u64,
            tar::EntryType::Regular,
            b"",
        );
        self.raw(&h, data)
    }

    pub fn manifest(self, bytes: &[u8]) -> Self {
        self.file("manifest.json", bytes)
    }

    pub fn end(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0u8; 1024]);
        self.0
    }
}

pub fn compress(tar: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(tar, 3).expect("zstd")
}

pub fn decompress(kit: &[u8]) -> Vec<u8> {
    zstd::stream::decode_all(kit).expect("unzstd")
}

/// A signed manifest + tar for `files`, with the tar built by `f` from them.
pub fn kit_with(files: &[(&str, &[u8])], f: impl FnOnce(RawTar) -> RawTar) -> Vec<u8> {
    let m = signed_bytes(manifest_for(files));
    compress(&f(RawTar::new().manifest(&m)).end())
}

/// Opens and fully reads a kit; returns what went wrong, if anything.
pub fn read_kit(kit: Vec<u8>, trust: &TrustRoot, limits: Limits) -> Result<Manifest, KitError> {
    let mut r = KitReader::open(Cursor::new(kit), trust, limits)?;
    let m = r.manifest().manifest().clone();
    while let Some(mut e) = r.next_entry()? {
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).map_err(KitError::from_io)?;
    }
    Ok(m)
}

pub fn refusal(kit: Vec<u8>) -> KitError {
    read_kit(kit, &trust(), Limits::default()).expect_err("kit must be refused")
}
