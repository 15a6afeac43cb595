//! Value types exchanged with a [`Store`](super::Store). Each validating newtype rejects a
//! bad value at construction, so the store never sees one.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::error::StoreError;

/// A SHA-256 digest, written `sha256:<64 lowercase hex>` (the OCI digest form).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// Length of the text form: `sha256:` + 64 hex digits.
    pub const TEXT_LEN: usize = 7 + 64;

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Wraps raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits, without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 lowercase hex digits (no prefix), the form used in blob file names.
    pub fn from_hex(s: &str) -> Result<Self, StoreError> {
        // OCI image-spec: the sha256 encoded part must match [a-f0-9]{64}; uppercase is
        // refused so one digest has exactly one spelling (keys and file names stay unique).
        if s.len() != 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(StoreError::invalid(
                "digest",
                format!(
                    "expected 64 lowercase hex digits, got {:?}",
                    truncate(s, 80)
                ),
            ));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|e| StoreError::invalid("digest", e.to_string()))?;
        Ok(Self(out))
    }
}

impl FromStr for Sha256Digest {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some(hex_part) = s.strip_prefix("sha256:") else {
            return Err(StoreError::invalid(
                "digest",
                format!("expected \"sha256:<64 hex>\", got {:?}", truncate(s, 80)),
            ));
        };
        Self::from_hex(hex_part)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Shortens untrusted text quoted in error messages so a huge input cannot blow up a log line.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The key a quota is counted under: a client id or token id.
///
/// 1–128 characters from `A-Z a-z 0-9 . _ - : @ + =`; in particular no `/`, which
/// separates the parts of the counter key `quota/<key>/<YYYY-MM-DD>`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct QuotaKey(String);

impl QuotaKey {
    /// Longest accepted key.
    pub const MAX_LEN: usize = 128;

    /// Validates a quota key.
    pub fn new(key: impl Into<String>) -> Result<Self, StoreError> {
        let key = key.into();
        if key.is_empty() || key.len() > Self::MAX_LEN {
            return Err(StoreError::invalid(
                "quota key",
                format!("length must be 1..={}, got {}", Self::MAX_LEN, key.len()),
            ));
        }
        if let Some(c) = key
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "._-:@+=".contains(*c)))
        {
            return Err(StoreError::invalid(
                "quota key",
                format!("character {c:?} not allowed in {:?}", truncate(&key, 40)),
            ));
        }
        Ok(Self(key))
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QuotaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A day's quota counter as seen by `GET /api/v1/quota`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct QuotaStatus {
    /// Scans allowed per UTC day.
    pub limit: u32,
    /// Scans counted today (never above `limit`).
    pub used: u32,
    /// `limit - used`.
    pub remaining: u32,
    /// The next UTC midnight, when the counter starts again from zero.
    #[serde(with = "time::serde::rfc3339")]
    pub resets_at: OffsetDateTime,
}

/// The answer to one attempt at taking a unit of quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct QuotaDecision {
    /// Whether this attempt got a unit (`false` → HTTP 429).
    pub allowed: bool,
    /// Scans allowed per UTC day.
    pub limit: u32,
    /// Scans counted for the day after this attempt.
    pub used: u32,
    /// `limit - used`.
    pub remaining: u32,
    /// The next UTC midnight (the `Retry-After` value when refused).
    #[serde(with = "time::serde::rfc3339")]
    pub resets_at: OffsetDateTime,
}

impl QuotaDecision {
    /// The counter state, without the decision.
    pub fn status(&self) -> QuotaStatus {
        QuotaStatus {
            limit: self.limit,
            used: self.used,
            remaining: self.remaining,
            resets_at: self.resets_at,
        }
    }
}

/// A scan's unique, time-sortable id: a ULID (48-bit millisecond time + 80 random bits,
/// 26 Crockford base-32 characters). Ids made by one store are strictly increasing, so
/// "newest first" is "largest id first" and the id doubles as a paging cursor.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScanId(ulid::Ulid);

impl ScanId {
    pub(crate) const fn from_ulid(u: ulid::Ulid) -> Self {
        Self(u)
    }

    /// The millisecond timestamp embedded in the id.
    pub fn timestamp_ms(&self) -> u64 {
        self.0.timestamp_ms()
    }
}

impl FromStr for ScanId {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the canonical (uppercase, 26-char) spelling is accepted so that text
        // comparison in SQLite matches id order.
        if s.len() != 26 || s.bytes().any(|b| b.is_ascii_lowercase()) {
            return Err(StoreError::invalid(
                "scan id",
                format!(
                    "expected 26 uppercase Crockford base-32 characters, got {:?}",
                    truncate(s, 40)
                ),
            ));
        }
        ulid::Ulid::from_string(s)
            .map(Self)
            .map_err(|e| StoreError::invalid("scan id", format!("{e}: {:?}", truncate(s, 40))))
    }
}

impl fmt::Display for ScanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; ulid::ULID_LEN];
        f.write_str(self.0.array_to_str(&mut buf))
    }
}

impl fmt::Debug for ScanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScanId({self})")
    }
}

impl Serialize for ScanId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A scan's verdict and its per-severity counts are the workspace's one vocabulary
/// ([`bundles::model`]), re-exported with the records that hold them.
pub use bundles::model::{SeverityCounts, Verdict};

pub use bundles::tokens::RevocationKind;

/// A client or token revoked on this appliance by an operator, in force until lifted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// What is revoked.
    pub kind: RevocationKind,
    /// The client id or token id.
    pub id: String,
    /// Who revoked it.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The kit whose feeds a scan used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KitRef {
    /// The kit's id.
    pub id: String,
    /// The kit's sequence number.
    pub sequence: u64,
}

/// A scan result to store. The store assigns the [`ScanId`].
#[derive(Clone, Debug, PartialEq)]
pub struct NewScan {
    /// When the scan ran.
    pub created_at: OffsetDateTime,
    /// Who asked: the token's subject / client id.
    pub subject: String,
    /// Digest of the submitted SBOM (see [`Store::put_sbom`](super::Store::put_sbom)).
    pub sbom_sha256: Sha256Digest,
    /// Human name of what was scanned (SBOM metadata component or file name).
    pub name: String,
    /// Image digest, when the SBOM describes a container image.
    pub image_digest: Option<String>,
    /// SBOM format, e.g. `cyclonedx-1.5`, `spdx-2.3`, `syft-json`.
    pub format: String,
    /// The policy verdict.
    pub verdict: Verdict,
    /// Findings per severity.
    pub summary: SeverityCounts,
    /// The findings array, as JSON text (must be well-formed JSON).
    pub findings_json: String,
    /// Digest of the canonical findings (replayable verdicts).
    pub findings_digest: Sha256Digest,
    /// Digest of the policy in force.
    pub policy_digest: Sha256Digest,
    /// The kit in force, if any.
    pub kit: Option<KitRef>,
    /// The signed evidence envelope (DSSE JSON), if produced.
    pub evidence_json: Option<String>,
    /// How long the scan took.
    pub duration: Duration,
}

/// A stored scan with its details.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanRecord {
    /// The id the store assigned.
    pub id: ScanId,
    /// Everything that was stored.
    pub scan: NewScan,
}

/// One row of a scan listing (no findings or evidence: those can be large).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScanSummary {
    /// The scan id.
    pub id: ScanId,
    /// When the scan ran.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who asked.
    pub subject: String,
    /// What was scanned.
    pub name: String,
    /// Image digest, if any.
    pub image_digest: Option<String>,
    /// SBOM format.
    pub format: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Findings per severity.
    pub summary: SeverityCounts,
    /// Digest of the SBOM.
    pub sbom_sha256: Sha256Digest,
    /// Kit in force, if any.
    pub kit: Option<KitRef>,
}

/// Which scans to list. Empty filter = all scans.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScanFilter {
    /// Case-insensitive substring of the name or image digest (at most 200 characters).
    pub text: Option<String>,
    /// Only scans with exactly this name (indexed: the console's per-project look-ups).
    pub name: Option<String>,
    /// Only this verdict.
    pub verdict: Option<Verdict>,
    /// Only scans created at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Only scans created before this instant.
    pub until: Option<OffsetDateTime>,
    /// Only scans by this subject.
    pub subject: Option<String>,
}

/// Which page of a listing. Listings are newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows per page; values above [`PageRequest::MAX_LIMIT`] are lowered to it, 0 is refused.
    pub limit: u32,
    /// Continue after this id (the previous page's `next_cursor`).
    pub cursor: Option<ScanId>,
}

impl PageRequest {
    /// Largest page size served.
    pub const MAX_LIMIT: u32 = 200;

    /// The first page of `limit` rows.
    pub const fn first(limit: u32) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page<T> {
    /// The rows, newest first.
    pub items: Vec<T>,
    /// Pass this as [`PageRequest::cursor`] for the next page; `None` on the last page.
    pub next_cursor: Option<ScanId>,
}

/// Session data handed to the console on every request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The operator logged in.
    pub username: String,
    /// When the session started.
    pub created_at: OffsetDateTime,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
    /// Per-session secret for CSRF tokens (64 hex digits).
    pub csrf_secret: String,
}

/// A session just created: the only time the bearer token is visible (only its hash is stored).
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The session cookie value: 256 random bits as 64 hex digits.
    pub token: String,
    /// The session itself.
    pub session: Session,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a bearer credential: keep it out of logs.
        f.debug_struct("NewSession")
            .field("token", &"<redacted>")
            .field("session", &self.session)
            .finish()
    }
}

/// A policy version to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPolicy {
    /// The policy document (YAML text; its format belongs to the policy module).
    pub yaml: String,
    /// Who saved it.
    pub author: String,
    /// Why (free text, may be empty).
    pub comment: String,
}

/// A stored policy version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    /// 1, 2, 3, ... in save order.
    pub version: u64,
    /// Digest of `yaml` (what evidence records as the policy digest).
    pub sha256: Sha256Digest,
    /// The document.
    pub yaml: String,
    /// Who saved it.
    pub author: String,
    /// Why.
    pub comment: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Argon2id cost parameters for operator passwords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for PasswordCost {
    /// OWASP's argon2id baseline (19 MiB, 2 iterations, 1 lane), argon2's own default.
    fn default() -> Self {
        Self {
            m_kib: argon2::Params::DEFAULT_M_COST,
            t: argon2::Params::DEFAULT_T_COST,
            p: argon2::Params::DEFAULT_P_COST,
        }
    }
}
