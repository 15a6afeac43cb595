//! SemVer 2.0 precedence (npm, crates.io, Hex, Pub, and every OSV `SEMVER` range).
//!
//! Grammar: `[v]MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`, numbers without leading zeros,
//! identifiers of `[0-9A-Za-z-]`. A leading `v` is accepted because OSV `SEMVER` data and
//! the osv-scalibr fixtures use it; nothing else is loosened (no `1.0`, no `=1.0.0`).
//!
//! Precedence (SemVer §11, node-semver `compare`): MAJOR, MINOR, PATCH numerically; a
//! version with a prerelease is lower than the same version without; prerelease
//! identifiers compare one by one, numeric ones numerically and below alphanumeric ones,
//! alphanumeric ones by ASCII; a longer list wins when one is a prefix of the other.
//! Build metadata is ignored ([`Ord`] is SemVer precedence). Cargo's `semver` crate also
//! orders build metadata; [`SemVer::cmp_cargo`] gives that total order.
use std::cmp::Ordering;

use bundles::model::VersionScheme;

use super::VersionError;
use super::digits::{cmp_digits, is_digits};

const SCHEME: VersionScheme = VersionScheme::Semver;

/// node-semver refuses MAJOR/MINOR/PATCH above `Number.MAX_SAFE_INTEGER`; so do we, so
/// that npm and this code never disagree on which versions exist.
const MAX_SAFE_INTEGER: &str = "9007199254740991";

/// One prerelease identifier. Numeric identifiers sort below alphanumeric ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// All digits, no leading zero (stored as text: any length is fine).
    Numeric(String),
    /// Anything else.
    AlphaNumeric(String),
}

impl Ord for Identifier {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Identifier::Numeric(a), Identifier::Numeric(b)) => cmp_digits(a, b),
            (Identifier::Numeric(_), Identifier::AlphaNumeric(_)) => Ordering::Less,
            (Identifier::AlphaNumeric(_), Identifier::Numeric(_)) => Ordering::Greater,
            (Identifier::AlphaNumeric(a), Identifier::AlphaNumeric(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Identifier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A parsed SemVer 2.0 version.
#[derive(Debug, Clone)]
pub struct SemVer {
    major: String,
    minor: String,
    patch: String,
    pre: Vec<Identifier>,
    build: Vec<String>,
}

impl SemVer {
    /// Parses `[v]MAJOR.MINOR.PATCH[-PRE][+BUILD]`.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        super::check_len(SCHEME, s)?;
        let bad = |reason| VersionError::invalid(SCHEME, s, reason);
        let body = s.strip_prefix('v').unwrap_or(s);
        let (rest, build) = match body.split_once('+') {
            Some((r, b)) => (r, Some(b)),
            None => (body, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        let mut nums = core.split('.');
        let mut number = |what| -> Result<String, VersionError> {
            let n = nums.next().ok_or_else(|| bad(what))?;
            if !is_digits(n) {
                return Err(bad(what));
            }
            if n.len() > 1 && n.starts_with('0') {
                return Err(bad("numeric part has a leading zero"));
            }
            if cmp_digits(n, MAX_SAFE_INTEGER) == Ordering::Greater {
                return Err(bad("numeric part is larger than 2^53-1"));
            }
            Ok(n.to_string())
        };
        let major = number("MAJOR must be digits")?;
        let minor = number("MINOR must be digits")?;
        let patch = number("PATCH must be digits")?;
        if nums.next().is_some() {
            return Err(bad("more than three numeric parts"));
        }
        let pre = match pre {
            None => Vec::new(),
            Some(p) => p
                .split('.')
                .map(|id| {
                    check_identifier(id).map_err(bad)?;
                    if is_digits(id) {
                        if id.len() > 1 && id.starts_with('0') {
                            return Err(bad("numeric prerelease identifier has a leading zero"));
                        }
                        Ok(Identifier::Numeric(id.to_string()))
                    } else {
                        Ok(Identifier::AlphaNumeric(id.to_string()))
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        let build = match build {
            None => Vec::new(),
            Some(b) => b
                .split('.')
                .map(|id| check_identifier(id).map(|()| id.to_string()).map_err(bad))
                .collect::<Result<_, _>>()?,
        };
        Ok(SemVer {
            major,
            minor,
            patch,
            pre,
            build,
        })
    }

    /// Reads `s` as OSV's scanner does: [`SemVer::parse`], and where that refuses a core
    /// of one or two numbers (`0.1`, `1`, `v2`, `1.0-rc.1`, real GHSA/RustSec/npm bounds),
    /// the same text with the missing parts `0`. Numbers keep every rule of `parse` (no
    /// leading zeros, at most 2^53-1); an empty part (`1.`, `.1`, `1..2`) or a fourth part
    /// is still refused, with `parse`'s reason.
    pub fn read(s: &str) -> Result<Self, VersionError> {
        let strict = match Self::parse(s) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let body = s.strip_prefix('v').unwrap_or(s);
        let (core, rest) = body.split_at(body.find(['-', '+']).unwrap_or(body.len()));
        let parts = core.split('.').count();
        if parts >= 3 || !core.split('.').all(is_digits) {
            return Err(strict);
        }
        let padded = format!("{core}{}{rest}", ".0".repeat(3 - parts));
        Self::parse(&padded).map_err(|_| strict)
    }

    /// True when the version has a prerelease part.
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// Cargo's (`semver` crate 1.x) total order: SemVer precedence, then build metadata
    /// (none < any; identifiers one by one, numeric below alphanumeric, numeric by value
    /// then by length so `1 < 01`, a longer list wins).
    pub fn cmp_cargo(&self, other: &Self) -> Ordering {
        self.cmp(other)
            .then_with(|| cmp_build(&self.build, &other.build))
    }
}

fn check_identifier(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("empty identifier");
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err("identifier has a character outside [0-9A-Za-z-]");
    }
    Ok(())
}

fn cmp_build(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (is_digits(x), is_digits(y)) {
            (true, true) => cmp_digits(x, y).then_with(|| x.len().cmp(&y.len())),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(&self.major, &other.major)
            .then_with(|| cmp_digits(&self.minor, &other.minor))
            .then_with(|| cmp_digits(&self.patch, &other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SemVer {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SemVer {}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> SemVer {
        SemVer::parse(s).expect(s)
    }

    #[test]
    fn spec_example_chain() {
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "10.0.0",
        ];
        for w in chain.windows(2) {
            assert_eq!(p(w[0]).cmp(&p(w[1])), Ordering::Less, "{w:?}");
        }
    }

    #[test]
    fn read_pads_short_cores_as_osv_does_and_nothing_else() {
        let r = |s: &str| SemVer::read(s).map_err(|e| e.to_string());
        for (short, full) in [
            ("0.1", "0.1.0"),
            ("1", "1.0.0"),
            ("v2", "2.0.0"),
            ("v0.3", "0.3.0"),
            ("1.0-rc.1", "1.0.0-rc.1"),
            ("1-alpha", "1.0.0-alpha"),
            ("1.2+build.5", "1.2.0+build.5"),
            ("1.2.3", "1.2.3"),
        ] {
            assert_eq!(r(short).expect(short), p(full), "{short}");
        }
        assert_eq!(
            p("0.1.0").cmp(&SemVer::read("0.1").expect("0.1")),
            Ordering::Equal
        );
        assert!(
            SemVer::parse("0.1").is_err(),
            "parse stays node-semver's reading"
        );
        for garbage in [
            "",
            "v",
            "1.",
            ".1",
            "1..2",
            "01.2",
            "1.02",
            "1.2.3.4",
            "1.2.x",
            "x",
            "1.2-",
            "1.2+",
            "1.2-01",
            "1 .2",
            "=1.2",
            "~1.2",
            "^1",
            "1.2 ",
            "-1",
            "9007199254740992",
        ] {
            assert!(
                SemVer::read(garbage).is_err(),
                "{garbage:?} must stay refused"
            );
        }
        // the refusal keeps parse's reason
        assert_eq!(
            r("01.2").expect_err("leading zero"),
            r("01.2.0")
                .expect_err("leading zero")
                .replace("01.2.0", "01.2")
        );
    }

    #[test]
    fn build_ignored_for_precedence_but_ordered_for_cargo() {
        assert_eq!(p("1.0.0+b").cmp(&p("1.0.0+a")), Ordering::Equal);
        assert_eq!(p("1.0.0+b").cmp_cargo(&p("1.0.0+a")), Ordering::Greater);
        assert_eq!(p("1.0.0").cmp_cargo(&p("1.0.0+a")), Ordering::Less);
        assert_eq!(p("v1.2.3"), p("1.2.3"));
    }

    #[test]
    fn rejects_non_semver() {
        for s in [
            "1.0",
            "01.0.0",
            "1.0.0-01",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-a..b",
            "=1.0.0",
            "1.0.0.0",
            "a.b.c",
            "1.0.0-é",
            "99999999999999999.0.0",
        ] {
            assert!(SemVer::parse(s).is_err(), "{s}");
        }
    }
}
