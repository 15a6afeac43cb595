//! `kit.toml`: what goes into a kit (CONTRACT.md).
//!
//! ```toml
//! site = "plant-7"                 # optional: kit is bound to this site id
//! valid_days = 30                  # kit expiry
//! [[source]]
//! kind = "osv"                     # {base_url}/{Ecosystem}/all.zip
//! base_url = "file:///mirror/osv"
//! ecosystems = ["PyPI", "npm"]
//! [[source]]
//! kind = "oci"
//! name = "trivy-db"
//! reference = "ghcr.io/aquasecurity/trivy-db:2"
//! [[client]]
//! id = "ci-frontend"
//! ```
//!
//! Unknown keys are errors (a typo such as `valid_day` must not silently give the
//! default). Relative paths are relative to the directory of `kit.toml`.
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Largest `kit.toml` read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Longest kit validity accepted.
pub const MAX_VALID_DAYS: u32 = 366;

/// Errors in `kit.toml`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not valid TOML or not the schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The whole `kit.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KitConfig {
    /// Site binding.
    #[serde(default)]
    pub site: Option<String>,
    /// Days until the kit expires (default 30).
    #[serde(default = "default_valid_days")]
    pub valid_days: u32,
    /// Kit id; default `<site or "kit">-<sequence>-<created, compact>`.
    #[serde(default)]
    pub kit_id: Option<String>,
    /// The feeds.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// The clients that get tokens.
    #[serde(default, rename = "client")]
    pub clients: Vec<ClientConfig>,
    /// Token ids (`jti`) to revoke.
    #[serde(default)]
    pub revoked: Vec<String>,
    /// A trust-root rotation document (`stella-kit rotate-root`) to carry as
    /// `trust/root.json`; appliances pin its keys when they accept the kit.
    #[serde(default)]
    pub trust_root: Option<PathBuf>,
}

/// The kit name of a `dir` source's OCI artifact when `artifact_name` is not set.
pub const DEFAULT_ARTIFACT_NAME: &str = "trivy-db";

fn default_valid_days() -> u32 {
    30
}

fn default_tier() -> String {
    "Free".into()
}

fn default_max_scans() -> u32 {
    333
}

/// One `[[source]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceConfig {
    /// OSV dumps.
    Osv {
        /// Name in errors and the summary (default `osv`).
        #[serde(default)]
        name: Option<String>,
        /// `https://osv-vulnerabilities.storage.googleapis.com` or `file:///…`.
        base_url: String,
        /// OSV ecosystem names.
        ecosystems: Vec<String>,
    },
    /// NVD 2.0 pages, to enrich advisories with CVSS and descriptions.
    Nvd {
        /// Name (default `nvd`).
        #[serde(default)]
        name: Option<String>,
        /// The API URL.
        #[serde(default)]
        url: Option<String>,
        /// A directory of saved pages.
        #[serde(default)]
        dir: Option<PathBuf>,
        /// Environment variable holding an API key.
        #[serde(default)]
        api_key_env: Option<String>,
    },
    /// An OCI artifact.
    Oci {
        /// Name in the kit (`trivy-db`): entries go under `oci/<name>/`.
        name: String,
        /// `ghcr.io/aquasecurity/trivy-db:2`.
        reference: String,
        /// Registry base URL override (mirrors, tests).
        #[serde(default)]
        registry_url: Option<String>,
    },
    /// A local mirror directory.
    Dir {
        /// Name (default `dir`).
        #[serde(default)]
        name: Option<String>,
        /// The directory.
        path: PathBuf,
        /// Ecosystems under it: `<path>/<Ecosystem>/all.zip`, or plain `*.json` OSV
        /// records in `<path>/<Ecosystem>/`. Default: every sub-directory (except the
        /// OCI layout's).
        #[serde(default)]
        ecosystems: Vec<String>,
        /// An OCI image layout below `path` (relative) holding an artifact to carry,
        /// e.g. a Trivy DB mirrored with `skopeo copy … oci:DIR:2`.
        #[serde(default)]
        oci_layout: Option<PathBuf>,
        /// The tag to take from the layout (default: its only manifest).
        #[serde(default)]
        tag: Option<String>,
        /// Kit name of that artifact (`oci/<artifact_name>/…`), default `trivy-db`.
        #[serde(default)]
        artifact_name: Option<String>,
        /// The repository name the appliance's `/v2/` serves that artifact under (e.g.
        /// `aquasecurity/trivy-db`), default the artifact name.
        #[serde(default)]
        repository: Option<String>,
    },
}

/// One `[[client]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Client id (`sub`).
    pub id: String,
    /// Tier (default `Free`).
    #[serde(default = "default_tier")]
    pub tier: String,
    /// Daily quota (default 333).
    #[serde(default = "default_max_scans")]
    pub max_scans_per_day: u32,
    /// Token validity in days (default 30).
    #[serde(default = "default_valid_days")]
    pub valid_days: u32,
}

impl KitConfig {
    /// Reads and validates `path`; relative paths become relative to its directory.
    pub fn load(path: &Path) -> Result<KitConfig, ConfigError> {
        let read = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read)?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("larger than {MAX_CONFIG_BYTES} bytes"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        let mut cfg: KitConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(t) = &mut cfg.trust_root
            && t.is_relative()
        {
            *t = base.join(&*t);
        }
        for s in &mut cfg.sources {
            match s {
                SourceConfig::Dir { path: p, .. } if p.is_relative() => *p = base.join(&*p),
                SourceConfig::Nvd { dir: Some(p), .. } if p.is_relative() => *p = base.join(&*p),
                SourceConfig::Osv { base_url, .. } => {
                    // `file:relative/dir` (no slashes) is relative to kit.toml.
                    if let Some(rel) = base_url.strip_prefix("file:")
                        && !rel.starts_with('/')
                    {
                        let abs = std::path::absolute(base.join(rel)).map_err(read)?;
                        *base_url = format!("file://{}", abs.display());
                    }
                }
                _ => {}
            }
        }
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(site) = &self.site
            && !valid_label(site, 64)
        {
            return Err(format!(
                "site {site:?}: 1-64 ASCII letters, digits, '.', '_' or '-'"
            ));
        }
        if let Some(id) = &self.kit_id
            && !valid_label(id, 128)
        {
            return Err(format!(
                "kit_id {id:?}: 1-128 ASCII letters, digits, '.', '_' or '-'"
            ));
        }
        if self.valid_days == 0 || self.valid_days > MAX_VALID_DAYS {
            return Err(format!("valid_days must be 1..={MAX_VALID_DAYS}"));
        }
        let mut oci_names = std::collections::BTreeSet::new();
        for s in &self.sources {
            match s {
                SourceConfig::Osv { ecosystems, .. } if ecosystems.is_empty() => {
                    return Err("an osv source needs at least one ecosystem".into());
                }
                SourceConfig::Nvd { url, dir, .. } if url.is_some() == dir.is_some() => {
                    return Err("an nvd source needs exactly one of url or dir".into());
                }
                SourceConfig::Oci { name, .. } => {
                    if !valid_label(name, 64) {
                        return Err(format!(
                            "oci source name {name:?}: 1-64 ASCII letters, digits, '.', '_' or '-'"
                        ));
                    }
                    if !oci_names.insert(name.clone()) {
                        return Err(format!("two OCI artifacts are named {name:?}"));
                    }
                }
                SourceConfig::Dir {
                    oci_layout: Some(_),
                    artifact_name,
                    repository,
                    ..
                } => {
                    let name = artifact_name.as_deref().unwrap_or(DEFAULT_ARTIFACT_NAME);
                    if !valid_label(name, 64) {
                        return Err(format!(
                            "dir source artifact_name {name:?}: 1-64 ASCII letters, digits, '.', '_' or '-'"
                        ));
                    }
                    // Served under this name on the appliance's /v2/ (default: the artifact name).
                    let repo = repository.as_deref().unwrap_or(name);
                    if !crate::sources::oci::valid_repository(repo) {
                        return Err(format!(
                            "dir source repository {repo:?}: lowercase [a-z0-9] components separated by '.', '_', '__' or '-', joined by '/' (set repository = \"…\" if artifact_name is not one)"
                        ));
                    }
                    if !oci_names.insert(name.to_string()) {
                        return Err(format!("two OCI artifacts are named {name:?}"));
                    }
                }
                _ => {}
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for c in &self.clients {
            if !bundles::tokens::valid_client_id(&c.id) {
                return Err(format!(
                    "client id {:?}: 1-64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit",
                    c.id
                ));
            }
            if !ids.insert(c.id.clone()) {
                return Err(format!("client {:?} is listed twice", c.id));
            }
            if c.valid_days == 0 || c.valid_days > MAX_VALID_DAYS {
                return Err(format!(
                    "client {}: valid_days must be 1..={MAX_VALID_DAYS}",
                    c.id
                ));
            }
            if c.tier.is_empty() || c.tier.len() > 32 {
                return Err(format!("client {}: tier must be 1-32 characters", c.id));
            }
        }
        for j in &self.revoked {
            if j.is_empty() || j.len() > 128 {
                return Err(format!("revoked id {j:?}: 1-128 characters"));
            }
        }
        Ok(())
    }
}

fn valid_label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<KitConfig, ConfigError> {
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("kit.toml");
        std::fs::write(&p, text).expect("write");
        KitConfig::load(&p)
    }

    #[test]
    fn contract_example_parses_with_defaults() {
        let c = load(
            r#"
site = "plant-7"
valid_days = 30
[[source]]
kind = "osv"
base_url = "file:///mirror/osv"
ecosystems = ["PyPI", "npm", "Debian"]
[[source]]
kind = "oci"
name = "trivy-db"
reference = "ghcr.io/aquasecurity/trivy-db:2"
[[client]]
id = "ci-frontend"
"#,
        )
        .expect("valid");
        assert_eq!(c.site.as_deref(), Some("plant-7"));
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.clients[0].tier, "Free");
        assert_eq!(c.clients[0].max_scans_per_day, 333);
        assert_eq!(c.clients[0].valid_days, 30);
    }

    #[test]
    fn typos_and_bad_values_are_refused_with_the_reason() {
        let e = load("valid_day = 3\n").expect_err("unknown key");
        assert!(e.to_string().contains("valid_day"), "{e}");
        let e = load("valid_days = 0\n").expect_err("zero");
        assert!(e.to_string().contains("valid_days"), "{e}");
        let e = load("[[client]]\nid = \"a b\"\n").expect_err("bad id");
        assert!(e.to_string().contains("client id"), "{e}");
        let e = load("[[client]]\nid = \"a\"\n[[client]]\nid = \"a\"\n").expect_err("dup");
        assert!(e.to_string().contains("twice"), "{e}");
        let e = load("[[source]]\nkind = \"ftp\"\n").expect_err("kind");
        assert!(e.to_string().contains("ftp"), "{e}");
        let e = load("site = \"../x\"\n").expect_err("site");
        assert!(e.to_string().contains("site"), "{e}");
        // A dir source's artifact shares the oci/<name>/ namespace with the oci sources.
        let e = load(
            "[[source]]\nkind = \"dir\"\npath = \"m\"\noci_layout = \"l\"\n[[source]]\nkind = \"oci\"\nname = \"trivy-db\"\nreference = \"ghcr.io/aquasecurity/trivy-db:2\"\n",
        )
        .expect_err("same artifact name");
        assert!(
            e.to_string()
                .contains("two OCI artifacts are named \"trivy-db\""),
            "{e}"
        );
        let e = load(
            "[[source]]\nkind = \"dir\"\npath = \"m\"\noci_layout = \"l\"\nrepository = \"a//b\"\n",
        )
        .expect_err("bad repository");
        assert!(
            e.to_string().contains("dir source repository \"a//b\""),
            "{e}"
        );
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("kit.toml");
        std::fs::write(
            &p,
            "[[source]]\nkind = \"dir\"\npath = \"mirror\"\n[[source]]\nkind = \"osv\"\nbase_url = \"file:osv\"\necosystems = [\"PyPI\"]\n",
        )
        .expect("write");
        let c = KitConfig::load(&p).expect("valid");
        match &c.sources[0] {
            SourceConfig::Dir { path, .. } => assert_eq!(path, &d.path().join("mirror")),
            other => panic!("{other:?}"),
        }
        match &c.sources[1] {
            SourceConfig::Osv { base_url, .. } => {
                assert!(base_url.starts_with("file:///"), "{base_url}");
                assert!(base_url.ends_with("/osv"), "{base_url}");
            }
            other => panic!("{other:?}"),
        }
    }
}
