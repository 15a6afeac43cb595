//! NuGet version ordering (not implemented yet: every version is refused).
use bundles::model::VersionScheme;

use super::VersionError;

/// A parsed NuGet version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NuGetVersion {
    _private: (),
}

impl NuGetVersion {
    /// Parses a version; not implemented yet.
    pub fn parse(_s: &str) -> Result<Self, VersionError> {
        Err(VersionError::Unsupported {
            scheme: VersionScheme::NuGet,
        })
    }
}
