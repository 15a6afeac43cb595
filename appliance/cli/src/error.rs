//! The one error type of the client, and the one place that maps errors to exit codes.

use std::path::PathBuf;

/// Exit code: the scan passed the policy (or a command succeeded).
pub const EXIT_PASS: u8 = 0;
/// Exit code: the policy verdict is "fail" (or an evidence check did not match).
pub const EXIT_POLICY_FAIL: u8 = 1;
/// Exit code: usage, configuration or input error (bad flags, unreadable files, 400, 401, 413).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the day's scan quota is exhausted (HTTP 429).
pub const EXIT_QUOTA: u8 = 3;
/// Exit code: the appliance is unreachable or answered with a server error (5xx).
pub const EXIT_UNREACHABLE: u8 = 4;

/// Everything that can stop a `stella` command. Each variant knows its exit code, so the
/// mapping of failures to the CONTRACT.md exit codes exists exactly once
/// ([`CliError::exit_code`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Bad or missing flags / configuration.
    #[error("{0}")]
    Usage(String),

    /// A local file could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        /// What the file is for ("SBOM", "token file", ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A local input is unusable (too large, empty, malformed).
    #[error("{what} {}: {reason}", path.display())]
    BadInput {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },

    /// A result file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The destination.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The appliance refused the token (HTTP 401/403): a configuration error.
    #[error("token refused: {message} (check --token / STELLA_TOKEN / STELLA_TOKEN_FILE)")]
    TokenRefused {
        /// HTTP status.
        status: u16,
        /// The server's sentence.
        message: String,
    },

    /// The appliance refused the request as bad input (400, 413 and other 4xx).
    #[error("the appliance refused the request (HTTP {status} {code}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's error code (`bad_sbom`, `too_large`, ...).
        code: String,
        /// The server's sentence.
        message: String,
    },

    /// The day's quota is spent (HTTP 429).
    #[error("quota exhausted: {message}{}", quota_hint(resets_at.as_deref(), *waited))]
    QuotaExhausted {
        /// The server's sentence, or why waiting was not possible.
        message: String,
        /// `--wait-quota` was given (and could not wait): the hint to use it is left out.
        waited: bool,
        /// When the quota resets (RFC 3339), when known.
        resets_at: Option<String>,
        /// The same instant, for `--wait-quota`.
        retry_at: Option<std::time::SystemTime>,
    },

    /// No connection could be made (after retries).
    #[error(
        "cannot reach the appliance at {url} after {tries} tries: {detail} (check --server / STELLA_SERVER and that the appliance is running)"
    )]
    Unreachable {
        /// The URL that was tried (never contains the token).
        url: String,
        /// How many attempts were made.
        tries: u32,
        /// The last transport error.
        detail: String,
    },

    /// The appliance answered with a 5xx (after retries where retrying is safe).
    #[error("the appliance failed (HTTP {status} {code}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's error code, or `-`.
        code: String,
        /// The server's sentence.
        message: String,
    },

    /// The appliance answered 2xx with something that is not what the API promises.
    #[error("unexpected answer from the appliance at {url}: {detail}")]
    BadResponse {
        /// The URL asked.
        url: String,
        /// What was wrong.
        detail: String,
    },

    /// An evidence check did not pass (`verify-evidence`).
    #[error("evidence does not verify: {0}")]
    Verification(String),

    /// A feature that this build does not contain.
    #[error("{0} is not available in this build")]
    NotAvailable(&'static str),
}

impl CliError {
    /// The process exit code for this error (CONTRACT.md "stella (CI client)").
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_)
            | Self::Read { .. }
            | Self::BadInput { .. }
            | Self::Write { .. }
            | Self::TokenRefused { .. }
            | Self::Rejected { .. }
            | Self::NotAvailable(_) => EXIT_USAGE,
            Self::QuotaExhausted { .. } => EXIT_QUOTA,
            Self::Unreachable { .. } | Self::Server { .. } | Self::BadResponse { .. } => {
                EXIT_UNREACHABLE
            }
            Self::Verification(_) => EXIT_POLICY_FAIL,
        }
    }
}

/// The tail of a quota message: the reset time, and `--wait-quota` only to someone who
/// did not already give it.
fn quota_hint(resets_at: Option<&str>, waited: bool) -> String {
    match (resets_at, waited) {
        (Some(r), false) => format!(" (resets {r}; use --wait-quota to wait)"),
        (Some(r), true) => format!(" (resets {r})"),
        (None, _) => String::new(),
    }
}
