//! Debian version ordering, as `dpkg --compare-versions` (dpkg 1.21, `lib/dpkg/version.c`
//! and `parsehelp.c`).
//!
//! Grammar: `[epoch:]upstream[-revision]`. The epoch is the digits before the first `:`,
//! the revision is everything after the last `-` (absent = `""`, which compares equal to
//! `"0"`). Parsing refuses what dpkg refuses or warns about (`dpkg --compare-versions`
//! prints "bad syntax" for those): an empty or non-numeric epoch, an epoch above
//! `INT_MAX`, nothing after the colon, an empty revision, an upstream version that does not
//! start with a digit, and characters outside `[A-Za-z0-9.+~:-]` (upstream) or
//! `[A-Za-z0-9.+~]` (revision). Surrounding whitespace is trimmed, as dpkg does.
//!
//! Comparison: epoch numerically, then upstream and revision with `verrevcmp`: alternate
//! non-digit runs (compared character by character with `~` < end < letters < other
//! characters) and digit runs (compared numerically).
use std::cmp::Ordering;

use bundles::model::VersionScheme;

use super::VersionError;
use super::digits::{cmp_digits, is_digits};

const SCHEME: VersionScheme = VersionScheme::Dpkg;

/// A parsed Debian version.
#[derive(Debug, Clone)]
pub struct DpkgVersion {
    epoch: String,
    upstream: String,
    revision: String,
}

impl DpkgVersion {
    /// Parses `[epoch:]upstream[-revision]` with dpkg's rules.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        super::check_len(SCHEME, s)?;
        let bad = |reason| VersionError::invalid(SCHEME, s, reason);
        let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
        if t.is_empty() {
            return Err(VersionError::Empty { scheme: SCHEME });
        }
        if t.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(bad("version string has embedded spaces"));
        }
        let (epoch, rest) = match t.split_once(':') {
            Some((e, r)) => {
                // dpkg reads the epoch with strtol, which takes a leading '+' ("+1:2" has
                // epoch 1). A leading '-' is refused: negative, or (for "-0") a string the
                // dpkg command line would take for an option.
                let e = e.strip_prefix('+').unwrap_or(e);
                if e.is_empty() {
                    return Err(bad("epoch in version is empty"));
                }
                if !is_digits(e) {
                    return Err(bad("epoch in version is not number"));
                }
                if cmp_digits(e, "2147483647") == Ordering::Greater {
                    return Err(bad("epoch in version is too big"));
                }
                if r.is_empty() {
                    return Err(bad("nothing after colon in version number"));
                }
                (e.trim_start_matches('0'), r)
            }
            None => ("", t),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((_, "")) => return Err(bad("revision number is empty")),
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(bad("version number is empty"));
        }
        if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(bad("version number does not start with digit"));
        }
        if !upstream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-+~:".contains(&b))
        {
            return Err(bad("invalid character in version number"));
        }
        if !revision
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b))
        {
            return Err(bad("invalid character in revision number"));
        }
        Ok(DpkgVersion {
            epoch: epoch.to_string(),
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }
}

/// dpkg's character weight in a non-digit run (`order()` in `version.c`); `None` is the
/// end of the string.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// `verrevcmp` from dpkg, over byte slices.
pub(crate) fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(&self.epoch, &other.epoch)
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

impl PartialOrd for DpkgVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DpkgVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DpkgVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        DpkgVersion::parse(a)
            .expect(a)
            .cmp(&DpkgVersion::parse(b).expect(b))
    }

    #[test]
    fn tilde_end_letters_others() {
        assert_eq!(c("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(c("1.0", "1.0a"), Ordering::Less);
        assert_eq!(c("1.0a", "1.0+x"), Ordering::Less);
        assert_eq!(c("1.0~~", "1.0~"), Ordering::Less);
        assert_eq!(c("0.0.0", "0.0.0-0"), Ordering::Equal);
        assert_eq!(c("1:1.0", "2.0"), Ordering::Greater);
        assert_eq!(c("0:1.0", "1.0"), Ordering::Equal);
        assert_eq!(c("1.01", "1.1"), Ordering::Equal);
        assert_eq!(c("1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u5"), Ordering::Less);
        // strtol's optional '+' sign on the epoch, as `dpkg --compare-versions` accepts.
        assert_eq!(c("+11:1.0", "11:1.0"), Ordering::Equal);
    }

    #[test]
    fn refuses_what_dpkg_refuses() {
        for s in [
            "abc",
            "1.0-",
            "1:a",
            ":1.0",
            "x:1.0",
            "1:",
            "1.0 2",
            "1.0_1",
            "1.0-a_b",
            "99999999999:1",
            "+:1.0",
            "++1:1.0",
            "+-1:1.0",
            "-1:1.0",
        ] {
            assert!(DpkgVersion::parse(s).is_err(), "{s}");
        }
    }
}
