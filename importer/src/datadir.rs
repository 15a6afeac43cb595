//! The appliance data directory: layout, `init`, pinned trust, trusted time.
//!
//! ```text
//! DIR/
//!   appliance.key        appliance secret key (minisign format, 0600)
//!   appliance.pub        appliance public key (minisign format)
//!   trust.json           pinned vendor keys + threshold + site id (written at init, and
//!                        after the switch to a kit that rotates the trust root)
//!   time.json            trusted time at init (later trusted times come from the kits)
//!   kits/<SEQ>-<KITID>/  verified, activated kits (content, re-signed tokens, index, activation.json)
//!   kits/.staging-*      an import in progress (removed on refusal; swept on the next start)
//!   current              symlink → kits/<SEQ>-<KITID>: THE active kit (switched atomically by rename)
//!   audit/               the hash-chained audit log (the only thing a refused import touches)
//! ```
//!
//! State that can be derived is derived: the last accepted sequence and the latest trusted
//! time are computed from the kits present, never kept in a second place that could drift.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use signing::{KeyPair, PublicKey, TrustRoot};
use time::OffsetDateTime;

use crate::audit::{AuditError, AuditLog, Verified};

/// Errors while creating or opening a data directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataDirError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `init` found an existing, non-empty directory.
    #[error(
        "{0} already exists and is not empty; refusing to overwrite an appliance data directory"
    )]
    AlreadyInitialized(PathBuf),
    /// The directory was never initialised.
    #[error(
        "{0} is not an appliance data directory (run `stella-appliance init --data {0} --trust vendor.pub` first)"
    )]
    NotInitialized(PathBuf),
    /// A key or the trust root is invalid.
    #[error("{0}")]
    Signing(#[from] signing::SigningError),
    /// A state file is corrupt.
    #[error("{path}: {msg}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// A site id is not acceptable.
    #[error("invalid site id {0:?}: use 1-64 characters from [A-Za-z0-9._-]")]
    InvalidSite(String),
}

/// `trust.json`: what the appliance trusts, pinned at init.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustFile {
    /// Format version (1).
    pub version: u32,
    /// Vendor public keys (minisign base64 lines).
    pub keys: Vec<String>,
    /// How many distinct vendor keys must sign a kit manifest.
    pub threshold: usize,
    /// The site this appliance belongs to (kits bound to another site are refused).
    pub site: Option<String>,
    /// Version of the pinned root: 0 at init, raised by each accepted rotation
    /// (`trust/root.json` in a kit).
    #[serde(default)]
    pub root_version: u64,
}

/// `time.json`: the trusted time recorded at init.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeFile {
    initialized_at: String,
}

/// Options of [`DataDir::init`].
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Vendor keys to pin.
    pub trust: Vec<PublicKey>,
    /// k of the k-of-n threshold.
    pub threshold: usize,
    /// Optional site id.
    pub site: Option<String>,
    /// The clock reading at init (becomes the first trusted time).
    pub now: OffsetDateTime,
}

/// An initialised appliance data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Validates a site id (also used for the kit's `site`).
pub fn valid_site(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The product's one RFC 3339 spelling, re-exported where the importer's callers have
/// always found it.
pub use bundles::model::{parse_rfc3339, rfc3339};

impl DataDir {
    /// Creates a new data directory. Refuses an existing non-empty directory.
    pub fn init(root: &Path, opts: &InitOptions) -> Result<(DataDir, KeyPair), DataDirError> {
        if let Some(site) = &opts.site
            && !valid_site(site)
        {
            return Err(DataDirError::InvalidSite(site.clone()));
        }
        let trust = TrustRoot::new(opts.trust.clone(), opts.threshold)?;
        if root.exists() {
            let mut rd = std::fs::read_dir(root).map_err(io(root))?;
            if rd.next().is_some() {
                return Err(DataDirError::AlreadyInitialized(root.to_path_buf()));
            }
        }
        {
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(io(root))?;
        }
        let dd = DataDir {
            root: root.to_path_buf(),
        };
        let key = KeyPair::generate()?;
        key.write_secret(&dd.appliance_key_path())?;
        key.public().to_box().write(&dd.appliance_pub_path())?;
        let tf = TrustFile {
            version: 1,
            keys: trust.keys().map(PublicKey::to_base64).collect(),
            threshold: trust.threshold(),
            site: opts.site.clone(),
            root_version: 0,
        };
        write_json_atomic(&dd.root.join("trust.json"), &tf)?;
        write_json_atomic(
            &dd.root.join("time.json"),
            &TimeFile {
                initialized_at: rfc3339(opts.now),
            },
        )?;
        let kits = dd.kits_dir();
        std::fs::create_dir_all(&kits).map_err(io(&kits))?;
        std::fs::create_dir_all(dd.audit_dir()).map_err(io(&dd.audit_dir()))?;
        dd.audit()
            .append(
                &key,
                &rfc3339(opts.now),
                "init",
                serde_json::json!({
                    "appliance_key": key.id().to_string(),
                    "trusted_keys": tf.keys,
                    "threshold": tf.threshold,
                    "site": tf.site,
                }),
            )
            .map_err(|e| DataDirError::Corrupt {
                path: dd.audit_dir(),
                msg: e.to_string(),
            })?;
        Ok((dd, key))
    }

    /// Opens an existing data directory.
    pub fn open(root: &Path) -> Result<DataDir, DataDirError> {
        let dd = DataDir {
            root: root.to_path_buf(),
        };
        if !dd.root.join("trust.json").is_file() || !dd.appliance_pub_path().is_file() {
            return Err(DataDirError::NotInitialized(root.to_path_buf()));
        }
        Ok(dd)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `DIR/appliance.key`.
    pub fn appliance_key_path(&self) -> PathBuf {
        self.root.join("appliance.key")
    }

    /// `DIR/appliance.pub`.
    pub fn appliance_pub_path(&self) -> PathBuf {
        self.root.join("appliance.pub")
    }

    /// `DIR/kits`.
    pub fn kits_dir(&self) -> PathBuf {
        self.root.join("kits")
    }

    /// Bytes free for an unprivileged writer on the file system holding the kits (and
    /// the stores): what an import and a scan can still write.
    pub fn free_bytes(&self) -> std::io::Result<u64> {
        let st = rustix::fs::statvfs(self.kits_dir()).map_err(std::io::Error::from)?;
        Ok(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// `DIR/current` (symlink to the active kit).
    pub fn current_link(&self) -> PathBuf {
        self.root.join("current")
    }

    /// `DIR/audit`.
    pub fn audit_dir(&self) -> PathBuf {
        self.root.join("audit")
    }

    /// The audit log.
    pub fn audit(&self) -> AuditLog {
        AuditLog::new(self.audit_dir())
    }

    /// Loads the appliance key pair.
    pub fn appliance_key(&self) -> Result<KeyPair, DataDirError> {
        Ok(KeyPair::read(&self.appliance_key_path())?)
    }

    /// Loads the appliance public key.
    pub fn appliance_public(&self) -> Result<PublicKey, DataDirError> {
        Ok(PublicKey::read(&self.appliance_pub_path())?)
    }

    /// The appliance id used as `iss` of re-signed tokens: `stella-appliance:<KEYID>`.
    pub fn appliance_id(&self) -> Result<String, DataDirError> {
        Ok(appliance_id_for(&self.appliance_public()?))
    }

    /// The trust in force: `trust.json`, or the newer trust root an activated kit pinned
    /// if `trust.json` has not been brought up to it yet (a crash right after the switch;
    /// see [`crate::activate::complete_trust`]). Never the trust of a kit that is not
    /// active or activated, so the keys and the active kit always belong together.
    pub fn trust_file(&self) -> Result<TrustFile, DataDirError> {
        let pinned = self.pinned_trust_file()?;
        Ok(match crate::activate::newest_pin(self)? {
            Some(pin) if pin.root_version > pinned.root_version => pin,
            _ => pinned,
        })
    }

    /// `trust.json` as it is on disk.
    pub(crate) fn pinned_trust_file(&self) -> Result<TrustFile, DataDirError> {
        read_json(&self.root.join("trust.json"), 64 * 1024)
    }

    /// The pinned trust root.
    pub fn trust_root(&self) -> Result<TrustRoot, DataDirError> {
        let tf = self.trust_file()?;
        let keys = tf
            .keys
            .iter()
            .map(|k| PublicKey::from_base64(k))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustRoot::new(keys, tf.threshold)?)
    }

    /// Verifies the audit log against the appliance key (`stella-appliance audit
    /// verify`), and that it is there at all: a log that was deleted whole (records and
    /// head) verifies as an empty chain, so an appliance that shows it has done things
    /// that are always audited — activated kits, a rotated trust root — refuses an empty
    /// log ([`AuditError::Missing`]).
    pub fn verify_audit(&self) -> Result<Verified, AuditError> {
        let key = self
            .appliance_public()
            .map_err(|e| AuditError::Head(format!("cannot read the appliance key: {e}")))?;
        let v = self.audit().verify(Some(&key))?;
        if v.records > 0 {
            return Ok(v);
        }
        let history = crate::activate::KitHistory::load(self)
            .map_err(|e| AuditError::Missing(format!("the kits cannot be listed ({e})")))?;
        let activated = history.accepted().count();
        if activated > 0 {
            return Err(AuditError::Missing(format!(
                "this appliance has activated {activated} kit(s) under {}, each import is audited",
                self.kits_dir().display()
            )));
        }
        if let Ok(tf) = self.trust_file()
            && tf.root_version > 0
        {
            return Err(AuditError::Missing(format!(
                "trust.json has rotated the trust root to version {}, which only an audited import does",
                tf.root_version
            )));
        }
        Ok(v)
    }

    /// The time recorded at init.
    pub fn initialized_at(&self) -> Result<OffsetDateTime, DataDirError> {
        let p = self.root.join("time.json");
        let t: TimeFile = read_json(&p, 4096)?;
        parse_rfc3339(&t.initialized_at).ok_or_else(|| DataDirError::Corrupt {
            path: p,
            msg: "initialized_at is not RFC 3339".into(),
        })
    }
}

/// The appliance id for a given appliance public key.
pub fn appliance_id_for(key: &PublicKey) -> String {
    format!("stella-appliance:{}", key.id())
}

/// Reads a JSON file, refusing more than `max` bytes before parsing (every JSON file of
/// a data directory is read through this).
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path, max: u64) -> Result<T, DataDirError> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(io(path))?;
    let mut buf = Vec::new();
    f.take(max + 1).read_to_end(&mut buf).map_err(io(path))?;
    if buf.len() as u64 > max {
        return Err(DataDirError::Corrupt {
            path: path.to_path_buf(),
            msg: format!("larger than {max} bytes"),
        });
    }
    serde_json::from_slice(&buf).map_err(|e| DataDirError::Corrupt {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })
}

/// Writes JSON to `path` atomically: temp file in the same directory, fsync, rename,
/// fsync the directory.
pub(crate) fn write_json_atomic<T: Serialize>(path: &Path, v: &T) -> Result<(), DataDirError> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| DataDirError::Corrupt {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    write_atomic(path, &bytes).map_err(io(path))
}

/// Writes bytes atomically (temp + fsync + rename + directory fsync).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    fsync_dir(dir)
}

/// fsyncs a directory so a rename inside it is durable.
pub(crate) fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use signing::KeyId;

    fn opts() -> InitOptions {
        InitOptions {
            trust: vec![KeyPair::from_seed(KeyId([1; 8]), &[1; 32]).public()],
            threshold: 1,
            site: Some("plant-7".into()),
            now: OffsetDateTime::from_unix_timestamp(1_790_000_000).expect("time"),
        }
    }

    #[test]
    fn init_creates_layout_and_refuses_to_overwrite() {
        let d = tempfile::tempdir().expect("tmp");
        let root = d.path().join("data");
        let (dd, key) = DataDir::init(&root, &opts()).expect("init");
        assert_eq!(dd.appliance_public().expect("pub"), key.public());
        assert_eq!(dd.trust_root().expect("trust").threshold(), 1);
        assert_eq!(
            dd.trust_file().expect("tf").site.as_deref(),
            Some("plant-7")
        );
        assert_eq!(
            dd.audit()
                .verify(Some(&key.public()))
                .expect("audit")
                .records,
            1
        );
        assert!(matches!(
            DataDir::init(&root, &opts()),
            Err(DataDirError::AlreadyInitialized(_))
        ));
        assert!(DataDir::open(&root).is_ok());
        assert!(matches!(
            DataDir::open(d.path()),
            Err(DataDirError::NotInitialized(_))
        ));
    }

    #[test]
    fn init_rejects_bad_site_and_threshold() {
        let d = tempfile::tempdir().expect("tmp");
        let mut o = opts();
        o.site = Some("../etc".into());
        assert!(matches!(
            DataDir::init(&d.path().join("a"), &o),
            Err(DataDirError::InvalidSite(_))
        ));
        let mut o = opts();
        o.threshold = 2;
        let e = DataDir::init(&d.path().join("b"), &o).expect_err("2 of 1 key");
        assert!(
            matches!(
                &e,
                DataDirError::Signing(signing::SigningError::InvalidTrustRoot(_))
            ),
            "{e:?}"
        );
        assert!(!d.path().join("b").exists(), "nothing created on refusal");
    }

    #[test]
    fn rfc3339_round_trips() {
        let t = OffsetDateTime::from_unix_timestamp(1_790_000_000).expect("time");
        assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
    }
}
