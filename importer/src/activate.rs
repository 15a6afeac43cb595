//! Staging and atomic activation of kits, rollback, and crash recovery.
//!
//! An import writes only into `kits/.staging-<random>/`. When every check has passed,
//! everything in the staging directory is fsync'd, the directory is renamed to
//! `kits/<SEQ>-<KITID>/` (atomic), and then the `current` symlink is replaced by a new one
//! through `rename(2)` (atomic) and the data directory is fsync'd. A crash at any instant
//! therefore leaves one of:
//!
//! 1. a leftover staging directory → swept by [`recover`]; `current` is the old kit;
//! 2. a complete kit directory that `current` does not point to and that was never
//!    activated (no `activated.json`) → removed by [`recover`]; `current` is the old kit;
//! 3. `current` pointing at the new kit without its `activated.json` → [`recover`] writes
//!    the marker; the new kit is active.
//!
//! Never a mix: the scan engine only ever reads through `current`.
//!
//! The last accepted sequence and the trusted time are *derived* from the activated kit
//! directories (see [`KitHistory`]), so no second record can disagree with them. So is
//! a trust-root rotation: the new trust travels inside the staged kit ([`TRUST_PIN`]),
//! counts from the instant `current` points at that kit ([`newest_pin`], read by
//! [`DataDir::trust_file`]), and is then copied to `DIR/trust.json`
//! ([`complete_trust`], also run by [`recover`]) so that pruning the kit later keeps it.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::datadir::{
    DataDir, DataDirError, TrustFile, fsync_dir, parse_rfc3339, read_json, write_json_atomic,
};

/// File written into a kit directory once it has been activated.
pub const ACTIVATED: &str = "activated.json";
/// The kit's verified manifest, copied into its directory.
pub const MANIFEST: &str = "manifest.json";
/// The trust a kit pins when it is activated (a verified `trust/root.json` rotation),
/// staged with the kit so that it takes effect with the switch or not at all.
pub const TRUST_PIN: &str = "trust.json";

/// Errors while staging, switching or recovering.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActivateError {
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A state file under `kits/` is corrupt.
    #[error("{0}")]
    DataDir(#[from] crate::datadir::DataDirError),
    /// The requested kit is not retained on this appliance.
    #[error("no retained kit with sequence {0}")]
    NoSuchKit(u64),
    /// Nothing to roll back to.
    #[error("there is no earlier retained kit to roll back to")]
    NothingToRollBack,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ActivateError + '_ {
    move |source| ActivateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What the importer records about an activated kit (`kits/<dir>/activated.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    /// Kit sequence.
    pub sequence: u64,
    /// Kit id.
    pub kit_id: String,
    /// SHA-256 of the `.ouk` file.
    pub kit_sha256: String,
    /// Kit creation time (RFC 3339).
    pub created_at: String,
    /// Kit expiry (RFC 3339).
    pub expires_at: String,
    /// Appliance clock at import (RFC 3339).
    pub imported_at: String,
}

/// One retained kit directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedKit {
    /// Its directory.
    pub dir: PathBuf,
    /// Its activation record (None = never activated: an orphan from a crash).
    pub activation: Option<Activation>,
    /// Sequence parsed from the directory name.
    pub sequence: u64,
}

/// The kits present under `kits/`, and what follows from them.
#[derive(Debug, Clone, Default)]
pub struct KitHistory {
    /// Retained kits, ordered by sequence.
    pub kits: Vec<RetainedKit>,
    /// The directory `current` points to, if any.
    pub current: Option<PathBuf>,
}

impl KitHistory {
    /// Scans `kits/` and `current`.
    pub fn load(dd: &DataDir) -> Result<Self, ActivateError> {
        let kits_dir = dd.kits_dir();
        let mut kits = Vec::new();
        let rd = match std::fs::read_dir(&kits_dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(KitHistory::default());
            }
            Err(e) => return Err(io(&kits_dir)(e)),
        };
        for ent in rd {
            let ent = ent.map_err(io(&kits_dir))?;
            let name = ent.file_name().to_string_lossy().into_owned();
            let Some(sequence) = parse_kit_dir_name(&name) else {
                continue;
            };
            let dir = ent.path();
            let marker = dir.join(ACTIVATED);
            let activation = if marker.is_file() {
                Some(read_json::<Activation>(&marker, 64 * 1024)?)
            } else {
                None
            };
            kits.push(RetainedKit {
                dir,
                activation,
                sequence,
            });
        }
        kits.sort_by_key(|k| k.sequence);
        let current = match std::fs::read_link(dd.current_link()) {
            Ok(target) => Some(dd.root().join(target)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&dd.current_link())(e)),
        };
        Ok(KitHistory { kits, current })
    }

    /// The active kit, if any.
    pub fn active(&self) -> Option<&RetainedKit> {
        let cur = self.current.as_ref()?;
        self.kits.iter().find(|k| &k.dir == cur)
    }

    /// The kits that were accepted: activated, or the one `current` points to (its
    /// marker not yet written). Orphans of a crash never count.
    pub fn accepted(&self) -> impl Iterator<Item = &RetainedKit> {
        self.kits
            .iter()
            .filter(|k| k.activation.is_some() || Some(&k.dir) == self.current.as_ref())
    }

    /// The highest sequence ever activated (the rollback floor).
    pub fn last_accepted_sequence(&self) -> Option<u64> {
        self.accepted().map(|k| k.sequence).max()
    }

    /// The latest trusted time: the newest kit creation or import time seen.
    pub fn latest_trusted_time(&self) -> Option<OffsetDateTime> {
        self.kits
            .iter()
            .filter_map(|k| k.activation.as_ref())
            .flat_map(|a| [parse_rfc3339(&a.created_at), parse_rfc3339(&a.imported_at)])
            .flatten()
            .max()
    }
}

/// `kits/` directory name of a kit: zero-padded sequence and the kit id.
pub fn kit_dir_name(sequence: u64, kit_id: &str) -> String {
    let safe: String = kit_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    format!("{sequence:020}-{safe}")
}

fn parse_kit_dir_name(name: &str) -> Option<u64> {
    let (seq, _) = name.split_once('-')?;
    if seq.len() != 20 {
        return None;
    }
    seq.parse().ok()
}

/// A staging directory for one import. Dropping it without [`Staging::activate`] removes
/// it, so a refused import leaves nothing behind.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    kits_dir: PathBuf,
    done: bool,
}

impl Staging {
    /// Creates `kits/.staging-<random>`.
    pub fn new(dd: &DataDir) -> Result<Self, ActivateError> {
        let kits_dir = dd.kits_dir();
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd).map_err(|e| ActivateError::Io {
            path: kits_dir.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let dir = kits_dir.join(format!(".staging-{}", hex::encode(rnd)));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Staging {
            dir,
            kits_dir,
            done: false,
        })
    }

    /// The staging directory (write the kit's content here).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// fsyncs everything staged, moves it into place and switches `current` to it.
    pub fn activate(
        mut self,
        dd: &DataDir,
        activation: &Activation,
    ) -> Result<PathBuf, ActivateError> {
        fsync_tree(&self.dir)?;
        let name = kit_dir_name(activation.sequence, &activation.kit_id);
        let final_dir = self.kits_dir.join(&name);
        if final_dir.exists() {
            // an orphan of an earlier crashed import of this same kit: it was never
            // activated (recover() would have removed it); replace it.
            std::fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
        }
        std::fs::rename(&self.dir, &final_dir).map_err(io(&final_dir))?;
        fsync_dir(&self.kits_dir).map_err(io(&self.kits_dir))?;
        self.done = true;
        crash_point("after-rename");
        switch_current(dd, &name)?;
        crash_point("after-switch");
        write_json_atomic(&final_dir.join(ACTIVATED), activation)?;
        Ok(final_dir)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Points `current` at `kits/<name>` atomically (new symlink + rename + fsync).
fn switch_current(dd: &DataDir, name: &str) -> Result<(), ActivateError> {
    let link = dd.current_link();
    let tmp = dd.root().join(".current.new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(Path::new("kits").join(name), &tmp).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &link).map_err(io(&link))?;
    fsync_dir(dd.root()).map_err(io(dd.root()))?;
    Ok(())
}

/// Test hook: when `STELLA_CRASH_AT` names this point, the process dies on the spot
/// (SIGKILL-like: no destructors, no cleanup). Used by the crash-consistency tests.
pub fn crash_point(name: &str) {
    if crash_requested(name) {
        std::process::abort();
    }
}

/// Whether `STELLA_CRASH_AT` names this point (for a crash point that first leaves a
/// partial write behind, as a power cut mid-`write` would).
pub fn crash_requested(name: &str) -> bool {
    std::env::var_os("STELLA_CRASH_AT").is_some_and(|v| v == name)
}

fn fsync_tree(dir: &Path) -> Result<(), ActivateError> {
    for ent in std::fs::read_dir(dir).map_err(io(dir))? {
        let ent = ent.map_err(io(dir))?;
        let p = ent.path();
        let ft = ent.file_type().map_err(io(&p))?;
        if ft.is_dir() {
            fsync_tree(&p)?;
        } else if ft.is_file() {
            std::fs::File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(io(&p))?;
        }
    }
    fsync_dir(dir).map_err(io(dir))
}

/// What [`recover`] cleaned up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Staging directories removed.
    pub staging_removed: usize,
    /// Never-activated kit directories removed.
    pub orphans_removed: usize,
    /// Whether the active kit's activation marker had to be completed.
    pub completed_activation: bool,
    /// Whether `trust.json` had to be brought up to the trust an activated kit pinned.
    pub completed_trust: bool,
}

/// Brings the data directory back to a consistent state after a crash. Idempotent; run
/// at every start and before every import.
pub fn recover(
    dd: &DataDir,
    complete: impl Fn(&Path) -> Option<Activation>,
) -> Result<Recovery, ActivateError> {
    let mut r = Recovery::default();
    let kits_dir = dd.kits_dir();
    if let Ok(rd) = std::fs::read_dir(&kits_dir) {
        for ent in rd.flatten() {
            if ent.file_name().to_string_lossy().starts_with(".staging-") {
                std::fs::remove_dir_all(ent.path()).map_err(io(&ent.path()))?;
                r.staging_removed += 1;
            }
        }
    }
    let _ = std::fs::remove_file(dd.root().join(".current.new"));
    let hist = KitHistory::load(dd)?;
    for k in &hist.kits {
        let is_current = Some(&k.dir) == hist.current.as_ref();
        if k.activation.is_none() {
            if is_current {
                // crashed between the switch and the marker: the kit is complete (it was
                // renamed into place only after full verification), finish the marker.
                if let Some(a) = complete(&k.dir) {
                    write_json_atomic(&k.dir.join(ACTIVATED), &a)?;
                    r.completed_activation = true;
                }
            } else {
                std::fs::remove_dir_all(&k.dir).map_err(io(&k.dir))?;
                r.orphans_removed += 1;
            }
        }
    }
    if r.staging_removed + r.orphans_removed > 0 {
        fsync_dir(&kits_dir).map_err(io(&kits_dir))?;
    }
    r.completed_trust = complete_trust(dd)?;
    Ok(r)
}

/// The newest trust pinned by a kit that counts: one that was activated or that
/// `current` points to (orphans and staging never count).
pub fn newest_pin(dd: &DataDir) -> Result<Option<TrustFile>, DataDirError> {
    let hist = KitHistory::load(dd).map_err(|e| match e {
        ActivateError::DataDir(e) => e,
        other => DataDirError::Corrupt {
            path: dd.kits_dir(),
            msg: other.to_string(),
        },
    })?;
    let mut newest: Option<TrustFile> = None;
    for k in hist.accepted() {
        let pin = k.dir.join(TRUST_PIN);
        if pin.is_file() {
            let tf: TrustFile = read_json(&pin, 64 * 1024)?;
            if newest
                .as_ref()
                .is_none_or(|n| tf.root_version > n.root_version)
            {
                newest = Some(tf);
            }
        }
    }
    Ok(newest)
}

/// Writes `DIR/trust.json` when an activated kit pins a newer trust root than it holds.
/// Returns whether it did. Idempotent; run after every activation and by [`recover`].
pub fn complete_trust(dd: &DataDir) -> Result<bool, ActivateError> {
    let Some(pin) = newest_pin(dd)? else {
        return Ok(false);
    };
    if pin.root_version <= dd.pinned_trust_file()?.root_version {
        return Ok(false);
    }
    write_json_atomic(&dd.root().join("trust.json"), &pin)?;
    Ok(true)
}

/// Makes the retained kit with `sequence` active (operator-initiated rollback or
/// roll-forward). Returns its directory.
pub fn activate_retained(dd: &DataDir, sequence: u64) -> Result<PathBuf, ActivateError> {
    let hist = KitHistory::load(dd)?;
    let k = hist
        .kits
        .iter()
        .find(|k| k.sequence == sequence && k.activation.is_some())
        .ok_or(ActivateError::NoSuchKit(sequence))?;
    let name = k
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or(ActivateError::NoSuchKit(sequence))?;
    switch_current(dd, &name)?;
    Ok(k.dir.clone())
}

/// The retained kit just below the active one, for `stella-appliance rollback`.
pub fn previous_kit(dd: &DataDir) -> Result<u64, ActivateError> {
    let hist = KitHistory::load(dd)?;
    let cur = hist
        .active()
        .map(|k| k.sequence)
        .ok_or(ActivateError::NothingToRollBack)?;
    hist.kits
        .iter()
        .filter(|k| k.activation.is_some() && k.sequence < cur)
        .map(|k| k.sequence)
        .max()
        .ok_or(ActivateError::NothingToRollBack)
}

/// Removes retained kits beyond the newest `keep`, except the active one and every kit
/// whose sequence is in `referenced`.
///
/// Retention rule: a kit is only pruned when no retained scan references it. Replay and
/// evidence bundles of a scan read the advisories and the signed manifest of the kit the
/// scan used, so the caller passes the kit sequences of the scans it still keeps (the
/// appliance's `evidence::replay::referenced_kit_sequences`). The importer cannot see
/// the scan store itself, hence the parameter rather than a lookup here.
pub fn prune(
    dd: &DataDir,
    keep: usize,
    referenced: &std::collections::BTreeSet<u64>,
) -> Result<usize, ActivateError> {
    // A pruned kit may be the one that pinned the trust root: make sure it is in
    // trust.json before the kit goes.
    complete_trust(dd)?;
    let hist = KitHistory::load(dd)?;
    let mut removed = 0;
    let n = hist.kits.len();
    for (i, k) in hist.kits.iter().enumerate() {
        if n - i > keep
            && Some(&k.dir) != hist.current.as_ref()
            && !referenced.contains(&k.sequence)
        {
            std::fs::remove_dir_all(&k.dir).map_err(io(&k.dir))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datadir::InitOptions;
    use signing::{KeyId, KeyPair};

    fn dd() -> (tempfile::TempDir, DataDir) {
        let d = tempfile::tempdir().expect("tmp");
        let (dd, _) = DataDir::init(
            &d.path().join("data"),
            &InitOptions {
                trust: vec![KeyPair::from_seed(KeyId([1; 8]), &[1; 32]).public()],
                threshold: 1,
                site: None,
                now: OffsetDateTime::from_unix_timestamp(1_790_000_000).expect("t"),
            },
        )
        .expect("init");
        (d, dd)
    }

    fn act(seq: u64) -> Activation {
        Activation {
            sequence: seq,
            kit_id: format!("kit-{seq}"),
            kit_sha256: "00".repeat(32),
            created_at: "2026-11-01T00:00:00Z".into(),
            expires_at: "2026-12-01T00:00:00Z".into(),
            imported_at: format!("2026-11-{:02}T00:00:00Z", seq.min(28)),
        }
    }

    fn stage(dd: &DataDir, seq: u64) -> PathBuf {
        let s = Staging::new(dd).expect("staging");
        std::fs::write(s.path().join("content"), seq.to_string()).expect("write");
        s.activate(dd, &act(seq)).expect("activate")
    }

    #[test]
    fn activation_switches_current_and_history_derives_state() {
        let (_d, dd) = dd();
        stage(&dd, 1);
        let dir2 = stage(&dd, 2);
        let h = KitHistory::load(&dd).expect("hist");
        assert_eq!(h.active().map(|k| k.dir.clone()), Some(dir2));
        assert_eq!(h.last_accepted_sequence(), Some(2));
        assert_eq!(
            h.latest_trusted_time().map(crate::datadir::rfc3339),
            Some("2026-11-02T00:00:00Z".into())
        );
        let content = std::fs::read_to_string(dd.current_link().join("content")).expect("read");
        assert_eq!(content, "2");
    }

    #[test]
    fn dropped_staging_leaves_nothing() {
        let (_d, dd) = dd();
        let p = {
            let s = Staging::new(&dd).expect("staging");
            std::fs::write(s.path().join("x"), "x").expect("write");
            s.path().to_path_buf()
        };
        assert!(!p.exists());
    }

    #[test]
    fn rollback_and_roll_forward_keep_the_floor() {
        let (_d, dd) = dd();
        stage(&dd, 1);
        stage(&dd, 2);
        assert_eq!(previous_kit(&dd).expect("prev"), 1);
        activate_retained(&dd, 1).expect("rollback");
        let h = KitHistory::load(&dd).expect("hist");
        assert_eq!(h.active().map(|k| k.sequence), Some(1));
        assert_eq!(h.last_accepted_sequence(), Some(2), "floor stays at 2");
        assert!(matches!(
            previous_kit(&dd),
            Err(ActivateError::NothingToRollBack)
        ));
        activate_retained(&dd, 2).expect("forward");
        assert!(matches!(
            activate_retained(&dd, 7),
            Err(ActivateError::NoSuchKit(7))
        ));
    }

    #[test]
    fn recover_sweeps_staging_and_orphans_and_completes_markers() {
        let (_d, dd) = dd();
        stage(&dd, 1);
        // leftover staging
        std::fs::create_dir_all(dd.kits_dir().join(".staging-dead")).expect("mkdir");
        // orphan complete kit, never activated
        let orphan = dd.kits_dir().join(kit_dir_name(5, "kit-5"));
        std::fs::create_dir_all(&orphan).expect("mkdir");
        // current kit without its marker
        let d3 = dd.kits_dir().join(kit_dir_name(3, "kit-3"));
        std::fs::create_dir_all(&d3).expect("mkdir");
        switch_current(&dd, &kit_dir_name(3, "kit-3")).expect("switch");
        let r = recover(&dd, |_| Some(act(3))).expect("recover");
        assert_eq!(
            r,
            Recovery {
                staging_removed: 1,
                orphans_removed: 1,
                completed_activation: true,
                completed_trust: false,
            }
        );
        let h = KitHistory::load(&dd).expect("hist");
        assert_eq!(h.active().map(|k| k.sequence), Some(3));
        assert_eq!(h.last_accepted_sequence(), Some(3));
        assert!(!orphan.exists());
        assert_eq!(recover(&dd, |_| None).expect("again"), Recovery::default());
    }

    #[test]
    fn prune_keeps_newest_and_active() {
        let (_d, dd) = dd();
        for s in 1..=5 {
            stage(&dd, s);
        }
        activate_retained(&dd, 1).expect("rollback to 1");
        assert_eq!(prune(&dd, 2, &Default::default()).expect("prune"), 2);
        let seqs: Vec<u64> = KitHistory::load(&dd)
            .expect("h")
            .kits
            .iter()
            .map(|k| k.sequence)
            .collect();
        assert_eq!(seqs, vec![1, 4, 5]);
    }

    #[test]
    fn prune_keeps_kits_that_retained_scans_reference() {
        let (_d, dd) = dd();
        for s in 1..=5 {
            stage(&dd, s);
        }
        // Keep only the newest (5, also active), but scans still reference 2 and 4: only
        // 1 and 3 may go.
        let referenced = [2, 4].into_iter().collect();
        assert_eq!(prune(&dd, 1, &referenced).expect("prune"), 2);
        let seqs: Vec<u64> = KitHistory::load(&dd)
            .expect("h")
            .kits
            .iter()
            .map(|k| k.sequence)
            .collect();
        assert_eq!(seqs, vec![2, 4, 5]);
    }
}
