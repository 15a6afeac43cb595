//! Big-int-free comparison of digit runs shared by the schemes.
use std::cmp::Ordering;

/// Strips leading ASCII zeros (`"007"` → `"7"`, `"000"` → `""`).
pub(crate) fn trim_zeros(s: &str) -> &str {
    s.trim_start_matches('0')
}

/// Compares two runs of ASCII digits by numeric value without parsing them: after the
/// leading zeros are gone the longer run is larger, and equal lengths compare
/// lexicographically. Works for any length, so huge numbers in untrusted input cannot
/// overflow.
pub(crate) fn cmp_digits(a: &str, b: &str) -> Ordering {
    let (a, b) = (trim_zeros(a), trim_zeros(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// True when `s` is non-empty and all ASCII digits.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_order_without_parsing() {
        assert_eq!(cmp_digits("10", "9"), Ordering::Greater);
        assert_eq!(cmp_digits("007", "7"), Ordering::Equal);
        assert_eq!(cmp_digits("", "0"), Ordering::Equal);
        assert_eq!(
            cmp_digits(
                "123456789012345678901234567890",
                "123456789012345678901234567891"
            ),
            Ordering::Less
        );
        assert!(is_digits("0123"));
        assert!(!is_digits(""));
        assert!(!is_digits("1a"));
    }
}
