//! `stella-kit build`: feeds + tokens → one signed, reproducible `.ouk` and its `.minisig`.
//!
//! Reproducibility: the output depends only on the sources' content, `kit.toml`, the key,
//! the sequence and the creation time (`SOURCE_DATE_EPOCH`). Advisory files are sorted
//! by id, token ids are derived from (key, sequence, client), Ed25519 is deterministic,
//! and the kit writer fixes every tar header.
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bundles::manifest::{FeedSummary, Producer, Summary, canonical_json};
use bundles::model::{Advisory, SeverityScore, write_jsonl};
use bundles::path::media_types;
use bundles::tokens::{CLIENTS_PATH, ClientToken, ClientTokens, REVOKED_PATH, Revocations};
use bundles::{EntryPath, KitInfo, KitWriter, MediaType, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use signing::minisign::{self, SignOptions};
use signing::{KeyPair, jwt};
use time::{Duration, OffsetDateTime};

use crate::config::{DEFAULT_ARTIFACT_NAME, KitConfig, SourceConfig};
use crate::fetch::Fetcher;
use crate::sources::dir::{DirLayout, DirSource};
use crate::sources::nvd::{NvdIndex, NvdLocation, NvdSource};
use crate::sources::oci::{OciLimits, OciSource, PulledArtifact, Reference};
use crate::sources::osv::{OsvDocument, OsvSource, OsvZipReader, ZipLimits, collect_advisories};
use crate::sources::{SourceError, SourceErrorKind};

/// The OSV documents of one ecosystem from one source, in source order.
type DocIter = Box<dyn Iterator<Item = Result<OsvDocument, SourceError>>>;

/// Largest plain OSV record read from a mirror directory.
const MAX_RECORD_BYTES: u64 = bundles::model::limits::MAX_ADVISORY_JSON_BYTES as u64;

/// Errors of a build.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A source failed (the message names it).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Writing the kit failed.
    #[error("writing the kit: {0}")]
    Kit(#[from] bundles::KitError),
    /// Signing failed.
    #[error("signing: {0}")]
    Signing(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The sequence is not usable.
    #[error("{0}")]
    Sequence(String),
    /// Something in the inputs is inconsistent.
    #[error("{0}")]
    Invalid(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `build` needs.
#[derive(Debug)]
pub struct BuildOptions<'a> {
    /// The parsed `kit.toml`.
    pub config: &'a KitConfig,
    /// The vendor key.
    pub key: &'a KeyPair,
    /// Where the key file is (the sequence state file lives beside it).
    pub key_path: &'a Path,
    /// The `.ouk` to write (`.minisig` goes beside it).
    pub out: &'a Path,
    /// Explicit sequence; default: last built with this key + 1.
    pub sequence: Option<u64>,
    /// Creation time (`SOURCE_DATE_EPOCH` or now), whole seconds.
    pub created_at: OffsetDateTime,
    /// Downloads.
    pub fetcher: &'a Fetcher,
}

/// What a build produced.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    /// The kit file.
    pub kit: PathBuf,
    /// Its detached signature.
    pub signature: PathBuf,
    /// Kit id.
    pub kit_id: String,
    /// Sequence.
    pub sequence: u64,
    /// Creation time.
    pub created_at: String,
    /// Expiry.
    pub expires_at: String,
    /// SHA-256 of the kit file.
    pub sha256: String,
    /// Size of the kit file.
    pub bytes: u64,
    /// Advisories per ecosystem.
    pub advisories: BTreeMap<String, u64>,
    /// Clients with a token.
    pub clients: Vec<String>,
    /// OCI artifacts.
    pub oci: Vec<String>,
    /// Upstream records refused by the model (reported, not fatal).
    pub rejected: Vec<(String, String)>,
    /// Withdrawn records dropped.
    pub withdrawn: usize,
    /// Older duplicates dropped.
    pub duplicates: usize,
    /// Advisories enriched from NVD.
    pub nvd_enriched: usize,
}

/// `<key>.state.json` beside the key: the last sequence built with it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceState {
    /// The key id it belongs to.
    pub key_id: String,
    /// The last sequence built.
    pub last_sequence: u64,
    /// The last kit id.
    pub last_kit_id: String,
}

/// The state file of a key file (`vendor.key` → `vendor.state.json`).
pub fn state_path(key_path: &Path) -> PathBuf {
    key_path.with_extension("state.json")
}

/// Reads the sequence state (absent = nothing built yet).
pub fn read_state(key_path: &Path) -> Result<Option<SequenceState>, BuildError> {
    let p = state_path(key_path);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| BuildError::Sequence(format!("{}: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&p)(e)),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let tmp = tmp_beside(path);
    {
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

fn tmp_beside(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".tmp-{}", std::process::id()));
    PathBuf::from(s)
}

/// A scratch directory beside the output, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds the kit.
pub fn build(o: &BuildOptions<'_>) -> Result<BuildReport, BuildError> {
    let cfg = o.config;
    let key_id = o.key.id().to_string();
    let state = read_state(o.key_path)?;
    let last = state
        .as_ref()
        .filter(|s| s.key_id == key_id)
        .map(|s| s.last_sequence);
    let sequence = match (o.sequence, last) {
        (Some(n), _) => n,
        (None, Some(l)) => l
            .checked_add(1)
            .ok_or_else(|| BuildError::Sequence("sequence overflow".into()))?,
        (None, None) => 1,
    };
    if sequence == 0 {
        return Err(BuildError::Sequence("sequence must be at least 1".into()));
    }
    let created_at = o
        .created_at
        .replace_nanosecond(0)
        .map_err(|e| BuildError::Invalid(e.to_string()))?;
    let expires_at = created_at + Duration::days(i64::from(cfg.valid_days));
    let kit_id = cfg.kit_id.clone().unwrap_or_else(|| {
        format!(
            "{}-{sequence}-{}",
            cfg.site.as_deref().unwrap_or("kit"),
            compact(created_at)
        )
    });

    let out_dir = o
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let scratch = Scratch(out_dir.join(format!(".stella-kit-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).map_err(io_err(&scratch.0))?;

    let mut summary = Summary::default();
    let mut report_advisories = BTreeMap::new();
    let mut files: Vec<(EntryPath, MediaType, PathBuf)> = Vec::new();
    let mut blobs: Vec<(EntryPath, MediaType, Vec<u8>)> = Vec::new();

    // --- advisories -----------------------------------------------------------------
    let mut by_eco: BTreeMap<String, Vec<DocIter>> = BTreeMap::new();
    let mut osv_sources = Vec::new();
    let mut nvd_sources = Vec::new();
    let mut oci_sources = Vec::new();
    let mut dir_artifacts: Vec<(String, PulledArtifact)> = Vec::new();
    for s in &cfg.sources {
        match s {
            SourceConfig::Osv {
                name,
                base_url,
                ecosystems,
            } => {
                let src = OsvSource {
                    name: name.clone().unwrap_or_else(|| "osv".into()),
                    base_url: base_url.clone(),
                    ecosystems: ecosystems.clone(),
                    limits: ZipLimits::default(),
                };
                osv_sources.push(base_url.clone());
                for dump in src.fetch(o.fetcher)? {
                    let eco = dump.ecosystem.clone();
                    let reader = src.open(&dump)?;
                    let src2 = src.clone();
                    by_eco.entry(eco).or_default().push(Box::new(reader.map(
                        move |r: Result<OsvDocument, SourceErrorKind>| {
                            r.map_err(|e| osv_err(&src2, e))
                        },
                    )));
                }
            }
            SourceConfig::Dir {
                name,
                path,
                ecosystems,
                oci_layout,
                tag,
                artifact_name,
                repository,
            } => {
                let name = name.clone().unwrap_or_else(|| "dir".into());
                if let Some(layout) = oci_layout {
                    let artifact_name = artifact_name
                        .clone()
                        .unwrap_or_else(|| DEFAULT_ARTIFACT_NAME.into());
                    let ds = DirSource {
                        name: name.clone(),
                        path: path.clone(),
                        ecosystems: Vec::new(),
                        oci_layout: Some(DirLayout {
                            path: layout.clone(),
                            tag: tag.clone(),
                            repository: repository.clone().unwrap_or_else(|| artifact_name.clone()),
                        }),
                        zip_limits: ZipLimits::default(),
                        oci_limits: OciLimits::default(),
                    };
                    if let Some(art) = ds.artifact()? {
                        dir_artifacts.push((artifact_name, art));
                    }
                }
                let skip = oci_layout
                    .as_ref()
                    .and_then(|l| l.components().next())
                    .map(|c| c.as_os_str().to_string_lossy().into_owned());
                let ecos = if ecosystems.is_empty() {
                    list_subdirs(path)
                        .map_err(|e| dir_err(&name, path, e))?
                        .into_iter()
                        .filter(|e| Some(e) != skip.as_ref())
                        .collect()
                } else {
                    ecosystems.clone()
                };
                if !ecos.is_empty() {
                    osv_sources.push(path.display().to_string());
                }
                for eco in ecos {
                    let eco_dir = path.join(&eco);
                    let zip = eco_dir.join("all.zip");
                    if zip.is_file() {
                        let reader = OsvZipReader::open(&zip, &eco, ZipLimits::default())
                            .map_err(|e| dir_err_kind(&name, path, e))?;
                        let (n2, p2) = (name.clone(), path.clone());
                        by_eco.entry(eco.clone()).or_default().push(Box::new(
                            reader.map(move |r| r.map_err(|e| dir_err_kind(&n2, &p2, e))),
                        ));
                    } else {
                        let docs = read_json_records(&eco_dir, &eco)
                            .map_err(|e| dir_err_kind(&name, path, e))?;
                        by_eco
                            .entry(eco.clone())
                            .or_default()
                            .push(Box::new(docs.into_iter().map(Ok)));
                    }
                }
            }
            SourceConfig::Nvd {
                name,
                url,
                dir,
                api_key_env,
            } => {
                let location = match (url, dir) {
                    (Some(u), _) => NvdLocation::Url(u.clone()),
                    (None, Some(d)) => NvdLocation::Dir(d.clone()),
                    (None, None) => {
                        return Err(BuildError::Invalid("nvd source without url or dir".into()));
                    }
                };
                let mut src =
                    NvdSource::new(name.clone().unwrap_or_else(|| "nvd".into()), location);
                src.api_key = api_key_env.as_ref().and_then(|v| std::env::var(v).ok());
                nvd_sources.push(src);
            }
            SourceConfig::Oci {
                name,
                reference,
                registry_url,
            } => {
                let r: Reference = reference.parse().map_err(|e| {
                    BuildError::Invalid(format!("source \"{name}\": reference {reference:?}: {e}"))
                })?;
                let mut src = OciSource::new(name.clone(), r);
                src.registry_url = registry_url.clone();
                oci_sources.push(src);
            }
        }
    }

    // Later sources win (NvdIndex::from_pages keeps the last record of a CVE).
    let mut pages = Vec::new();
    for src in &nvd_sources {
        pages.extend(src.fetch_pages(o.fetcher)?);
    }
    let nvd = NvdIndex::from_pages(&pages);
    drop(pages);

    let mut rejected = Vec::new();
    let (mut withdrawn, mut duplicates, mut enriched) = (0, 0, 0);
    let mut newest: Option<OffsetDateTime> = None;
    let mut osv_counts = BTreeMap::new();
    for (eco, iters) in by_eco {
        let failure: RefCell<Option<SourceError>> = RefCell::new(None);
        let docs = iters.into_iter().flatten().map_while(|r| match r {
            Ok(d) => Some(d),
            Err(e) => {
                *failure.borrow_mut() = Some(e);
                None
            }
        });
        let mut coll = collect_advisories(docs, created_at);
        if let Some(e) = failure.into_inner() {
            return Err(e.into());
        }
        rejected.append(&mut coll.rejected);
        withdrawn += coll.withdrawn;
        duplicates += coll.duplicates;
        for a in &mut coll.advisories {
            if let Some(m) = Some(a.modified().datetime()) {
                newest = newest.max(Some(m));
            }
            if let Some(e) = nvd.for_advisory(a) {
                let mut sev = Vec::new();
                if let Some(v) = &e.cvss_v40
                    && let Ok(s) = SeverityScore::new("CVSS_V4", v.vector.clone())
                {
                    sev.push(s);
                }
                if let Some(v) = &e.cvss_v31
                    && let Ok(s) = SeverityScore::new("CVSS_V3", v.vector.clone())
                {
                    sev.push(s);
                }
                a.enrich(sev, e.description.clone());
                enriched += 1;
            }
        }
        let count = coll.advisories.len() as u64;
        let path = scratch
            .0
            .join(format!("{}.jsonl", bundles::path::file_safe(&eco)));
        let f = File::create(&path).map_err(io_err(&path))?;
        let mut w = BufWriter::new(f);
        write_jsonl(&mut w, coll.advisories.iter())
            .map_err(|e| BuildError::Invalid(format!("writing {eco} advisories: {e}")))?;
        w.flush().map_err(io_err(&path))?;
        files.push((
            EntryPath::advisories_for(&eco)?,
            MediaType::new(media_types::ADVISORIES_JSONL)?,
            path,
        ));
        osv_counts.insert(eco.clone(), count);
        report_advisories.insert(eco, count);
    }
    if !osv_counts.is_empty() {
        summary.feeds.insert(
            "osv".into(),
            FeedSummary {
                counts: osv_counts,
                updated_at: newest.map(Timestamp::new).transpose()?,
                next_update: None,
                source: Some(osv_sources.join(", ")).filter(|s| s.len() <= 256),
            },
        );
    }
    if !nvd_sources.is_empty() {
        summary.feeds.insert(
            "nvd".into(),
            FeedSummary {
                counts: BTreeMap::from([
                    ("cves".into(), nvd.len() as u64),
                    ("enriched".into(), enriched as u64),
                ]),
                ..FeedSummary::default()
            },
        );
    }

    // --- OCI artifacts ----------------------------------------------------------------
    let mut oci_names = Vec::new();
    let mut artifacts = Vec::new();
    for src in &oci_sources {
        artifacts.push((src.name.clone(), src.pull(o.fetcher)?));
    }
    artifacts.extend(dir_artifacts);
    for (name, art) in &artifacts {
        let (name, art) = (name.clone(), art);
        add_oci(&name, art, &mut files, &mut blobs)?;
        let meta = art
            .trivy_metadata()
            .map_err(|e| BuildError::Invalid(format!("source \"{name}\": {e}")))?;
        summary.feeds.insert(
            name.clone(),
            FeedSummary {
                counts: BTreeMap::from([("layers".into(), art.layers.len() as u64)]),
                updated_at: meta
                    .as_ref()
                    .and_then(|m| m.updated_at)
                    .map(|t| t.replace_nanosecond(0).unwrap_or(t))
                    .map(Timestamp::new)
                    .transpose()?,
                next_update: meta
                    .as_ref()
                    .and_then(|m| m.next_update)
                    .map(|t| t.replace_nanosecond(0).unwrap_or(t))
                    .map(Timestamp::new)
                    .transpose()?,
                source: Some(art.reference.clone()),
            },
        );
        oci_names.push(name.clone());
    }

    // --- tokens -----------------------------------------------------------------------
    let mut clients = ClientTokens::default();
    for c in &cfg.clients {
        let exp = created_at + Duration::days(i64::from(c.valid_days));
        let jti = token_id(&key_id, sequence, &c.id);
        let claims = jwt::Claims {
            iss: Some(format!("stella-kit:{key_id}")),
            sub: c.id.clone(),
            aud: cfg.site.clone().map(jwt::Audience::One),
            exp: exp.unix_timestamp(),
            nbf: Some(created_at.unix_timestamp()),
            iat: Some(created_at.unix_timestamp()),
            jti: Some(jti),
            tier: Some(c.tier.clone()),
            max_scans_per_day: Some(c.max_scans_per_day),
            extra: BTreeMap::new(),
        };
        let token = jwt::issue(&claims, o.key).map_err(|e| BuildError::Signing(e.to_string()))?;
        clients.clients.push(ClientToken {
            id: c.id.clone(),
            token,
        });
    }
    clients.clients.sort_by(|a, b| a.id.cmp(&b.id));
    if !clients.clients.is_empty() || !cfg.revoked.is_empty() {
        blobs.push((
            EntryPath::new(CLIENTS_PATH)?,
            MediaType::new(media_types::CLIENT_TOKENS)?,
            canonical(&clients)?,
        ));
        let mut revoked = cfg.revoked.clone();
        revoked.sort();
        revoked.dedup();
        let rev = Revocations { revoked };
        blobs.push((
            EntryPath::new(REVOKED_PATH)?,
            MediaType::new(media_types::REVOKED_TOKENS)?,
            canonical(&rev)?,
        ));
        summary.feeds.insert(
            "tokens".into(),
            FeedSummary {
                counts: BTreeMap::from([
                    ("clients".into(), clients.clients.len() as u64),
                    ("revoked".into(), rev.revoked.len() as u64),
                ]),
                ..FeedSummary::default()
            },
        );
    }

    // --- trust-root rotation -----------------------------------------------------------
    if let Some(path) = &cfg.trust_root {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        let doc = bundles::trustroot::RootDoc::parse(&bytes)
            .map_err(|e| BuildError::Invalid(format!("{}: {e}", path.display())))?;
        doc.new_root()
            .map_err(|e| BuildError::Invalid(format!("{}: {e}", path.display())))?;
        blobs.push((
            EntryPath::new(bundles::trustroot::ROOT_PATH)?,
            MediaType::new(bundles::trustroot::ROOT_MEDIA_TYPE)?,
            doc.to_json()
                .map_err(|e| BuildError::Invalid(e.to_string()))?,
        ));
    }

    // --- write, sign ------------------------------------------------------------------
    let mut w = KitWriter::new(KitInfo {
        kit_id: kit_id.clone(),
        sequence,
        created_at: Timestamp::new(created_at)?,
        expires_at: Timestamp::new(expires_at)?,
        site: cfg.site.clone(),
        producer: Producer {
            name: "stella-kit".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        summary,
    });
    for (p, mt, f) in files {
        w.add_file(p, mt, f)?;
    }
    for (p, mt, b) in blobs {
        w.add_bytes(p, mt, b)?;
    }
    let tmp = tmp_beside(o.out);
    let f = File::create(&tmp).map_err(io_err(&tmp))?;
    let (_manifest, f) = w.write(BufWriter::new(f), &[o.key])?;
    let f = f.into_inner().map_err(|e| io_err(&tmp)(e.into_error()))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, o.out).map_err(io_err(o.out))?;

    let (sha256, bytes) = sha256_file(o.out)?;
    let file_name = o
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sig = minisign::sign_file(
        o.key,
        o.out,
        &SignOptions {
            trusted_comment: None,
            untrusted_comment: None,
            timestamp: created_at.unix_timestamp(),
            file_name: Some(&file_name),
        },
    )
    .map_err(|e| BuildError::Signing(e.to_string()))?;
    let mut sig_path = o.out.as_os_str().to_owned();
    sig_path.push(".minisig");
    let sig_path = PathBuf::from(sig_path);
    write_atomic(&sig_path, sig.as_str().as_bytes())?;

    // Remember the sequence (never lower it: an explicit --sequence below the last one
    // is a deliberate rebuild).
    let new_last = last.map_or(sequence, |l| l.max(sequence));
    let st = SequenceState {
        key_id,
        last_sequence: new_last,
        last_kit_id: kit_id.clone(),
    };
    let st_bytes =
        serde_json::to_vec_pretty(&st).map_err(|e| BuildError::Invalid(e.to_string()))?;
    write_atomic(&state_path(o.key_path), &st_bytes)?;

    Ok(BuildReport {
        kit: o.out.to_path_buf(),
        signature: sig_path,
        kit_id,
        sequence,
        created_at: Timestamp::new(created_at)?.to_string(),
        expires_at: Timestamp::new(expires_at)?.to_string(),
        sha256,
        bytes,
        advisories: report_advisories,
        clients: clients.clients.iter().map(|c| c.id.clone()).collect(),
        oci: oci_names,
        rejected,
        withdrawn,
        duplicates,
        nvd_enriched: enriched,
    })
}

fn canonical<T: Serialize>(v: &T) -> Result<Vec<u8>, BuildError> {
    let value = serde_json::to_value(v).map_err(|e| BuildError::Invalid(e.to_string()))?;
    Ok(canonical_json(&value)?)
}

/// A stable token id: the same key, sequence and client always give the same id, so a
/// rebuild is byte-identical, and a new kit gives every client a new id.
fn token_id(key_id: &str, sequence: u64, client: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"stella-token-id\0");
    h.update(key_id.as_bytes());
    h.update(b"\0");
    h.update(sequence.to_be_bytes());
    h.update(client.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn compact(t: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn sha256_file(path: &Path) -> Result<(String, u64), BuildError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(io_err(path))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

fn osv_err(src: &OsvSource, e: SourceErrorKind) -> SourceError {
    SourceError {
        name: src.name.clone(),
        kind: "osv",
        target: src.base_url.clone(),
        error: Box::new(e),
    }
}

fn dir_err_kind(name: &str, path: &Path, e: SourceErrorKind) -> SourceError {
    SourceError {
        name: name.to_string(),
        kind: "dir",
        target: path.display().to_string(),
        error: Box::new(e),
    }
}

fn dir_err(name: &str, path: &Path, e: std::io::Error) -> SourceError {
    dir_err_kind(
        name,
        path,
        SourceErrorKind::Io {
            path: path.to_path_buf(),
            source: e,
        },
    )
}

fn list_subdirs(path: &Path) -> Result<Vec<String>, std::io::Error> {
    let mut v: Vec<String> = std::fs::read_dir(path)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    v.sort();
    Ok(v)
}

/// Plain `*.json` OSV records in a mirror directory (the repo's sample feed layout).
fn read_json_records(dir: &Path, eco: &str) -> Result<Vec<OsvDocument>, SourceErrorKind> {
    let io = |source| SourceErrorKind::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for p in names {
        let len = std::fs::metadata(&p)
            .map_err(|source| SourceErrorKind::Io {
                path: p.clone(),
                source,
            })?
            .len();
        if len > MAX_RECORD_BYTES {
            return Err(SourceErrorKind::Limit {
                what: p.display().to_string(),
                actual: len,
                limit: MAX_RECORD_BYTES,
            });
        }
        let bytes = std::fs::read(&p).map_err(|source| SourceErrorKind::Io {
            path: p.clone(),
            source,
        })?;
        out.push(OsvDocument {
            ecosystem: eco.to_string(),
            file_name: p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bytes,
        });
    }
    Ok(out)
}

/// Adds an artifact as an OCI image layout under `oci/<name>/`.
fn add_oci(
    name: &str,
    art: &PulledArtifact,
    files: &mut Vec<(EntryPath, MediaType, PathBuf)>,
    blobs: &mut Vec<(EntryPath, MediaType, Vec<u8>)>,
) -> Result<(), BuildError> {
    let blob_path = |digest: &str| -> Result<EntryPath, BuildError> {
        let hexd = digest.strip_prefix("sha256:").ok_or_else(|| {
            BuildError::Invalid(format!("source \"{name}\": unsupported digest {digest}"))
        })?;
        Ok(EntryPath::new(format!("oci/{name}/blobs/sha256/{hexd}"))?)
    };
    let blob_mt = MediaType::new(media_types::OCI_BLOB)?;
    let mut seen = std::collections::BTreeSet::new();
    let mp = blob_path(&art.manifest.digest)?;
    seen.insert(mp.clone());
    blobs.push((mp, blob_mt.clone(), art.manifest.bytes.clone()));
    for b in std::iter::once(&art.config).chain(&art.layers) {
        let p = blob_path(&b.descriptor.digest)?;
        if seen.insert(p.clone()) {
            files.push((p, blob_mt.clone(), b.path.clone()));
        }
    }
    let mut annotations = serde_json::Map::new();
    if let Some(t) = &art.tag {
        annotations.insert("org.opencontainers.image.ref.name".into(), t.clone().into());
    }
    annotations.insert("io.stella.repository".into(), art.repository.clone().into());
    annotations.insert("io.stella.reference".into(), art.reference.clone().into());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": art.manifest.media_type,
            "digest": art.manifest.digest,
            "size": art.manifest.bytes.len(),
            "annotations": annotations,
        }],
    });
    blobs.push((
        EntryPath::new(format!("oci/{name}/index.json"))?,
        MediaType::new(media_types::OCI_INDEX)?,
        canonical_json(&index)?,
    ));
    blobs.push((
        EntryPath::new(format!("oci/{name}/oci-layout"))?,
        MediaType::new(media_types::OCI_LAYOUT)?,
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    ));
    Ok(())
}

/// The advisories of a built kit, for tests: parses every `advisories/*.jsonl` entry.
pub fn parse_advisories(jsonl: &[u8]) -> Result<Vec<Advisory>, String> {
    bundles::model::JsonlReader::new(jsonl)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}
