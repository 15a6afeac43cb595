//! Go version ordering: module versions as `golang.org/x/mod/semver` (x/mod 0.7.0,
//! `semver/semver.go`), plus Go toolchain versions (`go1.21.3`) for the `stdlib` and
//! `toolchain` pseudo-modules.
//!
//! Module grammar (x/mod `parse`): `v` MAJOR [`.` MINOR [`.` PATCH [`-` PRERELEASE]
//! [`+` BUILD]]]. Numbers have no leading zeros; `v1` and `v1.2` are shorthands for
//! `v1.0.0` and `v1.2.0` and take no prerelease or build. Prerelease and build identifiers
//! are non-empty runs of `[0-9A-Za-z-]`; numeric prerelease identifiers have no leading
//! zeros. Anything else is refused (x/mod's `Compare` would sort it below every valid
//! version; an error is the honest answer for a matcher).
//!
//! The `v` is optional here because OSV's Go data (vuln.go.dev) writes module versions
//! without it (`1.2.3`); both spellings parse to the same value.
//!
//! Order (x/mod `Compare`): major, minor, patch by numeric value; a version with a
//! prerelease sorts before the same version without one; prerelease identifiers compare
//! one by one (numeric ones by value and below alphanumeric ones, which compare by ASCII),
//! and a longer list wins on an equal prefix. Build metadata, including `+incompatible`,
//! is ignored. Pseudo-versions (`v0.0.0-20230101000000-abcdef123456`,
//! `v1.2.4-0.20230101000000-abcdef123456`) are ordinary prereleases under these rules,
//! which is exactly how the go command orders them.
//!
//! Toolchain versions (`go1.21.3`, `go1.21rc2`, `go1.9beta1`, the language version
//! `go1.21`) follow Go's `internal/gover` grammar and are mapped onto the semver form that
//! vuln.go.dev uses for the standard library, so that a Syft-reported `go1.21.3` compares
//! with an advisory's `1.21.4`: `goX.Y.Z` → `X.Y.Z`, `goX.Y` → `X.Y.0` before Go 1.21
//! (where it named the release), `goX.Y<kind>N` → `X.Y.0-<kind>.N`, and the language
//! version `goX.Y` from Go 1.21 on → `X.Y.0-0`, which sorts below every prerelease of
//! that line, as gover's `1.21 < 1.21rc1 < 1.21.0` does. The one place the mapping is
//! coarser than gover is a prerelease written with an explicit `.0` patch
//! (`go1.21.0rc1` equals `go1.21rc1` here; no Go release was ever tagged so).
use std::cmp::Ordering;

use bundles::model::VersionScheme;

use super::VersionError;
use super::digits::cmp_digits;

const SCHEME: VersionScheme = VersionScheme::Go;

/// One prerelease identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ident {
    /// All digits, no leading zero (x/mod refuses those).
    Num(String),
    /// Anything else from `[0-9A-Za-z-]`.
    Alpha(String),
}

impl Ord for Ident {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Ident::Num(a), Ident::Num(b)) => cmp_digits(a, b),
            (Ident::Num(_), Ident::Alpha(_)) => Ordering::Less,
            (Ident::Alpha(_), Ident::Num(_)) => Ordering::Greater,
            (Ident::Alpha(a), Ident::Alpha(b)) => a.as_bytes().cmp(b.as_bytes()),
        }
    }
}

impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A parsed Go module or toolchain version. Equality is precedence equality: build
/// metadata (`+incompatible`) does not take part, as in x/mod's `Compare`.
#[derive(Debug, Clone)]
pub struct GoVersion {
    major: String,
    minor: String,
    patch: String,
    prerelease: Vec<Ident>,
    build: Option<String>,
}

impl GoVersion {
    /// Parses a module version (`v1.2.3`, `1.2.3`, `v0.0.0-2023…-abcdef123456`,
    /// `v2.0.0+incompatible`) or a toolchain version (`go1.21.3`, `go1.21rc1`).
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        super::check_len(SCHEME, s)?;
        let bad = |reason| VersionError::invalid(SCHEME, s, reason);
        if let Some(rest) = s.strip_prefix("go") {
            return parse_toolchain(rest).map_err(bad);
        }
        parse_module(s.strip_prefix('v').unwrap_or(s)).map_err(bad)
    }

    /// True for a version with a prerelease (including every pseudo-version).
    pub fn is_prerelease(&self) -> bool {
        !self.prerelease.is_empty()
    }

    /// The build metadata after `+` (for example `incompatible`), which does not affect
    /// the order.
    pub fn build(&self) -> Option<&str> {
        self.build.as_deref()
    }
}

/// A leading decimal number without an unnecessary leading zero (x/mod `parseInt`,
/// gover `cutInt`): returns the number and the rest.
fn cut_int(s: &str) -> Option<(&str, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || (n > 1 && s.starts_with('0')) {
        return None;
    }
    Some(s.split_at(n))
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// x/mod `parse`, after the `v`.
fn parse_module(s: &str) -> Result<GoVersion, &'static str> {
    let (major, rest) = cut_int(s).ok_or("major version is not a number without leading zeros")?;
    let mut v = GoVersion {
        major: major.to_string(),
        minor: "0".to_string(),
        patch: "0".to_string(),
        prerelease: Vec::new(),
        build: None,
    };
    // Shorthands `v1` and `v1.2` end right after their last number.
    let Some(rest) = non_empty(rest) else {
        return Ok(v);
    };
    let rest = rest
        .strip_prefix('.')
        .ok_or("expected '.' after the major version")?;
    let (minor, rest) =
        cut_int(rest).ok_or("minor version is not a number without leading zeros")?;
    v.minor = minor.to_string();
    let Some(rest) = non_empty(rest) else {
        return Ok(v);
    };
    let rest = rest
        .strip_prefix('.')
        .ok_or("expected '.' after the minor version")?;
    let (patch, mut rest) =
        cut_int(rest).ok_or("patch version is not a number without leading zeros")?;
    v.patch = patch.to_string();
    if let Some(pre) = rest.strip_prefix('-') {
        let end = pre.find('+').unwrap_or(pre.len());
        for id in pre[..end].split('.') {
            if id.is_empty() {
                return Err("empty prerelease identifier");
            }
            if !id.bytes().all(is_ident_char) {
                return Err("prerelease identifiers take only [0-9A-Za-z-]");
            }
            if id.bytes().all(|b| b.is_ascii_digit()) {
                if id.len() > 1 && id.starts_with('0') {
                    return Err("numeric prerelease identifier with a leading zero");
                }
                v.prerelease.push(Ident::Num(id.to_string()));
            } else {
                v.prerelease.push(Ident::Alpha(id.to_string()));
            }
        }
        rest = &pre[end..];
    }
    if let Some(build) = rest.strip_prefix('+') {
        if build
            .split('.')
            .any(|id| id.is_empty() || !id.bytes().all(is_ident_char))
        {
            return Err("build identifiers are non-empty runs of [0-9A-Za-z-]");
        }
        v.build = Some(build.to_string());
        rest = "";
    }
    if !rest.is_empty() {
        return Err("unexpected characters after the version");
    }
    Ok(v)
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// gover `Parse` (after the `go`), mapped onto vuln.go.dev's semver form.
fn parse_toolchain(s: &str) -> Result<GoVersion, &'static str> {
    let (major, rest) =
        cut_int(s).ok_or("Go major version is not a number without leading zeros")?;
    let mut v = GoVersion {
        major: major.to_string(),
        minor: "0".to_string(),
        patch: "0".to_string(),
        prerelease: Vec::new(),
        build: None,
    };
    let Some(rest) = non_empty(rest) else {
        // `go1` is Go 1.0.0.
        return Ok(v);
    };
    let rest = rest
        .strip_prefix('.')
        .ok_or("expected '.' after the Go major version")?;
    let (minor, rest) =
        cut_int(rest).ok_or("Go minor version is not a number without leading zeros")?;
    v.minor = minor.to_string();
    let rest = match rest.strip_prefix('.') {
        Some(p) => {
            let (patch, rest) =
                cut_int(p).ok_or("Go patch version is not a number without leading zeros")?;
            v.patch = patch.to_string();
            rest
        }
        None if rest.is_empty() => {
            // From Go 1.21 on, `go1.21` is the language version, below `go1.21rc1`;
            // before, `go1.20` named the release itself (= `1.20.0`).
            // (gover applies the cut-off to the minor number alone.)
            if cmp_digits(&v.minor, "21") != Ordering::Less {
                v.prerelease.push(Ident::Num("0".to_string()));
            }
            return Ok(v);
        }
        None => rest,
    };
    if rest.is_empty() {
        return Ok(v);
    }
    // Prerelease: a run of lowercase letters (alpha, beta, rc), then an optional number.
    let kind_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
    let (kind, pre) = rest.split_at(kind_len);
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err("Go prerelease kind must be lowercase letters (alpha, beta, rc)");
    }
    v.prerelease.push(Ident::Alpha(kind.to_string()));
    if !pre.is_empty() {
        let (n, rest) = cut_int(pre).ok_or("Go prerelease number has a leading zero")?;
        if !rest.is_empty() {
            return Err("unexpected characters after the Go prerelease number");
        }
        v.prerelease.push(Ident::Num(n.to_string()));
    }
    Ok(v)
}

impl Ord for GoVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(&self.major, &other.major)
            .then_with(|| cmp_digits(&self.minor, &other.minor))
            .then_with(|| cmp_digits(&self.patch, &other.patch))
            .then_with(
                || match (self.prerelease.is_empty(), other.prerelease.is_empty()) {
                    (true, true) => Ordering::Equal,
                    // A prerelease sorts before the release.
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    // Slice order is identifier by identifier, then the longer list wins.
                    (false, false) => self.prerelease.cmp(&other.prerelease),
                },
            )
    }
}

impl PartialOrd for GoVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for GoVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for GoVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        GoVersion::parse(a)
            .expect(a)
            .cmp(&GoVersion::parse(b).expect(b))
    }

    #[test]
    fn module_versions() {
        assert_eq!(c("v1.0.0", "v1.0.0+incompatible"), Ordering::Equal);
        assert_eq!(c("v2.0.0+incompatible", "v1.9.9"), Ordering::Greater);
        assert_eq!(c("v1.2", "v1.2.0"), Ordering::Equal);
        assert_eq!(c("v1", "v1.0.0"), Ordering::Equal);
        assert_eq!(c("v1.10.0", "v1.9.0"), Ordering::Greater);
        assert_eq!(c("v1.0.0-beta.2", "v1.0.0-beta.11"), Ordering::Less);
        assert_eq!(c("1.2.3", "v1.2.3"), Ordering::Equal);
        assert_eq!(
            c("v1.2.4-0.20230101000000-abcdef123456", "v1.2.3"),
            Ordering::Greater
        );
        assert_eq!(
            c("v1.2.4-0.20230101000000-abcdef123456", "v1.2.4-pre"),
            Ordering::Less
        );
        assert_eq!(
            c("v0.0.0", "v0.0.0-20200101000000-000000000000"),
            Ordering::Greater
        );
        assert_eq!(
            c("v99999999999999999999.0.0", "v99999999999999999998.9.9"),
            Ordering::Greater
        );
        assert!(
            GoVersion::parse("v2.0.0+incompatible")
                .expect("valid")
                .build()
                == Some("incompatible")
        );
    }

    #[test]
    fn module_refusals() {
        for s in [
            "v",
            "v01.0.0",
            "v1.0.0-01",
            "v1.2-pre",
            "v1.0.0-",
            "v1.0.0-a..b",
            "v1.0.0+",
            "v1.0.0+a+b",
            "v1.0.0 ",
            "V1.0.0",
            "v1.0.0-é",
            "vv1.0.0",
            "v1.0.0.0",
        ] {
            assert!(GoVersion::parse(s).is_err(), "{s:?} should be refused");
        }
    }

    #[test]
    fn toolchain_versions_follow_gover() {
        // Cases from Go's internal/gover tests, mapped to go-prefixed spellings.
        assert_eq!(c("go1", "go1.1"), Ordering::Less);
        assert_eq!(c("go1.5", "go1.10"), Ordering::Less);
        assert_eq!(c("go1.6", "go1.6.1"), Ordering::Less);
        assert_eq!(c("go1.19", "go1.19.0"), Ordering::Equal);
        assert_eq!(c("go1.19rc1", "go1.19"), Ordering::Less);
        assert_eq!(c("go1.20", "go1.20.0"), Ordering::Equal);
        assert_eq!(c("go1.21", "go1.21.0"), Ordering::Less);
        assert_eq!(c("go1.21", "go1.21rc1"), Ordering::Less);
        assert_eq!(c("go1.21rc1", "go1.21.0"), Ordering::Less);
        assert_eq!(c("go1.19alpha3", "go1.19beta2"), Ordering::Less);
        assert_eq!(c("go1.19beta2", "go1.19rc1"), Ordering::Less);
        assert_eq!(c("go1.19rc1", "go1.19rc2"), Ordering::Less);
        assert_eq!(c("go1.21.3rc1", "go1.21.3"), Ordering::Less);
        assert_eq!(
            c("go1.99999999999999998", "go1.99999999999999999"),
            Ordering::Less
        );
        // Against vuln.go.dev's semver spelling of the standard library.
        assert_eq!(c("go1.21.3", "1.21.4"), Ordering::Less);
        assert_eq!(c("go1.21rc2", "1.21.0-rc.2"), Ordering::Equal);
        assert_eq!(c("go1.21", "1.21.0-0"), Ordering::Equal);
        for s in [
            "go",
            "go1.",
            "go01",
            "go1.21RC1",
            "go1.21rc01",
            "go1.21rc1x",
            "go1.21-rc.1",
        ] {
            assert!(GoVersion::parse(s).is_err(), "{s:?} should be refused");
        }
    }
}
