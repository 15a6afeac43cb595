//! Validated names inside a kit: [`EntryPath`], [`Digest`] and [`MediaType`].
//!
//! Every value of these types is valid by construction (tough's `TargetName` habit): a
//! kit entry path that could escape the staging directory, collide with the manifest or
//! fail to fit a plain ustar header simply cannot exist as an [`EntryPath`]. The rules are
//! the normative ones of `docs/ouk-format.md` §4.
use std::fmt;
use std::str::FromStr;

use crate::error::KitError;

/// The name of the first tar entry of every kit. It is never a valid [`EntryPath`].
pub const MANIFEST_NAME: &str = "manifest.json";

/// Longest path accepted (bytes). ustar can store at most 155 + 1 + 100 bytes.
pub const MAX_PATH_LEN: usize = 256;
/// Longest single component (bytes); ustar's `name` field is 100 bytes, so the last
/// component can never be longer than that anyway.
pub const MAX_COMPONENT_LEN: usize = 100;
/// ustar `name` field size.
const USTAR_NAME: usize = 100;
/// ustar `prefix` field size.
const USTAR_PREFIX: usize = 155;

/// Bytes allowed in a path component besides ASCII letters and digits.
///
/// Enough for OCI layouts (`sha256`, hex), ecosystems (`crates.io`, `Packagist`),
/// versions (`1.0+git`) and purl-ish names (`@`, `:`, `=`, `,`), while excluding
/// everything a shell, a Windows file system or a URL would treat specially
/// (space, `\`, `*`, `?`, `"`, `<`, `>`, `|`, `%`, `#`, `~`, `$`).
const EXTRA_CHARS: &[u8] = b"._-+@:=,";

/// Why a path was refused, as a stable, human-readable phrase.
fn path_problem(s: &str) -> Option<&'static str> {
    if s.is_empty() {
        return Some("empty path");
    }
    if s.len() > MAX_PATH_LEN {
        return Some("longer than 256 bytes");
    }
    if s.starts_with('/') {
        return Some("absolute path");
    }
    if s.contains('\\') {
        return Some("contains a backslash");
    }
    if s.bytes().any(|b| b == 0 || b.is_ascii_control()) {
        return Some("contains a NUL or control character");
    }
    for comp in s.split('/') {
        match comp {
            "" => return Some("empty path component (`//` or trailing `/`)"),
            "." => return Some("`.` component"),
            ".." => return Some("`..` component"),
            _ => {}
        }
        if comp.len() > MAX_COMPONENT_LEN {
            return Some("component longer than 100 bytes");
        }
        if !comp
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || EXTRA_CHARS.contains(&b))
        {
            return Some("character outside [A-Za-z0-9._-+@:=,]");
        }
    }
    if s == MANIFEST_NAME {
        return Some("`manifest.json` is reserved for the manifest");
    }
    if !fits_ustar(s) {
        return Some("does not fit a ustar header (name ≤ 100 bytes, prefix ≤ 155 bytes)");
    }
    None
}

/// Whether `s` can be stored in a ustar header without PAX or GNU extensions: either it
/// fits the 100-byte `name` field, or it can be split at a `/` into a prefix of at most
/// 155 bytes and a name of at most 100 bytes.
fn fits_ustar(s: &str) -> bool {
    if s.len() <= USTAR_NAME {
        return true;
    }
    s.match_indices('/')
        .any(|(i, _)| i <= USTAR_PREFIX && s.len() - i - 1 <= USTAR_NAME)
}

/// A validated entry path: relative, `/`-separated, no empty, `.` or `..` component, only
/// `[A-Za-z0-9._-+@:=,]`, at most 256 bytes, each component at most 100 bytes, storable
/// in a plain ustar header, and never `manifest.json`.
///
/// ```
/// use bundles::EntryPath;
/// assert!(EntryPath::new("advisories/PyPI.jsonl").is_ok());
/// assert!(EntryPath::new("../etc/passwd").is_err());
/// assert!(EntryPath::new("/abs").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryPath(String);

impl EntryPath {
    /// Validates `s` as an entry path.
    pub fn new(s: impl Into<String>) -> Result<Self, KitError> {
        let s = s.into();
        match path_problem(&s) {
            None => Ok(EntryPath(s)),
            Some(reason) => Err(KitError::InvalidPath { path: s, reason }),
        }
    }

    /// The path as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated components (never empty, `.` or `..`).
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for EntryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EntryPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryPath({:?})", self.0)
    }
}

impl FromStr for EntryPath {
    type Err = KitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntryPath::new(s)
    }
}

impl AsRef<str> for EntryPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for EntryPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for EntryPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EntryPath::new(s).map_err(serde::de::Error::custom)
    }
}

/// A SHA-256 digest, written as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// Wraps raw digest bytes (e.g. the output of `sha2::Sha256`).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Digest(bytes)
    }

    /// Parses 64 lower-case hex digits. Upper case is refused so that every digest has
    /// exactly one spelling (the manifest is signed as text).
    pub fn from_hex(s: &str) -> Result<Self, KitError> {
        let bad = |reason| KitError::InvalidDigest {
            value: s.chars().take(80).collect(),
            reason,
        };
        if s.len() != 64 {
            return Err(bad("must be 64 hex digits"));
        }
        if !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad("must be lower-case hex"));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| bad("must be lower-case hex"))?;
        Ok(Digest(out))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The lower-case hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl FromStr for Digest {
    type Err = KitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::from_hex(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Longest media type accepted (RFC 6838 allows 127 + 1 + 127).
pub const MAX_MEDIA_TYPE_LEN: usize = 255;

/// A media type `type/subtype` without parameters (RFC 6838 `restricted-name` on each
/// side, lower-case only so that each media type has one spelling), e.g.
/// `application/vnd.stella.advisories.v1+jsonl`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaType(String);

impl MediaType {
    /// Validates `s` as a media type.
    pub fn new(s: impl Into<String>) -> Result<Self, KitError> {
        let s = s.into();
        let problem = media_type_problem(&s);
        match problem {
            None => Ok(MediaType(s)),
            Some(reason) => Err(KitError::InvalidMediaType {
                value: s.chars().take(300).collect(),
                reason,
            }),
        }
    }

    /// The media type as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn media_type_problem(s: &str) -> Option<&'static str> {
    if s.len() > MAX_MEDIA_TYPE_LEN {
        return Some("longer than 255 bytes");
    }
    let Some((ty, sub)) = s.split_once('/') else {
        return Some("must be `type/subtype`");
    };
    // RFC 6838 §4.2: restricted-name = first char alnum, then up to 126 of
    // alnum and "!#$&-^_.+"; we additionally require lower case.
    let name_ok = |n: &str| {
        let b = n.as_bytes();
        !b.is_empty()
            && b.len() <= 127
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"!#$&-^_.+".contains(c))
    };
    if !name_ok(ty) || !name_ok(sub) {
        return Some("type and subtype must be lower-case RFC 6838 restricted names");
    }
    None
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MediaType({:?})", self.0)
    }
}

impl FromStr for MediaType {
    type Err = KitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MediaType::new(s)
    }
}

impl serde::Serialize for MediaType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for MediaType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MediaType::new(s).map_err(serde::de::Error::custom)
    }
}

impl EntryPath {
    /// `advisories/<Ecosystem>.jsonl` for an OSV ecosystem name; characters an entry path
    /// does not allow (the space of `Red Hat`) become `_`.
    pub fn advisories_for(ecosystem: &str) -> Result<EntryPath, KitError> {
        EntryPath::new(format!("advisories/{}.jsonl", file_safe(ecosystem)))
    }
}

/// `name` with every character an entry path component does not allow replaced by `_`.
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii() && (c.is_ascii_alphanumeric() || EXTRA_CHARS.contains(&(c as u8))) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The media types of the recommended kit layout (`docs/ouk-format.md` §7).
pub mod media_types {
    /// `advisories/<Ecosystem>.jsonl`: one canonical advisory per line, sorted by id.
    pub const ADVISORIES_JSONL: &str = "application/vnd.stella.advisories.v1+jsonl";
    /// `tokens/clients.json`: the vendor-signed client tokens.
    pub const CLIENT_TOKENS: &str = "application/vnd.stella.tokens.v1+json";
    /// `tokens/revoked.json`: the token revocation list.
    pub const REVOKED_TOKENS: &str = "application/vnd.stella.revocations.v1+json";
    /// `oci/<name>/index.json`: an OCI image-layout index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// `oci/<name>/oci-layout`: the OCI image-layout marker file.
    pub const OCI_LAYOUT: &str = "application/vnd.oci.layout.header.v1+json";
    /// `oci/<name>/blobs/sha256/<hex>`: an OCI blob (manifest, config or layer). The
    /// blob's own media type lives in the OCI descriptors; the kit only needs the bytes.
    pub const OCI_BLOB: &str = "application/octet-stream";
    /// `nvd/cves.jsonl`: NVD 2.0 CVE records, one per line, sorted by CVE id.
    pub const NVD_CVES_JSONL: &str = "application/vnd.stella.nvd.cves.v1+jsonl";
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn advisory_entry_names_are_made_safe() {
        assert_eq!(
            EntryPath::advisories_for("Red Hat").expect("safe").as_str(),
            "advisories/Red_Hat.jsonl"
        );
        assert_eq!(
            EntryPath::advisories_for("Debian:12")
                .expect("safe")
                .as_str(),
            "advisories/Debian:12.jsonl"
        );
        assert_eq!(file_safe("é/x"), "__x");
    }

    #[test]
    fn accepts_the_recommended_layout() {
        for p in [
            "advisories/PyPI.jsonl",
            "advisories/crates.io.jsonl",
            "advisories/Debian:12.jsonl",
            "tokens/clients.json",
            "oci/trivy-db/index.json",
            "oci/trivy-db/oci-layout",
            "oci/trivy-db/blobs/sha256/44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "nvd/cves.jsonl",
            ".hidden",
            "a..b",
        ] {
            assert!(EntryPath::new(p).is_ok(), "{p} should be accepted");
        }
    }

    #[test]
    fn refuses_unsafe_paths_with_a_reason() {
        for (p, why) in [
            ("", "empty path"),
            ("/etc/passwd", "absolute path"),
            ("../x", "`..` component"),
            ("a/../../x", "`..` component"),
            ("./a", "`.` component"),
            ("a//b", "empty path component (`//` or trailing `/`)"),
            ("a/", "empty path component (`//` or trailing `/`)"),
            ("a\\b", "contains a backslash"),
            ("a\0b", "contains a NUL or control character"),
            ("a\nb", "contains a NUL or control character"),
            ("a b", "character outside [A-Za-z0-9._-+@:=,]"),
            ("é", "character outside [A-Za-z0-9._-+@:=,]"),
            (
                "manifest.json",
                "`manifest.json` is reserved for the manifest",
            ),
        ] {
            match EntryPath::new(p) {
                Err(KitError::InvalidPath { reason, .. }) => assert_eq!(reason, why, "{p:?}"),
                other => panic!("{p:?}: expected InvalidPath, got {other:?}"),
            }
        }
    }

    #[test]
    fn length_limits_follow_ustar() {
        let c100 = "a".repeat(100);
        assert!(EntryPath::new(c100.clone()).is_ok());
        assert!(EntryPath::new("a".repeat(101)).is_err());
        // prefix (155) + '/' + name (100) = 256: the longest storable path.
        let prefix = format!("{}/{}", "p".repeat(100), "q".repeat(54));
        assert_eq!(prefix.len(), 155);
        assert!(EntryPath::new(format!("{prefix}/{c100}")).is_ok());
        // 157 bytes of prefix cannot be split into ≤155 + ≤100.
        let long = format!("{}/{}/{}", "p".repeat(100), "q".repeat(56), "r".repeat(99));
        assert!(EntryPath::new(long).is_err());
    }

    #[test]
    fn digest_has_one_spelling() {
        let d = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        assert_eq!(Digest::from_hex(d).expect("valid").to_hex(), d);
        assert!(Digest::from_hex(&d.to_uppercase()).is_err());
        assert!(Digest::from_hex(&d[1..]).is_err());
        assert!(Digest::from_hex(&format!("{}g", &d[1..])).is_err());
    }

    #[test]
    fn media_types_are_validated() {
        for ok in [
            media_types::ADVISORIES_JSONL,
            media_types::OCI_INDEX,
            media_types::OCI_BLOB,
            "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip",
        ] {
            assert!(MediaType::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "application",
            "application/",
            "/json",
            "Application/JSON",
            "text/plain; charset=utf-8",
            "a/b/c",
        ] {
            assert!(MediaType::new(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,400}") {
            let _ = EntryPath::new(s.clone());
            let _ = Digest::from_hex(&s);
            let _ = MediaType::new(s);
        }

        #[test]
        fn accepted_paths_are_safe_and_round_trip(
            s in "[A-Za-z0-9._+@:=,/-]{1,300}"
        ) {
            if let Ok(p) = EntryPath::new(s.clone()) {
                prop_assert_eq!(p.as_str(), s.as_str());
                prop_assert!(!s.starts_with('/'));
                prop_assert!(p.components().all(|c| !c.is_empty() && c != "." && c != ".."));
                prop_assert!(s.len() <= MAX_PATH_LEN);
                prop_assert!(fits_ustar(&s));
                // Display → parse → same value; serde round trip too.
                let back: EntryPath = p.to_string().parse().expect("re-parses");
                prop_assert_eq!(&back, &p);
                let json = serde_json::to_string(&p).expect("serializes");
                let back: EntryPath = serde_json::from_str(&json).expect("deserializes");
                prop_assert_eq!(back, p);
            }
        }

        #[test]
        fn paths_built_from_valid_components_are_accepted(
            comps in proptest::collection::vec("[a-z0-9][A-Za-z0-9._+@:=,-]{0,20}", 1..6)
        ) {
            let s = comps.join("/");
            prop_assume!(comps.iter().all(|c| c != "." && c != ".."));
            prop_assume!(s != MANIFEST_NAME);
            prop_assert!(EntryPath::new(s).is_ok());
        }
    }
}
