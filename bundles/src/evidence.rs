//! The evidence bundle of one scan: a deterministic `.tar.zst` that an auditor checks
//! off-line (`stella verify-evidence --bundle`, or stock `tar`, `sha256sum`, `minisign`
//! and a DSSE verifier), and the canonical findings JSON whose sha256 is the findings
//! digest recorded in the signed verdict.
//!
//! The appliance writes bundles and the `stella` client reads them, so the entry names,
//! the tar header rules and the size caps live here, once.
//!
//! ```
//! use bundles::evidence::{self, BundleLimits};
//! use std::collections::BTreeMap;
//!
//! let mut entries = BTreeMap::new();
//! entries.insert(evidence::SBOM.to_string(), b"{}".to_vec());
//! entries.insert(evidence::FINDINGS.to_string(), b"[]".to_vec());
//! let a = evidence::write_bundle(Vec::new(), &entries, 1_790_000_000)?;
//! let b = evidence::write_bundle(Vec::new(), &entries, 1_790_000_000)?;
//! assert_eq!(a, b); // byte-identical for the same inputs
//! let back = evidence::read_bundle(&a[..], &BundleLimits::default())?;
//! assert_eq!(back, entries);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde_json::Value;

/// The SBOM exactly as uploaded.
pub const SBOM: &str = "sbom.json";
/// The findings array in canonical JSON (its sha256 is the findings digest).
pub const FINDINGS: &str = "findings.json";
/// The policy version the scan recorded (by digest).
pub const POLICY: &str = "policy.yaml";
/// The DSSE envelope of the scan-verdict statement.
pub const ENVELOPE: &str = "evidence.dsse.json";
/// The appliance public key (minisign format).
pub const APPLIANCE_PUB: &str = "appliance.pub";
/// The signed manifest of the kit the scan used, with its vendor signatures.
pub const KIT_MANIFEST: &str = "kit/manifest.json";
/// The audit records about the scan (and the import of its kit), one JSON per line.
pub const AUDIT: &str = "audit.jsonl";
/// How to verify the bundle by hand.
pub const README: &str = "README.txt";

/// Every name a bundle may hold, in archive (byte) order.
pub const ENTRY_NAMES: [&str; 8] = [
    README,
    APPLIANCE_PUB,
    AUDIT,
    ENVELOPE,
    FINDINGS,
    KIT_MANIFEST,
    POLICY,
    SBOM,
];

/// zstd level of bundles (fixed: part of the byte-for-byte determinism).
pub const ZSTD_LEVEL: i32 = 9;
/// Mode of every file in the archive.
pub const TAR_MODE: u32 = 0o644;

/// Why a bundle could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceBundleError {
    /// Writing the archive failed.
    #[error("writing the evidence bundle ({context}): {source}")]
    Write {
        /// The step.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The archive is not a readable tar+zstd stream.
    #[error("reading the evidence bundle: {0}")]
    Read(#[source] std::io::Error),
    /// An entry name is not one of [`ENTRY_NAMES`].
    #[error("unexpected entry {0:?} in the evidence bundle")]
    UnknownEntry(String),
    /// An entry that is not a regular file (link, directory, device).
    #[error("entry {0:?} of the evidence bundle is not a regular file")]
    NotAFile(String),
    /// The same name twice.
    #[error("entry {0:?} appears twice in the evidence bundle")]
    Duplicate(String),
    /// An entry or the whole bundle is over its cap.
    #[error("the evidence bundle is too large: {what} exceeds {limit} bytes")]
    TooLarge {
        /// The entry, or `total`.
        what: String,
        /// The cap.
        limit: u64,
    },
    /// More entries than the format has names for.
    #[error("the evidence bundle has more than {0} entries")]
    TooManyEntries(usize),
    /// `findings.json` is not a JSON array.
    #[error("findings JSON: {0}")]
    Findings(String),
}

/// Size caps applied while reading a bundle (the input is untrusted).
#[derive(Debug, Clone, Copy)]
pub struct BundleLimits {
    /// Largest single entry (uncompressed). Default 128 MiB, the largest SBOM the
    /// appliance stores.
    pub entry_bytes: u64,
    /// Largest sum of all entries (uncompressed). Default 256 MiB.
    pub total_bytes: u64,
}

impl Default for BundleLimits {
    fn default() -> Self {
        Self {
            entry_bytes: 128 << 20,
            total_bytes: 256 << 20,
        }
    }
}

fn write_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EvidenceBundleError {
    let context = context.into();
    move |source| EvidenceBundleError::Write { context, source }
}

/// Writes `entries` (name → bytes) as a deterministic tar+zstd stream: entries in byte
/// order of their names, ustar headers with mode 0644, uid/gid 0, empty owner names and
/// `mtime` (the scan time, so the same scan always gives the same bytes). Names must be
/// in [`ENTRY_NAMES`].
pub fn write_bundle<W: Write>(
    out: W,
    entries: &BTreeMap<String, Vec<u8>>,
    mtime: u64,
) -> Result<W, EvidenceBundleError> {
    if let Some(bad) = entries.keys().find(|k| !ENTRY_NAMES.contains(&k.as_str())) {
        return Err(EvidenceBundleError::UnknownEntry(bad.clone()));
    }
    let mut enc =
        zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(write_err("starting zstd"))?;
    enc.include_checksum(true)
        .map_err(write_err("zstd checksum flag"))?;
    enc.include_contentsize(false)
        .map_err(write_err("zstd content size flag"))?;
    let mut tar = tar::Builder::new(enc);
    // BTreeMap iteration is byte order of the names: the archive order is fixed.
    for (name, bytes) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_path(name)
            .map_err(write_err(format!("tar header for {name}")))?;
        h.set_size(bytes.len() as u64);
        h.set_mode(TAR_MODE);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_username("")
            .map_err(write_err(format!("tar header for {name}")))?;
        h.set_groupname("")
            .map_err(write_err(format!("tar header for {name}")))?;
        h.set_cksum();
        tar.append(&h, &bytes[..])
            .map_err(write_err(format!("writing {name}")))?;
    }
    let enc = tar
        .into_inner()
        .map_err(write_err("finishing the tar stream"))?;
    enc.finish().map_err(write_err("finishing the zstd frame"))
}

/// Reads a bundle into name → bytes, refusing unknown names, non-regular entries,
/// duplicates and anything over `limits` (checked against the header size before reading
/// and against the bytes actually read).
pub fn read_bundle<R: Read>(
    src: R,
    limits: &BundleLimits,
) -> Result<BTreeMap<String, Vec<u8>>, EvidenceBundleError> {
    let dec = zstd::stream::read::Decoder::new(src).map_err(EvidenceBundleError::Read)?;
    let mut ar = tar::Archive::new(dec);
    let mut out = BTreeMap::new();
    let mut total = 0u64;
    for entry in ar.entries().map_err(EvidenceBundleError::Read)? {
        let entry = entry.map_err(EvidenceBundleError::Read)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if !ENTRY_NAMES.contains(&name.as_str()) {
            return Err(EvidenceBundleError::UnknownEntry(name));
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(EvidenceBundleError::NotAFile(name));
        }
        if out.contains_key(&name) {
            return Err(EvidenceBundleError::Duplicate(name));
        }
        if out.len() >= ENTRY_NAMES.len() {
            return Err(EvidenceBundleError::TooManyEntries(ENTRY_NAMES.len()));
        }
        let size = entry.header().size().map_err(EvidenceBundleError::Read)?;
        if size > limits.entry_bytes {
            return Err(EvidenceBundleError::TooLarge {
                what: name,
                limit: limits.entry_bytes,
            });
        }
        total = total.saturating_add(size);
        if total > limits.total_bytes {
            return Err(EvidenceBundleError::TooLarge {
                what: "total".into(),
                limit: limits.total_bytes,
            });
        }
        // `take` bounds the read even if the header lied about the size.
        let mut bytes = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
        entry
            .take(limits.entry_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(EvidenceBundleError::Read)?;
        if bytes.len() as u64 > limits.entry_bytes {
            return Err(EvidenceBundleError::TooLarge {
                what: name,
                limit: limits.entry_bytes,
            });
        }
        out.insert(name, bytes);
    }
    Ok(out)
}

/// The canonical JSON of findings (the workspace's one writer,
/// [`crate::model::canonical_json`]: floats allowed, for CVSS scores).
pub fn canonical_findings_json(v: Value) -> Vec<u8> {
    crate::model::canonical_json(&v)
}

/// The findings digest of a `findings.json` file: it must be a JSON array; its canonical
/// form is hashed (so a re-indented copy gives the same digest, an edited one does not).
pub fn findings_digest_of_json(bytes: &[u8]) -> Result<String, EvidenceBundleError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| EvidenceBundleError::Findings(format!("not JSON: {e}")))?;
    if !v.is_array() {
        return Err(EvidenceBundleError::Findings(
            "not a JSON array of findings".into(),
        ));
    }
    Ok(crate::model::finding::findings_digest_of_value(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    fn sample() -> BTreeMap<String, Vec<u8>> {
        [
            (SBOM, &b"{\"bomFormat\":\"CycloneDX\"}"[..]),
            (FINDINGS, b"[]"),
            (KIT_MANIFEST, b"{}"),
            (README, b"read me"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect()
    }

    #[test]
    fn deterministic_sorted_fixed_headers() {
        let e = sample();
        let a = write_bundle(Vec::new(), &e, 1_790_000_123).expect("write");
        assert_eq!(
            a,
            write_bundle(Vec::new(), &e, 1_790_000_123).expect("write")
        );
        assert_ne!(a, write_bundle(Vec::new(), &e, 1).expect("write"), "mtime");
        let dec = zstd::stream::read::Decoder::new(&a[..]).expect("zstd");
        let mut ar = tar::Archive::new(dec);
        let mut names = Vec::new();
        for ent in ar.entries().expect("entries") {
            let ent = ent.expect("entry");
            let h = ent.header();
            assert_eq!(h.mode().expect("mode"), 0o644);
            assert_eq!(h.mtime().expect("mtime"), 1_790_000_123);
            assert_eq!((h.uid().expect("uid"), h.gid().expect("gid")), (0, 0));
            names.push(String::from_utf8_lossy(&ent.path_bytes()).into_owned());
        }
        assert_eq!(
            names,
            [
                "README.txt",
                "findings.json",
                "kit/manifest.json",
                "sbom.json"
            ]
        );
        assert_eq!(
            read_bundle(&a[..], &BundleLimits::default()).expect("read"),
            e
        );
    }

    #[test]
    fn refuses_unknown_oversized_and_garbage() {
        let mut e = sample();
        e.insert("../evil".into(), b"x".to_vec());
        assert!(matches!(
            write_bundle(Vec::new(), &e, 0),
            Err(EvidenceBundleError::UnknownEntry(_))
        ));
        // A tar with an unknown name, written by hand.
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_path("other.txt").expect("path");
        h.set_size(1);
        h.set_cksum();
        tar.append(&h, &b"x"[..]).expect("append");
        let raw = tar.into_inner().expect("tar");
        let z = zstd::encode_all(&raw[..], 3).expect("zstd");
        assert!(matches!(
            read_bundle(&z[..], &BundleLimits::default()),
            Err(EvidenceBundleError::UnknownEntry(n)) if n == "other.txt"
        ));
        let a = write_bundle(Vec::new(), &sample(), 0).expect("write");
        let small = BundleLimits {
            entry_bytes: 10,
            total_bytes: 100,
        };
        assert!(matches!(
            read_bundle(&a[..], &small),
            Err(EvidenceBundleError::TooLarge { .. })
        ));
        assert!(matches!(
            read_bundle(&b"not zstd"[..], &BundleLimits::default()),
            Err(EvidenceBundleError::Read(_))
        ));
    }

    #[test]
    fn findings_digest_is_canonical() {
        let a = br#"[{"b":1,"a":{"y":7.5,"x":null}}]"#;
        let b = b"[\n  {\"a\": {\"x\": null, \"y\": 7.5}, \"b\": 1}\n]";
        let d = findings_digest_of_json(a).expect("digest");
        assert_eq!(d, findings_digest_of_json(b).expect("digest"));
        assert_eq!(
            d,
            format!(
                "sha256:{}",
                hex::encode(Sha256::digest(br#"[{"a":{"x":null,"y":7.5},"b":1}]"#))
            )
        );
        assert_ne!(
            d,
            findings_digest_of_json(br#"[{"b":2,"a":{"y":7.5,"x":null}}]"#).expect("digest")
        );
        assert!(findings_digest_of_json(b"{}").is_err());
        assert!(findings_digest_of_json(b"[").is_err());
    }
}
