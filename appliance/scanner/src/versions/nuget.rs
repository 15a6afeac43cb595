//! NuGet version ordering, as NuGet.Versioning's `NuGetVersion.TryParse` and
//! `VersionComparer.Default` (NuGet/NuGet.Client, `src/NuGet.Core/NuGet.Versioning`:
//! `NuGetVersionFactory.cs`, `SemanticVersionFactory.cs`, `VersionComparer.cs`).
//!
//! Grammar: surrounding whitespace is trimmed; the first `-` or `+` ends the numeric part;
//! after a `-`, release labels run to the first `+`; the rest is build metadata.
//!
//! - Numeric part: one to four sections split on `.`, each only ASCII digits (leading
//!   zeros allowed). NuGet's section parser accepts an *empty* section as 0 (`1.` is
//!   `1.0.0.0`, `1..2` is `1.0.2.0`), and so does this one. Missing sections are 0.
//! - Release labels: split on `.`, each non-empty, of `[0-9A-Za-z-]`, and not a
//!   multi-digit number with a leading zero (`01`).
//! - Build metadata: split on `.`, each part non-empty, of `[0-9A-Za-z-]`.
//!
//! Ordering: major, minor, patch, revision numerically; then a version without release
//! labels is above one with labels; labels compare one by one (a label is numeric when
//! .NET `int.TryParse` accepts it: an optional `-` and digits within `Int32`; numeric
//! labels compare as numbers and sort below the others; the others compare ordinally
//! ignoring case); with an equal prefix, more labels sort higher. Build metadata is
//! ignored.
//!
//! One deliberate difference: NuGet keeps each section in an `Int32` (it wraps or throws
//! above 2147483647, and nuget.org refuses such versions); here sections of any length
//! compare numerically as digit strings, as osv-scalibr's NuGet comparator does (its
//! fixture has `999999999999999999999999999991 < 999999999999999999999999999999`).
use std::cmp::Ordering;

use bundles::model::VersionScheme;

use super::VersionError;
use super::digits::cmp_digits;

const SCHEME: VersionScheme = VersionScheme::NuGet;

/// One release label.
#[derive(Debug, Clone)]
enum Label {
    /// `int.TryParse` succeeds: compared as a number, below every text label.
    Numeric(i64),
    /// Anything else: compared ordinally, ignoring ASCII case (stored upper-cased, as
    /// .NET's `OrdinalIgnoreCase` folds to upper case).
    Text(String),
}

impl Label {
    fn new(s: &str) -> Label {
        let digits = s.strip_prefix('-').unwrap_or(s);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = s.parse::<i32>()
        {
            return Label::Numeric(i64::from(n));
        }
        Label::Text(s.to_ascii_uppercase())
    }
}

impl Ord for Label {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Label::Numeric(a), Label::Numeric(b)) => a.cmp(b),
            (Label::Numeric(_), Label::Text(_)) => Ordering::Less,
            (Label::Text(_), Label::Numeric(_)) => Ordering::Greater,
            (Label::Text(a), Label::Text(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Label {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Label {}

/// A parsed NuGet version (build metadata dropped: it never affects the order).
#[derive(Debug, Clone)]
pub struct NuGetVersion {
    /// Major, minor, patch, revision: digits without leading zeros (empty = 0).
    numbers: [String; 4],
    /// Release labels; empty for a release.
    labels: Vec<Label>,
}

/// `IsLetterOrDigitOrDash`.
fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// `IsValidPart`: non-empty, `[0-9A-Za-z-]`, and (for release labels) no leading zero on
/// an all-digit part longer than one character.
fn is_valid_part(s: &str, allow_leading_zeros: bool) -> bool {
    if s.is_empty() || !s.bytes().all(is_label_char) {
        return false;
    }
    let leading_zero_number =
        s.len() > 1 && s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit());
    allow_leading_zeros || !leading_zero_number
}

impl NuGetVersion {
    /// Parses a version the way `NuGetVersion.TryParse(s)` does.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        super::check_len(SCHEME, s)?;
        let bad = |reason| VersionError::invalid(SCHEME, s, reason);
        let t = s.trim();
        if t.is_empty() {
            return Err(VersionError::Empty { scheme: SCHEME });
        }
        // `ParseSections`: the numeric part ends at the first `-` or `+`; labels run from
        // a `-` to the next `+`.
        let (version, labels, metadata) = match t.find(['-', '+']) {
            None => (t, None, None),
            Some(i) => {
                let (v, rest) = t.split_at(i);
                if let Some(meta) = rest.strip_prefix('+') {
                    (v, None, Some(meta))
                } else {
                    let rest = rest.get(1..).unwrap_or_default();
                    match rest.split_once('+') {
                        Some((l, m)) => (v, Some(l), Some(m)),
                        None => (v, Some(rest), None),
                    }
                }
            }
        };
        if version.is_empty() {
            return Err(bad("no version number"));
        }
        let sections: Vec<&str> = version.split('.').collect();
        if sections.len() > 4 {
            return Err(bad("more than four version numbers"));
        }
        if !sections
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad("version numbers must be digits"));
        }
        let mut numbers: [String; 4] = Default::default();
        for (slot, p) in numbers.iter_mut().zip(&sections) {
            *slot = p.trim_start_matches('0').to_string();
        }
        let labels = match labels {
            None => Vec::new(),
            Some(l) => {
                let parts: Vec<&str> = l.split('.').collect();
                if !parts.iter().all(|p| is_valid_part(p, false)) {
                    return Err(bad("invalid release label"));
                }
                parts.into_iter().map(Label::new).collect()
            }
        };
        if let Some(m) = metadata
            && !m.split('.').all(|p| is_valid_part(p, true))
        {
            return Err(bad("invalid build metadata"));
        }
        Ok(NuGetVersion { numbers, labels })
    }
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        for (a, b) in self.numbers.iter().zip(&other.numbers) {
            match cmp_digits(a, b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match (self.labels.is_empty(), other.labels.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.labels.cmp(&other.labels),
        }
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for NuGetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NuGetVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        NuGetVersion::parse(a)
            .expect(a)
            .cmp(&NuGetVersion::parse(b).expect(b))
    }

    #[test]
    fn order() {
        let chain = [
            "1.0.0-alpha",
            "1.0.0-ALPHA.1",
            "1.0.0-alpha.2",
            "1.0.0-alpha.10",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.0.1-alpha",
            "1.0.0.1",
            "12.0.3",
            "13.0.1",
        ];
        for w in chain.windows(2) {
            assert_eq!(c(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(c(w[1], w[0]), Ordering::Greater, "{} > {}", w[1], w[0]);
        }
    }

    #[test]
    fn equal_spellings() {
        for (a, b) in [
            ("1.0", "1.0.0.0"),
            ("1", "1.0.0"),
            ("1.0.01", "1.0.1.0"),
            ("1.0.0+build.5", "1.0.0"),
            ("1.0.0-BETA", "1.0.0-beta"),
            (" 1.0.0 ", "1.0.0"),
            ("1.", "1.0"),
            ("1..2", "1.0.2"),
        ] {
            assert_eq!(c(a, b), Ordering::Equal, "{a} == {b}");
        }
    }

    #[test]
    fn numeric_labels_follow_int_try_parse() {
        // `-1` is a valid label and .NET reads it as the number -1.
        assert_eq!(c("1.0.0--1", "1.0.0-0"), Ordering::Less);
        // Above Int32 a label is text, compared ordinally.
        assert_eq!(
            c("1.0.0-99999999999", "1.0.0-100000000000"),
            Ordering::Greater
        );
        assert_eq!(c("1.0.0-5", "1.0.0-99999999999"), Ordering::Less);
    }

    #[test]
    fn refuses_what_nuget_refuses() {
        for s in [
            "v1.0",
            "1.2.3.4.5",
            "1.0-",
            "1.0+",
            "1.0-a..b",
            "1.0-01",
            "1.0-a_b",
            "-1",
            "+1",
            "1.0.x",
            "1. 0",
            "1.0-a+",
            "1.0+a..b",
            "a",
        ] {
            assert!(NuGetVersion::parse(s).is_err(), "{s}");
        }
        for s in ["1.0-0", "1.0-0a", "1.0+01", "1.0-a-b.c+x-y.z"] {
            assert!(NuGetVersion::parse(s).is_ok(), "{s}");
        }
    }
}
