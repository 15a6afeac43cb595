//! RPM version ordering: librpm 4.18 `rpmvercmp` applied to epoch, version and release
//! (`rpmio/rpmvercmp.c`, `lib/rpmver.c`; the `rpm.ver` comparison of python3-rpm).
//!
//! Parsing (`parseEVR`): leading digits followed by `:` are the epoch (absent = `0`, an
//! empty one = `0`); the release is what follows the last `-` after those digits. No
//! character is refused: rpm accepts any string, and non-alphanumerics are separators.
//!
//! `rpmvercmp`: skip separators (anything but ASCII alphanumerics, `~` and `^`); `~` sorts
//! before everything, even the end of the string; `^` sorts after the end of the string
//! but before any further segment; then compare the next all-digit or all-letter segment
//! (digits beat letters; numbers by value via length after stripping zeros; letters by
//! `strcmp`). When all segments tie, the side with characters left over is newer.
//!
//! EVR: epoch, then version, then release, where a missing release sorts below any
//! release (`1.0 < 1.0-1`, as librpm's `rpm.ver` does).
use std::cmp::Ordering;

use super::VersionError;

/// A parsed RPM `[epoch:]version[-release]`.
#[derive(Debug, Clone)]
pub struct RpmVersion {
    epoch: String,
    version: String,
    release: Option<String>,
}

impl RpmVersion {
    /// Parses `[epoch:]version[-release]` as librpm's `parseEVR`.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        super::check_len(bundles::model::VersionScheme::Rpm, s)?;
        let digits_end = s.bytes().take_while(u8::is_ascii_digit).count();
        let (epoch, rest_start) = if s.as_bytes().get(digits_end) == Some(&b':') {
            let e = &s[..digits_end];
            (if e.is_empty() { "0" } else { e }, digits_end + 1)
        } else {
            ("0", 0)
        };
        // The release separator is searched from the end of the epoch digits, as in C.
        let (version, release) = match s[digits_end..].rfind('-') {
            Some(k) => {
                let at = digits_end + k;
                (&s[rest_start..at.max(rest_start)], Some(&s[at + 1..]))
            }
            None => (&s[rest_start..], None),
        };
        Ok(RpmVersion {
            epoch: epoch.to_string(),
            version: version.to_string(),
            release: release.map(str::to_string),
        })
    }
}

fn is_sep(c: Option<&u8>) -> bool {
    matches!(c, Some(c) if !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^')
}

/// librpm's `rpmvercmp`.
pub(crate) fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while is_sep(a.get(i)) {
            i += 1;
        }
        while is_sep(b.get(j)) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else {
            break;
        };
        let isnum = ca.is_ascii_digit();
        let class = |c: &u8| {
            if isnum {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let ea = i + a[i..].iter().take_while(|c| class(c)).count();
        let eb = j + b[j..].iter().take_while(|c| class(c)).count();
        if eb == j {
            // The segments are of different types: numeric beats alpha.
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut sa, mut sb) = (&a[i..ea], &b[j..eb]);
        if isnum {
            while let [b'0', rest @ ..] = sa {
                sa = rest;
            }
            while let [b'0', rest @ ..] = sb {
                sb = rest;
            }
            match sa.len().cmp(&sb.len()) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            o => return o,
        }
        i = ea;
        j = eb;
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        rpmvercmp(&self.epoch, &other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
            })
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for RpmVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        RpmVersion::parse(a)
            .expect(a)
            .cmp(&RpmVersion::parse(b).expect(b))
    }

    #[test]
    fn tilde_caret_and_evr() {
        assert_eq!(c("1.0~rc1-1", "1.0-1"), Ordering::Less);
        assert_eq!(c("1.0^git1-1", "1.0-1"), Ordering::Greater);
        assert_eq!(c("1.0^git1", "1.0.1"), Ordering::Less);
        assert_eq!(c("1.0", "1.0-1"), Ordering::Less);
        assert_eq!(c("1-1.el8_4", "1-1.el8_10"), Ordering::Less);
        assert_eq!(c("1:1.0-1", "2.0-1"), Ordering::Greater);
        assert_eq!(c("0:1.0-1", "1.0-1"), Ordering::Equal);
        assert_eq!(c("1.0a", "1.0"), Ordering::Greater);
        assert_eq!(c("1.0.a", "1.0.1"), Ordering::Less);
        assert_eq!(c("1.0_1", "1.0.1"), Ordering::Equal);
    }
}
