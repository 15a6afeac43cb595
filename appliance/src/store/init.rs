//! `stella-appliance init` support: create the store and the `admin` operator.

use std::fs;
use std::io::Write;
use std::path::Path;

use time::OffsetDateTime;

use super::Store;
use super::blobs::sync_dir;
use super::embedded::{EmbeddedStore, SQLITE_FILE, StoreOptions};
use super::error::{StoreError, StoreResult};

/// File (inside the data directory) that receives the initial operator password.
pub const OPERATOR_PASSWORD_FILE: &str = "operator-password";

/// User name of the operator account created by [`init`].
pub const ADMIN_USER: &str = "admin";

/// What [`init`] created.
pub struct InitReport {
    /// The open store.
    pub store: EmbeddedStore,
    /// The operator account's user name (`admin`).
    pub username: String,
    /// Its random password (128 bits as 32 hex digits). Shown once: hand it to
    /// [`write_operator_password_file`] and drop it.
    pub admin_password: String,
}

impl std::fmt::Debug for InitReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitReport")
            .field("data_dir", &self.store.data_dir())
            .field("username", &self.username)
            .field("admin_password", &"<redacted>")
            .finish()
    }
}

/// Creates the store in `data_dir` (SQLite schema, sled trees, blob directory) and the
/// operator account `admin` with a random password.
///
/// Refuses with [`StoreError::AlreadyInitialized`] if `data_dir` already holds
/// `state.sqlite`, so re-running `init` never replaces the operator's password.
pub fn init(
    data_dir: &Path,
    options: StoreOptions,
    now: OffsetDateTime,
) -> StoreResult<InitReport> {
    let db = data_dir.join(SQLITE_FILE);
    if db.exists() {
        return Err(StoreError::AlreadyInitialized {
            path: data_dir.to_path_buf(),
            found: SQLITE_FILE.to_owned(),
        });
    }
    let store = EmbeddedStore::open(data_dir, options)?;
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| StoreError::Random(e.to_string()))?;
    let admin_password = hex::encode(raw);
    store.create_operator(ADMIN_USER, &admin_password, now)?;
    store.flush()?;
    Ok(InitReport {
        store,
        username: ADMIN_USER.to_owned(),
        admin_password,
    })
}

/// Writes `password` to `DIR/operator-password`, readable by the owner only (mode 0600 on
/// Unix, set at creation so the password is never readable by others, even briefly).
/// Refuses to overwrite an existing file.
pub fn write_operator_password_file(data_dir: &Path, password: &str) -> StoreResult<()> {
    let path = data_dir.join(OPERATOR_PASSWORD_FILE);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&path)
        .map_err(|e| StoreError::io("create operator password file", &path, e))?;
    // Mode given at creation is filtered by the umask, which can only remove bits: 0600
    // or stricter is what we get.
    writeln!(f, "{password}")
        .and_then(|()| f.sync_all())
        .map_err(|e| StoreError::io("write operator password file", &path, e))?;
    sync_dir(data_dir)
}
