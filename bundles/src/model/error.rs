//! The one error type of the advisory model.
//!
//! Every variant names the field that failed (`affected[2].ranges[0].events[1]`) so that a
//! refused kit or feed record explains itself without a debugger.
use super::ecosystem::InvalidEcosystem;

/// Why an advisory could not be parsed, validated, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The whole input (one OSV file, one canonical record, one JSONL line) is too large.
    #[error("{what} is {actual} bytes, over the limit of {limit} bytes")]
    InputTooLarge {
        /// What was being read.
        what: &'static str,
        /// Its size (for a JSONL line: at least this many bytes).
        actual: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The input is not JSON, or not JSON of the expected shape (missing required field,
    /// wrong type, or — in the strict canonical form — an unknown field).
    #[error("malformed advisory JSON: {source}")]
    Json {
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A string is longer than its cap.
    #[error("{field}: {actual} bytes, longer than the limit of {limit} bytes")]
    TooLong {
        /// The field path.
        field: String,
        /// The string's length in bytes.
        actual: usize,
        /// The cap.
        limit: usize,
    },
    /// A list has more entries than its cap.
    #[error("{field}: {actual} entries, more than the limit of {limit}")]
    TooMany {
        /// The field path.
        field: String,
        /// The number of entries.
        actual: usize,
        /// The cap.
        limit: usize,
    },
    /// A string that must be non-empty and free of control characters is not.
    #[error("{field}: {reason}")]
    InvalidText {
        /// The field path.
        field: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An advisory id (or alias, upstream or related id) is not a valid id.
    #[error("{field}: invalid advisory id {value:?}: {reason}")]
    InvalidId {
        /// The field path.
        field: String,
        /// The offending value (truncated).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A timestamp is not RFC 3339 or is out of range.
    #[error("{field}: invalid RFC 3339 timestamp {value:?}: {reason}")]
    InvalidTimestamp {
        /// The field path.
        field: String,
        /// The offending value (truncated).
        value: String,
        /// The parser's reason.
        reason: String,
    },
    /// An ecosystem string is not an OSV ecosystem.
    #[error("{field}: {source}")]
    InvalidEcosystem {
        /// The field path.
        field: String,
        /// The ecosystem parser's error.
        #[source]
        source: InvalidEcosystem,
    },
    /// An event object does not hold exactly one of `introduced`, `fixed`,
    /// `last_affected`, `limit`.
    #[error(
        "{field}: an event must hold exactly one of introduced, fixed, last_affected, limit (found {found})"
    )]
    InvalidEvent {
        /// The field path.
        field: String,
        /// How many of the four keys were present.
        found: usize,
    },
    /// A range has no `introduced` event (the OSV spec requires at least one).
    #[error("{field}: a range needs at least one `introduced` event")]
    NoIntroduced {
        /// The field path.
        field: String,
    },
    /// A range holds both `fixed` and `last_affected` events (forbidden by the OSV spec).
    #[error("{field}: a range may hold `fixed` or `last_affected` events, not both")]
    FixedAndLastAffected {
        /// The field path.
        field: String,
    },
    /// A `GIT` range has no `repo`.
    #[error("{field}: a GIT range needs a `repo`")]
    MissingRepo {
        /// The field path.
        field: String,
    },
    /// A range type other than `SEMVER`, `ECOSYSTEM` or `GIT`.
    #[error("{field}: unknown range type {value:?} (expected SEMVER, ECOSYSTEM or GIT)")]
    UnknownRangeType {
        /// The field path.
        field: String,
        /// The type given (truncated).
        value: String,
    },
    /// Severity is set on an affected package and at the top level (forbidden by the spec).
    #[error("{field}: severity is set here and at the top level; OSV allows only one")]
    SeverityConflict {
        /// The field path of the affected entry.
        field: String,
    },
    /// An error on one line of a JSONL stream.
    #[error("line {line}: {source}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// The error on that line.
        #[source]
        source: Box<ModelError>,
    },
    /// Reading or writing a JSONL stream failed.
    #[error("JSONL I/O failed: {source}")]
    Io {
        /// The underlying error.
        #[from]
        source: std::io::Error,
    },
}

impl ModelError {
    /// Prefixes the field path with `outer` (`"affected[2]"` + `"ranges[0]"`), so leaf
    /// validators need not know where they are called from.
    pub(crate) fn at(mut self, outer: &str) -> Self {
        let field = match &mut self {
            ModelError::TooLong { field, .. }
            | ModelError::TooMany { field, .. }
            | ModelError::InvalidText { field, .. }
            | ModelError::InvalidId { field, .. }
            | ModelError::InvalidTimestamp { field, .. }
            | ModelError::InvalidEcosystem { field, .. }
            | ModelError::InvalidEvent { field, .. }
            | ModelError::NoIntroduced { field }
            | ModelError::FixedAndLastAffected { field }
            | ModelError::MissingRepo { field }
            | ModelError::UnknownRangeType { field, .. }
            | ModelError::SeverityConflict { field } => field,
            ModelError::InputTooLarge { .. }
            | ModelError::Json { .. }
            | ModelError::Line { .. }
            | ModelError::Io { .. } => return self,
        };
        *field = if field.is_empty() {
            outer.to_string()
        } else if field.starts_with('[') {
            format!("{outer}{field}")
        } else {
            format!("{outer}.{field}")
        };
        self
    }
}

/// Shortens a hostile value before it goes into an error message.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
