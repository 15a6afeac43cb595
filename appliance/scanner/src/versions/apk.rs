//! Alpine apk version ordering, as apk-tools 3.0 (`src/version.c` at v3.0.6:
//! `apk_version_validate` for the grammar, `apk_version_compare` for the order).
//!
//! Grammar: `digits{.digits}[letter]{_suffix[digits]}[~hash][-rdigits]`, where a letter is
//! one of `a`–`z`, a suffix is exactly one of `alpha beta pre rc cvs svn git hg p`, and a
//! hash is lowercase hex. Anything else is refused, as `apk_version_validate` refuses it
//! (apk itself never builds a package with such a version).
//!
//! Order: the versions are walked token by token. Tokens of the same kind compare by
//! value:
//! - the first number numerically;
//! - a later `.`-number numerically, unless either side starts with `0`, in which case
//!   the two digit strings compare as strings (the Gentoo rule, so `1.01 < 1.1` and
//!   `1.0 < 1.00`);
//! - letters by character; suffixes `alpha < beta < pre < rc < cvs < svn < git < hg < p`;
//!   suffix and revision numbers numerically; hashes as strings.
//!
//! At the first position where the kinds differ, a pre-release suffix (`alpha beta pre
//! rc`) is older than anything else; otherwise the side whose token comes *later* in the
//! grammar (end of string being last of all) is older. So `1.0_rc1 < 1.0 < 1.0_p1`,
//! `1.0 < 1.0a < 1.0.1`, and `1.2.3 < 1.2.3-r0` (a missing revision is older than `-r0`).
//!
//! Why apk-tools 3.0 and not 2.14 (in order they differ only on `.`-components with a
//! leading zero; 3.0 also validates more strictly): 3.0 applies the Gentoo rule above,
//! which is also what OSV's own reference (osv-scalibr `version-alpine.go`) implements,
//! and it is the current apk-tools series (3.0.0, December 2025). 2.14 instead turns a
//! run of leading zeros into a negative number, so `8.2.0 > 8.2.001` there and
//! `8.2.0 < 8.2.001` in 3.0 (`"0" < "001"` as strings). Such versions are rare in
//! Alpine's own data; the choice is written down in `docs/version-ordering.md`.
//!
//! Numbers compare by their full value (digit strings, no overflow); apk-tools reads them
//! into a wrapping `uint64_t`, which only differs for components of 20 or more digits.
use std::cmp::Ordering;

use bundles::model::VersionScheme;

use super::VersionError;
use super::digits::cmp_digits;

const SCHEME: VersionScheme = VersionScheme::Apk;

/// The suffixes in their apk order; the first four are pre-releases.
const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
/// Index in [`SUFFIXES`] of the first post-release suffix.
const FIRST_POST_SUFFIX: u8 = 4;

/// One token of an apk version, in grammar order (the order of apk's `TOKEN_*`).
#[derive(Debug, Clone)]
enum Token {
    /// The leading number (`TOKEN_INITIAL_DIGIT`), compared numerically.
    Initial(String),
    /// A `.`-number (`TOKEN_DIGIT`), compared numerically or, with a leading zero, as text.
    Digit(String),
    /// The single letter after the numbers (`TOKEN_LETTER`).
    Letter(u8),
    /// `_suffix` as its index in [`SUFFIXES`] (`TOKEN_SUFFIX`).
    Suffix(u8),
    /// The number right after a suffix (`TOKEN_SUFFIX_NO`).
    SuffixNo(String),
    /// `~hash` (`TOKEN_COMMIT_HASH`), compared as text.
    Hash(String),
    /// `-rN` (`TOKEN_REVISION_NO`).
    Revision(String),
}

impl Token {
    /// apk's token number; the end of the string is 7.
    fn kind(&self) -> u8 {
        match self {
            Token::Initial(_) => 0,
            Token::Digit(_) => 1,
            Token::Letter(_) => 2,
            Token::Suffix(_) => 3,
            Token::SuffixNo(_) => 4,
            Token::Hash(_) => 5,
            Token::Revision(_) => 6,
        }
    }

    fn is_pre_release(&self) -> bool {
        matches!(self, Token::Suffix(s) if *s < FIRST_POST_SUFFIX)
    }

    /// apk's `token_cmp` for two tokens of the same kind.
    fn cmp_same_kind(&self, other: &Token) -> Ordering {
        match (self, other) {
            (Token::Digit(a), Token::Digit(b)) if a.starts_with('0') || b.starts_with('0') => {
                // apk_blob_sort: bytes, then the shorter string first.
                a.as_bytes().cmp(b.as_bytes())
            }
            (Token::Initial(a), Token::Initial(b))
            | (Token::Digit(a), Token::Digit(b))
            | (Token::SuffixNo(a), Token::SuffixNo(b))
            | (Token::Revision(a), Token::Revision(b)) => cmp_digits(a, b),
            (Token::Letter(a), Token::Letter(b)) | (Token::Suffix(a), Token::Suffix(b)) => a.cmp(b),
            (Token::Hash(a), Token::Hash(b)) => a.as_bytes().cmp(b.as_bytes()),
            // Callers only pass tokens of the same kind; order by kind otherwise so that
            // the function stays total.
            _ => self.kind().cmp(&other.kind()),
        }
    }
}

/// A parsed Alpine package version.
#[derive(Debug, Clone)]
pub struct ApkVersion {
    tokens: Vec<Token>,
}

impl ApkVersion {
    /// Parses a version with apk-tools 3.0's grammar (`apk_version_validate`).
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        super::check_len(SCHEME, s)?;
        tokenize(s)
            .map(|tokens| ApkVersion { tokens })
            .map_err(|reason| VersionError::invalid(SCHEME, s, reason))
    }

    /// The `-rN` revision, if the version has one.
    pub fn revision(&self) -> Option<&str> {
        match self.tokens.last() {
            Some(Token::Revision(r)) => Some(r),
            _ => None,
        }
    }
}

fn take_digits(s: &[u8]) -> Result<(String, &[u8]), &'static str> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return Err("expected a number");
    }
    // Only ASCII digits, so this is valid UTF-8.
    let digits = s[..n].iter().map(|&b| char::from(b)).collect();
    Ok((digits, &s[n..]))
}

/// apk's `token_first` / `token_next` state machine; each arm checks that the previous
/// token allows the next one, exactly as `token_next` does.
fn tokenize(s: &str) -> Result<Vec<Token>, &'static str> {
    let (first, mut rest) = take_digits(s.as_bytes()).map_err(|_| "must start with a number")?;
    let mut tokens = vec![Token::Initial(first)];
    while let Some(&c) = rest.first() {
        let prev = tokens.last().map_or(0, Token::kind);
        let tok = match c {
            b'a'..=b'z' => {
                if prev > 1 {
                    return Err("a letter may only follow a number");
                }
                rest = &rest[1..];
                Token::Letter(c)
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if prev > 1 {
                        return Err("'.' may only follow a number");
                    }
                    rest = &rest[1..];
                }
                let (digits, r) = take_digits(rest)?;
                rest = r;
                match prev {
                    0 | 1 => Token::Digit(digits),
                    3 => Token::SuffixNo(digits),
                    _ => return Err("a number may only follow '.' or a suffix"),
                }
            }
            b'_' => {
                if prev > 4 {
                    return Err("a suffix may not follow a hash or revision");
                }
                let n = rest[1..]
                    .iter()
                    .take_while(|b| b.is_ascii_lowercase())
                    .count();
                let name = &rest[1..1 + n];
                let idx = SUFFIXES
                    .iter()
                    .position(|s| s.as_bytes() == name)
                    .ok_or("unknown suffix (alpha, beta, pre, rc, cvs, svn, git, hg, p)")?;
                rest = &rest[1 + n..];
                // At most 9 suffixes, so the index fits.
                Token::Suffix(u8::try_from(idx).map_err(|_| "suffix index")?)
            }
            b'~' => {
                if prev >= 5 {
                    return Err("'~hash' may appear once, before the revision");
                }
                let n = rest[1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
                    .count();
                if n == 0 {
                    return Err("'~' must be followed by a lowercase hex hash");
                }
                let hash = rest[1..1 + n].iter().map(|&b| char::from(b)).collect();
                rest = &rest[1 + n..];
                Token::Hash(hash)
            }
            b'-' => {
                if prev >= 6 {
                    return Err("only one '-r' revision");
                }
                let Some(r) = rest.strip_prefix(b"-r") else {
                    return Err("'-' must start a '-rN' revision");
                };
                let (digits, r) = take_digits(r).map_err(|_| "'-r' needs a number")?;
                rest = r;
                Token::Revision(digits)
            }
            _ => return Err("character not allowed in an apk version"),
        };
        tokens.push(tok);
    }
    Ok(tokens)
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let mut a = self.tokens.iter();
        let mut b = other.tokens.iter();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return Ordering::Equal,
                (Some(x), Some(y)) if x.kind() == y.kind() => match x.cmp_same_kind(y) {
                    Ordering::Equal => continue,
                    o => return o,
                },
                // The kinds differ (or one side ended): a pre-release suffix is older
                // than anything, then the later kind in the grammar is older, and the
                // end of the string (kind 7) is the latest kind of all.
                (x, y) => {
                    if x.is_some_and(Token::is_pre_release) {
                        return Ordering::Less;
                    }
                    if y.is_some_and(Token::is_pre_release) {
                        return Ordering::Greater;
                    }
                    let kx = x.map_or(7, Token::kind);
                    let ky = y.map_or(7, Token::kind);
                    return ky.cmp(&kx);
                }
            }
        }
    }
}

impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ApkVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        ApkVersion::parse(a)
            .expect(a)
            .cmp(&ApkVersion::parse(b).expect(b))
    }

    #[test]
    fn apk_tools_3_order() {
        assert_eq!(c("1.0-r1", "1.0-r10"), Ordering::Less);
        assert_eq!(c("1.0_rc1", "1.0"), Ordering::Less);
        // The case go-apk-version (Trivy) gets wrong.
        assert_eq!(c("6.0_pre1", "6.0"), Ordering::Less);
        assert_eq!(c("6.0_pre1-r0", "6.0"), Ordering::Less);
        assert_eq!(c("1.0_p1", "1.0"), Ordering::Greater);
        assert_eq!(c("1.0a", "1.0"), Ordering::Greater);
        assert_eq!(c("1.0a", "1.0.1"), Ordering::Less);
        assert_eq!(c("1.0_alpha", "1.0_beta"), Ordering::Less);
        assert_eq!(c("1.0_git20230101", "1.0"), Ordering::Greater);
        assert_eq!(c("1.0_svn1", "1.0_cvs1"), Ordering::Greater);
        assert_eq!(c("1.2.3", "1.2.3-r0"), Ordering::Less);
        assert_eq!(c("1.01", "1.1"), Ordering::Less);
        assert_eq!(c("8.2.0", "8.2.001"), Ordering::Less);
        assert_eq!(c("01.0", "1.0"), Ordering::Equal);
        assert_eq!(c("2.40-r1", "2.40_rc1-r0"), Ordering::Greater);
        assert_eq!(c("3.1.4_p2-r0", "3.1.4-r5"), Ordering::Greater);
        assert_eq!(c("1.0~abc", "1.0"), Ordering::Greater);
        assert_eq!(c("1.0~abc-r1", "1.0~abd-r0"), Ordering::Less);
        assert_eq!(c("1.0_alpha1_p2", "1.0_alpha1"), Ordering::Greater);
        assert_eq!(
            c("1.99999999999999999999999", "1.99999999999999999999998"),
            Ordering::Greater
        );
        assert_eq!(
            ApkVersion::parse("1.0-r12").expect("valid").revision(),
            Some("12")
        );
    }

    #[test]
    fn refuses_what_apk_version_validate_refuses() {
        for s in [
            "a1",
            "1.",
            "1..0",
            "1.0-",
            "1.0-r",
            "1.0-1",
            "1.0_foo",
            "1.0_",
            "23_foo",
            "1.0bc",
            "1.0a1",
            "1.0~",
            "1.0~ABC",
            "1.0-r1-r2",
            "1.0-r1_p1",
            "1.0A",
            "1.0 ",
            "1.0+1",
            "1.0~abc~def",
            "1.0_p1.2",
            "v1.0",
        ] {
            assert!(ApkVersion::parse(s).is_err(), "{s:?} should be refused");
        }
    }
}
