//! OSV ecosystems and the version ordering each one uses.
//!
//! An [`Ecosystem`] is an OSV ecosystem string (FORMATS.md §3) parsed into a known base
//! plus an optional release suffix: `"Debian:12"` → `Debian` + `"12"`, `"Alpine:v3.19"` →
//! `Alpine` + `"v3.19"`, `"npm"` → `Npm` + none. Unknown bases are kept verbatim
//! ([`BaseEcosystem::Other`]) so that a kit carrying a new ecosystem still imports; they
//! simply never match a component.
use std::fmt;
use std::str::FromStr;

/// The base ecosystems the product knows, by their exact OSV spelling.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum BaseEcosystem {
    /// `npm`
    Npm,
    /// `PyPI`
    PyPI,
    /// `crates.io`
    CratesIo,
    /// `Go`
    Go,
    /// `Maven`
    Maven,
    /// `NuGet`
    NuGet,
    /// `RubyGems`
    RubyGems,
    /// `Packagist`
    Packagist,
    /// `Hex`
    Hex,
    /// `Pub`
    Pub,
    /// `Debian`
    Debian,
    /// `Ubuntu`
    Ubuntu,
    /// `Alpine`
    Alpine,
    /// `Red Hat`
    RedHat,
    /// `Rocky Linux`
    RockyLinux,
    /// `AlmaLinux`
    AlmaLinux,
    /// `Wolfi`
    Wolfi,
    /// `Chainguard`
    Chainguard,
    /// `openSUSE`
    OpenSuse,
    /// `SUSE`
    Suse,
    /// Any other OSV ecosystem, spelled as given.
    Other(String),
}

/// The version ordering an ecosystem's `ECOSYSTEM` ranges use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum VersionScheme {
    /// SemVer 2.0 (npm, crates.io, Hex, Pub, and every OSV `SEMVER` range).
    Semver,
    /// Go module versions (semver with pseudo-versions and `+incompatible`).
    Go,
    /// PEP 440 (PyPI).
    Pep440,
    /// Maven `ComparableVersion`.
    Maven,
    /// RubyGems `Gem::Version`.
    RubyGems,
    /// NuGet versions.
    NuGet,
    /// Composer versions (Packagist).
    Composer,
    /// dpkg (Debian, Ubuntu).
    Dpkg,
    /// rpmvercmp (Red Hat family, SUSE).
    Rpm,
    /// apk (Alpine, Wolfi, Chainguard).
    Apk,
    /// No ordering known: only explicit `versions` lists can match.
    Unsupported,
}

impl BaseEcosystem {
    /// The exact OSV spelling.
    pub fn as_str(&self) -> &str {
        match self {
            BaseEcosystem::Npm => "npm",
            BaseEcosystem::PyPI => "PyPI",
            BaseEcosystem::CratesIo => "crates.io",
            BaseEcosystem::Go => "Go",
            BaseEcosystem::Maven => "Maven",
            BaseEcosystem::NuGet => "NuGet",
            BaseEcosystem::RubyGems => "RubyGems",
            BaseEcosystem::Packagist => "Packagist",
            BaseEcosystem::Hex => "Hex",
            BaseEcosystem::Pub => "Pub",
            BaseEcosystem::Debian => "Debian",
            BaseEcosystem::Ubuntu => "Ubuntu",
            BaseEcosystem::Alpine => "Alpine",
            BaseEcosystem::RedHat => "Red Hat",
            BaseEcosystem::RockyLinux => "Rocky Linux",
            BaseEcosystem::AlmaLinux => "AlmaLinux",
            BaseEcosystem::Wolfi => "Wolfi",
            BaseEcosystem::Chainguard => "Chainguard",
            BaseEcosystem::OpenSuse => "openSUSE",
            BaseEcosystem::Suse => "SUSE",
            BaseEcosystem::Other(s) => s,
        }
    }

    /// The version ordering used for `ECOSYSTEM` ranges of this ecosystem.
    pub fn scheme(&self) -> VersionScheme {
        match self {
            BaseEcosystem::Npm
            | BaseEcosystem::CratesIo
            | BaseEcosystem::Hex
            | BaseEcosystem::Pub => VersionScheme::Semver,
            BaseEcosystem::Go => VersionScheme::Go,
            BaseEcosystem::PyPI => VersionScheme::Pep440,
            BaseEcosystem::Maven => VersionScheme::Maven,
            BaseEcosystem::NuGet => VersionScheme::NuGet,
            BaseEcosystem::RubyGems => VersionScheme::RubyGems,
            BaseEcosystem::Packagist => VersionScheme::Composer,
            BaseEcosystem::Debian | BaseEcosystem::Ubuntu => VersionScheme::Dpkg,
            BaseEcosystem::RedHat
            | BaseEcosystem::RockyLinux
            | BaseEcosystem::AlmaLinux
            | BaseEcosystem::OpenSuse
            | BaseEcosystem::Suse => VersionScheme::Rpm,
            BaseEcosystem::Alpine | BaseEcosystem::Wolfi | BaseEcosystem::Chainguard => {
                VersionScheme::Apk
            }
            BaseEcosystem::Other(_) => VersionScheme::Unsupported,
        }
    }

    fn parse(s: &str) -> BaseEcosystem {
        match s {
            "npm" => BaseEcosystem::Npm,
            "PyPI" => BaseEcosystem::PyPI,
            "crates.io" => BaseEcosystem::CratesIo,
            "Go" => BaseEcosystem::Go,
            "Maven" => BaseEcosystem::Maven,
            "NuGet" => BaseEcosystem::NuGet,
            "RubyGems" => BaseEcosystem::RubyGems,
            "Packagist" => BaseEcosystem::Packagist,
            "Hex" => BaseEcosystem::Hex,
            "Pub" => BaseEcosystem::Pub,
            "Debian" => BaseEcosystem::Debian,
            "Ubuntu" => BaseEcosystem::Ubuntu,
            "Alpine" => BaseEcosystem::Alpine,
            "Red Hat" => BaseEcosystem::RedHat,
            "Rocky Linux" => BaseEcosystem::RockyLinux,
            "AlmaLinux" => BaseEcosystem::AlmaLinux,
            "Wolfi" => BaseEcosystem::Wolfi,
            "Chainguard" => BaseEcosystem::Chainguard,
            "openSUSE" => BaseEcosystem::OpenSuse,
            "SUSE" => BaseEcosystem::Suse,
            other => BaseEcosystem::Other(other.to_string()),
        }
    }
}

/// An OSV ecosystem: a base and an optional release (`"Debian:12"`, `"Alpine:v3.19"`,
/// `"Ubuntu:22.04:LTS"`, `"Maven:https://repo.example"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ecosystem {
    base: BaseEcosystem,
    release: Option<String>,
}

/// An ecosystem string that cannot be an OSV ecosystem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid ecosystem {0:?}: must be a non-empty OSV ecosystem name without control characters"
)]
pub struct InvalidEcosystem(pub String);

/// The longest ecosystem string accepted (OSV's longest real ones are ~60 bytes).
pub const MAX_ECOSYSTEM_LEN: usize = 256;

impl Ecosystem {
    /// An ecosystem without a release.
    pub fn new(base: BaseEcosystem) -> Self {
        Ecosystem {
            base,
            release: None,
        }
    }

    /// An ecosystem with a release suffix.
    pub fn with_release(base: BaseEcosystem, release: impl Into<String>) -> Self {
        Ecosystem {
            base,
            release: Some(release.into()),
        }
    }

    /// The base ecosystem.
    pub fn base(&self) -> &BaseEcosystem {
        &self.base
    }

    /// The release suffix, if any (everything after the first `:`).
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// The ecosystem without its release (`"Debian:12"` → `"Debian"`).
    pub fn without_release(&self) -> Ecosystem {
        Ecosystem::new(self.base.clone())
    }

    /// The version ordering of this ecosystem.
    pub fn scheme(&self) -> VersionScheme {
        self.base.scheme()
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.release {
            Some(r) => write!(f, "{}:{}", self.base.as_str(), r),
            None => f.write_str(self.base.as_str()),
        }
    }
}

impl FromStr for Ecosystem {
    type Err = InvalidEcosystem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty()
            || s.len() > MAX_ECOSYSTEM_LEN
            || s.chars().any(char::is_control)
            || s.starts_with(':')
        {
            return Err(InvalidEcosystem(s.chars().take(64).collect()));
        }
        // "Maven:https://..." has colons in the release: split on the first one only.
        let (base, release) = match s.split_once(':') {
            Some((b, r)) if !r.is_empty() => (b, Some(r.to_string())),
            Some((_, _)) => return Err(InvalidEcosystem(s.to_string())),
            None => (s, None),
        };
        Ok(Ecosystem {
            base: BaseEcosystem::parse(base),
            release,
        })
    }
}

impl serde::Serialize for Ecosystem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Ecosystem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_osv_spellings() {
        for s in [
            "npm",
            "PyPI",
            "crates.io",
            "Go",
            "Debian:12",
            "Alpine:v3.19",
            "Ubuntu:22.04:LTS",
            "Ubuntu:Pro:18.04:LTS",
            "Red Hat:rhel_aus:8.4::appstream",
            "Rocky Linux:9",
            "Maven:https://repo.example/maven2",
            "SomethingNew",
        ] {
            let e: Ecosystem = s.parse().expect(s);
            assert_eq!(e.to_string(), s);
        }
    }

    #[test]
    fn release_and_scheme() {
        let e: Ecosystem = "Debian:12".parse().expect("parse");
        assert_eq!(e.base(), &BaseEcosystem::Debian);
        assert_eq!(e.release(), Some("12"));
        assert_eq!(e.scheme(), VersionScheme::Dpkg);
        assert_eq!(e.without_release().to_string(), "Debian");
        let a: Ecosystem = "Alpine:v3.20".parse().expect("parse");
        assert_eq!(a.scheme(), VersionScheme::Apk);
        let o: Ecosystem = "Hackage".parse().expect("parse");
        assert_eq!(o.scheme(), VersionScheme::Unsupported);
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", ":12", "Debian:", "a\nb", &"x".repeat(300)] {
            assert!(s.parse::<Ecosystem>().is_err(), "{s:?}");
        }
    }
}
