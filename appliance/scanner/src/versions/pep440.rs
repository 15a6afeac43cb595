//! PEP 440 version ordering (PyPI), as `packaging.version.Version` 26.3.
//!
//! Grammar (packaging's `VERSION_PATTERN`, case-insensitive, surrounding whitespace
//! ignored):
//!
//! ```text
//! [v][N!]N(.N)*[[._-]{a|alpha|b|beta|c|rc|pre|preview}[._-][N]]
//!     [-N | [._-]{post|rev|r}[._-][N]][[._-]dev[._-][N]][+local]
//! local = [a-z0-9]+([._-][a-z0-9]+)*
//! ```
//!
//! packaging compiles this pattern with possessive quantifiers (Python ≥ 3.11.5), so
//! every optional part is taken greedily and never given back: the hand-written parser
//! below walks the string once, left to right, in the same way.
//!
//! Ordering (packaging's `_cmpkey`): epoch, then the release with trailing zeros removed
//! (`1.0 == 1`), then a suffix `(pre_rank, pre_n, post_rank, post_n, dev_rank, dev_n)`
//! where a dev-only release ranks below every pre-release, `a < b < rc < final`, a post
//! release ranks above its base, and a dev release below the same version without it;
//! then the local label (`1.0 < 1.0+anything`), whose segments compare numbers
//! numerically, above strings, and strings lexically (lower-cased).
use std::cmp::Ordering;

use bundles::model::VersionScheme;

use super::VersionError;
use super::digits::cmp_digits;

const SCHEME: VersionScheme = VersionScheme::Pep440;

/// One segment of a local version label (`+ubuntu.1` → `ubuntu`, `1`).
#[derive(Debug, Clone)]
enum LocalSegment {
    /// Letters and digits, lower-cased; sorts below every number.
    Text(String),
    /// All digits, leading zeros removed.
    Number(String),
}

impl Ord for LocalSegment {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (LocalSegment::Number(a), LocalSegment::Number(b)) => cmp_digits(a, b),
            (LocalSegment::Number(_), LocalSegment::Text(_)) => Ordering::Greater,
            (LocalSegment::Text(_), LocalSegment::Number(_)) => Ordering::Less,
            (LocalSegment::Text(a), LocalSegment::Text(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for LocalSegment {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for LocalSegment {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for LocalSegment {}

/// Ranks of the pre-release part, as packaging's `_PRE_RANK`.
const PRE_DEV_ONLY: i8 = -1;
const PRE_A: i8 = 0;
const PRE_B: i8 = 1;
const PRE_RC: i8 = 2;
const PRE_STABLE: i8 = 3;

/// A parsed PEP 440 version, reduced to its comparison key.
#[derive(Debug, Clone)]
pub struct Pep440Version {
    /// Epoch digits, leading zeros removed (`""` is 0).
    epoch: String,
    /// Release numbers, leading zeros removed, trailing zero numbers removed.
    release: Vec<String>,
    pre_rank: i8,
    pre_n: String,
    /// 0 without a post release, 1 with one.
    post_rank: u8,
    post_n: String,
    /// 0 with a dev release, 1 without (a dev release sorts lower).
    dev_rank: u8,
    dev_n: String,
    local: Option<Vec<LocalSegment>>,
}

/// Python's `str.isspace()` (what `\s` matches in packaging's pattern): Unicode
/// whitespace plus the ASCII information separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn is_sep(b: Option<u8>) -> bool {
    matches!(b, Some(b'.' | b'_' | b'-'))
}

/// A left-to-right cursor over the ASCII bytes of the version.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.pos + k).copied()
    }

    /// Length of the digit run starting `k` bytes ahead.
    fn digits_len_at(&self, k: usize) -> usize {
        self.b
            .get(self.pos + k..)
            .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count())
    }

    /// Takes a (possibly empty) digit run and returns it without leading zeros.
    fn take_number(&mut self) -> Option<String> {
        let n = self.digits_len_at(0);
        if n == 0 {
            return None;
        }
        let run = self.b.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(trim_number(run))
    }

    /// Takes an optional separator `[._-]`.
    fn skip_sep(&mut self) {
        if is_sep(self.peek()) {
            self.pos += 1;
        }
    }

    /// Takes the first of `labels` (in the pattern's alternation order) that follows,
    /// ignoring ASCII case.
    fn take_label(&mut self, labels: &[&'static str]) -> Option<&'static str> {
        let rest = self.b.get(self.pos..)?;
        let found = labels.iter().find(|l| {
            rest.get(..l.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(l.as_bytes()))
        })?;
        self.pos += found.len();
        Some(found)
    }
}

fn trim_number(run: &[u8]) -> String {
    // Only ASCII digits reach here, so the lossy conversion never replaces anything.
    String::from_utf8_lossy(run)
        .trim_start_matches('0')
        .to_string()
}

impl Pep440Version {
    /// Parses a version the way `packaging.version.Version(s)` does.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        super::check_len(SCHEME, s)?;
        let bad = |reason| VersionError::invalid(SCHEME, s, reason);
        let t = s.trim_matches(is_py_space);
        if t.is_empty() {
            return Err(VersionError::Empty { scheme: SCHEME });
        }
        // Everything inside the pattern is ASCII-only (`(?a:...)`).
        if !t.is_ascii() {
            return Err(bad("non-ASCII character"));
        }
        let mut c = Cursor {
            b: t.as_bytes(),
            pos: 0,
        };
        if matches!(c.peek(), Some(b'v' | b'V')) {
            c.pos += 1;
        }

        // Epoch: `N!`.
        let mut epoch = String::new();
        let n = c.digits_len_at(0);
        if n > 0 && c.peek_at(n) == Some(b'!') {
            epoch = c.take_number().unwrap_or_default();
            c.pos += 1;
        }

        // Release: `N(.N)*`.
        let mut release = vec![c.take_number().ok_or_else(|| bad("no release number"))?];
        while c.peek() == Some(b'.') && c.digits_len_at(1) > 0 {
            c.pos += 1;
            release.push(c.take_number().unwrap_or_default());
        }
        while release.last().is_some_and(String::is_empty) {
            release.pop();
        }

        // Pre-release: `[._-]label[._-][N]`; a separator not followed by a label is left
        // for the next part.
        let start = c.pos;
        c.skip_sep();
        let pre = match c.take_label(&["alpha", "a", "beta", "b", "preview", "pre", "c", "rc"]) {
            Some(label) => {
                c.skip_sep();
                let rank = match label {
                    "alpha" | "a" => PRE_A,
                    "beta" | "b" => PRE_B,
                    _ => PRE_RC,
                };
                Some((rank, c.take_number().unwrap_or_default()))
            }
            None => {
                c.pos = start;
                None
            }
        };

        // Post release: `-N` or `[._-]label[._-][N]`.
        let start = c.pos;
        let post = if c.peek() == Some(b'-') && c.digits_len_at(1) > 0 {
            c.pos += 1;
            c.take_number()
        } else {
            c.skip_sep();
            if c.take_label(&["post", "rev", "r"]).is_some() {
                c.skip_sep();
                Some(c.take_number().unwrap_or_default())
            } else {
                c.pos = start;
                None
            }
        };

        // Dev release: `[._-]dev[._-][N]`.
        let start = c.pos;
        c.skip_sep();
        let dev = if c.take_label(&["dev"]).is_some() {
            c.skip_sep();
            Some(c.take_number().unwrap_or_default())
        } else {
            c.pos = start;
            None
        };

        // Local label: `+seg([._-]seg)*`, lower-cased.
        let local = if c.peek() == Some(b'+') {
            let rest = c.b.get(c.pos + 1..).unwrap_or_default();
            c.pos = c.b.len();
            Some(parse_local(rest).ok_or_else(|| bad("invalid local version label"))?)
        } else {
            None
        };
        if c.pos != c.b.len() {
            return Err(bad("not a PEP 440 version"));
        }

        let (pre_rank, pre_n) = match (&pre, &post, &dev) {
            (Some((rank, n)), _, _) => (*rank, n.clone()),
            (None, None, Some(_)) => (PRE_DEV_ONLY, String::new()),
            (None, _, _) => (PRE_STABLE, String::new()),
        };
        Ok(Pep440Version {
            epoch,
            release,
            pre_rank,
            pre_n,
            post_rank: u8::from(post.is_some()),
            post_n: post.unwrap_or_default(),
            dev_rank: u8::from(dev.is_none()),
            dev_n: dev.unwrap_or_default(),
            local,
        })
    }
}

/// Splits a local label on `.`, `_` and `-`; `None` when a segment is empty or holds
/// anything but ASCII letters and digits.
fn parse_local(rest: &[u8]) -> Option<Vec<LocalSegment>> {
    rest.split(|b| matches!(b, b'.' | b'_' | b'-'))
        .map(|seg| {
            if seg.is_empty() || !seg.iter().all(u8::is_ascii_alphanumeric) {
                None
            } else if seg.iter().all(u8::is_ascii_digit) {
                Some(LocalSegment::Number(trim_number(seg)))
            } else {
                Some(LocalSegment::Text(
                    String::from_utf8_lossy(seg).to_ascii_lowercase(),
                ))
            }
        })
        .collect()
}

fn cmp_numbers(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match cmp_digits(x, y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    a.len().cmp(&b.len())
}

impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(&self.epoch, &other.epoch)
            .then_with(|| cmp_numbers(&self.release, &other.release))
            .then_with(|| self.pre_rank.cmp(&other.pre_rank))
            .then_with(|| cmp_digits(&self.pre_n, &other.pre_n))
            .then_with(|| self.post_rank.cmp(&other.post_rank))
            .then_with(|| cmp_digits(&self.post_n, &other.post_n))
            .then_with(|| self.dev_rank.cmp(&other.dev_rank))
            .then_with(|| cmp_digits(&self.dev_n, &other.dev_n))
            .then_with(|| self.local.cmp(&other.local))
    }
}

impl PartialOrd for Pep440Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Pep440Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pep440Version {}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        Pep440Version::parse(a)
            .expect(a)
            .cmp(&Pep440Version::parse(b).expect(b))
    }

    #[test]
    fn pep_440_order() {
        let chain = [
            "1.0.dev0",
            "1.0a1.dev1",
            "1.0a1",
            "1.0a1.post1.dev1",
            "1.0a1.post1",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+abc",
            "1.0+abc.5",
            "1.0+1",
            "1.0.post1.dev1",
            "1.0.post1",
            "1.1",
            "1!0.1",
        ];
        for w in chain.windows(2) {
            assert_eq!(c(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(c(w[1], w[0]), Ordering::Greater, "{} > {}", w[1], w[0]);
        }
    }

    #[test]
    fn spellings_normalise() {
        for (a, b) in [
            ("1.0", "1.0.0"),
            ("v1.0", "1"),
            ("1.0-1", "1.0.post1"),
            ("1.0-r1", "1.0.post1"),
            ("1.0rev", "1.0.post0"),
            ("1.0.0-alpha.1", "1.0.0a1"),
            ("1.0RC1", "1.0rc1"),
            ("1.0c1", "1.0rc1"),
            ("1.0-preview-2", "1.0rc2"),
            ("1.0_rc1", "1.0rc1"),
            ("1.0.dev", "1.0.dev0"),
            ("01.002", "1.2"),
            (" 1.0\n", "1.0"),
            ("1.0+ABC", "1.0+abc"),
            ("1.0+01", "1.0+1"),
            ("1.0+a-b_c", "1.0+a.b.c"),
        ] {
            assert_eq!(c(a, b), Ordering::Equal, "{a} == {b}");
        }
    }

    #[test]
    fn refuses_what_packaging_refuses() {
        for s in [
            "1.0-beta.x",
            "2.0.0-SNAPSHOT",
            "1..0",
            ".1",
            "1.",
            "1.0+",
            "1.0+a..b",
            "1.0+a.",
            "a1",
            "1.0 1",
            "v",
            "1!",
            "!1",
            "1.0é",
            "1.0.post1.post2",
        ] {
            assert!(Pep440Version::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn huge_numbers_compare_as_digits() {
        let big = format!("1.{}", "9".repeat(200));
        let bigger = format!("1.1{}", "0".repeat(200));
        assert_eq!(c(&big, &bigger), Ordering::Less);
    }
}
