//! The service layer: every operation of the appliance, once, whichever door it came in
//! by. The JSON API ([`crate::server`]) and the web console ([`crate::console`]) parse
//! their requests, call one function here, and shape its domain result into JSON or a
//! page; neither holds domain logic or a security check of its own.
//!
//! - [`scan`]: the scan workflow (parse → quota → match → policy → evidence → store →
//!   audit), returning a [`scan::Scanned`] or a [`ServiceError`].
//! - [`policy`]: the one policy write path (replace, mute, unmute), serialised by one lock,
//!   with one audit record shape.
//! - [`operators`]: operator login with per-user *and* per-address backoff and its audit
//!   record, sessions.
//! - [`clients`]: client tokens (verification, revocation) and their quota key.
//! - [`timing`]: the per-phase timings a scan reports in `Server-Timing`.
//!
//! Every function here blocks (SQLite, sled, argon2, fsync): async callers run it on
//! `spawn_blocking`.

pub mod clients;
pub mod operators;
pub mod policy;
pub mod scan;
pub mod timing;

use crate::store::StoreError;

/// Where a request came from, as audit records name it (`"via"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The JSON API (`/api/v1/…`).
    Api,
    /// The web console.
    Console,
    /// `stella-appliance` on the command line.
    Cli,
}

impl Via {
    /// `api`, `console` or `cli`.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Api => "api",
            Via::Console => "console",
            Via::Cli => "cli",
        }
    }
}

/// Why a service operation did not happen. Each door maps it to its own answer (HTTP
/// status and JSON error, a console page); the message is shown to the user except for
/// [`ServiceError::Internal`], whose details are logged and hidden.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The input is refused (HTTP 400); `code` is the API's machine-readable reason.
    #[error("{message}")]
    Invalid {
        /// Machine-readable reason (`invalid_sbom`, `invalid_policy`, …).
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The input is larger than a limit (HTTP 413).
    #[error("{message}")]
    TooLarge {
        /// What is wrong.
        message: String,
    },
    /// The credentials are missing or refused (HTTP 401); the message says why.
    #[error("{0}")]
    Unauthorized(String),
    /// The named thing does not exist (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The data disk is full: nothing can be stored until space is freed (HTTP 503).
    #[error("insufficient storage: {0}")]
    InsufficientStorage(String),
    /// No kit is active yet (HTTP 503).
    #[error(
        "no Offline Update Kit is active: import one with `stella-appliance import --data DIR kit.ouk`"
    )]
    NoKit,
    /// Anything else (HTTP 500): logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// An [`ServiceError::Invalid`].
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            code,
            message: message.into(),
        }
    }

    /// An [`ServiceError::Internal`] from any error.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        if e.is_client_error() {
            ServiceError::invalid("invalid_request", e.to_string())
        } else if e.is_disk_full() {
            tracing::error!(error = %e, "the data disk is full");
            ServiceError::InsufficientStorage(
                "the appliance's data disk is full; free space (prune old kits, scans) and retry"
                    .into(),
            )
        } else {
            ServiceError::Internal(e.to_string())
        }
    }
}

/// The result of a service operation.
pub type ServiceResult<T> = Result<T, ServiceError>;
