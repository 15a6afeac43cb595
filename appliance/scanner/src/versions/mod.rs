//! Version ordering per ecosystem.
//!
//! Every [`VersionScheme`] has its own parser in its own file, producing a value that
//! implements [`Ord`] so that the matcher parses a version once and compares it cheaply
//! many times. [`Version`] wraps the per-scheme values; comparing two [`Version`]s of
//! different schemes is meaningless, so [`Version::compare`] returns `None` for that
//! case instead of inventing an order.
//!
//! | scheme | reference implementation | file |
//! | --- | --- | --- |
//! | [`VersionScheme::Semver`] | SemVer 2.0 / node-semver 7 | `semver.rs` |
//! | [`VersionScheme::Go`] | `golang.org/x/mod/semver` (+ `go1.21.3` toolchain versions) | `go.rs` |
//! | [`VersionScheme::Pep440`] | `packaging.version` | `pep440.rs` |
//! | [`VersionScheme::Maven`] | maven-artifact 3.8.7 `ComparableVersion` | `maven.rs` |
//! | [`VersionScheme::RubyGems`] | `Gem::Version` | `rubygems.rs` |
//! | [`VersionScheme::NuGet`] | NuGet.Versioning | `nuget.rs` |
//! | [`VersionScheme::Composer`] | composer/semver 3 | `composer.rs` |
//! | [`VersionScheme::Dpkg`] | `dpkg --compare-versions` | `dpkg.rs` |
//! | [`VersionScheme::Rpm`] | librpm `rpmvercmp` | `rpm.rs` |
//! | [`VersionScheme::Apk`] | apk-tools 3.0 | `apk.rs` |
//!
//! All input is untrusted: versions longer than [`MAX_VERSION_LEN`] bytes are refused,
//! numeric runs are compared as digit strings (never parsed into fixed-width integers, so
//! `99999999999999999999999` neither overflows nor panics), and every function returns
//! an error instead of panicking.
//!
//! ```
//! use std::cmp::Ordering;
//! use scanner::versions::{compare, ordering};
//! use bundles::model::{VersionOrdering, VersionScheme};
//!
//! assert_eq!(compare(VersionScheme::Dpkg, "1.0~rc1", "1.0").expect("valid"), Ordering::Less);
//! assert_eq!(ordering(VersionScheme::Semver).compare("1.0.0-alpha", "1.0.0"), Some(Ordering::Less));
//! assert_eq!(ordering(VersionScheme::Semver).compare("not a version", "1.0.0"), None);
//! // the matcher reads short SemVer versions as OSV's scanner does; node-semver refuses them
//! assert_eq!(ordering(VersionScheme::Semver).compare("0.1", "0.1.0"), Some(Ordering::Equal));
//! assert!(compare(VersionScheme::Semver, "0.1", "0.1.0").is_err());
//! ```
//!
//! Two readings: [`parse`] / [`compare`] are the ecosystem tool's own (tested pair by pair
//! against it), and [`read`] / [`ordering`] are the matcher's, which also accepts the
//! shapes real advisory data uses and OSV's scanner accepts (see [`read`]).
use std::cmp::Ordering;

use bundles::model::{VersionOrdering, VersionScheme};

pub mod apk;
pub mod composer;
pub mod dpkg;
pub mod go;
pub mod maven;
pub mod nuget;
pub mod pep440;
pub mod rpm;
pub mod rubygems;
pub mod semver;

mod digits;

/// The longest version string accepted by any scheme, in bytes (the advisory model's
/// bound, so every version that can appear in a kit can be parsed here).
pub const MAX_VERSION_LEN: usize = bundles::model::limits::MAX_VERSION_LEN;

/// Why a version string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The string is empty (or only whitespace where the scheme trims).
    #[error("{scheme:?} version is empty")]
    Empty {
        /// The scheme asked for.
        scheme: VersionScheme,
    },
    /// The string is longer than [`MAX_VERSION_LEN`].
    #[error("{scheme:?} version is {len} bytes long, the limit is {max}")]
    TooLong {
        /// The scheme asked for.
        scheme: VersionScheme,
        /// Length of the input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The string does not follow the scheme's grammar.
    #[error("invalid {scheme:?} version {version:?}: {reason}")]
    Invalid {
        /// The scheme asked for.
        scheme: VersionScheme,
        /// The offending input (at most [`MAX_VERSION_LEN`] bytes).
        version: String,
        /// Which rule was broken.
        reason: &'static str,
    },
    /// The scheme has no ordering ([`VersionScheme::Unsupported`] or a scheme added to
    /// the model after this code).
    #[error("no version ordering for scheme {scheme:?}")]
    Unsupported {
        /// The scheme asked for.
        scheme: VersionScheme,
    },
}

impl VersionError {
    pub(crate) fn invalid(scheme: VersionScheme, version: &str, reason: &'static str) -> Self {
        VersionError::Invalid {
            scheme,
            version: version.to_string(),
            reason,
        }
    }
}

/// Refuses empty and over-long input before any scheme-specific parsing.
pub(crate) fn check_len(scheme: VersionScheme, s: &str) -> Result<(), VersionError> {
    if s.is_empty() {
        return Err(VersionError::Empty { scheme });
    }
    if s.len() > MAX_VERSION_LEN {
        return Err(VersionError::TooLong {
            scheme,
            len: s.len(),
            max: MAX_VERSION_LEN,
        });
    }
    Ok(())
}

/// A parsed version of one scheme. Compare two values of the same scheme with [`Ord`]
/// on the inner type, or with [`Version::compare`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Version {
    /// SemVer 2.0.
    Semver(semver::SemVer),
    /// Go module version.
    Go(go::GoVersion),
    /// PEP 440.
    Pep440(pep440::Pep440Version),
    /// Maven `ComparableVersion`.
    Maven(maven::MavenVersion),
    /// RubyGems `Gem::Version`.
    RubyGems(rubygems::GemVersion),
    /// NuGet.
    NuGet(nuget::NuGetVersion),
    /// Composer.
    Composer(composer::ComposerVersion),
    /// dpkg.
    Dpkg(dpkg::DpkgVersion),
    /// RPM EVR.
    Rpm(rpm::RpmVersion),
    /// Alpine apk.
    Apk(apk::ApkVersion),
}

impl Version {
    /// The scheme this version was parsed with.
    pub fn scheme(&self) -> VersionScheme {
        match self {
            Version::Semver(_) => VersionScheme::Semver,
            Version::Go(_) => VersionScheme::Go,
            Version::Pep440(_) => VersionScheme::Pep440,
            Version::Maven(_) => VersionScheme::Maven,
            Version::RubyGems(_) => VersionScheme::RubyGems,
            Version::NuGet(_) => VersionScheme::NuGet,
            Version::Composer(_) => VersionScheme::Composer,
            Version::Dpkg(_) => VersionScheme::Dpkg,
            Version::Rpm(_) => VersionScheme::Rpm,
            Version::Apk(_) => VersionScheme::Apk,
        }
    }

    /// Compares two versions of the same scheme; `None` when the schemes differ.
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        Some(match (self, other) {
            (Version::Semver(a), Version::Semver(b)) => a.cmp(b),
            (Version::Go(a), Version::Go(b)) => a.cmp(b),
            (Version::Pep440(a), Version::Pep440(b)) => a.cmp(b),
            (Version::Maven(a), Version::Maven(b)) => a.cmp(b),
            (Version::RubyGems(a), Version::RubyGems(b)) => a.cmp(b),
            (Version::NuGet(a), Version::NuGet(b)) => a.cmp(b),
            (Version::Composer(a), Version::Composer(b)) => a.cmp(b),
            (Version::Dpkg(a), Version::Dpkg(b)) => a.cmp(b),
            (Version::Rpm(a), Version::Rpm(b)) => a.cmp(b),
            (Version::Apk(a), Version::Apk(b)) => a.cmp(b),
            _ => return None,
        })
    }
}

/// Parses `s` in `scheme`.
pub fn parse(scheme: VersionScheme, s: &str) -> Result<Version, VersionError> {
    check_len(scheme, s)?;
    Ok(match scheme {
        VersionScheme::Semver => Version::Semver(semver::SemVer::parse(s)?),
        VersionScheme::Go => Version::Go(go::GoVersion::parse(s)?),
        VersionScheme::Pep440 => Version::Pep440(pep440::Pep440Version::parse(s)?),
        VersionScheme::Maven => Version::Maven(maven::MavenVersion::parse(s)?),
        VersionScheme::RubyGems => Version::RubyGems(rubygems::GemVersion::parse(s)?),
        VersionScheme::NuGet => Version::NuGet(nuget::NuGetVersion::parse(s)?),
        VersionScheme::Composer => Version::Composer(composer::ComposerVersion::parse(s)?),
        VersionScheme::Dpkg => Version::Dpkg(dpkg::DpkgVersion::parse(s)?),
        VersionScheme::Rpm => Version::Rpm(rpm::RpmVersion::parse(s)?),
        VersionScheme::Apk => Version::Apk(apk::ApkVersion::parse(s)?),
        // `VersionScheme` is non-exhaustive: a scheme added later has no ordering yet.
        _ => return Err(VersionError::Unsupported { scheme }),
    })
}

/// Reads `s` in `scheme` the way the matcher reads versions from advisories and SBOMs,
/// which is how OSV's own scanner reads them: surrounding ASCII whitespace is ignored in
/// every scheme, in SemVer a core of one or two numbers stands for the version with
/// the missing parts zero (`0.1` is `0.1.0`, `v2` is `2.0.0`, `1.0-rc.1` is
/// `1.0.0-rc.1`; see [`semver::SemVer::read`]), and a RubyGems version written with its
/// gem's platform, as Bundler's lock file and Syft write it (`1.12.5-x86_64-linux`,
/// `1.13.0-java`), is the version without it ([`rubygems::without_platform`]). Everything else is exactly [`parse`], the
/// ecosystem tool's own reading: leading zeros, empty parts, four parts and foreign
/// characters stay refused, so no garbage compares.
pub fn read(scheme: VersionScheme, s: &str) -> Result<Version, VersionError> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    match scheme {
        VersionScheme::Semver => {
            check_len(scheme, t)?;
            Ok(Version::Semver(semver::SemVer::read(t)?))
        }
        VersionScheme::RubyGems => parse(scheme, rubygems::without_platform(t)),
        _ => parse(scheme, t),
    }
}

/// Parses both strings in `scheme` (the ecosystem tool's reading, [`parse`]) and
/// compares them.
pub fn compare(scheme: VersionScheme, a: &str, b: &str) -> Result<Ordering, VersionError> {
    let a = parse(scheme, a)?;
    let b = parse(scheme, b)?;
    // Both were parsed with the same scheme, so the variants match.
    a.compare(&b).ok_or(VersionError::Unsupported { scheme })
}

/// The [`VersionOrdering`] of one scheme, for OSV range evaluation: versions are read
/// with [`read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SchemeOrdering(pub VersionScheme);

impl VersionOrdering for SchemeOrdering {
    /// Compares as the matcher reads versions ([`read`]).
    fn compare(&self, a: &str, b: &str) -> Option<Ordering> {
        read(self.0, a).ok()?.compare(&read(self.0, b).ok()?)
    }
}

static SEMVER: SchemeOrdering = SchemeOrdering(VersionScheme::Semver);
static GO: SchemeOrdering = SchemeOrdering(VersionScheme::Go);
static PEP440: SchemeOrdering = SchemeOrdering(VersionScheme::Pep440);
static MAVEN: SchemeOrdering = SchemeOrdering(VersionScheme::Maven);
static RUBYGEMS: SchemeOrdering = SchemeOrdering(VersionScheme::RubyGems);
static NUGET: SchemeOrdering = SchemeOrdering(VersionScheme::NuGet);
static COMPOSER: SchemeOrdering = SchemeOrdering(VersionScheme::Composer);
static DPKG: SchemeOrdering = SchemeOrdering(VersionScheme::Dpkg);
static RPM: SchemeOrdering = SchemeOrdering(VersionScheme::Rpm);
static APK: SchemeOrdering = SchemeOrdering(VersionScheme::Apk);
static UNSUPPORTED: SchemeOrdering = SchemeOrdering(VersionScheme::Unsupported);

/// The static ordering for `scheme`. [`VersionScheme::Unsupported`] (and any scheme
/// unknown to this code) gets an ordering that compares nothing (always `None`).
pub fn ordering(scheme: VersionScheme) -> &'static dyn VersionOrdering {
    match scheme {
        VersionScheme::Semver => &SEMVER,
        VersionScheme::Go => &GO,
        VersionScheme::Pep440 => &PEP440,
        VersionScheme::Maven => &MAVEN,
        VersionScheme::RubyGems => &RUBYGEMS,
        VersionScheme::NuGet => &NUGET,
        VersionScheme::Composer => &COMPOSER,
        VersionScheme::Dpkg => &DPKG,
        VersionScheme::Rpm => &RPM,
        VersionScheme::Apk => &APK,
        _ => &UNSUPPORTED,
    }
}

/// The ordering of one scheme with one version already parsed: a component's version
/// is compared with every event of every range that names the package, and parsing it
/// once instead of at each comparison is a tenth of a scan's matching time. Compares
/// exactly like [`ordering`]`(scheme)`: `pinned` is used wherever either side is that same
/// text.
#[derive(Debug)]
pub struct Pinned<'a> {
    scheme: VersionScheme,
    text: &'a str,
    parsed: Result<Version, VersionError>,
}

impl<'a> Pinned<'a> {
    /// `scheme`'s ordering with `text` parsed now.
    pub fn new(scheme: VersionScheme, text: &'a str) -> Pinned<'a> {
        Pinned {
            scheme,
            text,
            parsed: read(scheme, text),
        }
    }

    fn side<'s>(&'s self, s: &str, slot: &'s mut Option<Version>) -> Option<&'s Version> {
        if s == self.text {
            return self.parsed.as_ref().ok();
        }
        Some(slot.insert(read(self.scheme, s).ok()?))
    }
}

impl VersionOrdering for Pinned<'_> {
    fn compare(&self, a: &str, b: &str) -> Option<Ordering> {
        let (mut sa, mut sb) = (None, None);
        let a = self.side(a, &mut sa)?;
        let b = self.side(b, &mut sb)?;
        a.compare(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matcher's reading ignores surrounding whitespace in every scheme, pads short
    /// SemVer cores, and otherwise parses exactly as the ecosystem's tool does.
    #[test]
    fn read_is_parse_plus_the_shapes_real_data_uses() {
        for scheme in ALL {
            for v in ["1.2.3", "2.0.0", "1.0.0-1"] {
                let Ok(strict) = parse(scheme, v) else {
                    continue;
                };
                for spaced in [format!(" {v}"), format!("{v} "), format!("\t{v}\n")] {
                    assert_eq!(
                        read(scheme, &spaced).as_ref(),
                        Ok(&strict),
                        "{scheme:?} {spaced:?}"
                    );
                }
            }
            assert!(
                read(scheme, "   ").is_err(),
                "{scheme:?}: blank is no version"
            );
        }
        let sem = ordering(VersionScheme::Semver);
        assert_eq!(sem.compare("0.1", "0.1.0"), Some(Ordering::Equal));
        assert_eq!(sem.compare(" v1 ", "1.0.0"), Some(Ordering::Equal));
        assert_eq!(sem.compare("0.1", "0.1.45"), Some(Ordering::Less));
        assert_eq!(sem.compare("1.0-rc.1", "1.0.0"), Some(Ordering::Less));
        assert_eq!(
            sem.compare("01.2", "1.2.0"),
            None,
            "leading zeros stay refused"
        );
        assert_eq!(
            sem.compare("1.2.3.4", "1.2.3"),
            None,
            "four parts stay refused"
        );
        // Pinned reads the same way
        let pinned = Pinned::new(VersionScheme::Semver, "0.1");
        assert_eq!(pinned.compare("0.1", "0.1.45"), Some(Ordering::Less));
    }

    /// Pinned compares exactly like the scheme's ordering, whichever side is pinned, and
    /// for versions that do not parse.
    #[test]
    fn pinned_equals_ordering() {
        let samples = [
            "1.0.0",
            "1.0.0-rc.1",
            "1.0",
            "v1.2.3",
            "1:2.3-1",
            "2.3~rc1-1",
            "0",
            "1.0.0.post1",
            "1.0a1",
            "not a version!",
            "1.0.0+build",
            "go1.21.3",
            "10.2.0.Final",
            "1.2.3-r4",
        ];
        for scheme in ALL {
            let plain = ordering(scheme);
            for p in samples {
                let pinned = Pinned::new(scheme, p);
                for x in samples {
                    assert_eq!(
                        pinned.compare(p, x),
                        plain.compare(p, x),
                        "{scheme:?} {p} {x}"
                    );
                    assert_eq!(
                        pinned.compare(x, p),
                        plain.compare(x, p),
                        "{scheme:?} {x} {p}"
                    );
                    for y in samples {
                        assert_eq!(
                            pinned.compare(x, y),
                            plain.compare(x, y),
                            "{scheme:?} {x} {y}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn unsupported_compares_nothing() {
        assert_eq!(ordering(VersionScheme::Unsupported).compare("1", "1"), None);
        assert!(matches!(
            parse(VersionScheme::Unsupported, "1"),
            Err(VersionError::Unsupported { .. })
        ));
    }

    #[test]
    fn length_is_bounded_for_every_scheme() {
        let long = "1".repeat(MAX_VERSION_LEN + 1);
        for s in ALL {
            assert!(
                matches!(parse(s, &long), Err(VersionError::TooLong { .. })),
                "{s:?}"
            );
            assert!(
                matches!(parse(s, ""), Err(VersionError::Empty { .. })),
                "{s:?}"
            );
        }
    }

    #[test]
    fn cross_scheme_compare_is_none() {
        let a = parse(VersionScheme::Dpkg, "1.0").expect("dpkg");
        let b = parse(VersionScheme::Semver, "1.0.0").expect("semver");
        assert_eq!(a.compare(&b), None);
        assert_eq!(a.scheme(), VersionScheme::Dpkg);
    }

    pub(super) const ALL: [VersionScheme; 10] = [
        VersionScheme::Semver,
        VersionScheme::Go,
        VersionScheme::Pep440,
        VersionScheme::Maven,
        VersionScheme::RubyGems,
        VersionScheme::NuGet,
        VersionScheme::Composer,
        VersionScheme::Dpkg,
        VersionScheme::Rpm,
        VersionScheme::Apk,
    ];
}
