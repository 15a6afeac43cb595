//! Composer (Packagist) version ordering, as composer/semver 3.3.2:
//! `VersionParser::normalize()` on each side, then `Comparator` (PHP `version_compare`
//! with Composer's dev-branch rules).
//!
//! Normalisation (`normalize`): trim; drop a `@stability` flag and build metadata
//! (`+…`); `master`/`trunk`/`default` and anything starting with `dev-` are branches
//! (`dev-name`); otherwise the classical form `v?N[.N[.N[.N]]]` with an optional
//! stability modifier (`stable|beta|b|RC|alpha|a|patch|pl|p` plus numbers, then an
//! optional `dev`) becomes `N.N.N.N[-stabilityN][-dev]`; a date form
//! (`YYYY[.:-]MM…`) keeps its numbers joined by dots; `X.Y.x-dev` style numeric branches
//! become `X.Y.9999999.9999999-dev`. Anything else is refused, as Composer throws.
//!
//! Comparison: PHP's `version_compare` on the normalised strings. The string is
//! canonicalised (`-`, `_`, `+` and other non-alphanumerics become `.`, and a `.` is put
//! between digits and letters), then parts compare left to right: numbers numerically
//! (`strtol`, saturating at `i64::MAX`), words by their special-form rank
//! (`dev < alpha = a < beta = b < RC = rc < number < pl = p`, any other word below
//! `dev`), and a number against a word by the number's rank; when one side runs out,
//! the other side's next part decides (a number: that side is greater; a word: by its
//! rank against a number's).
//!
//! Composer's `Comparator` does not order two *different* dev branches (`dev-a < dev-b`
//! and `dev-b < dev-a` are both false, and they are not equal); here they fall back to
//! `version_compare`, then byte order, so that [`Ord`] stays total (see
//! `tests/data/vercmp/EXCEPTIONS.md` and `docs/version-ordering.md`). Non-ASCII input
//! is refused.
use std::cmp::Ordering;
use std::sync::LazyLock;

use bundles::model::VersionScheme;
use regex::Regex;

use super::VersionError;
use super::digits::cmp_digits;

const SCHEME: VersionScheme = VersionScheme::Composer;

/// Composer's `$modifierRegex`.
const MODIFIER: &str =
    r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?";

/// The patterns of `VersionParser::normalize` (PCRE with `i`; the input is ASCII, so
/// Unicode case folding cannot match more than PCRE does).
struct Patterns {
    alias: Regex,
    stability_flag: Regex,
    metadata: Regex,
    classical: Regex,
    datetime: Regex,
    dev_suffix: Regex,
    numeric_branch: Regex,
}

static PATTERNS: LazyLock<Option<Patterns>> = LazyLock::new(|| {
    Some(Patterns {
        alias: Regex::new(r"^([^,\s]+) +as +([^,\s]+)$").ok()?,
        stability_flag: Regex::new(r"(?i)@(?:stable|RC|beta|alpha|dev)$").ok()?,
        metadata: Regex::new(r"^([^,\s+]+)\+[^\s]+$").ok()?,
        classical: Regex::new(&format!(
            r"(?i)^v?(\d{{1,5}})(\.\d+)?(\.\d+)?(\.\d+)?{MODIFIER}$"
        ))
        .ok()?,
        datetime: Regex::new(&format!(
            r"(?i)^v?(\d{{4}}(?:[.:-]?\d{{2}}){{1,6}}(?:[.:-]?\d{{1,3}})?){MODIFIER}$"
        ))
        .ok()?,
        dev_suffix: Regex::new(r"(?i)^(.*?)[.-]?dev$").ok()?,
        numeric_branch: Regex::new(
            r"(?i)^v?(\d+)(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?$",
        )
        .ok()?,
    })
});

/// `expandStability`.
fn expand_stability(s: &str) -> String {
    let s = s.to_ascii_lowercase();
    match s.as_str() {
        "a" => "alpha".into(),
        "b" => "beta".into(),
        "p" | "pl" => "patch".into(),
        "rc" => "RC".into(),
        _ => s,
    }
}

/// PHP `trim()`'s default characters.
fn is_php_trim(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\0' | '\u{0b}')
}

/// `VersionParser::normalize`; `None` where Composer throws.
fn normalize(p: &Patterns, input: &str) -> Option<String> {
    let mut v = input.trim_matches(is_php_trim).to_string();
    if let Some(m) = p.alias.captures(&v).and_then(|c| c.get(1)) {
        v = m.as_str().to_string();
    }
    if let Some(m) = p.stability_flag.find(&v) {
        v.truncate(m.start());
    }
    if matches!(v.as_str(), "master" | "trunk" | "default") {
        v = format!("dev-{v}");
    }
    if v.get(..4).is_some_and(|h| h.eq_ignore_ascii_case("dev-")) {
        return Some(format!("dev-{}", v.get(4..).unwrap_or_default()));
    }
    if let Some(m) = p.metadata.captures(&v).and_then(|c| c.get(1)) {
        v = m.as_str().to_string();
    }

    let group = |c: &regex::Captures<'_>, i: usize| c.get(i).map(|m| m.as_str().to_string());
    let (mut out, caps, index) = if let Some(c) = p.classical.captures(&v) {
        let mut out = group(&c, 1).unwrap_or_default();
        for i in 2..=4 {
            out.push_str(&group(&c, i).unwrap_or_else(|| ".0".into()));
        }
        (out, c, 5)
    } else if let Some(c) = p.datetime.captures(&v) {
        let out = group(&c, 1)
            .unwrap_or_default()
            .chars()
            .map(|ch| if ch.is_ascii_digit() { ch } else { '.' })
            .collect();
        (out, c, 2)
    } else {
        // A numeric dev branch (`1.0.x-dev`); a named one must be written `dev-name`.
        let m = p
            .dev_suffix
            .captures(&v)?
            .get(1)?
            .as_str()
            .trim_matches(is_php_trim);
        let c = p.numeric_branch.captures(m)?;
        let mut out = String::new();
        for i in 1..5 {
            match c.get(i) {
                Some(g) => out.push_str(&g.as_str().replace(['*', 'X'], "x")),
                None => out.push_str(".x"),
            }
        }
        return Some(out.replace('x', "9999999") + "-dev");
    };
    if let Some(stability) = group(&caps, index).filter(|s| !s.is_empty()) {
        if stability == "stable" {
            return Some(out);
        }
        out.push('-');
        out.push_str(&expand_stability(&stability));
        if let Some(n) = group(&caps, index + 1).filter(|s| !s.is_empty()) {
            out.push_str(n.trim_start_matches(['.', '-']));
        }
    }
    if group(&caps, index + 2).is_some_and(|s| !s.is_empty()) {
        out.push_str("-dev");
    }
    Some(out)
}

/// `php_canonicalize_version`.
fn canonicalize(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = String::with_capacity(b.len() * 2);
    let Some(&first) = b.first() else {
        return out;
    };
    out.push(char::from(first));
    let isdig = |c: u8| c.is_ascii_digit();
    let isndig = |c: u8| !c.is_ascii_digit() && c != b'.';
    let mut lp = first;
    for &c in b.iter().skip(1) {
        let last_dot = out.ends_with('.');
        if matches!(c, b'-' | b'_' | b'+') {
            if !last_dot {
                out.push('.');
            }
        } else if (isndig(lp) && isdig(c)) || (isdig(lp) && isndig(c)) {
            if !last_dot {
                out.push('.');
            }
            out.push(char::from(c));
        } else if !c.is_ascii_alphanumeric() {
            if !last_dot {
                out.push('.');
            }
        } else {
            out.push(char::from(c));
        }
        lp = c;
    }
    out
}

/// `compare_special_version_forms`: the rank of a word part (prefix match, in order).
fn special_rank(form: &str) -> i8 {
    const FORMS: [(&str, i8); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| form.starts_with(name))
        .map_or(-1, |(_, r)| *r)
}

const NUMBER_RANK: i8 = 4;
const LONG_MAX: &str = "9223372036854775807";

fn starts_digit(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
}

/// `strtol` of a digit part, saturating at `LONG_MAX`, compared as digit strings.
fn strtol_cmp(a: &str, b: &str) -> Ordering {
    let clamp = |s: &'_ str| -> String {
        if cmp_digits(s, LONG_MAX) == Ordering::Greater {
            LONG_MAX.to_string()
        } else {
            s.to_string()
        }
    };
    cmp_digits(&clamp(a), &clamp(b))
}

/// `php_version_compare` over canonical parts.
fn php_compare(a: &[String], b: &[String]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let (mut n1, mut n2) = (true, true);
    let mut compare = Ordering::Equal;
    let nonempty = |p: &[String], k: usize| p.get(k).is_some_and(|s| !s.is_empty());
    while nonempty(a, i) && nonempty(b, j) && n1 && n2 {
        n1 = i + 1 < a.len();
        n2 = j + 1 < b.len();
        let (p1, p2) = (
            a.get(i).map_or("", String::as_str),
            b.get(j).map_or("", String::as_str),
        );
        compare = match (starts_digit(p1), starts_digit(p2)) {
            (true, true) => strtol_cmp(p1, p2),
            (false, false) => special_rank(p1).cmp(&special_rank(p2)),
            (true, false) => NUMBER_RANK.cmp(&special_rank(p2)),
            (false, true) => special_rank(p1).cmp(&NUMBER_RANK),
        };
        if compare.is_ne() {
            break;
        }
        if n1 {
            i += 1;
        }
        if n2 {
            j += 1;
        }
    }
    if compare.is_eq() {
        if n1 {
            compare = rest_against_number(a.get(i..).unwrap_or_default());
        } else if n2 {
            compare = rest_against_number(b.get(j..).unwrap_or_default()).reverse();
        }
    }
    compare
}

/// The tail of a longer version against `"#N#"`: a number makes it greater; a word
/// compares by rank with a number's; an empty tail (a trailing `.`) is lower.
fn rest_against_number(rest: &[String]) -> Ordering {
    match rest.first().map(String::as_str) {
        None | Some("") => Ordering::Less,
        Some(p) if starts_digit(p) => Ordering::Greater,
        Some(p) => special_rank(p).cmp(&NUMBER_RANK),
    }
}

/// A parsed Composer version: its normalised form, as canonical `version_compare` parts.
#[derive(Debug, Clone)]
pub struct ComposerVersion {
    normalized: String,
    parts: Vec<String>,
}

impl ComposerVersion {
    /// Normalises a version the way `VersionParser::normalize(s)` does.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        super::check_len(SCHEME, s)?;
        if !s.is_ascii() {
            return Err(VersionError::invalid(SCHEME, s, "non-ASCII character"));
        }
        let Some(patterns) = PATTERNS.as_ref() else {
            return Err(VersionError::invalid(
                SCHEME,
                s,
                "version patterns unavailable",
            ));
        };
        let normalized = normalize(patterns, s)
            .ok_or_else(|| VersionError::invalid(SCHEME, s, "Invalid version string"))?;
        if normalized.is_empty() {
            return Err(VersionError::Empty { scheme: SCHEME });
        }
        let parts = canonicalize(&normalized)
            .split('.')
            .map(str::to_string)
            .collect();
        Ok(ComposerVersion { normalized, parts })
    }

    /// The normalised form (`1.0.0.0-beta1`, `dev-main`).
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    fn is_branch(&self) -> bool {
        self.normalized.starts_with("dev-")
    }
}

impl Ord for ComposerVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.is_branch() && other.is_branch() {
            if self.normalized == other.normalized {
                return Ordering::Equal;
            }
            // Composer leaves two different branches unordered; keep Ord total.
            return php_compare(&self.parts, &other.parts)
                .then_with(|| self.normalized.cmp(&other.normalized));
        }
        php_compare(&self.parts, &other.parts)
    }
}

impl PartialOrd for ComposerVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ComposerVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ComposerVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        ComposerVersion::parse(s).expect(s).normalized().to_string()
    }

    fn c(a: &str, b: &str) -> Ordering {
        ComposerVersion::parse(a)
            .expect(a)
            .cmp(&ComposerVersion::parse(b).expect(b))
    }

    #[test]
    fn normalizes_like_composer() {
        for (input, want) in [
            ("1.0", "1.0.0.0"),
            ("v2.0", "2.0.0.0"),
            ("1.0.0-beta1", "1.0.0.0-beta1"),
            ("1.0-RC.1", "1.0.0.0-RC1"),
            ("1.0.0-p1", "1.0.0.0-patch1"),
            ("1.0.0-stable", "1.0.0.0"),
            ("1.0-dev", "1.0.0.0-dev"),
            ("1.0.x-dev", "1.0.9999999.9999999-dev"),
            ("dev-main", "dev-main"),
            ("master", "dev-master"),
            ("1.0+build.5", "1.0.0.0"),
            ("1.0@beta", "1.0.0.0"),
            ("2023-01-01", "2023.01.01"),
        ] {
            assert_eq!(n(input), want, "{input}");
        }
        for bad in ["1.0.0.0.0", "foo", "1.0-foo", "1.0 2.0", "dev", "1.0é"] {
            assert!(ComposerVersion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn order() {
        let chain = [
            "dev-main",
            "1.0.0-dev",
            "1.0.0-alpha",
            "1.0.0-beta1",
            "1.0.0-beta2",
            "1.0.0-RC1",
            "1.0.0-RC10",
            "1.0.0",
            "1.0.0-p1",
            "1.0.0.1",
            "1.0.1",
        ];
        for w in chain.windows(2) {
            assert_eq!(c(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(c(w[1], w[0]), Ordering::Greater, "{} > {}", w[1], w[0]);
        }
        assert_eq!(c("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(c("v2.0", "2.0"), Ordering::Equal);
        assert_eq!(c("dev-a", "dev-a"), Ordering::Equal);
    }
}
