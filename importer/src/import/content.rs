//! Check 10, content validation: every entry is a kind this appliance knows and parses as
//! that kind; client tokens verify with a pinned vendor key and are re-signed with the
//! appliance key (`kits/<dir>/tokens.json`); OCI blobs are named by their digest; a
//! trust-root rotation (`trust/root.json`) is signed by the pinned root.
use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use bundles::VerifiedManifest;
use bundles::model::JsonlReader;
use bundles::path::media_types;
use bundles::tokens::{
    CLIENTS_PATH, ClientTokens, MAX_CLIENTS, MAX_REVOKED, MAX_TOKEN_BYTES, REVOKED_PATH,
    Revocations, valid_client_id,
};
use serde::{Deserialize, Serialize};
use signing::{KeyPair, TrustRoot, jwt};
use time::OffsetDateTime;

use super::refusal::Refusal;
use super::report::ImportReport;
use super::{Failure, read_capped, read_err};
use crate::datadir::{DataDir, TrustFile, write_json_atomic};

/// The re-signed client tokens and the revocation list (`kits/<dir>/tokens.json`).
pub const TOKENS_FILE: &str = "tokens.json";
/// Largest `tokens/*.json` entry parsed.
const MAX_TOKENS_FILE: u64 = 64 << 20;
/// Largest OCI `index.json` parsed.
const MAX_OCI_INDEX: u64 = 4 << 20;

/// One client in `tokens.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResignedClient {
    /// Client id (`sub`).
    pub id: String,
    /// The appliance-signed token.
    pub token: String,
    /// The token id.
    pub jti: Option<String>,
    /// Tier (`Free`).
    pub tier: String,
    /// Daily scan quota.
    pub max_scans_per_day: u32,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Not before (unix seconds).
    pub nbf: Option<i64>,
}

/// `kits/<dir>/tokens.json`: the appliance-signed tokens of the kit and its revocations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensFile {
    /// The issuer of the re-signed tokens (the appliance id).
    pub issuer: String,
    /// Clients, sorted by id.
    pub clients: Vec<ResignedClient>,
    /// Revoked `jti` values, sorted.
    pub revoked: Vec<String>,
}

/// Default daily quota when a token does not say (the seeds' Free tier).
pub const DEFAULT_MAX_SCANS_PER_DAY: u32 = 333;

/// Reads `tokens.json` of a kit directory.
pub fn read_tokens(kit_dir: &Path) -> Result<TokensFile, crate::datadir::DataDirError> {
    crate::datadir::read_json(&kit_dir.join(TOKENS_FILE), MAX_TOKENS_FILE)
}

/// What check 10 reads besides the staged content.
pub(super) struct Inputs<'a> {
    pub dd: &'a DataDir,
    pub key: &'a KeyPair,
    pub trust: &'a TrustRoot,
    pub manifest: &'a VerifiedManifest,
    /// `staging/content/`: the verified entries.
    pub content: &'a Path,
    /// The staging directory (`tokens.json` is written there).
    pub staging: &'a Path,
    pub now: OffsetDateTime,
}

/// Runs check 10 over the staged entries and writes `tokens.json` into staging. Returns
/// the trust file a `trust/root.json` in the kit pins once the kit is activated.
pub(super) fn validate(
    input: &Inputs<'_>,
    report: &mut ImportReport,
) -> Result<Option<TrustFile>, Failure> {
    let Inputs {
        dd,
        key,
        trust,
        manifest,
        content,
        staging,
        now,
    } = *input;
    let mut rotation = None;
    let content_err = |path: &str, reason: String| Refusal::Content {
        path: path.to_string(),
        reason,
    };
    let mut oci_names = BTreeSet::new();
    for e in &manifest.entries {
        let p = e.path.as_str();
        let mt = e.media_type.as_str();
        if let Some(rest) = p.strip_prefix("advisories/") {
            if mt != media_types::ADVISORIES_JSONL
                || !rest.ends_with(".jsonl")
                || rest.contains('/')
            {
                return Err(content_err(
                    p,
                    format!(
                        "advisory files are advisories/<Ecosystem>.jsonl of type {}",
                        media_types::ADVISORIES_JSONL
                    ),
                )
                .into());
            }
            let f = File::open(content.join(p)).map_err(read_err(&content.join(p)))?;
            let mut count = 0u64;
            let mut previous: Option<String> = None;
            for (i, adv) in JsonlReader::new(BufReader::new(f)).enumerate() {
                let adv = adv.map_err(|err| content_err(p, format!("line {}: {err}", i + 1)))?;
                let id = adv.id().to_string();
                if previous.as_ref().is_some_and(|prev| prev >= &id) {
                    return Err(content_err(
                        p,
                        format!(
                            "line {}: advisory {id} is out of order or duplicated",
                            i + 1
                        ),
                    )
                    .into());
                }
                previous = Some(id);
                count += 1;
            }
            report.advisories.insert(p.to_string(), count);
        } else if p == CLIENTS_PATH || p == REVOKED_PATH {
            // handled below, once both are known
        } else if let Some(rest) = p.strip_prefix("oci/") {
            let Some((name, inner)) = rest.split_once('/') else {
                return Err(content_err(p, "OCI artifacts live in oci/<name>/…".into()).into());
            };
            oci_names.insert(name.to_string());
            if let Some(hexd) = inner.strip_prefix("blobs/sha256/") {
                if hexd != e.sha256.to_hex() {
                    return Err(content_err(
                        p,
                        format!(
                            "OCI blob name does not match its sha256 {}",
                            e.sha256.to_hex()
                        ),
                    )
                    .into());
                }
            } else if inner == "index.json" {
                let bytes = read_capped(&content.join(p), MAX_OCI_INDEX)
                    .map_err(|err| content_err(p, err.to_string()))?;
                check_oci_index(&bytes, name, manifest).map_err(|reason| content_err(p, reason))?;
            } else if inner != "oci-layout" {
                return Err(content_err(p, "unexpected file in an OCI image layout".into()).into());
            }
        } else if p == bundles::trustroot::ROOT_PATH {
            let bytes = read_capped(&content.join(p), bundles::trustroot::MAX_ROOT_BYTES as u64)
                .map_err(|err| content_err(p, err.to_string()))?;
            let doc = bundles::trustroot::RootDoc::parse(&bytes)
                .map_err(|err| content_err(p, err.to_string()))?;
            let pinned = dd.trust_file()?;
            doc.verify(trust, pinned.root_version)
                .map_err(|err| content_err(p, err.to_string()))?;
            report.warnings.push(format!(
                "this kit rotates the pinned trust root to version {} ({} key(s), threshold {}); it takes effect with the kit",
                doc.root_version,
                doc.keys.len(),
                doc.threshold
            ));
            report.rotated_root = Some(doc.root_version);
            rotation = Some(TrustFile {
                version: pinned.version,
                keys: doc.keys.clone(),
                threshold: doc.threshold,
                site: pinned.site.clone(),
                root_version: doc.root_version,
            });
        } else if p.starts_with("nvd/") {
            // NVD records enrich advisories at build time; they are kept for reference only.
        } else {
            return Err(content_err(p, "not a kind of entry this appliance knows".into()).into());
        }
    }
    for name in &oci_names {
        for required in ["index.json", "oci-layout"] {
            let p = format!("oci/{name}/{required}");
            if manifest.entry(&p).is_none() {
                return Err(content_err(&p, "missing from the OCI image layout".into()).into());
            }
        }
    }
    report.oci = oci_names.into_iter().map(|n| format!("oci/{n}")).collect();

    // Tokens: verify each with the pinned vendor keys, re-sign with the appliance key.
    let issuer = dd.appliance_id()?;
    let mut out = TokensFile {
        issuer: issuer.clone(),
        ..TokensFile::default()
    };
    if manifest.entry(REVOKED_PATH).is_some() {
        let bytes = read_capped(&content.join(REVOKED_PATH), MAX_TOKENS_FILE)
            .map_err(|e| content_err(REVOKED_PATH, e.to_string()))?;
        let r: Revocations =
            serde_json::from_slice(&bytes).map_err(|e| content_err(REVOKED_PATH, e.to_string()))?;
        if r.revoked.len() > MAX_REVOKED {
            return Err(
                content_err(REVOKED_PATH, format!("more than {MAX_REVOKED} revoked ids")).into(),
            );
        }
        let mut v = r.revoked;
        v.sort();
        v.dedup();
        out.revoked = v;
    }
    report.revoked = out.revoked.len();
    if manifest.entry(CLIENTS_PATH).is_some() {
        let bytes = read_capped(&content.join(CLIENTS_PATH), MAX_TOKENS_FILE)
            .map_err(|e| content_err(CLIENTS_PATH, e.to_string()))?;
        let c: ClientTokens =
            serde_json::from_slice(&bytes).map_err(|e| content_err(CLIENTS_PATH, e.to_string()))?;
        if c.clients.len() > MAX_CLIENTS {
            return Err(
                content_err(CLIENTS_PATH, format!("more than {MAX_CLIENTS} clients")).into(),
            );
        }
        let validation = jwt::Validation {
            now: now.unix_timestamp(),
            leeway_secs: 60,
            issuer: None,
            audience: manifest.site.clone(),
        };
        let mut seen = BTreeSet::new();
        for ct in &c.clients {
            if !valid_client_id(&ct.id) {
                return Err(
                    content_err(CLIENTS_PATH, format!("invalid client id {:?}", ct.id)).into(),
                );
            }
            if !seen.insert(ct.id.clone()) {
                return Err(
                    content_err(CLIENTS_PATH, format!("client {} listed twice", ct.id)).into(),
                );
            }
            if ct.token.len() > MAX_TOKEN_BYTES {
                return Err(content_err(
                    CLIENTS_PATH,
                    format!(
                        "token of client {} is larger than {MAX_TOKEN_BYTES} bytes",
                        ct.id
                    ),
                )
                .into());
            }
            let claims = match jwt::verify(&ct.token, trust, &validation) {
                Ok(c) => c,
                Err(jwt::JwtError::Expired { .. }) => {
                    report.warnings.push(format!(
                        "the token of client {} in this kit has already expired: not re-signed",
                        ct.id
                    ));
                    continue;
                }
                Err(e) => {
                    return Err(content_err(
                        CLIENTS_PATH,
                        format!(
                            "token of client {} does not verify with a pinned vendor key: {e}",
                            ct.id
                        ),
                    )
                    .into());
                }
            };
            if claims.sub != ct.id {
                return Err(content_err(
                    CLIENTS_PATH,
                    format!(
                        "token listed for client {} is issued to {:?}",
                        ct.id, claims.sub
                    ),
                )
                .into());
            }
            if claims
                .jti
                .as_ref()
                .is_some_and(|j| out.revoked.binary_search(j).is_ok())
            {
                report.warnings.push(format!(
                    "the token of client {} is revoked by this kit",
                    ct.id
                ));
                continue;
            }
            let token = jwt::resign(&claims, &issuer, key).map_err(|e| {
                content_err(
                    CLIENTS_PATH,
                    format!("re-signing the token of {}: {e}", ct.id),
                )
            })?;
            out.clients.push(ResignedClient {
                id: ct.id.clone(),
                token,
                jti: claims.jti.clone(),
                tier: claims.tier.clone().unwrap_or_else(|| "Free".into()),
                max_scans_per_day: claims
                    .max_scans_per_day
                    .unwrap_or(DEFAULT_MAX_SCANS_PER_DAY),
                exp: claims.exp,
                nbf: claims.nbf,
            });
        }
        out.clients.sort_by(|a, b| a.id.cmp(&b.id));
        report.clients = out.clients.iter().map(|c| c.id.clone()).collect();
    }
    write_json_atomic(&staging.join(TOKENS_FILE), &out)?;
    Ok(rotation)
}

/// Checks that an OCI `index.json` parses and that every manifest it references is a
/// blob of the same layout listed in the signed manifest.
fn check_oci_index(bytes: &[u8], name: &str, manifest: &VerifiedManifest) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Index {
        #[serde(rename = "schemaVersion")]
        schema_version: u32,
        manifests: Vec<Descriptor>,
    }
    #[derive(Deserialize)]
    struct Descriptor {
        digest: String,
        size: u64,
    }
    let idx: Index = serde_json::from_slice(bytes).map_err(|e| format!("index.json: {e}"))?;
    if idx.schema_version != 2 {
        return Err(format!(
            "index.json schemaVersion {} (expected 2)",
            idx.schema_version
        ));
    }
    for d in &idx.manifests {
        let Some(hexd) = d.digest.strip_prefix("sha256:") else {
            return Err(format!("unsupported digest {}", d.digest));
        };
        let p = format!("oci/{name}/blobs/sha256/{hexd}");
        match manifest.entry(&p) {
            Some(e) if e.size == d.size => {}
            Some(e) => {
                return Err(format!(
                    "index.json says {} is {} bytes, the blob is {}",
                    d.digest, d.size, e.size
                ));
            }
            None => {
                return Err(format!(
                    "index.json references {} which the kit does not carry",
                    d.digest
                ));
            }
        }
    }
    Ok(())
}
