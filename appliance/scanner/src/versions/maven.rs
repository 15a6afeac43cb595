//! Maven version ordering, as `org.apache.maven.artifact.versioning.ComparableVersion`
//! from maven-artifact 3.8.7 (the version Debian ships and the oracle runs).
//!
//! Parsing (`parseVersion`): the string is lower-cased and split into items on `.` and
//! `-`, and at every transition between digits and non-digits. An empty piece before a
//! separator is the number 0. A `-`, and every digit/non-digit transition, opens a
//! *sub-list* that holds the rest of the version, so `1.0-alpha-1` is
//! `[1, 0, [alpha, [1]]]`; since 3.8.7 (MNG-7559) a qualifier that is followed by a
//! digit or ends the version also opens a sub-list when it is not the first item of its
//! list, so `1.0.x` equals `1.0-x`. A single `a`, `b` or `m` directly followed by a digit means
//! alpha, beta, milestone; `ga`, `final` and `release` mean the empty qualifier, `cr`
//! means `rc`. Each list then drops its trailing "null" items (0, the empty qualifier, an
//! empty sub-list), looking past a trailing non-empty sub-list: `1.0-alpha` is
//! `[1, [alpha]]`.
//!
//! Ordering (`Item.compareTo`): numbers compare numerically (leading zeros stripped; as
//! in 3.8.7 the number's Java type decides first: up to 9 digits < up to 18 digits <
//! longer, which only matters for runs of 10 or more zeros); a number is greater than a
//! qualifier or a sub-list; a sub-list is greater than a qualifier. Qualifiers order
//! `alpha < beta < milestone < rc < snapshot < "" < sp < unknown`, unknown ones
//! lexically (UTF-16 order, like Java). A missing item compares as null: 0 and `""`
//! equal it, `sp` and unknown qualifiers are above it, the others below.
//!
//! Maven accepts every string. This implementation refuses one kind: non-ASCII
//! characters that Unicode calls numeric, because Java's `Character.isDigit` and
//! `Integer.parseInt` give some of them digit values and the rules for which ones do
//! are not worth reproducing for versions that never occur.
use std::cmp::Ordering;

use bundles::model::VersionScheme;

use super::VersionError;
use super::digits::cmp_digits;

const SCHEME: VersionScheme = VersionScheme::Maven;

/// Position of the empty (release) qualifier in `QUALIFIERS`.
const RELEASE_RANK: u8 = 5;
/// Rank of every qualifier that is not in `QUALIFIERS`.
const UNKNOWN_RANK: u8 = 7;

/// One item of a parsed version.
#[derive(Debug, Clone)]
enum Item {
    /// A digit run: `class` is the Java type maven-artifact picks (0 = int, 1 = long,
    /// 2 = BigInteger, by the length after leading zeros are stripped), `digits` the run
    /// without leading zeros (empty for zero).
    Number { class: u8, digits: String },
    /// A qualifier: `rank` is its place in `QUALIFIERS`, or [`UNKNOWN_RANK`] with the
    /// (lower-cased) text.
    Qualifier { rank: u8, text: String },
    /// A sub-list opened by `-` or a digit/letter transition.
    List(Vec<Item>),
}

impl Item {
    fn number(run: &str) -> Item {
        let stripped = run.trim_start_matches('0');
        // maven-artifact 3.8.7 `stripLeadingZeroes` returns an all-zero run unchanged,
        // so "0000000000" becomes a LongItem: keep that length for the class.
        let java_len = if stripped.is_empty() {
            run.len()
        } else {
            stripped.len()
        };
        let class = match java_len {
            0..=9 => 0,
            10..=18 => 1,
            _ => 2,
        };
        Item::Number {
            class,
            digits: stripped.to_string(),
        }
    }

    fn qualifier(text: &str, followed_by_digit: bool) -> Item {
        let text = match (followed_by_digit, text) {
            (true, "a") => "alpha",
            (true, "b") => "beta",
            (true, "m") => "milestone",
            (_, "ga" | "final" | "release") => "",
            (_, "cr") => "rc",
            (_, t) => t,
        };
        let rank = match text {
            "alpha" => 0,
            "beta" => 1,
            "milestone" => 2,
            "rc" => 3,
            "snapshot" => 4,
            "" => RELEASE_RANK,
            "sp" => 6,
            _ => UNKNOWN_RANK,
        };
        Item::Qualifier {
            rank,
            text: if rank == UNKNOWN_RANK {
                text.to_string()
            } else {
                String::new()
            },
        }
    }

    /// `isNull()`: items that `normalize` drops from the end of a list.
    fn is_null(&self) -> bool {
        match self {
            Item::Number { digits, .. } => digits.is_empty(),
            Item::Qualifier { rank, .. } => *rank == RELEASE_RANK,
            Item::List(items) => items.is_empty(),
        }
    }

    /// `compareTo(null)`: this item against a missing one.
    fn cmp_missing(&self) -> Ordering {
        match self {
            Item::Number { digits, .. } => {
                if digits.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            Item::Qualifier { rank, .. } => rank.cmp(&RELEASE_RANK),
            Item::List(items) => items
                .iter()
                .map(Item::cmp_missing)
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
        }
    }

    fn cmp_item(&self, other: &Item) -> Ordering {
        match (self, other) {
            (
                Item::Number {
                    class: ca,
                    digits: da,
                },
                Item::Number {
                    class: cb,
                    digits: db,
                },
            ) => ca.cmp(cb).then_with(|| cmp_digits(da, db)),
            (Item::Number { .. }, _) => Ordering::Greater,
            (_, Item::Number { .. }) => Ordering::Less,
            (Item::Qualifier { rank: ra, text: ta }, Item::Qualifier { rank: rb, text: tb }) => ra
                .cmp(rb)
                .then_with(|| ta.encode_utf16().cmp(tb.encode_utf16())),
            (Item::Qualifier { .. }, Item::List(_)) => Ordering::Less,
            (Item::List(_), Item::Qualifier { .. }) => Ordering::Greater,
            (Item::List(a), Item::List(b)) => cmp_lists(a, b),
        }
    }
}

fn cmp_lists(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let o = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => x.cmp_item(y),
            (Some(x), None) => x.cmp_missing(),
            (None, Some(y)) => y.cmp_missing().reverse(),
            (None, None) => Ordering::Equal,
        };
        if o.is_ne() {
            return o;
        }
    }
    Ordering::Equal
}

/// `ListItem.normalize()` for a list whose only possible sub-list is its last item:
/// drop trailing null items, looking past a non-empty trailing sub-list.
fn normalize(items: &mut Vec<Item>) {
    let mut i = items.len();
    while i > 0 {
        i -= 1;
        let Some(item) = items.get(i) else { break };
        if item.is_null() {
            items.remove(i);
        } else if !matches!(item, Item::List(_)) {
            break;
        }
    }
}

/// A parsed Maven version (`ComparableVersion`'s item tree).
#[derive(Debug, Clone)]
pub struct MavenVersion {
    items: Vec<Item>,
}

impl MavenVersion {
    /// Parses a version the way `new ComparableVersion(s)` does.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        super::check_len(SCHEME, s)?;
        if s.chars().any(|c| !c.is_ascii() && c.is_numeric()) {
            return Err(VersionError::invalid(
                SCHEME,
                s,
                "non-ASCII numeric character",
            ));
        }
        // `toLowerCase(Locale.ENGLISH)`: the Unicode default lower-casing.
        let v = s.to_lowercase();

        // Each new sub-list nests inside the previous one and everything after it goes
        // there, so the tree is a chain: `levels[k + 1]` becomes the last item of
        // `levels[k]`.
        let mut levels: Vec<Vec<Item>> = vec![Vec::new()];
        let mut is_digit = false;
        let mut start = 0;
        for (i, c) in v.char_indices() {
            let piece = v.get(start..i).unwrap_or_default();
            let list = levels.last_mut();
            let Some(list) = list else { break };
            if c == '.' || c == '-' {
                list.push(if piece.is_empty() {
                    Item::number("0")
                } else if is_digit {
                    Item::number(piece)
                } else {
                    Item::qualifier(piece, false)
                });
                start = i + 1;
                if c == '-' {
                    levels.push(Vec::new());
                }
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    // 3.8.7 (MNG-7559): "treat .X as -X for any string qualifier X", so
                    // a qualifier after other items opens its own sub-list.
                    if list.is_empty() {
                        list.push(Item::qualifier(piece, true));
                    } else {
                        levels.push(vec![Item::qualifier(piece, true)]);
                    }
                    start = i;
                    levels.push(Vec::new());
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    list.push(Item::number(piece));
                    start = i;
                    levels.push(Vec::new());
                }
                is_digit = false;
            }
        }
        let rest = v.get(start..).unwrap_or_default();
        if !rest.is_empty() {
            let item = if is_digit {
                Item::number(rest)
            } else {
                Item::qualifier(rest, false)
            };
            match levels.last_mut() {
                // The same MNG-7559 rule for a trailing qualifier.
                Some(list) if is_digit || list.is_empty() => list.push(item),
                _ => levels.push(vec![item]),
            }
        }

        // Normalise from the innermost list outwards, as the parser's stack does.
        let mut items = levels.pop().unwrap_or_default();
        normalize(&mut items);
        while let Some(mut parent) = levels.pop() {
            parent.push(Item::List(items));
            normalize(&mut parent);
            items = parent;
        }
        Ok(MavenVersion { items })
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_lists(&self.items, &other.items)
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MavenVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, b: &str) -> Ordering {
        MavenVersion::parse(a)
            .expect(a)
            .cmp(&MavenVersion::parse(b).expect(b))
    }

    #[test]
    fn qualifier_order() {
        let chain = [
            "1.0-alpha1",
            "1.0-beta1",
            "1.0-milestone1",
            "1.0-rc1",
            "1.0-SNAPSHOT",
            "1.0",
            "1.0-sp1",
            "1.0-bar",
            "1.0-foo",
            "1.0-1",
            "1.0.1",
        ];
        for w in chain.windows(2) {
            assert_eq!(c(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(c(w[1], w[0]), Ordering::Greater, "{} > {}", w[1], w[0]);
        }
    }

    #[test]
    fn equal_spellings() {
        for (a, b) in [
            ("1", "1.0.0.0"),
            ("1.0.Final", "1.0"),
            ("1.0-ga", "1"),
            ("1.0.0.RELEASE", "1.0.0"),
            ("1.0a1", "1.0-alpha-1"),
            ("1.0-b1", "1.0-beta-1"),
            ("1.0-m1", "1.0-milestone-1"),
            ("1.0-rc1", "1.0-CR1"),
            ("1.0-alpha", "1-alpha"),
            ("1.007", "1.7"),
        ] {
            assert_eq!(c(a, b), Ordering::Equal, "{a} == {b}");
        }
    }

    #[test]
    fn java_number_types_decide_first() {
        // Ten zeros make a LongItem holding 0, which 3.8.7 ranks above any IntItem.
        // (Checked against the oracle: `1.0000000000.1 > 1.5.1`.)
        assert_eq!(c("1.0000000000.1", "1.5.1"), Ordering::Greater);
        assert_eq!(
            c("1.00000000000000000000.1", "1.0000000000.1"),
            Ordering::Greater
        );
        // Trailing zeros are dropped whatever their type.
        assert_eq!(c("1.0000000000", "1"), Ordering::Equal);
        let big = format!("1.{}", "9".repeat(40));
        assert_eq!(c(&big, "1.999999999999999999"), Ordering::Greater);
    }

    #[test]
    fn reference_is_not_transitive_on_odd_spellings() {
        // Verdicts of maven-artifact 3.8.7 itself (the oracle): a sub-list beats a string
        // item, so these triples are not transitive there, and must not be here either.
        assert_eq!(c("1beta-0", "1"), Ordering::Less);
        assert_eq!(c("1", "1.a-0"), Ordering::Less);
        assert_eq!(c("1beta-0", "1.a-0"), Ordering::Greater);
        assert_eq!(c("0", "00000000000sp"), Ordering::Less);
        assert_eq!(c("00000000000sp", "0-0alpha"), Ordering::Less);
        assert_eq!(c("0", "0-0alpha"), Ordering::Greater);
    }

    #[test]
    fn anything_parses_but_unicode_digits() {
        for s in ["-", ".", "..", "a", "1--", "ÄÖ", "1.0-ß", "𝔘"] {
            assert!(MavenVersion::parse(s).is_ok(), "{s}");
        }
        assert!(MavenVersion::parse("1.٣").is_err());
    }
}
