//! Rpm version ordering (not implemented yet: every version is refused).
use bundles::model::VersionScheme;

use super::VersionError;

/// A parsed Rpm version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RpmVersion {
    _private: (),
}

impl RpmVersion {
    /// Parses a version; not implemented yet.
    pub fn parse(_s: &str) -> Result<Self, VersionError> {
        Err(VersionError::Unsupported {
            scheme: VersionScheme::Rpm,
        })
    }
}
