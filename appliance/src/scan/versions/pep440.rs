//! Pep440 version ordering (not implemented yet: every version is refused).
use bundles::model::VersionScheme;

use super::VersionError;

/// A parsed Pep440 version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pep440Version {
    _private: (),
}

impl Pep440Version {
    /// Parses a version; not implemented yet.
    pub fn parse(_s: &str) -> Result<Self, VersionError> {
        Err(VersionError::Unsupported {
            scheme: VersionScheme::Pep440,
        })
    }
}
