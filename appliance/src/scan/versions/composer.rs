//! Composer version ordering (not implemented yet: every version is refused).
use bundles::model::VersionScheme;

use super::VersionError;

/// A parsed Composer version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ComposerVersion {
    _private: (),
}

impl ComposerVersion {
    /// Parses a version; not implemented yet.
    pub fn parse(_s: &str) -> Result<Self, VersionError> {
        Err(VersionError::Unsupported {
            scheme: VersionScheme::Composer,
        })
    }
}
