//! The signed kit manifest (`manifest.json`, `docs/ouk-format.md` §3–§6).
//!
//! A [`Manifest`] can be built and signed by anyone; only
//! [`Manifest::parse_and_verify`] produces a [`VerifiedManifest`], and only a
//! [`VerifiedManifest`] lets a [`crate::KitReader`] hand out entries.
//!
//! Unknown-field policy: version 1 refuses every member it does not know, at every level
//! (`deny_unknown_fields`). The manifest is signed and security-relevant; a field an old
//! reader silently ignored could carry a restriction the producer relied on. New members
//! mean a new `format_version`.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Deref;

use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use signing::trust::SignatureRef;
use signing::{KeyId, KeyPair, SigningError, TrustRoot};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::KitError;
use crate::limits::{Limits, MAX_MANIFEST_DEPTH};
use crate::path::{Digest, EntryPath, MediaType};

/// The value of the manifest's `format` member.
pub const FORMAT: &str = "stella-ouk";
/// The `format_version` this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Longest `kit_id`, `site`, producer name/version, feed name or count key.
pub const MAX_LABEL_LEN: usize = 128;
/// Most feeds in a summary, and most counts per feed.
pub const MAX_SUMMARY_ITEMS: usize = 1024;
/// Most signatures on a manifest (a threshold above this makes no sense).
pub const MAX_SIGNATURES: usize = 32;

/// A UTC instant written as `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, whole seconds, `Z`).
///
/// One spelling per instant, because the manifest is signed as text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Truncates `t` to whole seconds and converts it to UTC.
    pub fn new(t: OffsetDateTime) -> Result<Self, KitError> {
        let t = t.to_offset(time::UtcOffset::UTC);
        let t = t
            .replace_nanosecond(0)
            .map_err(|e| KitError::InvalidManifest {
                field: "timestamp",
                reason: e.to_string(),
            })?;
        if !(0..=9999).contains(&t.year()) {
            return Err(KitError::InvalidManifest {
                field: "timestamp",
                reason: format!("year {} outside 0000-9999", t.year()),
            });
        }
        Ok(Timestamp(t))
    }

    /// Seconds since the Unix epoch (e.g. `SOURCE_DATE_EPOCH`).
    pub fn from_unix(secs: i64) -> Result<Self, KitError> {
        let t =
            OffsetDateTime::from_unix_timestamp(secs).map_err(|e| KitError::InvalidManifest {
                field: "timestamp",
                reason: e.to_string(),
            })?;
        Timestamp::new(t)
    }

    /// Parses the canonical form; anything else (offsets, fractions, lower-case `t`/`z`)
    /// is refused.
    pub fn parse(s: &str) -> Result<Self, KitError> {
        let bad = || KitError::InvalidManifest {
            field: "timestamp",
            reason: format!(
                "{:?} is not an RFC 3339 UTC time of the form YYYY-MM-DDTHH:MM:SSZ",
                s.chars().take(64).collect::<String>()
            ),
        };
        let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad())?;
        let ts = Timestamp::new(t).map_err(|_| bad())?;
        if ts.to_string() != s {
            return Err(bad());
        }
        Ok(ts)
    }

    /// The instant.
    pub fn as_offset_date_time(&self) -> OffsetDateTime {
        self.0
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.0.unix_timestamp()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::model::rfc3339(self.0))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Who built the kit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    /// Tool name, e.g. `stella-kit`.
    pub name: String,
    /// Tool version, e.g. `0.1.0`.
    pub version: String,
}

/// What one feed contributed to the kit, for the operator's feed-age view.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSummary {
    /// Counts by category, e.g. advisories per ecosystem (`{"PyPI": 12034}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, u64>,
    /// When the upstream feed was last updated (Trivy DB `UpdatedAt`, newest OSV
    /// `modified`), truncated to whole seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// When upstream plans the next update (Trivy DB `NextUpdate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_update: Option<Timestamp>,
    /// Where the feed came from (URL or OCI reference), for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Per-feed facts about the kit's content. Free-form in names, typed in values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Feeds by name (`osv`, `nvd`, `trivy-db`, `trivy-java-db`, `tokens`, ...).
    #[serde(default)]
    pub feeds: BTreeMap<String, FeedSummary>,
}

/// One file of the kit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Where the file lives in the kit (and in the staging directory).
    pub path: EntryPath,
    /// Exact length in bytes.
    pub size: u64,
    /// SHA-256 of the content.
    pub sha256: Digest,
    /// What the content is.
    pub media_type: MediaType,
}

/// One Ed25519 signature over [`Manifest::canonical_bytes`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSignature {
    /// The signing key's id (minisign key number, 16 upper-case hex digits).
    pub keyid: KeyId,
    /// The 64-byte signature, standard base64 with padding.
    #[serde(with = "b64")]
    pub sig: Vec<u8>,
}

impl fmt::Debug for ManifestSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ManifestSignature({}, {} bytes)",
            self.keyid,
            self.sig.len()
        )
    }
}

mod b64 {
    use super::B64;
    use base64::Engine as _;
    use serde::Deserialize as _;

    pub(super) fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(v))
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() > 256 {
            return Err(serde::de::Error::custom(
                "signature longer than 256 characters",
            ));
        }
        B64.decode(s.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("signature base64: {e}")))
    }
}

/// The manifest: what the kit is, and the path, size, digest and media type of every
/// entry. `format` and `format_version` are implied (always [`FORMAT`] /
/// [`FORMAT_VERSION`]) and added when serializing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Unique id of this kit (`[A-Za-z0-9._:-]{1,128}`), e.g. a ULID.
    pub kit_id: String,
    /// Strictly increasing per producer key; the importer refuses rollbacks.
    pub sequence: u64,
    /// When the kit was built.
    pub created_at: Timestamp,
    /// After this instant the kit must not be imported.
    pub expires_at: Timestamp,
    /// If set, only the appliance of this site may import the kit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The tool that built the kit.
    pub producer: Producer,
    /// Feed counts and timestamps.
    pub summary: Summary,
    /// Every entry, sorted by path (byte order), no duplicates.
    pub entries: Vec<ManifestEntry>,
    /// Signatures over [`Manifest::canonical_bytes`], sorted by key id.
    pub signatures: Vec<ManifestSignature>,
}

fn label_problem(s: &str, allow: &[u8]) -> Option<String> {
    if s.is_empty() {
        return Some("must not be empty".into());
    }
    if s.len() > MAX_LABEL_LEN {
        return Some(format!("longer than {MAX_LABEL_LEN} bytes"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || allow.contains(&b))
    {
        return Some(format!(
            "only ASCII letters, digits and {:?} are allowed",
            String::from_utf8_lossy(allow)
        ));
    }
    None
}

/// Characters allowed in `kit_id` and `site` besides letters and digits.
const ID_CHARS: &[u8] = b"._:-";
/// Characters allowed in producer fields, feed names and count keys (ecosystem names
/// such as `Alpine:v3.19` or `crates.io`, versions such as `1.2.3+git`).
const LABEL_CHARS: &[u8] = b"._:-+@/ ";

impl Manifest {
    /// The bytes every signature covers: the canonical JSON (docs/ouk-format.md §5) of
    /// the manifest with the `signatures` member removed.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, KitError> {
        let mut v = self.to_value()?;
        if let Value::Object(m) = &mut v {
            m.remove("signatures");
        }
        canonical_json(&v)
    }

    /// The canonical JSON of the whole manifest, signatures included: the exact content
    /// of the kit's `manifest.json`.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, KitError> {
        canonical_json(&self.to_value()?)
    }

    fn to_value(&self) -> Result<Value, KitError> {
        let mut v = serde_json::to_value(self).map_err(|e| KitError::InvalidManifest {
            field: "manifest",
            reason: e.to_string(),
        })?;
        if let Value::Object(m) = &mut v {
            m.insert("format".into(), Value::from(FORMAT));
            m.insert("format_version".into(), Value::from(FORMAT_VERSION));
        }
        Ok(v)
    }

    /// Replaces the signatures with one by each of `signers` (sorted by key id, one per
    /// key). Checks the manifest's structure first so a producer never signs a manifest
    /// that readers would refuse.
    pub fn sign(&mut self, signers: &[&KeyPair]) -> Result<(), KitError> {
        if signers.is_empty() {
            return Err(KitError::NoSigners);
        }
        if signers.len() > MAX_SIGNATURES {
            return Err(KitError::InvalidManifest {
                field: "signatures",
                reason: format!("more than {MAX_SIGNATURES} signers"),
            });
        }
        self.validate()?;
        let msg = self.canonical_bytes()?;
        let mut sigs: BTreeMap<KeyId, Vec<u8>> = BTreeMap::new();
        for kp in signers {
            sigs.insert(kp.id(), kp.sign(&msg).to_vec());
        }
        self.signatures = sigs
            .into_iter()
            .map(|(keyid, sig)| ManifestSignature { keyid, sig })
            .collect();
        Ok(())
    }

    /// Checks everything about the manifest that does not depend on limits or keys:
    /// identifiers, timestamps, entry order and uniqueness, summary sizes.
    pub fn validate(&self) -> Result<(), KitError> {
        if let Some(r) = label_problem(&self.kit_id, ID_CHARS) {
            return Err(KitError::InvalidManifest {
                field: "kit_id",
                reason: r,
            });
        }
        if let Some(site) = &self.site
            && let Some(r) = label_problem(site, ID_CHARS)
        {
            return Err(KitError::InvalidManifest {
                field: "site",
                reason: r,
            });
        }
        for (field, v) in [
            ("producer.name", &self.producer.name),
            ("producer.version", &self.producer.version),
        ] {
            if let Some(r) = label_problem(v, LABEL_CHARS) {
                return Err(KitError::InvalidManifest { field, reason: r });
            }
        }
        if self.expires_at <= self.created_at {
            return Err(KitError::InvalidManifest {
                field: "expires_at",
                reason: format!(
                    "{} is not after created_at {}",
                    self.expires_at, self.created_at
                ),
            });
        }
        self.validate_summary()?;
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(KitError::InvalidManifest {
                field: "signatures",
                reason: format!(
                    "{} signatures, at most {MAX_SIGNATURES}",
                    self.signatures.len()
                ),
            });
        }
        for w in self.entries.windows(2) {
            let (a, b) = (&w[0].path, &w[1].path);
            if a == b {
                return Err(KitError::DuplicateManifestEntry {
                    path: b.to_string(),
                });
            }
            // Byte order of the UTF-8 paths (== `str` order; paths are ASCII anyway).
            if a > b {
                return Err(KitError::ManifestNotSorted {
                    path: b.to_string(),
                    previous: a.to_string(),
                });
            }
        }
        Ok(())
    }

    fn validate_summary(&self) -> Result<(), KitError> {
        let feeds = &self.summary.feeds;
        let bad = |reason: String| KitError::InvalidManifest {
            field: "summary",
            reason,
        };
        if feeds.len() > MAX_SUMMARY_ITEMS {
            return Err(bad(format!("more than {MAX_SUMMARY_ITEMS} feeds")));
        }
        for (name, feed) in feeds {
            if let Some(r) = label_problem(name, LABEL_CHARS) {
                return Err(bad(format!("feed name {name:?}: {r}")));
            }
            if feed.counts.len() > MAX_SUMMARY_ITEMS {
                return Err(bad(format!(
                    "feed {name}: more than {MAX_SUMMARY_ITEMS} counts"
                )));
            }
            for key in feed.counts.keys() {
                if let Some(r) = label_problem(key, LABEL_CHARS) {
                    return Err(bad(format!("feed {name}: count key {key:?}: {r}")));
                }
            }
            if let Some(src) = &feed.source
                && (src.len() > 2048 || src.chars().any(char::is_control))
            {
                return Err(bad(format!(
                    "feed {name}: source longer than 2048 bytes or has control characters"
                )));
            }
        }
        Ok(())
    }

    /// Checks the entry count, each entry's size and the total against `limits`.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), KitError> {
        let count = self.entries.len() as u64;
        if count > limits.entries() {
            return Err(KitError::TooManyEntries {
                count,
                limit: limits.entries(),
            });
        }
        let mut total: u64 = 0;
        for e in &self.entries {
            if e.size > limits.entry_bytes() {
                return Err(KitError::EntryTooLarge {
                    path: e.path.to_string(),
                    size: e.size,
                    limit: limits.entry_bytes(),
                });
            }
            total = total.saturating_add(e.size);
        }
        if total > limits.total_bytes() {
            return Err(KitError::TotalTooLarge {
                total,
                limit: limits.total_bytes(),
            });
        }
        Ok(())
    }

    /// The entry with this path, if listed.
    pub fn entry(&self, path: &str) -> Option<&ManifestEntry> {
        self.entry_index(path).map(|i| &self.entries[i])
    }

    /// Index of `path` in the (sorted) entry list.
    pub(crate) fn entry_index(&self, path: &str) -> Option<usize> {
        self.entries
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
    }

    /// Sum of all entry sizes (saturating).
    pub fn total_size(&self) -> u64 {
        self.entries
            .iter()
            .fold(0u64, |a, e| a.saturating_add(e.size))
    }

    /// Parses and verifies a `manifest.json`, in this order (docs/ouk-format.md §6):
    ///
    /// 1. size against `limits` (before any parsing);
    /// 2. JSON nesting depth (a byte scan), then well-formed JSON;
    /// 3. `format` is `stella-ouk` and `format_version` is 1;
    /// 4. the version-1 schema, no unknown members;
    /// 5. the bytes are exactly the canonical form;
    /// 6. at least `threshold` distinct keys of `trust` signed the canonical bytes;
    /// 7. structure (ids, timestamps, sorted unique entries) and `limits` (count,
    ///    per-entry size, total size).
    ///
    /// Expiry, rollback and site binding need the appliance's clock and state and are
    /// checked by the importer on the returned [`VerifiedManifest`].
    pub fn parse_and_verify(
        bytes: &[u8],
        trust: &TrustRoot,
        limits: &Limits,
    ) -> Result<VerifiedManifest, KitError> {
        let manifest = Manifest::parse_unverified(bytes, limits)?;
        // 6. Signatures, through the one threshold check of the product.
        let signed_by = manifest.verify_signatures(trust)?;
        // 7. Structure and limits.
        manifest.validate()?;
        manifest.check_limits(limits)?;
        Ok(VerifiedManifest {
            manifest,
            signed_by,
        })
    }

    /// Steps 1–5 of [`Manifest::parse_and_verify`] (size, depth, format and version,
    /// schema, canonical form) **without any signature check**: for `stella-kit inspect`
    /// and diagnostics only. Never trust what this returns.
    pub fn parse_unverified(bytes: &[u8], limits: &Limits) -> Result<Manifest, KitError> {
        // 1. Size first: nothing below allocates more than the input.
        if bytes.len() as u64 > limits.manifest_bytes() {
            return Err(KitError::ManifestTooLarge {
                size: bytes.len() as u64,
                limit: limits.manifest_bytes(),
            });
        }
        // 2. Depth, then JSON.
        check_depth(bytes, MAX_MANIFEST_DEPTH)?;
        let mut value: Value = serde_json::from_slice(bytes).map_err(KitError::ManifestJson)?;
        // 3. Format and version, before the schema: a version-2 manifest gets "unsupported
        //    version", not "unknown field".
        let Value::Object(obj) = &mut value else {
            return Err(KitError::UnsupportedFormat {
                found: String::new(),
            });
        };
        match obj.remove("format") {
            Some(Value::String(s)) if s == FORMAT => {}
            Some(Value::String(s)) => {
                return Err(KitError::UnsupportedFormat {
                    found: s.chars().take(64).collect(),
                });
            }
            other => {
                return Err(KitError::UnsupportedFormat {
                    found: other.map(|v| v.to_string()).unwrap_or_default(),
                });
            }
        }
        match obj.remove("format_version") {
            Some(Value::Number(n)) if n.as_u64() == Some(u64::from(FORMAT_VERSION)) => {}
            other => {
                let found = other.map_or_else(|| "(missing)".to_string(), |v| v.to_string());
                return Err(KitError::UnsupportedFormatVersion {
                    found: found.chars().take(64).collect(),
                    supported: FORMAT_VERSION,
                });
            }
        }
        // 4. Schema.
        let manifest: Manifest =
            serde_json::from_value(value).map_err(|e| KitError::ManifestSchema(e.to_string()))?;
        // 5. Canonical form: one byte sequence per manifest, so the verified bytes are
        //    exactly the stored bytes (no duplicate keys, no alternative escapes).
        if manifest.to_json_bytes()? != bytes {
            return Err(KitError::ManifestNotCanonical);
        }
        Ok(manifest)
    }

    /// Counts the signatures of pinned keys over the canonical bytes; at least the trust
    /// root's threshold must verify.
    pub fn verify_signatures(&self, trust: &TrustRoot) -> Result<BTreeSet<KeyId>, KitError> {
        let manifest = self;
        if manifest.signatures.len() > MAX_SIGNATURES {
            return Err(KitError::InvalidManifest {
                field: "signatures",
                reason: format!("more than {MAX_SIGNATURES} signatures"),
            });
        }
        let msg = manifest.canonical_bytes()?;
        let refs = manifest.signatures.iter().map(|s| SignatureRef {
            keyid: Some(s.keyid),
            sig: &s.sig,
        });
        let signed_by = match trust.verify_threshold(&msg, refs) {
            Ok(ids) => ids,
            Err(SigningError::ThresholdNotMet { valid, required }) => {
                // Diagnosis only (the decision was made above): name a pinned key whose
                // signature fails, since that points at tampering rather than a
                // missing co-signer.
                let bad = manifest.signatures.iter().find(|s| {
                    trust
                        .key(&s.keyid)
                        .is_some_and(|k| k.verify_slice(&msg, &s.sig).is_err())
                });
                return Err(match bad {
                    Some(s) => KitError::BadSignature { keyid: s.keyid },
                    None => KitError::SignatureThresholdNotMet { valid, required },
                });
            }
            Err(e) => {
                return Err(KitError::InvalidManifest {
                    field: "signatures",
                    reason: e.to_string(),
                });
            }
        };
        Ok(signed_by)
    }
}

/// A manifest whose canonical form, signatures, structure and limits have been checked.
/// Only [`Manifest::parse_and_verify`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedManifest {
    manifest: Manifest,
    signed_by: BTreeSet<KeyId>,
}

impl VerifiedManifest {
    /// The pinned keys whose signatures verified.
    pub fn signed_by(&self) -> &BTreeSet<KeyId> {
        &self.signed_by
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
}

impl Deref for VerifiedManifest {
    type Target = Manifest;
    fn deref(&self) -> &Manifest {
        &self.manifest
    }
}

/// Refuses JSON that nests arrays/objects deeper than `limit`, by scanning bytes (so no
/// recursive parser ever sees it). Brackets inside strings do not count.
fn check_depth(bytes: &[u8], limit: usize) -> Result<(), KitError> {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &b in bytes {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Err(KitError::ManifestTooDeep { limit });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The manifest's canonical JSON of `v` (docs/ouk-format.md §5): the workspace's one
/// canonical writer ([`crate::model::canonical_json_integers`]), integers only, its
/// refusal as a [`KitError`].
pub fn canonical_json(v: &Value) -> Result<Vec<u8>, KitError> {
    crate::model::canonical_json_integers(v).map_err(|e| KitError::InvalidManifest {
        field: "manifest",
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kp(n: u8) -> KeyPair {
        KeyPair::from_seed(KeyId([n; 8]), &[n; 32])
    }

    fn sample() -> Manifest {
        let mut feeds = BTreeMap::new();
        feeds.insert(
            "osv".to_string(),
            FeedSummary {
                counts: [("PyPI".to_string(), 3u64), ("npm".to_string(), 5)]
                    .into_iter()
                    .collect(),
                updated_at: Some(Timestamp::parse("2026-11-01T00:00:00Z").expect("ts")),
                next_update: None,
                source: Some("file:///mirror/osv".into()),
            },
        );
        Manifest {
            kit_id: "01JABCDEF".into(),
            sequence: 7,
            created_at: Timestamp::parse("2026-11-20T10:00:00Z").expect("ts"),
            expires_at: Timestamp::parse("2026-12-20T10:00:00Z").expect("ts"),
            site: Some("plant-7".into()),
            producer: Producer {
                name: "stella-kit".into(),
                version: "0.1.0".into(),
            },
            summary: Summary { feeds },
            entries: vec![ManifestEntry {
                path: EntryPath::new("advisories/PyPI.jsonl").expect("path"),
                size: 3,
                sha256: Digest::from_bytes([0xab; 32]),
                media_type: MediaType::new(crate::path::media_types::ADVISORIES_JSONL).expect("mt"),
            }],
            signatures: vec![],
        }
    }

    #[test]
    fn canonical_bytes_are_sorted_compact_and_exclude_signatures() {
        let mut m = sample();
        m.sign(&[&kp(1)]).expect("sign");
        let c = String::from_utf8(m.canonical_bytes().expect("canon")).expect("utf8");
        assert!(c.starts_with(r#"{"created_at":"2026-11-20T10:00:00Z","entries":[{"media_type""#));
        assert!(c.contains(r#""format":"stella-ouk","format_version":1,"kit_id""#));
        assert!(!c.contains("signatures"));
        assert!(!c.contains(' ') && !c.contains('\n'));
        let full = String::from_utf8(m.to_json_bytes().expect("json")).expect("utf8");
        assert!(full.contains(r#""signatures":[{"keyid":"0101010101010101","sig":""#));
    }

    #[test]
    fn signed_manifest_verifies_and_round_trips() {
        let mut m = sample();
        m.sign(&[&kp(1)]).expect("sign");
        let bytes = m.to_json_bytes().expect("json");
        let root = TrustRoot::single(kp(1).public());
        let v = Manifest::parse_and_verify(&bytes, &root, &Limits::default()).expect("verifies");
        assert_eq!(v.manifest(), &m);
        assert_eq!(v.signed_by().len(), 1);
    }

    #[test]
    fn whitespace_or_reordered_keys_are_not_canonical() {
        let mut m = sample();
        m.sign(&[&kp(1)]).expect("sign");
        let root = TrustRoot::single(kp(1).public());
        let pretty = serde_json::to_vec_pretty(
            &serde_json::from_slice::<Value>(&m.to_json_bytes().expect("json")).expect("v"),
        )
        .expect("pretty");
        assert!(matches!(
            Manifest::parse_and_verify(&pretty, &root, &Limits::default()),
            Err(KitError::ManifestNotCanonical)
        ));
    }

    #[test]
    fn timestamps_have_one_spelling() {
        assert!(Timestamp::parse("2026-11-20T10:00:00Z").is_ok());
        for bad in [
            "2026-11-20T10:00:00.5Z",
            "2026-11-20T10:00:00+00:00",
            "2026-11-20t10:00:00z",
            "2026-11-20 10:00:00Z",
            "2026-11-20",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn depth_scan_ignores_brackets_in_strings() {
        assert!(check_depth(br#"{"a":"[[[[[[[[[[[[[[[[[[[["}"#, 2).is_ok());
        assert!(check_depth(br#"{"a":"\"[[[","b":[[1]]}"#, 3).is_ok());
        assert!(matches!(
            check_depth(b"[[[[", 3),
            Err(KitError::ManifestTooDeep { limit: 3 })
        ));
    }

    #[test]
    fn floats_have_no_canonical_form() {
        let v: Value = serde_json::from_str(r#"{"a":1.5}"#).expect("json");
        assert!(canonical_json(&v).is_err());
    }
}
