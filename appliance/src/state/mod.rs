//! The appliance's shared state — data dir, store, key, the active kit, the policy in
//! force, counters — opened once by `serve` and shared by the JSON API, the console and
//! the service layer ([`crate::service`]) as one cheap-to-clone [`AppState`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use importer::datadir::{DataDir, parse_rfc3339, rfc3339};
use importer::import::TokensFile;
use parking_lot::{Mutex, RwLock};
use signing::{KeyPair, PublicKey, TrustRoot};
use time::OffsetDateTime;

use crate::config::Config;
use crate::metrics::{Gauges, Metrics};
use crate::policy::{Policy, PolicyError};
use crate::service::operators::AddressBackoff;
use crate::service::{ServiceError, ServiceResult};
use crate::store::{NewPolicy, PolicyVersion, RevocationKind, Store};
use scanner::{Scanner, load_engine};

/// Why the service could not start or reload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The data directory is missing or broken.
    #[error("data directory: {0}")]
    DataDir(#[from] importer::datadir::DataDirError),
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The active kit could not be loaded.
    #[error("active kit {dir}: {msg}")]
    Kit {
        /// The kit directory.
        dir: PathBuf,
        /// What failed.
        msg: String,
    },
    /// The stored or configured policy is invalid.
    #[error("policy {origin}: {source}")]
    Policy {
        /// Where it came from.
        origin: String,
        /// Why it was refused.
        #[source]
        source: PolicyError,
    },
    /// The configuration is invalid.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
}

/// The active kit, loaded once per activation and shared by every request.
pub struct ActiveKit {
    /// The kit directory (`DIR/kits/<SEQ>-<ID>`).
    pub dir: PathBuf,
    /// Kit id.
    pub id: String,
    /// Kit sequence.
    pub sequence: u64,
    /// Kit creation time (the feed snapshot time).
    pub created_at: OffsetDateTime,
    /// Kit expiry.
    pub expires_at: OffsetDateTime,
    /// sha256 (hex) of the kit's signed `manifest.json`.
    pub manifest_sha256: String,
    /// The manifest's feed summary (counts per ecosystem, feed dates), parsed once here
    /// so pages do not re-read a manifest that can list 100 000 entries.
    pub summary: bundles::manifest::Summary,
    /// The site the kit is bound to.
    pub site: Option<String>,
    /// The re-signed client tokens of the kit.
    pub tokens: TokensFile,
    /// Revoked token ids.
    pub revoked: HashSet<String>,
    /// The matcher over the kit's advisories.
    pub scanner: Arc<dyn Scanner>,
}

impl std::fmt::Debug for ActiveKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveKit")
            .field("id", &self.id)
            .field("sequence", &self.sequence)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl ActiveKit {
    /// Loads the kit `current` points to; `None` when no kit is active.
    pub fn load(dd: &DataDir) -> Result<Option<Self>, StateError> {
        let link = dd.current_link();
        let dir = match std::fs::canonicalize(&link) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StateError::Kit {
                    dir: link,
                    msg: e.to_string(),
                });
            }
        };
        let kit_err = |msg: String| StateError::Kit {
            dir: dir.clone(),
            msg,
        };
        let act: importer::activate::Activation =
            read_json(&dir.join(importer::activate::ACTIVATED)).map_err(kit_err)?;
        let created_at = parse_rfc3339(&act.created_at)
            .ok_or_else(|| kit_err(format!("created_at {:?} is not RFC 3339", act.created_at)))?;
        let expires_at = parse_rfc3339(&act.expires_at)
            .ok_or_else(|| kit_err(format!("expires_at {:?} is not RFC 3339", act.expires_at)))?;
        let manifest = std::fs::read(dir.join(importer::activate::MANIFEST))
            .map_err(|e| kit_err(format!("manifest.json: {e}")))?;
        let manifest_sha256 = crate::store::Sha256Digest::of(&manifest).hex();
        // Verified at import; only its facts are needed here.
        let parsed = bundles::Manifest::parse_unverified(&manifest, &bundles::Limits::default())
            .map_err(|e| kit_err(format!("manifest.json: {e}")))?;
        let tokens = importer::import::read_tokens(&dir).map_err(|e| kit_err(e.to_string()))?;
        let revoked = tokens.revoked.iter().cloned().collect();
        let scanner = load_engine(&dir.join(importer::import::CONTENT_DIR)).map_err(kit_err)?;
        Ok(Some(Self {
            dir,
            id: act.kit_id,
            sequence: act.sequence,
            created_at,
            expires_at,
            manifest_sha256,
            summary: parsed.summary,
            site: parsed.site,
            tokens,
            revoked,
            scanner,
        }))
    }

    /// Feed age in whole days at `now`.
    pub fn age_days(&self, now: OffsetDateTime) -> i64 {
        (now - self.created_at).whole_days()
    }
}

fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T, String> {
    importer::datadir::read_json(p, 1024 * 1024).map_err(|e| e.to_string())
}

/// The policy in force, parsed once per version.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    /// The stored version.
    pub version: PolicyVersion,
    /// Its parsed form.
    pub policy: Policy,
}

/// Everything a handler needs. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// Where a queued audit record learns whether its group commit succeeded.
type AuditSlot = Arc<Mutex<Option<Result<(), String>>>>;

/// The shared part of [`AppState`].
pub struct Inner {
    /// The data directory.
    pub data: DataDir,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// The appliance signing key (evidence, audit, tokens).
    pub key: Arc<KeyPair>,
    /// Its public half.
    pub public: PublicKey,
    /// `stella-appliance:<KEYID>`: the issuer of accepted tokens.
    pub appliance_id: String,
    /// The site id (token audience), when the appliance has one.
    pub site: Option<String>,
    /// Trust root of client tokens: the appliance key only.
    pub token_trust: TrustRoot,
    /// Settings.
    pub config: Config,
    /// Counters.
    pub metrics: Metrics,
    kit: RwLock<Option<Arc<ActiveKit>>>,
    kit_target: Mutex<Option<PathBuf>>,
    policy: RwLock<Arc<LoadedPolicy>>,
    /// Serialises read-modify-write of the policy ([`crate::service::policy`]).
    pub(crate) policy_write: Mutex<()>,
    /// Failed operator logins per client address ([`crate::service::operators`]).
    pub(crate) logins: AddressBackoff,
    /// Serialises audit appends (the log's chain needs one writer at a time).
    audit_lock: Mutex<()>,
    /// Records waiting for the next group commit.
    audit_pending: Mutex<Vec<(String, serde_json::Value, AuditSlot)>>,
    /// Request-body memory admitted at once, in KiB ([`Config::inflight_body_budget`]).
    pub body_budget: Arc<tokio::sync::Semaphore>,
    /// Clients and tokens revoked on this appliance (the store's, cached for the hot
    /// path of every request; [`crate::service::clients`] keeps both in step).
    pub(crate) local_revocations: RwLock<Arc<HashSet<(RevocationKind, String)>>>,
    /// Serialises a revocation change with the reload of that cache.
    pub(crate) revocation_write: Mutex<()>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("data", &self.data.root())
            .field("appliance_id", &self.appliance_id)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens the data directory and the store, loads the active kit (if any) and the
    /// policy (storing the initial one when the store has none).
    pub fn open(data: &Path, config: Config) -> Result<Self, StateError> {
        config.validate()?;
        let dd = DataDir::open(data)?;
        let store = crate::store::EmbeddedStore::open(data, config.store_options())?;
        Self::with_store(dd, Arc::new(store), config)
    }

    /// Like [`AppState::open`] with a store supplied by the caller.
    pub fn with_store(
        dd: DataDir,
        store: Arc<dyn Store>,
        config: Config,
    ) -> Result<Self, StateError> {
        let key = dd.appliance_key()?;
        if let Err(e) = importer::recover(&dd) {
            tracing::warn!(error = %e, "recovering the data directory after an interrupted import");
        }
        let public = key.public();
        let appliance_id = importer::datadir::appliance_id_for(&public);
        let site = dd.trust_file()?.site;
        let policy = initial_policy(&*store, &config)?;
        let kit = ActiveKit::load(&dd)?;
        let target = std::fs::read_link(dd.current_link()).ok();
        let revoked = store
            .revocations()?
            .into_iter()
            .map(|r| (r.kind, r.id))
            .collect();
        let budget_kib = usize::try_from(config.inflight_body_budget() / 1024)
            .unwrap_or(usize::MAX)
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        let state = Self(Arc::new(Inner {
            data: dd,
            store,
            key: Arc::new(key),
            token_trust: TrustRoot::single(public.clone()),
            public,
            appliance_id,
            site,
            config,
            metrics: Metrics::default(),
            kit: RwLock::new(kit.map(Arc::new)),
            kit_target: Mutex::new(target),
            policy: RwLock::new(Arc::new(policy)),
            policy_write: Mutex::new(()),
            logins: AddressBackoff::default(),
            audit_lock: Mutex::new(()),
            audit_pending: Mutex::new(Vec::new()),
            body_budget: Arc::new(tokio::sync::Semaphore::new(budget_kib)),
            local_revocations: RwLock::new(Arc::new(revoked)),
            revocation_write: Mutex::new(()),
        }));
        state.count_imports();
        Ok(state)
    }

    /// The active kit, if any (a snapshot: a reload does not affect a request in flight).
    pub fn kit(&self) -> Option<Arc<ActiveKit>> {
        self.kit.read().clone()
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<LoadedPolicy> {
        self.policy.read().clone()
    }

    pub(crate) fn set_policy(&self, p: LoadedPolicy) {
        *self.policy.write() = Arc::new(p);
    }

    /// Reloads the active kit from `DIR/current` (after an import or a rollback) and
    /// swaps it in atomically. Blocking (reads the advisory index).
    pub fn reload_kit(&self) -> Result<Option<Arc<ActiveKit>>, StateError> {
        let target = std::fs::read_link(self.data.current_link()).ok();
        let kit = ActiveKit::load(&self.data)?.map(Arc::new);
        *self.kit.write() = kit.clone();
        *self.kit_target.lock() = target;
        self.count_imports();
        match &kit {
            Some(k) => tracing::info!(kit_id = %k.id, sequence = k.sequence, "active kit loaded"),
            None => tracing::warn!("no active kit"),
        }
        Ok(kit)
    }

    /// Reloads the kit only if `DIR/current` points somewhere new; returns whether it did.
    pub fn reload_kit_if_changed(&self) -> Result<bool, StateError> {
        let target = std::fs::read_link(self.data.current_link()).ok();
        if *self.kit_target.lock() == target {
            return Ok(false);
        }
        self.reload_kit()?;
        Ok(true)
    }

    /// Appends an audit record, durably, before returning. Group commit: concurrent
    /// callers queue their records and whoever holds the writer lock writes everything
    /// queued with one `fsync` and one head signature, so a busy server does not pay
    /// one fsync per scan.
    pub fn audit(&self, kind: &str, event: serde_json::Value) -> ServiceResult<()> {
        let slot: AuditSlot = Arc::new(Mutex::new(None));
        self.audit_pending
            .lock()
            .push((kind.to_string(), event, Arc::clone(&slot)));
        let _g = self.audit_lock.lock();
        if let Some(done) = slot.lock().take() {
            return done.map_err(audit_failed);
        }
        let batch = std::mem::take(&mut *self.audit_pending.lock());
        let (items, slots): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|(k, e, s)| ((k, e), s)).unzip();
        let result = self
            .data
            .audit()
            .append_many(&self.key, &rfc3339(OffsetDateTime::now_utc()), items)
            .map(|_| ())
            .map_err(|e| e.to_string());
        for s in &slots {
            *s.lock() = Some(result.clone());
        }
        slot.lock().take().unwrap_or(Ok(())).map_err(audit_failed)
    }

    /// Gauges for `/metrics`.
    pub fn gauges(&self, now: OffsetDateTime) -> Gauges {
        let kit = self.kit();
        Gauges {
            kit_age_seconds: kit.as_ref().map(|k| (now - k.created_at).whole_seconds()),
            kit_sequence: kit.as_ref().map(|k| k.sequence),
        }
    }

    fn count_imports(&self) {
        // Read once per (re)load, not per scrape: the log can be long.
        let Ok(records) = self.data.audit().records() else {
            return;
        };
        let (mut ok, mut refused, mut other) = (0, 0, 0);
        for r in records.iter().filter(|r| r.kind == "import") {
            match r.event.get("result").and_then(|v| v.as_str()) {
                Some("accepted") | Some("already-imported") => ok += 1,
                Some("refused") => refused += 1,
                _ => other += 1,
            }
        }
        self.metrics.set_imports(ok, refused, other);
    }
}

fn audit_failed(e: String) -> ServiceError {
    ServiceError::Internal(format!("audit log: {e}"))
}

/// Loads the current policy from the store; when there is none, stores the configured
/// policy file (or the default policy) as version 1.
fn initial_policy(store: &dyn Store, config: &Config) -> Result<LoadedPolicy, StateError> {
    if let Some(v) = store.current_policy()? {
        let policy = Policy::from_yaml(&v.yaml).map_err(|source| StateError::Policy {
            origin: format!("version {} in the store", v.version),
            source,
        })?;
        return Ok(LoadedPolicy { version: v, policy });
    }
    let (yaml, origin) = match &config.policy_file {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| StateError::Policy {
                origin: p.display().to_string(),
                source: PolicyError::Yaml(e.to_string()),
            })?;
            (text, p.display().to_string())
        }
        None => {
            let text = Policy::default()
                .to_yaml()
                .map_err(|source| StateError::Policy {
                    origin: "default".into(),
                    source,
                })?;
            (text, "default".to_owned())
        }
    };
    let mut policy = Policy::from_yaml(&yaml).map_err(|source| StateError::Policy {
        origin: origin.clone(),
        source,
    })?;
    policy.assign_ids();
    let yaml = policy.to_yaml().map_err(|source| StateError::Policy {
        origin: origin.clone(),
        source,
    })?;
    let version = store.put_policy(
        &NewPolicy {
            yaml,
            author: "system".into(),
            comment: format!("initial policy ({origin})"),
        },
        OffsetDateTime::now_utc(),
    )?;
    Ok(LoadedPolicy { version, policy })
}
