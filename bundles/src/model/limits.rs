//! Size caps on one advisory.
//!
//! A kit comes from outside the sealed side, so one hostile record must not be able to
//! exhaust memory or make the scan index explode. The byte cap on the raw JSON bounds what
//! the parser allocates; the per-field caps bound what is kept and indexed. Each cap is
//! well above the largest real OSV record seen (Ubuntu kernel records with thousands of
//! enumerated versions are the biggest).
use super::error::ModelError;

/// Largest accepted JSON text for one advisory (an OSV file or a canonical record).
pub const MAX_ADVISORY_JSON_BYTES: usize = 8 * 1024 * 1024;
/// Longest advisory id (`id`, `aliases`, `upstream`, `related`).
pub const MAX_ID_LEN: usize = 128;
/// Most entries in each of `aliases`, `upstream` and `related`.
pub const MAX_IDS: usize = 1024;
/// Longest `summary`.
pub const MAX_SUMMARY_LEN: usize = 16 * 1024;
/// Longest `details`.
pub const MAX_DETAILS_LEN: usize = 512 * 1024;
/// Most `severity` entries (top level or per affected package).
pub const MAX_SEVERITIES: usize = 16;
/// Longest severity `type` or `score`.
pub const MAX_SCORE_LEN: usize = 256;
/// Most `affected` entries.
pub const MAX_AFFECTED: usize = 4096;
/// Longest package name (Go module paths and Maven coordinates are the long ones).
pub const MAX_NAME_LEN: usize = 1024;
/// Longest purl or URL.
pub const MAX_URL_LEN: usize = 8192;
/// Most ranges per affected package.
pub const MAX_RANGES: usize = 256;
/// Most events per range (evaluation sorts them: keep it small enough for that).
pub const MAX_EVENTS: usize = 512;
/// Most enumerated `versions` per affected package.
pub const MAX_VERSIONS: usize = 65_536;
/// Longest version string (event value or enumerated version).
pub const MAX_VERSION_LEN: usize = 256;
/// Most `references`.
pub const MAX_REFERENCES: usize = 4096;
/// Most CWE ids.
pub const MAX_CWES: usize = 256;
/// Longest CWE id or database severity label.
pub const MAX_LABEL_LEN: usize = 64;

/// Checks a list length against its cap.
pub(crate) fn check_count(field: &str, actual: usize, limit: usize) -> Result<(), ModelError> {
    if actual > limit {
        return Err(ModelError::TooMany {
            field: field.to_string(),
            actual,
            limit,
        });
    }
    Ok(())
}

/// Checks free text (summary, details): only its length matters, since the canonical
/// writer escapes anything the JSON line could trip over.
pub(crate) fn check_len(field: &str, s: &str, limit: usize) -> Result<(), ModelError> {
    if s.len() > limit {
        return Err(ModelError::TooLong {
            field: field.to_string(),
            actual: s.len(),
            limit,
        });
    }
    Ok(())
}

/// Checks a token-like string (name, version, URL, label): non-empty, bounded, and free of
/// control characters, which have no business in these and would confuse logs and HTML.
pub(crate) fn check_token(field: &str, s: &str, limit: usize) -> Result<(), ModelError> {
    check_len(field, s, limit)?;
    if s.is_empty() {
        return Err(ModelError::InvalidText {
            field: field.to_string(),
            reason: "must not be empty",
        });
    }
    if s.chars().any(char::is_control) {
        return Err(ModelError::InvalidText {
            field: field.to_string(),
            reason: "must not contain control characters",
        });
    }
    Ok(())
}
