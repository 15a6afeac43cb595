//! RubyGems version ordering, as `Gem::Version` (rubygems 3.3.15, `rubygems/version.rb`).
//!
//! Grammar (`ANCHORED_VERSION_PATTERN`): surrounding ASCII whitespace, then
//! `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`. Every `-` then becomes
//! `.pre.`, and the version is cut into segments: runs of digits (numbers) and runs of
//! ASCII letters (strings, case kept); dots only separate.
//!
//! Ordering (`<=>` on `canonical_segments`): the segments up to the first string (the
//! release part) and the rest (the prerelease part) each lose their trailing zeros; the
//! two are concatenated and compared segment by segment, a missing segment counting as
//! 0: numbers numerically, strings bytewise, and a string is lower than a number (so any
//! letter makes a prerelease: `1.0.a < 1.0`).
//!
//! `Gem::Version.new("")` (or only whitespace) is version 0; here an empty or blank
//! version is refused like in every other scheme, so a blank SBOM field never silently
//! becomes "0".
use std::cmp::Ordering;

use bundles::model::VersionScheme;

use super::VersionError;
use super::digits::cmp_digits;

const SCHEME: VersionScheme = VersionScheme::RubyGems;

/// One segment: strings sort below numbers.
#[derive(Debug, Clone)]
enum Segment {
    /// A run of ASCII letters, as written.
    Text(String),
    /// A run of digits, leading zeros removed (empty for 0).
    Number(String),
}

const ZERO: Segment = Segment::Number(String::new());

impl Segment {
    fn is_zero(&self) -> bool {
        matches!(self, Segment::Number(d) if d.is_empty())
    }

    fn cmp_segment(&self, other: &Segment) -> Ordering {
        match (self, other) {
            (Segment::Number(a), Segment::Number(b)) => cmp_digits(a, b),
            (Segment::Text(_), Segment::Number(_)) => Ordering::Less,
            (Segment::Number(_), Segment::Text(_)) => Ordering::Greater,
            (Segment::Text(a), Segment::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        }
    }
}

/// A parsed RubyGems version, reduced to its canonical segments.
#[derive(Debug, Clone)]
pub struct GemVersion {
    segments: Vec<Segment>,
}

/// Ruby's `\s` (ASCII only): space, `\t`, `\n`, `\v`, `\f`, `\r`.
fn is_ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

/// `VERSION_PATTERN`, anchored, on an already trimmed string.
fn matches_pattern(t: &str) -> bool {
    let (release, pre) = match t.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (t, None),
    };
    let mut parts = release.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    // After the first `-`, more `-` are allowed inside the dot-separated parts.
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|q| !q.is_empty() && q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    first_ok && rest_ok && pre_ok
}

impl GemVersion {
    /// Parses a version the way `Gem::Version.new(s)` does.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        super::check_len(SCHEME, s)?;
        let t = s.trim_matches(is_ruby_space);
        if t.is_empty() {
            return Err(VersionError::Empty { scheme: SCHEME });
        }
        if !matches_pattern(t) {
            return Err(VersionError::invalid(
                SCHEME,
                s,
                "Malformed version number string",
            ));
        }
        // `gsub("-", ".pre.")` then `scan(/[0-9]+|[a-z]+/i)`.
        let mut segments = Vec::new();
        for (k, piece) in t.split('-').enumerate() {
            if k > 0 {
                segments.push(Segment::Text("pre".to_string()));
            }
            let mut rest = piece;
            while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric()) {
                let tail = rest.get(start..).unwrap_or_default();
                let digit = tail.starts_with(|c: char| c.is_ascii_digit());
                let len = tail
                    .find(|c: char| {
                        if digit {
                            !c.is_ascii_digit()
                        } else {
                            !c.is_ascii_alphabetic()
                        }
                    })
                    .unwrap_or(tail.len());
                let run = tail.get(..len).unwrap_or_default();
                segments.push(if digit {
                    Segment::Number(run.trim_start_matches('0').to_string())
                } else {
                    Segment::Text(run.to_string())
                });
                rest = tail.get(len..).unwrap_or_default();
            }
        }
        // `canonical_segments`: drop trailing zeros from the release part and from the
        // prerelease part separately.
        let split = segments
            .iter()
            .position(|s| matches!(s, Segment::Text(_)))
            .unwrap_or(segments.len());
        let mut pre = segments.split_off(split);
        while segments.last().is_some_and(Segment::is_zero) {
            segments.pop();
        }
        while pre.last().is_some_and(Segment::is_zero) {
            pre.pop();
        }
        segments.append(&mut pre);
        Ok(GemVersion { segments })
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.segments, &other.segments);
        for i in 0..a.len().max(b.len()) {
            let o = a
                .get(i)
                .unwrap_or(&ZERO)
                .cmp_segment(b.get(i).unwrap_or(&ZERO));
            if o.is_ne() {
                return o;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for GemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for GemVersion {}

/// First parts of the platforms RubyGems names (`Gem::Platform`: cpu, then os): what
/// follows the first `-` of a lock-file version when it is a platform and not a
/// prerelease.
const PLATFORM_STARTS: &[&str] = &[
    "x86_64",
    "x86",
    "x64",
    "i386",
    "i486",
    "i586",
    "i686",
    "amd64",
    "arm64",
    "arm",
    "aarch64",
    "armv7",
    "armv6",
    "universal",
    "java",
    "jruby",
    "dalvik",
    "mswin",
    "mswin32",
    "mswin64",
    "mingw",
    "mingw32",
    "x64-mingw",
    "powerpc",
    "ppc",
    "ppc64",
    "ppc64le",
    "s390x",
    "sparc",
    "riscv64",
    "darwin",
    "linux",
];

/// The version part of `1.12.5-x86_64-linux` (a gem built for a platform, as Bundler
/// writes it in `Gemfile.lock` and Syft in the purl): the gem's version is `1.12.5`, its
/// platform `x86_64-linux`. Anything else is returned unchanged, so `1.0.0-rc1` (a
/// prerelease, which `Gem::Version` reads as `1.0.0.pre.rc1`) keeps its meaning.
pub fn without_platform(s: &str) -> &str {
    let Some((version, rest)) = s.split_once('-') else {
        return s;
    };
    let first = rest.split(['-', '.']).next().unwrap_or("");
    let platform = PLATFORM_STARTS
        .iter()
        .any(|p| first.eq_ignore_ascii_case(p) || rest.starts_with(&format!("{p}-")));
    if platform && !version.is_empty() {
        version
    } else {
        s
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn lock_file_platform_suffixes_are_not_part_of_the_version() {
        for (written, version) in [
            ("1.12.5-x86_64-linux", "1.12.5"),
            ("1.13.10-x86_64-linux-musl", "1.13.10"),
            ("1.13.0-java", "1.13.0"),
            ("1.15.4-arm64-darwin", "1.15.4"),
            ("1.11.1-x64-mingw32", "1.11.1"),
            ("1.16.0-aarch64-linux-gnu", "1.16.0"),
            ("2.7.0-universal-darwin-20", "2.7.0"),
            ("1.0.0-rc1", "1.0.0-rc1"),
            ("1.0.0-beta.2", "1.0.0-beta.2"),
            ("1.0.0", "1.0.0"),
            ("-x86_64-linux", "-x86_64-linux"),
        ] {
            assert_eq!(without_platform(written), version, "{written}");
        }
    }
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        GemVersion::parse(a)
            .expect(a)
            .cmp(&GemVersion::parse(b).expect(b))
    }

    #[test]
    fn prereleases_sort_below_releases() {
        let chain = [
            "1.0.0.a",
            "1.0.0.b1",
            "1.0.0.pre",
            "1.0.0.pre.2",
            "1.0.0.pre.10",
            "1.0.0.rc1",
            "1.0.0",
            "1.0.0.1",
            "1.9",
            "1.10",
        ];
        for w in chain.windows(2) {
            assert_eq!(c(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(c(w[1], w[0]), Ordering::Greater, "{} > {}", w[1], w[0]);
        }
        // The rack advisory in the samples depends on this one.
        assert_eq!(c("2.2.8", "2.2.8.1"), Ordering::Less);
    }

    #[test]
    fn equal_spellings() {
        for (a, b) in [
            ("1.0", "1.0.0"),
            ("1.0.0-rc1", "1.0.0.pre.rc1"),
            ("2.0.0.beta.1", "2.0.0.beta1"),
            ("1.0.0a", "1.0.0.a"),
            ("1.0.a", "1.a"),
            ("1.a.0", "1.a"),
            (" 1.0\t", "1"),
            ("01.002", "1.2"),
        ] {
            assert_eq!(c(a, b), Ordering::Equal, "{a} == {b}");
        }
        // Case is kept: upper case sorts first (bytewise).
        assert_eq!(c("1.0.A", "1.0.a"), Ordering::Less);
    }

    #[test]
    fn refuses_what_rubygems_refuses() {
        for s in [
            "1..0", "1.0-", "a", ".1", "1.", "1.0_1", "1.0+x", "v1.0", "1 0", "   ", "1.0é",
        ] {
            assert!(GemVersion::parse(s).is_err(), "{s}");
        }
        for s in ["1.0-rc-1", "1.0-a.b-c", "1.0.0.a1b2"] {
            assert!(GemVersion::parse(s).is_ok(), "{s}");
        }
    }
}
