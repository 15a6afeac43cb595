//! RubyGems version ordering (not implemented yet: every version is refused).
use bundles::model::VersionScheme;

use super::VersionError;

/// A parsed RubyGems version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GemVersion {
    _private: (),
}

impl GemVersion {
    /// Parses a version; not implemented yet.
    pub fn parse(_s: &str) -> Result<Self, VersionError> {
        Err(VersionError::Unsupported {
            scheme: VersionScheme::RubyGems,
        })
    }
}
