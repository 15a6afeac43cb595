//! `appliance.toml`: the service settings, with `STELLA_*` environment overrides.
//!
//! ```toml
//! max_sbom_bytes = 52428800        # 50 MiB; larger uploads get 413
//! request_timeout_secs = 30        # a request still running then gets 408
//! max_concurrent_requests = 256    # requests served at once; more wait in line
//! token_leeway_secs = 60           # clock skew tolerated on token exp/nbf
//! audit_scans = true               # one audit record per scan
//! policy_file = "/etc/stella/policy.yaml"   # initial policy when none is stored yet
//! log_format = "text"              # or "json"
//! durability = "strict"            # or "relaxed" (see store::Durability)
//! header_timeout_secs = 15         # a request's headers must arrive within this, and an
//!                                  # idle keep-alive connection is closed after it; over
//!                                  # TLS the handshake gets min(10 s, this)
//! upload_timeout_secs = 3600       # the console's kit upload (large, from USB) may take this
//! max_connections = 4096           # open connections; more are closed on accept
//! max_connections_per_address = 256  # open connections from one client address
//! max_inflight_body_bytes = 0      # request bodies held at once (0: a quarter of RAM);
//!                                  # a scan beyond it gets 503 + Retry-After
//! min_free_bytes = 268435456       # below this free on the data disk, /readyz says why
//!
//! [tls]                            # optional: serve HTTPS (both or neither)
//! cert = "/etc/stella/tls/cert.pem"   # PEM chain, end-entity certificate first
//! key = "/etc/stella/tls/key.pem"     # PEM private key (PKCS#8, RSA or EC)
//! ```
//!
//! Every key can be overridden by the environment variable `STELLA_<KEY IN UPPER CASE>`
//! (e.g. `STELLA_MAX_SBOM_BYTES=1048576`; `STELLA_TLS_CERT`, `STELLA_TLS_KEY` for the
//! `[tls]` table); the environment wins over the file, and `serve --tls-cert/--tls-key`
//! win over both. See [`crate::server::tls`] for what the files may hold.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

/// Store fsync policy (see [`crate::store::Durability`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DurabilitySetting {
    /// fsync every acknowledged write.
    #[default]
    Strict,
    /// Flush every 500 ms.
    Relaxed,
}

/// The `[tls]` table: the site's certificate and key. Neither set: plain HTTP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain, end-entity first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// PEM private key of the end-entity certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

impl TlsSettings {
    /// The files to serve TLS with: `None` for plain HTTP.
    ///
    /// # Errors
    /// Only one of the two is set.
    pub fn files(&self) -> Result<Option<crate::server::tls::TlsFiles>, ConfigError> {
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Ok(Some(crate::server::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(ConfigError::TlsHalf {
                set: "certificate",
                missing: "key ([tls] key, STELLA_TLS_KEY or --tls-key)",
            }),
            (None, Some(_)) => Err(ConfigError::TlsHalf {
                set: "private key",
                missing: "certificate ([tls] cert, STELLA_TLS_CERT or --tls-cert)",
            }),
        }
    }
}

/// Service settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Largest SBOM upload (bytes).
    pub max_sbom_bytes: usize,
    /// Per-request time limit (seconds).
    pub request_timeout_secs: u64,
    /// Requests served concurrently.
    pub max_concurrent_requests: usize,
    /// Clock skew tolerated when checking token `exp`/`nbf` (seconds, at most 300).
    pub token_leeway_secs: u64,
    /// Write an audit record for every scan.
    pub audit_scans: bool,
    /// Initial policy (YAML) used when the store holds no policy yet.
    pub policy_file: Option<PathBuf>,
    /// Log format.
    pub log_format: LogFormat,
    /// Store fsync policy.
    pub durability: DurabilitySetting,
    /// How often the active kit is re-checked (seconds; picks up a CLI import or rollback).
    pub kit_poll_secs: u64,
    /// A request's headers must arrive within this (seconds); also how long an idle
    /// keep-alive connection stays open.
    pub header_timeout_secs: u64,
    /// Time limit of the console's kit upload (seconds).
    pub upload_timeout_secs: u64,
    /// Connections open at once; more are closed as they are accepted.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_address: usize,
    /// Request body bytes admitted at once (0: a quarter of the machine's memory); a scan
    /// beyond the budget is answered 503 with `Retry-After`.
    pub max_inflight_body_bytes: u64,
    /// Free space on the data disk below which `/readyz` reports "insufficient storage".
    pub min_free_bytes: u64,
    /// Optional TLS (the `[tls]` table).
    pub tls: TlsSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_sbom_bytes: 50 * 1024 * 1024,
            request_timeout_secs: 30,
            max_concurrent_requests: 256,
            token_leeway_secs: 60,
            audit_scans: true,
            policy_file: None,
            log_format: LogFormat::Text,
            durability: DurabilitySetting::Strict,
            kit_poll_secs: 5,
            header_timeout_secs: 15,
            upload_timeout_secs: 3600,
            max_connections: 4096,
            max_connections_per_address: 256,
            max_inflight_body_bytes: 0,
            min_free_bytes: 256 << 20,
            tls: TlsSettings::default(),
        }
    }
}

/// Largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for these settings.
    #[error("config {path}: {msg}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// An environment override has a bad value.
    #[error("environment variable {var}={value:?}: {msg}")]
    Env {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
        /// Expected form.
        msg: &'static str,
    },
    /// Only half of the TLS pair is configured.
    #[error("TLS: a {set} is configured but no {missing}; set both, or neither for plain HTTP")]
    TlsHalf {
        /// What is set.
        set: &'static str,
        /// What is missing, and where it is set.
        missing: &'static str,
    },
    /// A value is outside its range.
    #[error("config {key}: {msg}")]
    Range {
        /// The key.
        key: &'static str,
        /// The allowed range.
        msg: &'static str,
    },
}

impl Config {
    /// Loads `path` (if given) and applies `STELLA_*` overrides from the process environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(path, |k| std::env::var(k).ok())
    }

    /// Like [`Config::load`] with an explicit environment (for tests).
    pub fn load_with_env(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut c = match path {
            Some(p) => {
                use std::io::Read as _;
                let read = |source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                };
                let mut text = String::new();
                std::fs::File::open(p)
                    .map_err(read)?
                    .take(MAX_CONFIG_BYTES)
                    .read_to_string(&mut text)
                    .map_err(read)?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: p.to_path_buf(),
                    msg: e.to_string(),
                })?
            }
            None => Self::default(),
        };
        fn num<T: std::str::FromStr>(
            env: &impl Fn(&str) -> Option<String>,
            var: &str,
            slot: &mut T,
        ) -> Result<(), ConfigError> {
            if let Some(v) = env(var) {
                *slot = v.trim().parse().map_err(|_| ConfigError::Env {
                    var: var.to_owned(),
                    value: v.clone(),
                    msg: "expected a non-negative whole number",
                })?;
            }
            Ok(())
        }
        num(&env, "STELLA_MAX_SBOM_BYTES", &mut c.max_sbom_bytes)?;
        num(
            &env,
            "STELLA_REQUEST_TIMEOUT_SECS",
            &mut c.request_timeout_secs,
        )?;
        num(
            &env,
            "STELLA_MAX_CONCURRENT_REQUESTS",
            &mut c.max_concurrent_requests,
        )?;
        num(&env, "STELLA_TOKEN_LEEWAY_SECS", &mut c.token_leeway_secs)?;
        num(&env, "STELLA_KIT_POLL_SECS", &mut c.kit_poll_secs)?;
        num(
            &env,
            "STELLA_HEADER_TIMEOUT_SECS",
            &mut c.header_timeout_secs,
        )?;
        num(
            &env,
            "STELLA_UPLOAD_TIMEOUT_SECS",
            &mut c.upload_timeout_secs,
        )?;
        num(&env, "STELLA_MAX_CONNECTIONS", &mut c.max_connections)?;
        num(
            &env,
            "STELLA_MAX_CONNECTIONS_PER_ADDRESS",
            &mut c.max_connections_per_address,
        )?;
        num(
            &env,
            "STELLA_MAX_INFLIGHT_BODY_BYTES",
            &mut c.max_inflight_body_bytes,
        )?;
        num(&env, "STELLA_MIN_FREE_BYTES", &mut c.min_free_bytes)?;
        if let Some(v) = env("STELLA_AUDIT_SCANS") {
            c.audit_scans = match v.trim() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                _ => {
                    return Err(ConfigError::Env {
                        var: "STELLA_AUDIT_SCANS".into(),
                        value: v,
                        msg: "expected true or false",
                    });
                }
            };
        }
        if let Some(v) = env("STELLA_POLICY_FILE") {
            c.policy_file = Some(PathBuf::from(v));
        }
        for (var, slot) in [
            ("STELLA_TLS_CERT", &mut c.tls.cert),
            ("STELLA_TLS_KEY", &mut c.tls.key),
        ] {
            if let Some(v) = env(var) {
                if v.trim().is_empty() {
                    return Err(ConfigError::Env {
                        var: var.to_owned(),
                        value: v,
                        msg: "expected the path of a PEM file",
                    });
                }
                *slot = Some(PathBuf::from(v));
            }
        }
        if let Some(v) = env("STELLA_LOG_FORMAT") {
            c.log_format = match v.trim() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => {
                    return Err(ConfigError::Env {
                        var: "STELLA_LOG_FORMAT".into(),
                        value: v,
                        msg: "expected text or json",
                    });
                }
            };
        }
        if let Some(v) = env("STELLA_DURABILITY") {
            c.durability = match v.trim() {
                "strict" => DurabilitySetting::Strict,
                "relaxed" => DurabilitySetting::Relaxed,
                _ => {
                    return Err(ConfigError::Env {
                        var: "STELLA_DURABILITY".into(),
                        value: v,
                        msg: "expected strict or relaxed",
                    });
                }
            };
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_sbom_bytes == 0 || self.max_sbom_bytes > crate::store::MAX_SBOM_BYTES {
            return Err(ConfigError::Range {
                key: "max_sbom_bytes",
                msg: "must be between 1 and 134217728 (128 MiB)",
            });
        }
        if self.request_timeout_secs == 0 || self.request_timeout_secs > 3600 {
            return Err(ConfigError::Range {
                key: "request_timeout_secs",
                msg: "must be between 1 and 3600",
            });
        }
        if self.max_concurrent_requests == 0 || self.max_concurrent_requests > 65_536 {
            return Err(ConfigError::Range {
                key: "max_concurrent_requests",
                msg: "must be between 1 and 65536",
            });
        }
        if self.token_leeway_secs > signing::jwt::MAX_LEEWAY_SECS {
            return Err(ConfigError::Range {
                key: "token_leeway_secs",
                msg: "must be at most 300",
            });
        }
        if self.kit_poll_secs == 0 {
            return Err(ConfigError::Range {
                key: "kit_poll_secs",
                msg: "must be at least 1",
            });
        }
        for (key, v, max, msg) in [
            (
                "header_timeout_secs",
                self.header_timeout_secs,
                3600,
                "must be between 1 and 3600",
            ),
            (
                "upload_timeout_secs",
                self.upload_timeout_secs,
                86_400,
                "must be between 1 and 86400",
            ),
        ] {
            if v == 0 || v > max {
                return Err(ConfigError::Range { key, msg });
            }
        }
        if self.max_connections == 0 || self.max_connections_per_address == 0 {
            return Err(ConfigError::Range {
                key: "max_connections / max_connections_per_address",
                msg: "must be at least 1",
            });
        }
        if self.max_inflight_body_bytes != 0
            && self.max_inflight_body_bytes < self.max_sbom_bytes as u64
        {
            return Err(ConfigError::Range {
                key: "max_inflight_body_bytes",
                msg: "must be 0 (a quarter of RAM) or at least max_sbom_bytes",
            });
        }
        self.tls.files()?;
        Ok(())
    }

    /// The request-body budget in force: the configured one, or a quarter of the
    /// machine's memory (`/proc/meminfo`; 1 GiB when that cannot be read), never below
    /// one SBOM of the largest size.
    pub fn inflight_body_budget(&self) -> u64 {
        if self.max_inflight_body_bytes != 0 {
            return self.max_inflight_body_bytes;
        }
        let ram = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map(|kib| kib * 1024);
        (ram.unwrap_or(4 << 30) / 4).max(self.max_sbom_bytes as u64)
    }

    /// The store options these settings ask for.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            durability: match self.durability {
                DurabilitySetting::Strict => crate::store::Durability::Strict,
                DurabilitySetting::Relaxed => crate::store::Durability::Relaxed,
            },
            ..crate::store::StoreOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_overrides() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("a.toml");
        std::fs::write(&p, "max_sbom_bytes = 1000\naudit_scans = false\n").expect("write");
        let c = Config::load_with_env(Some(&p), |k| {
            (k == "STELLA_MAX_SBOM_BYTES").then(|| "2000".to_owned())
        })
        .expect("load");
        assert_eq!(c.max_sbom_bytes, 2000);
        assert!(!c.audit_scans);
        assert_eq!(c.request_timeout_secs, 30);
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        let e = Config::load_with_env(None, |k| {
            (k == "STELLA_LOG_FORMAT").then(|| "xml".to_owned())
        })
        .expect_err("bad env");
        assert!(e.to_string().contains("STELLA_LOG_FORMAT"), "{e}");
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("a.toml");
        std::fs::write(&p, "max_sbom_byte = 1\n").expect("write");
        let e = Config::load_with_env(Some(&p), |_| None).expect_err("unknown key");
        assert!(e.to_string().contains("max_sbom_byte"), "{e}");
        std::fs::write(&p, "max_sbom_bytes = 0\n").expect("write");
        let e = Config::load_with_env(Some(&p), |_| None).expect_err("range");
        assert!(e.to_string().contains("max_sbom_bytes"), "{e}");
    }

    #[test]
    fn tls_table_env_overrides_and_both_or_neither() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("a.toml");
        std::fs::write(
            &p,
            "[tls]\ncert = \"/site/cert.pem\"\nkey = \"/site/key.pem\"\n",
        )
        .expect("write");
        let c = Config::load_with_env(Some(&p), |_| None).expect("load");
        let files = c.tls.files().expect("pair").expect("tls on");
        assert_eq!(files.cert, PathBuf::from("/site/cert.pem"));
        assert_eq!(files.key, PathBuf::from("/site/key.pem"));
        // the environment wins over the file
        let c = Config::load_with_env(Some(&p), |k| {
            (k == "STELLA_TLS_KEY").then(|| "/env/key.pem".to_owned())
        })
        .expect("load");
        assert_eq!(c.tls.key, Some(PathBuf::from("/env/key.pem")));
        assert_eq!(c.tls.cert, Some(PathBuf::from("/site/cert.pem")));
        // neither: plain HTTP
        let c = Config::load_with_env(None, |_| None).expect("load");
        assert_eq!(c.tls.files().expect("ok"), None);
        // only one half: refused, naming what is missing and where to set it
        let e = Config::load_with_env(None, |k| {
            (k == "STELLA_TLS_CERT").then(|| "/env/cert.pem".to_owned())
        })
        .expect_err("half");
        assert!(matches!(e, ConfigError::TlsHalf { .. }), "{e:?}");
        assert!(e.to_string().contains("STELLA_TLS_KEY"), "{e}");
        std::fs::write(&p, "[tls]\nkey = \"/site/key.pem\"\n").expect("write");
        let e = Config::load_with_env(Some(&p), |_| None).expect_err("half");
        assert!(e.to_string().contains("--tls-cert"), "{e}");
        // an empty path and an unknown key in the table are refused
        let e = Config::load_with_env(None, |k| (k == "STELLA_TLS_KEY").then(String::new))
            .expect_err("empty");
        assert!(e.to_string().contains("STELLA_TLS_KEY"), "{e}");
        std::fs::write(&p, "[tls]\ncertificate = \"/x\"\n").expect("write");
        let e = Config::load_with_env(Some(&p), |_| None).expect_err("unknown");
        assert!(e.to_string().contains("certificate"), "{e}");
    }
}
