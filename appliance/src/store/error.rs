//! The one error type of the persistence layer.

use std::path::PathBuf;

/// Everything that can go wrong in a [`Store`](super::Store).
///
/// Variants carry enough context (path, key, expected vs found) for an operator to act
/// on the message; HTTP handlers map the `Invalid*`/`TooLarge` variants to 4xx and the
/// rest to 5xx.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A filesystem operation on the data directory failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("create directory", "write blob", ...).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite reported an error (includes "file is not a database" for a corrupt file).
    #[error("sqlite: {context}: {source}")]
    Sqlite {
        /// The operation that failed.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// sled reported an error (includes corruption detected on open).
    #[error("sled: {context}: {source}")]
    Sled {
        /// The operation that failed.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: sled::Error,
    },
    /// The SQLite schema was written by a newer appliance than this one.
    #[error(
        "state.sqlite has schema version {found}, this appliance supports up to {supported}: \
         upgrade the appliance or restore a backup"
    )]
    SchemaTooNew {
        /// `PRAGMA user_version` found on disk.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A stored record could not be decoded (corrupt or hand-edited data).
    #[error("corrupt record in {location}: {reason}")]
    CorruptRecord {
        /// Table/tree and key of the record.
        location: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A stored SBOM blob is unreadable or does not hash to its name.
    #[error("corrupt blob {digest}: {reason}")]
    CorruptBlob {
        /// The digest the blob is stored under.
        digest: String,
        /// What was wrong with it.
        reason: String,
    },
    /// An argument failed validation (bad digest, empty name, limit 0, ...).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// An input exceeded a size or count limit.
    #[error("{what} too large: {actual} exceeds the limit of {limit}")]
    TooLarge {
        /// Which input.
        what: &'static str,
        /// The limit in force.
        limit: u64,
        /// The size or count received (or a lower bound of it).
        actual: u64,
    },
    /// An operator with that user name already exists.
    #[error("operator {username:?} already exists")]
    OperatorExists {
        /// The user name.
        username: String,
    },
    /// No operator with that user name exists.
    #[error("no operator named {username:?}")]
    UnknownOperator {
        /// The user name.
        username: String,
    },
    /// Password hashing failed (argon2 parameter or encoding error).
    #[error("password hashing: {0}")]
    PasswordHash(String),
    /// The operating system's random number generator failed.
    #[error("random number generator: {0}")]
    Random(String),
    /// `init` was asked to initialise a data directory that already holds a store.
    #[error("{path} already holds an initialised store (found {found})")]
    AlreadyInitialized {
        /// The data directory.
        path: PathBuf,
        /// The file or record that shows it is initialised.
        found: String,
    },
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| Self::Sqlite { context, source }
    }

    pub(crate) fn sled(context: &'static str) -> impl FnOnce(sled::Error) -> Self {
        move |source| Self::Sled { context, source }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            reason: reason.into(),
        }
    }

    /// Whether the data disk is full (`ENOSPC`/`EDQUOT`, SQLite's "database or disk is
    /// full", or sled reporting either): the appliance cannot store, so it is not ready.
    pub fn is_disk_full(&self) -> bool {
        fn io_full(e: &std::io::Error) -> bool {
            e.kind() == std::io::ErrorKind::StorageFull
                || e.kind() == std::io::ErrorKind::QuotaExceeded
                || matches!(e.raw_os_error(), Some(28 | 122))
        }
        match self {
            Self::Io { source, .. } => io_full(source),
            Self::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DiskFull)
            ),
            Self::Sled {
                source: sled::Error::Io(e),
                ..
            } => io_full(e),
            _ => false,
        }
    }

    /// Whether the error was caused by the caller's input (maps to HTTP 4xx), as opposed
    /// to the store itself failing (5xx).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::Invalid { .. }
                | Self::TooLarge { .. }
                | Self::OperatorExists { .. }
                | Self::UnknownOperator { .. }
        )
    }
}

/// Shorthand for results of this module.
pub type StoreResult<T> = Result<T, StoreError>;
