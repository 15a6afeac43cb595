//! OCI artifacts by reference (FORMATS.md §1 "OCI artifact", §8): the Trivy DB, the Java DB,
//! or anything else a registry holds.
//!
//! The pull follows what Trivy's go-containerregistry does: request, and on a `401` with a
//! `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge fetch an anonymous token
//! from the realm and repeat the request with it (ghcr.io works this way even for public
//! images). The manifest is kept as the exact bytes served, with its media type, and every
//! blob (config included, so standard clients can pull the mirror) is verified against its
//! descriptor's digest and size before it enters the cache. When pulling by digest the
//! manifest's digest is verified too; when pulling by tag, a `Docker-Content-Digest` header
//! is checked if the registry sends one.
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use super::{Origin, SourceError, SourceErrorKind};
use crate::fetch::cache::{RefRecord, sha256_hex};
use crate::fetch::{FetchError, Fetcher, sha256_file};

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest v2 schema 2 media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The Trivy DB layer media type.
pub const TRIVY_DB_LAYER: &str = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip";
/// The Trivy Java DB layer media type.
pub const TRIVY_JAVA_DB_LAYER: &str = "application/vnd.aquasec.trivy.javadb.layer.v1.tar+gzip";
/// The annotation that names a layer's file (`db.tar.gz`).
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// Largest manifest accepted (the distribution spec lets registries cap at 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
const MAX_TOKEN_BYTES: u64 = 1 << 20;

/// A parsed image reference: `[registry/]repository[:tag][@sha256:…]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a reference string was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid OCI reference {reference:?}: {reason}")]
pub struct InvalidReference {
    /// The text given.
    pub reference: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn valid_repo_component(c: &str) -> bool {
    // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && matches!(b[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok || i == start {
            return false;
        }
    }
    true
}

/// Whether `name` is a valid OCI repository name (the distribution spec's `<name>`:
/// lowercase `[a-z0-9]` components separated by `.`, `_`, `__` or `-`, joined by `/`).
pub fn valid_repository(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.split('/').all(valid_repo_component)
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

impl FromStr for Reference {
    type Err = InvalidReference;

    fn from_str(s: &str) -> Result<Reference, InvalidReference> {
        let bad = |reason| InvalidReference {
            reference: s.to_string(),
            reason,
        };
        if s.len() > 512 {
            return Err(bad("longer than 512 bytes"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                sha256_hex(d).ok_or_else(|| bad("digest is not sha256:<64 lowercase hex>"))?;
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // The registry is the first component when it looks like a host.
        let (registry, path) = match rest.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path)
            }
            _ => ("docker.io".to_string(), rest),
        };
        if registry.is_empty()
            || !registry
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b':' | b'[' | b']'))
        {
            return Err(bad("invalid registry host"));
        }
        let (repo, tag) = match path.rsplit_once(':') {
            Some((r, t)) => {
                if !valid_tag(t) {
                    return Err(bad("invalid tag"));
                }
                (r, Some(t.to_string()))
            }
            None => (path, None),
        };
        if !repo.split('/').all(valid_repo_component) {
            return Err(bad(
                "invalid repository name (lowercase [a-z0-9] components separated by . _ __ -)",
            ));
        }
        let repository = if registry == "docker.io" && !repo.contains('/') {
            format!("library/{repo}")
        } else {
            repo.to_string()
        };
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl Reference {
    /// The registry host (`ghcr.io`, `127.0.0.1:5000`; `docker.io` by default).
    pub fn registry(&self) -> &str {
        &self.registry
    }
    /// The repository path (`aquasecurity/trivy-db`).
    pub fn repository(&self) -> &str {
        &self.repository
    }
    /// The tag, if any (`latest` when neither tag nor digest was given).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    /// The digest, if pulled by digest.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }
    /// What goes after `/manifests/`: the digest when given (it pins), else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
    /// The registry's API base URL (`https://ghcr.io`; Docker Hub's API host for docker.io).
    pub fn default_base_url(&self) -> String {
        if self.registry == "docker.io" {
            "https://registry-1.docker.io".into()
        } else {
            format!("https://{}", self.registry)
        }
    }
}

/// An OCI content descriptor.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Annotations (the layer's title, for example).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The artifact type, on index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// The `org.opencontainers.image.title` annotation (the file name oras/Trivy use).
    pub fn title(&self) -> Option<&str> {
        self.annotations.get(TITLE_ANNOTATION).map(String::as_str)
    }
}

/// The parts of an image manifest this crate reads (the bytes themselves are kept as is).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageManifest {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// The manifest exactly as the registry served it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredManifest {
    /// Its media type (served back as `Content-Type`).
    pub media_type: String,
    /// `sha256:<hex>` of [`StoredManifest::bytes`].
    pub digest: String,
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// Where it is stored (the cache's blob store or the OCI layout).
    pub path: PathBuf,
}

/// A verified blob on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    /// Its descriptor from the manifest.
    pub descriptor: Descriptor,
    /// The verified file.
    pub path: PathBuf,
}

/// A pulled artifact: everything an appliance needs to serve it again byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PulledArtifact {
    /// The reference pulled (as configured).
    pub reference: String,
    /// The repository name to serve it under (`aquasecurity/trivy-db`).
    pub repository: String,
    /// The tag it was pulled by, if any.
    pub tag: Option<String>,
    /// The manifest.
    pub manifest: StoredManifest,
    /// The manifest's `artifactType`, if set.
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: StoredBlob,
    /// The layers, in manifest order.
    pub layers: Vec<StoredBlob>,
}

/// Caps for one artifact.
#[derive(Clone, Copy, Debug)]
pub struct OciLimits {
    /// Largest single blob (the Java DB layer is about 1 GB).
    pub max_blob_bytes: u64,
    /// Most layers.
    pub max_layers: usize,
}

impl Default for OciLimits {
    fn default() -> Self {
        OciLimits {
            max_blob_bytes: 8 << 30,
            max_layers: 64,
        }
    }
}

/// An `oci` source.
#[derive(Clone, Debug)]
pub struct OciSource {
    /// Name used in errors and the kit (`trivy-db`).
    pub name: String,
    /// What to pull.
    pub reference: Reference,
    /// Use this base URL instead of `https://<registry>` (`http://127.0.0.1:5000`).
    pub registry_url: Option<String>,
    /// Caps.
    pub limits: OciLimits,
}

impl OciSource {
    /// A source for `reference` with default limits and no override.
    pub fn new(name: impl Into<String>, reference: Reference) -> OciSource {
        OciSource {
            name: name.into(),
            reference,
            registry_url: None,
            limits: OciLimits::default(),
        }
    }

    fn origin(&self) -> Origin {
        Origin {
            name: self.name.clone(),
            kind: "oci",
            target: self.reference.to_string(),
        }
    }

    fn base_url(&self) -> String {
        self.registry_url
            .clone()
            .unwrap_or_else(|| self.reference.default_base_url())
            .trim_end_matches('/')
            .to_string()
    }

    /// Pulls the manifest, config and layers into the fetcher's cache (or, offline, finds
    /// them there), verifying every digest and size.
    pub fn pull(&self, fetcher: &Fetcher) -> Result<PulledArtifact, SourceError> {
        let origin = self.origin();
        let mut reg = Registry {
            fetcher,
            base: self.base_url(),
            repo: self.reference.repository.clone(),
            token: None,
        };
        // The cache remembers tags per location actually pulled from.
        let ref_key = format!(
            "{}/{}:{}",
            reg.base,
            reg.repo,
            self.reference.manifest_ref()
        );
        let (media_type, bytes) = if fetcher.is_offline() {
            offline_manifest(fetcher, &self.reference, &ref_key).map_err(|e| origin.err(e))?
        } else {
            reg.manifest(&self.reference).map_err(|e| origin.err(e))?
        };
        let (digest, path) = fetcher
            .cache()
            .put_blob_bytes(&bytes)
            .map_err(|e| origin.err(e))?;
        if !fetcher.is_offline() && self.reference.digest.is_none() {
            fetcher
                .cache()
                .put_ref_record(&RefRecord {
                    reference: ref_key,
                    digest: digest.clone(),
                    media_type: media_type.clone(),
                })
                .map_err(|e| origin.err(e))?;
        }
        let manifest =
            parse_manifest(&media_type, &bytes, &self.limits).map_err(|e| origin.err(e))?;
        let mut fetch = |d: &Descriptor| -> Result<StoredBlob, SourceError> {
            let path = reg.blob(d).map_err(|e| origin.err(e))?;
            Ok(StoredBlob {
                descriptor: d.clone(),
                path,
            })
        };
        let config = fetch(&manifest.config)?;
        let layers = manifest
            .layers
            .iter()
            .map(&mut fetch)
            .collect::<Result<Vec<_>, _>>()?;
        tracing::info!(source = %self.name, reference = %self.reference, manifest = %digest, layers = layers.len(), "OCI artifact pulled");
        Ok(PulledArtifact {
            reference: self.reference.to_string(),
            repository: self.reference.repository.clone(),
            tag: self.reference.tag.clone(),
            manifest: StoredManifest {
                media_type,
                digest,
                bytes,
                path,
            },
            artifact_type: manifest.artifact_type,
            config,
            layers,
        })
    }
}

fn offline_manifest(
    fetcher: &Fetcher,
    reference: &Reference,
    ref_key: &str,
) -> Result<(String, Vec<u8>), SourceErrorKind> {
    let cache = fetcher.cache();
    let (digest, media_type) = match (&reference.digest, cache.ref_record(ref_key)) {
        (_, Some(rec)) => (rec.digest, Some(rec.media_type)),
        (Some(d), None) => (d.clone(), None),
        (None, None) => {
            return Err(FetchError::NotCached {
                what: format!("tag {ref_key}"),
                cache: cache.root().to_path_buf(),
            }
            .into());
        }
    };
    let path = cache
        .blob_path(&digest)
        .ok_or_else(|| SourceErrorKind::Oci("bad cached digest".into()))?;
    let bytes = read_capped(&path, MAX_MANIFEST_BYTES).map_err(|e| match e {
        SourceErrorKind::Io { .. } => FetchError::NotCached {
            what: format!("manifest {digest}"),
            cache: cache.root().to_path_buf(),
        }
        .into(),
        other => other,
    })?;
    let actual = sha256_bytes(&bytes);
    if actual != digest {
        return Err(FetchError::DigestMismatch {
            what: "manifest",
            expected: digest,
            actual,
        }
        .into());
    }
    let media_type = match media_type {
        Some(m) => m,
        None => body_media_type(&bytes).ok_or_else(|| {
            SourceErrorKind::Oci(format!(
                "cached manifest {digest} has no mediaType and no record of one"
            ))
        })?,
    };
    Ok((media_type, bytes))
}

fn sha256_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn body_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
    }
    serde_json::from_slice::<Probe>(bytes).ok()?.media_type
}

fn parse_manifest(
    media_type: &str,
    bytes: &[u8],
    limits: &OciLimits,
) -> Result<ImageManifest, SourceErrorKind> {
    if media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST {
        return Err(SourceErrorKind::Oci(format!(
            "the reference names an index ({media_type}); pin one platform manifest by digest"
        )));
    }
    if media_type != OCI_MANIFEST && media_type != DOCKER_MANIFEST {
        return Err(SourceErrorKind::Oci(format!(
            "unsupported manifest media type {media_type:?}"
        )));
    }
    let m: ImageManifest = serde_json::from_slice(bytes).map_err(|e| SourceErrorKind::Json {
        what: "manifest".into(),
        reason: e.to_string(),
    })?;
    if m.schema_version != 2 {
        return Err(SourceErrorKind::Oci(format!(
            "manifest schemaVersion {} (want 2)",
            m.schema_version
        )));
    }
    if let Some(mt) = &m.media_type
        && mt != media_type
    {
        return Err(SourceErrorKind::Oci(format!(
            "manifest body says mediaType {mt:?} but was served as {media_type:?}"
        )));
    }
    if m.layers.len() > limits.max_layers {
        return Err(SourceErrorKind::Limit {
            what: "manifest layers".into(),
            actual: m.layers.len() as u64,
            limit: limits.max_layers as u64,
        });
    }
    for d in std::iter::once(&m.config).chain(&m.layers) {
        if sha256_hex(&d.digest).is_none() {
            return Err(SourceErrorKind::Oci(format!(
                "descriptor digest {:?} is not sha256:<64 lowercase hex>",
                d.digest
            )));
        }
        if d.size > limits.max_blob_bytes {
            return Err(SourceErrorKind::Limit {
                what: format!("blob {} size", d.digest),
                actual: d.size,
                limit: limits.max_blob_bytes,
            });
        }
    }
    Ok(m)
}

/// A registry session for one repository: base URL plus the bearer token once obtained.
struct Registry<'a> {
    fetcher: &'a Fetcher,
    base: String,
    repo: String,
    token: Option<String>,
}

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

impl Registry<'_> {
    fn auth_headers(&self) -> Vec<(&'static str, String)> {
        self.token
            .iter()
            .map(|t| ("Authorization", format!("Bearer {t}")))
            .collect()
    }

    /// Runs `op`; on a 401 obtains a token from the challenge and runs it once more.
    fn with_auth<T>(
        &mut self,
        mut op: impl FnMut(&Self) -> Result<T, FetchError>,
    ) -> Result<T, SourceErrorKind> {
        match op(self) {
            Err(FetchError::Unauthorized { url, challenge }) => {
                if self.token.is_some() {
                    // A fresh token was refused: its scope or the challenge changed. One
                    // more token exchange is allowed (tokens expire mid-pull on slow links).
                    tracing::info!(%url, "token refused; requesting a new one");
                }
                self.token = Some(self.fetch_token(&url, challenge.as_deref())?);
                op(self).map_err(|e| match e {
                    FetchError::Unauthorized { url, .. } => SourceErrorKind::Auth(format!(
                        "{url} still answers 401 with the anonymous token"
                    )),
                    other => other.into(),
                })
            }
            other => other.map_err(SourceErrorKind::from),
        }
    }

    fn fetch_token(&self, url: &str, challenge: Option<&str>) -> Result<String, SourceErrorKind> {
        let challenge = challenge
            .ok_or_else(|| SourceErrorKind::Auth(format!("{url}: 401 without WWW-Authenticate")))?;
        let (scheme, params) = parse_challenge(challenge).ok_or_else(|| {
            SourceErrorKind::Auth(format!("{url}: unparseable WWW-Authenticate {challenge:?}"))
        })?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(SourceErrorKind::Auth(format!(
                "{url}: registry wants {scheme} authentication; only anonymous bearer tokens are supported"
            )));
        }
        let realm = params.get("realm").ok_or_else(|| {
            SourceErrorKind::Auth(format!("{url}: Bearer challenge without realm"))
        })?;
        let mut realm_url = check_realm(&self.base, realm).map_err(SourceErrorKind::Auth)?;
        {
            let mut q = realm_url.query_pairs_mut();
            if let Some(service) = params.get("service") {
                q.append_pair("service", service);
            }
            let default_scope = format!("repository:{}:pull", self.repo);
            q.append_pair(
                "scope",
                params
                    .get("scope")
                    .map(String::as_str)
                    .unwrap_or(&default_scope),
            );
        }
        let resp = self.fetcher.get(realm_url.as_str(), &[], MAX_TOKEN_BYTES)?;
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: TokenResponse =
            serde_json::from_slice(&resp.body).map_err(|e| SourceErrorKind::Json {
                what: format!("token response from {}", realm_url.as_str()),
                reason: e.to_string(),
            })?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                SourceErrorKind::Auth(format!(
                    "{}: no usable token in the response",
                    realm_url.as_str()
                ))
            })
    }

    fn manifest(&mut self, reference: &Reference) -> Result<(String, Vec<u8>), SourceErrorKind> {
        let url = format!(
            "{}/v2/{}/manifests/{}",
            self.base,
            self.repo,
            reference.manifest_ref()
        );
        let resp = self.with_auth(|r| {
            let mut h = r.auth_headers();
            h.push(("Accept", MANIFEST_ACCEPT.to_string()));
            r.fetcher.get(&url, &h, MAX_MANIFEST_BYTES)
        })?;
        let actual = sha256_bytes(&resp.body);
        // 1. Pulled by digest: the content must hash to it.
        if let Some(want) = &reference.digest
            && *want != actual
        {
            return Err(FetchError::DigestMismatch {
                what: "manifest",
                expected: want.clone(),
                actual,
            }
            .into());
        }
        // 2. The registry's own claim, when it makes one in a form we can check.
        if let Some(claimed) = resp.header("Docker-Content-Digest")
            && sha256_hex(claimed).is_some()
            && claimed != actual
        {
            return Err(FetchError::DigestMismatch {
                what: "manifest",
                expected: claimed.to_string(),
                actual,
            }
            .into());
        }
        let header_type = resp
            .header("Content-Type")
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
            .filter(|v| !v.is_empty());
        // The body's mediaType is authoritative (it is part of the digested bytes).
        let media_type = body_media_type(&resp.body)
            .or(header_type)
            .ok_or_else(|| SourceErrorKind::Oci(format!("{url}: manifest has no media type")))?;
        Ok((media_type, resp.body))
    }

    fn blob(&mut self, d: &Descriptor) -> Result<PathBuf, SourceErrorKind> {
        let url = format!("{}/v2/{}/blobs/{}", self.base, self.repo, d.digest);
        self.with_auth(|r| {
            r.fetcher
                .fetch_blob(&url, &r.auth_headers(), &d.digest, d.size)
        })
    }
}

/// Parses `Scheme k=v, k="quoted \" value", ...` (RFC 9110 §11.6.1, one challenge).
fn parse_challenge(text: &str) -> Option<(String, BTreeMap<String, String>)> {
    let text = text.trim();
    let (scheme, mut rest) = match text.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r.trim_start()),
        None => (text, ""),
    };
    let mut params = BTreeMap::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(q) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.push(chars.next()?.1),
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &q[end?..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.insert(key, value);
        rest = remaining
            .trim_start()
            .strip_prefix(',')
            .unwrap_or(remaining)
            .trim_start();
        if !remaining.trim_start().is_empty() && !remaining.trim_start().starts_with(',') {
            return None;
        }
    }
    Some((scheme.to_string(), params))
}

fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Checks a token realm the way go-containerregistry ≥ 0.21.4 does: http(s) only; no http
/// realm for an https registry; a loopback/private/link-local IP literal only when it is the
/// registry's own host:port (so a hostile registry cannot aim us at internal services).
fn check_realm(base: &str, realm: &str) -> Result<reqwest::Url, String> {
    let realm_url =
        reqwest::Url::parse(realm).map_err(|e| format!("token realm {realm:?}: {e}"))?;
    let base_url = reqwest::Url::parse(base).map_err(|e| format!("registry URL {base:?}: {e}"))?;
    match realm_url.scheme() {
        "https" => {}
        "http" if base_url.scheme() == "http" => {}
        "http" => {
            return Err(format!(
                "token realm {realm:?} is plain http for an https registry"
            ));
        }
        other => {
            return Err(format!(
                "token realm {realm:?} has unsupported scheme {other:?}"
            ));
        }
    }
    let host = realm_url.host_str().unwrap_or("");
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    if ip.is_some_and(is_internal) {
        let same = realm_url.host_str() == base_url.host_str()
            && realm_url.port_or_known_default() == base_url.port_or_known_default();
        if !same {
            return Err(format!(
                "token realm {realm:?} is an internal address that is not the registry's own host:port"
            ));
        }
    }
    Ok(realm_url)
}

fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, SourceErrorKind> {
    let f = File::open(path).map_err(|source| SourceErrorKind::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut bytes = Vec::new();
    f.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| SourceErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > cap {
        return Err(SourceErrorKind::Limit {
            what: format!("{}", path.display()),
            actual: bytes.len() as u64,
            limit: cap,
        });
    }
    Ok(bytes)
}

/// `metadata.json` of a Trivy DB or Java DB (trivy-db `pkg/metadata`), Go's default keys.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrivyMetadata {
    /// Schema version (2 for the DB, 1 for the Java DB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// When upstream plans the next build.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub next_update: Option<time::OffsetDateTime>,
    /// When the DB was built.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub updated_at: Option<time::OffsetDateTime>,
    /// When it was downloaded (zero time in a fresh build).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub downloaded_at: Option<time::OffsetDateTime>,
}

/// Largest `metadata.json` accepted.
const MAX_METADATA_BYTES: u64 = 64 * 1024;
/// Most tar entries looked at in a DB layer (it holds two files).
const MAX_DB_TAR_ENTRIES: usize = 64;
/// Most bytes inflated while looking for `metadata.json` (a gzip bomb stops here).
const MAX_DB_INFLATED_BYTES: u64 = 32 << 30;

/// Reads `metadata.json` from a `db.tar.gz` / `javadb.tar.gz` layer.
pub fn read_db_metadata(path: &Path) -> Result<TrivyMetadata, SourceErrorKind> {
    let io = |source| SourceErrorKind::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = File::open(path).map_err(io)?;
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::new(f));
    let mut archive = tar::Archive::new(gz.take(MAX_DB_INFLATED_BYTES));
    for (n, entry) in archive.entries().map_err(io)?.enumerate() {
        if n >= MAX_DB_TAR_ENTRIES {
            break;
        }
        let entry = entry.map_err(io)?;
        let name = entry
            .path()
            .map_err(io)?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if name != "metadata.json" {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .take(MAX_METADATA_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_METADATA_BYTES {
            return Err(SourceErrorKind::Limit {
                what: format!("{}: metadata.json", path.display()),
                actual: bytes.len() as u64,
                limit: MAX_METADATA_BYTES,
            });
        }
        return serde_json::from_slice(&bytes).map_err(|e| SourceErrorKind::Json {
            what: format!("{}: metadata.json", path.display()),
            reason: e.to_string(),
        });
    }
    Err(SourceErrorKind::Oci(format!(
        "{}: no metadata.json in the DB layer",
        path.display()
    )))
}

impl PulledArtifact {
    /// The Trivy DB / Java DB layer, if this artifact is one (by layer media type).
    pub fn trivy_db_layer(&self) -> Option<&StoredBlob> {
        self.layers.iter().find(|l| {
            l.descriptor.media_type == TRIVY_DB_LAYER
                || l.descriptor.media_type == TRIVY_JAVA_DB_LAYER
        })
    }

    /// The DB's `metadata.json` for the kit summary; `None` if this is not a Trivy DB artifact.
    pub fn trivy_metadata(&self) -> Result<Option<TrivyMetadata>, SourceErrorKind> {
        self.trivy_db_layer()
            .map(|l| read_db_metadata(&l.path))
            .transpose()
    }
}

/// Reads an artifact from an OCI image layout directory (`oci-layout`, `index.json`,
/// `blobs/sha256/…`), verifying every digest. `tag` selects the `index.json` entry by its
/// `org.opencontainers.image.ref.name`; without one, the layout must hold exactly one, and
/// its `ref.name` (if any) becomes the tag.
///
/// A layout has no repository name of its own (a registry pull takes it from the
/// reference), so the caller names the `repository` the appliance serves it under: without
/// one the artifact would be served as `""` (`/v2/_catalog` → `[""]`) and no OCI client
/// could pull it.
pub fn read_oci_layout(
    dir: &Path,
    tag: Option<&str>,
    repository: &str,
    limits: &OciLimits,
) -> Result<PulledArtifact, SourceErrorKind> {
    if !valid_repository(repository) {
        return Err(SourceErrorKind::Config(format!(
            "repository {repository:?} is not a valid OCI repository name (lowercase [a-z0-9] components separated by . _ __ - and /)"
        )));
    }
    #[derive(serde::Deserialize)]
    struct Index {
        manifests: Vec<Descriptor>,
    }
    let index_bytes = read_capped(&dir.join("index.json"), MAX_MANIFEST_BYTES)?;
    let index: Index = serde_json::from_slice(&index_bytes).map_err(|e| SourceErrorKind::Json {
        what: format!("{}", dir.join("index.json").display()),
        reason: e.to_string(),
    })?;
    let chosen: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| {
            tag.is_none_or(|t| {
                d.annotations
                    .get("org.opencontainers.image.ref.name")
                    .map(String::as_str)
                    == Some(t)
            })
        })
        .collect();
    let desc = match chosen.as_slice() {
        [one] => *one,
        [] => {
            return Err(SourceErrorKind::Oci(format!(
                "{}: no manifest tagged {tag:?}",
                dir.display()
            )));
        }
        _ => {
            return Err(SourceErrorKind::Oci(format!(
                "{}: several manifests match {tag:?}",
                dir.display()
            )));
        }
    };
    let blob = |d: &Descriptor, what: &'static str| -> Result<PathBuf, SourceErrorKind> {
        let hex = sha256_hex(&d.digest).ok_or_else(|| {
            SourceErrorKind::Oci(format!("descriptor digest {:?} is not sha256", d.digest))
        })?;
        let path = dir.join("blobs/sha256").join(hex);
        let size = std::fs::metadata(&path)
            .map_err(|source| SourceErrorKind::Io {
                path: path.clone(),
                source,
            })?
            .len();
        if size != d.size {
            return Err(FetchError::SizeMismatch {
                what,
                digest: d.digest.clone(),
                expected: d.size,
                actual: size,
            }
            .into());
        }
        let actual = sha256_file(&path)?;
        if actual != d.digest {
            return Err(FetchError::DigestMismatch {
                what,
                expected: d.digest.clone(),
                actual,
            }
            .into());
        }
        Ok(path)
    };
    if desc.size > MAX_MANIFEST_BYTES {
        return Err(SourceErrorKind::Limit {
            what: "manifest size".into(),
            actual: desc.size,
            limit: MAX_MANIFEST_BYTES,
        });
    }
    let manifest_path = blob(desc, "manifest")?;
    let bytes = read_capped(&manifest_path, MAX_MANIFEST_BYTES)?;
    let m = parse_manifest(&desc.media_type, &bytes, limits)?;
    let config = StoredBlob {
        path: blob(&m.config, "blob")?,
        descriptor: m.config.clone(),
    };
    let layers = m
        .layers
        .iter()
        .map(|d| {
            Ok(StoredBlob {
                path: blob(d, "blob")?,
                descriptor: d.clone(),
            })
        })
        .collect::<Result<Vec<_>, SourceErrorKind>>()?;
    Ok(PulledArtifact {
        reference: format!(
            "oci-layout:{}{}",
            dir.display(),
            tag.map(|t| format!(":{t}")).unwrap_or_default()
        ),
        repository: repository.to_string(),
        tag: tag.map(str::to_string).or_else(|| {
            desc.annotations
                .get("org.opencontainers.image.ref.name")
                .cloned()
        }),
        manifest: StoredManifest {
            media_type: desc.media_type.clone(),
            digest: desc.digest.clone(),
            bytes,
            path: manifest_path,
        },
        artifact_type: m.artifact_type,
        config,
        layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r: Reference = "ghcr.io/aquasecurity/trivy-db:2".parse().expect("valid");
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("ghcr.io", "aquasecurity/trivy-db", Some("2"))
        );
        assert_eq!(r.to_string(), "ghcr.io/aquasecurity/trivy-db:2");
        let r: Reference = "alpine".parse().expect("valid");
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("docker.io", "library/alpine", Some("latest"))
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r: Reference = format!("127.0.0.1:5000/x/y@{d}").parse().expect("valid");
        assert_eq!(
            (r.registry(), r.digest(), r.tag()),
            ("127.0.0.1:5000", Some(d.as_str()), None)
        );
        assert_eq!(r.manifest_ref(), d);
        let repo = "invalid repository name (lowercase [a-z0-9] components separated by . _ __ -)";
        for (bad, reason) in [
            ("ghcr.io/Upper/x:1", repo),
            ("ghcr.io/x/../y:1", repo),
            ("ghcr.io/a//b", repo),
            ("ghcr.io/x:-bad", "invalid tag"),
            ("x@sha256:abc", "digest is not sha256:<64 lowercase hex>"),
            ("ex!ample.com/x", "invalid registry host"),
        ] {
            let e = bad.parse::<Reference>().expect_err(bad);
            assert_eq!((e.reference.as_str(), e.reason), (bad, reason), "{e}");
        }
    }

    #[test]
    fn challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:aquasecurity/trivy-db:pull""#,
        )
        .expect("parses");
        assert_eq!(s, "Bearer");
        assert_eq!(p["realm"], "https://ghcr.io/token");
        assert_eq!(p["scope"], "repository:aquasecurity/trivy-db:pull");
        let (_, p) = parse_challenge(r#"Bearer realm="a\"b", service=x"#).expect("parses");
        assert_eq!((p["realm"].as_str(), p["service"].as_str()), ("a\"b", "x"));
        assert!(parse_challenge(r#"Bearer realm="unterminated"#).is_none());
    }

    #[test]
    fn realms() {
        assert!(check_realm("https://ghcr.io", "https://ghcr.io/token").is_ok());
        let refused = |base: &str, realm: &str, why: &str| {
            let e = check_realm(base, realm).expect_err(realm);
            assert!(e.contains(why), "{realm}: {e} (expected {why:?})");
        };
        refused(
            "https://ghcr.io",
            "http://ghcr.io/token",
            "is plain http for an https registry",
        );
        assert!(check_realm("http://127.0.0.1:5000", "http://127.0.0.1:5000/token").is_ok());
        let internal = "is an internal address that is not the registry's own host:port";
        refused(
            "http://127.0.0.1:5000",
            "http://127.0.0.1:6000/token",
            internal,
        );
        refused("https://ghcr.io", "https://169.254.169.254/token", internal);
        refused(
            "https://ghcr.io",
            "file:///etc/passwd",
            "has unsupported scheme \"file\"",
        );
    }
}
