//! Go version ordering (not implemented yet: every version is refused).
use bundles::model::VersionScheme;

use super::VersionError;

/// A parsed Go version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoVersion {
    _private: (),
}

impl GoVersion {
    /// Parses a version; not implemented yet.
    pub fn parse(_s: &str) -> Result<Self, VersionError> {
        Err(VersionError::Unsupported {
            scheme: VersionScheme::Go,
        })
    }
}
