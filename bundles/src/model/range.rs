//! Affected ranges and their evaluation, exactly as the OSV spec's pseudocode
//! (`IncludedInRanges` / `BeforeLimits`, FORMATS.md §3).
//!
//! The model does not know how to order versions: the caller supplies a
//! [`VersionOrdering`] per range kind through [`Orderings`], whose named fields keep the
//! SemVer ordering (for `SEMVER` ranges) apart from the ecosystem's own (for `ECOSYSTEM`
//! ranges).
use std::cmp::Ordering;

use serde::ser::SerializeStruct;

use super::error::{ModelError, excerpt};
use super::limits::{MAX_EVENTS, MAX_URL_LEN, MAX_VERSION_LEN, check_count, check_token};

/// A total-or-partial order on one ecosystem's version strings.
///
/// Implemented per ecosystem by the scan engine (dpkg, PEP 440, SemVer, …).
pub trait VersionOrdering {
    /// Compares two versions; `None` when either cannot be parsed in this scheme.
    fn compare(&self, a: &str, b: &str) -> Option<Ordering>;
}

impl<F> VersionOrdering for F
where
    F: Fn(&str, &str) -> Option<Ordering>,
{
    fn compare(&self, a: &str, b: &str) -> Option<Ordering> {
        self(a, b)
    }
}

/// The orderings used to evaluate an affected package's ranges.
///
/// Named fields, not positional arguments: OSV `SEMVER` ranges always use SemVer 2.0
/// precedence even in ecosystems whose own ordering differs (Go, PyPI), and mixing the two
/// up silently produces wrong verdicts.
#[derive(Clone, Copy)]
pub struct Orderings<'a> {
    /// Used for `SEMVER` ranges.
    pub semver: &'a dyn VersionOrdering,
    /// Used for `ECOSYSTEM` ranges: the package ecosystem's own ordering.
    pub ecosystem: &'a dyn VersionOrdering,
}

/// The kind of a range, as OSV's `type` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RangeKind {
    /// `SEMVER`
    Semver,
    /// `ECOSYSTEM`
    Ecosystem,
    /// `GIT`
    Git,
}

impl RangeKind {
    /// The OSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RangeKind::Semver => "SEMVER",
            RangeKind::Ecosystem => "ECOSYSTEM",
            RangeKind::Git => "GIT",
        }
    }
}

/// One event of a range's timeline. The version string is validated (non-empty, bounded,
/// no control characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// `{"introduced": v}`; `"0"` means before every version.
    Introduced(String),
    /// `{"fixed": v}`
    Fixed(String),
    /// `{"last_affected": v}`
    LastAffected(String),
    /// `{"limit": v}`; a value containing `*` means infinity.
    Limit(String),
}

impl Event {
    /// Builds an event from the four optional keys of an OSV event object; exactly one must
    /// be present.
    pub(crate) fn from_keys(
        introduced: Option<String>,
        fixed: Option<String>,
        last_affected: Option<String>,
        limit: Option<String>,
    ) -> Result<Event, ModelError> {
        let found = [&introduced, &fixed, &last_affected, &limit]
            .iter()
            .filter(|k| k.is_some())
            .count();
        let event = match (introduced, fixed, last_affected, limit) {
            (Some(v), None, None, None) => Event::Introduced(v),
            (None, Some(v), None, None) => Event::Fixed(v),
            (None, None, Some(v), None) => Event::LastAffected(v),
            (None, None, None, Some(v)) => Event::Limit(v),
            _ => {
                return Err(ModelError::InvalidEvent {
                    field: String::new(),
                    found,
                });
            }
        };
        check_token("", event.version(), MAX_VERSION_LEN)?;
        Ok(event)
    }

    /// The version string of the event.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }

    fn is_zero_introduced(&self) -> bool {
        matches!(self, Event::Introduced(v) if v == "0")
    }
}

/// A range's events, validated per the OSV spec: at least one `introduced`, not both
/// `fixed` and `last_affected`, at most [`MAX_EVENTS`]. Kept in the record's order;
/// evaluation sorts a copy.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Events(Vec<Event>);

impl Events {
    /// Validates a list of events.
    ///
    /// ```
    /// use bundles::model::{Event, Events};
    /// let ok = Events::new(vec![Event::Introduced("0".into()), Event::Fixed("1.2".into())]);
    /// assert!(ok.is_ok());
    /// let no_introduced = Events::new(vec![Event::Fixed("1.2".into())]);
    /// assert!(no_introduced.is_err());
    /// ```
    pub fn new(events: Vec<Event>) -> Result<Events, ModelError> {
        check_count("events", events.len(), MAX_EVENTS)?;
        for (i, e) in events.iter().enumerate() {
            check_token("", e.version(), MAX_VERSION_LEN)
                .map_err(|e| e.at(&format!("events[{i}]")))?;
        }
        if !events.iter().any(|e| matches!(e, Event::Introduced(_))) {
            return Err(ModelError::NoIntroduced {
                field: "events".into(),
            });
        }
        let fixed = events.iter().any(|e| matches!(e, Event::Fixed(_)));
        let last = events.iter().any(|e| matches!(e, Event::LastAffected(_)));
        if fixed && last {
            return Err(ModelError::FixedAndLastAffected {
                field: "events".into(),
            });
        }
        Ok(Events(events))
    }

    /// The events in the record's order.
    pub fn as_slice(&self) -> &[Event] {
        &self.0
    }

    /// The `fixed` versions, in the record's order.
    pub fn fixed_versions(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|e| match e {
            Event::Fixed(v) => Some(v.as_str()),
            _ => None,
        })
    }

    /// Whether `version` falls in this range under `ordering`, per the spec's
    /// `BeforeLimits` + sorted event walk. `None` when a comparison the answer depends on
    /// is impossible (a version the ordering cannot parse): the caller decides what an
    /// undecidable match means; this never guesses.
    pub fn contains(&self, version: &str, ordering: &dyn VersionOrdering) -> Option<bool> {
        // BeforeLimits: with no limit event an implicit `limit: "*"` applies.
        let mut has_limit = false;
        let mut below_a_limit = false;
        let mut limit_unknown = false;
        for e in &self.0 {
            if let Event::Limit(l) = e {
                has_limit = true;
                if l.contains('*') {
                    below_a_limit = true;
                } else {
                    match ordering.compare(version, l) {
                        Some(Ordering::Less) => below_a_limit = true,
                        Some(_) => {}
                        None => limit_unknown = true,
                    }
                }
            }
        }
        if has_limit && !below_a_limit {
            return if limit_unknown { None } else { Some(false) };
        }

        let sorted = self.sorted(ordering)?;
        let mut vulnerable = false;
        for e in sorted {
            match e {
                Event::Introduced(_) if e.is_zero_introduced() => vulnerable = true,
                Event::Introduced(v) => {
                    if ordering.compare(version, v)? != Ordering::Less {
                        vulnerable = true;
                    }
                }
                Event::Fixed(v) => {
                    if ordering.compare(version, v)? != Ordering::Less {
                        vulnerable = false;
                    }
                }
                Event::LastAffected(v) => {
                    if ordering.compare(version, v)? == Ordering::Greater {
                        vulnerable = false;
                    }
                }
                Event::Limit(_) => {}
            }
        }
        Some(vulnerable)
    }

    /// The non-limit events sorted by version (`introduced: "0"` lowest), stable so that
    /// equal versions keep the record's order. An insertion sort: it cannot panic on an
    /// inconsistent caller-supplied ordering (the standard sort may), and ranges are short.
    fn sorted(&self, ordering: &dyn VersionOrdering) -> Option<Vec<&Event>> {
        let mut out: Vec<&Event> = Vec::with_capacity(self.0.len());
        for e in self.0.iter().filter(|e| !matches!(e, Event::Limit(_))) {
            let mut pos = out.len();
            while pos > 0 {
                if event_order(out[pos - 1], e, ordering)? == Ordering::Greater {
                    pos -= 1;
                } else {
                    break;
                }
            }
            out.insert(pos, e);
        }
        Some(out)
    }
}

fn event_order(a: &Event, b: &Event, ordering: &dyn VersionOrdering) -> Option<Ordering> {
    match (a.is_zero_introduced(), b.is_zero_introduced()) {
        (true, true) => Some(Ordering::Equal),
        (true, false) => Some(Ordering::Less),
        (false, true) => Some(Ordering::Greater),
        (false, false) => ordering.compare(a.version(), b.version()),
    }
}

/// A validated repository URL of a `GIT` range.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct RepoUrl(String);

impl RepoUrl {
    /// Validates a repository URL (non-empty, bounded, no control characters).
    pub fn new(url: impl Into<String>) -> Result<RepoUrl, ModelError> {
        let url = url.into();
        check_token("repo", &url, MAX_URL_LEN)?;
        Ok(RepoUrl(url))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One affected range.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Range {
    /// `SEMVER`: SemVer 2.0 precedence, whatever the ecosystem.
    Semver(Events),
    /// `ECOSYSTEM`: the package ecosystem's own ordering.
    Ecosystem(Events),
    /// `GIT`: commit hashes; never matches a package version.
    Git {
        /// The repository.
        repo: RepoUrl,
        /// The commit events.
        events: Events,
    },
}

impl Range {
    /// Builds a range from OSV's `type`, `repo` and events.
    pub(crate) fn from_parts(
        kind: &str,
        repo: Option<String>,
        events: Vec<Event>,
    ) -> Result<Range, ModelError> {
        let events = Events::new(events)?;
        match kind {
            "SEMVER" => Ok(Range::Semver(events)),
            "ECOSYSTEM" => Ok(Range::Ecosystem(events)),
            "GIT" => match repo {
                Some(r) => Ok(Range::Git {
                    repo: RepoUrl::new(r)?,
                    events,
                }),
                None => Err(ModelError::MissingRepo {
                    field: String::new(),
                }),
            },
            other => Err(ModelError::UnknownRangeType {
                field: "type".into(),
                value: excerpt(other),
            }),
        }
    }

    /// The range's kind.
    pub fn kind(&self) -> RangeKind {
        match self {
            Range::Semver(_) => RangeKind::Semver,
            Range::Ecosystem(_) => RangeKind::Ecosystem,
            Range::Git { .. } => RangeKind::Git,
        }
    }

    /// The range's events.
    pub fn events(&self) -> &Events {
        match self {
            Range::Semver(e) | Range::Ecosystem(e) | Range::Git { events: e, .. } => e,
        }
    }

    /// Whether `version` is in this range, using the ordering for its kind. `GIT` ranges
    /// hold commits, not versions: always `Some(false)`. `None` = undecidable (see
    /// [`Events::contains`]).
    pub fn contains(&self, version: &str, orderings: Orderings<'_>) -> Option<bool> {
        match self {
            Range::Semver(e) => e.contains(version, orderings.semver),
            Range::Ecosystem(e) => e.contains(version, orderings.ecosystem),
            Range::Git { .. } => Some(false),
        }
    }

    /// The `fixed` versions of a version range (none for `GIT`: those are commits).
    pub fn fixed_versions(&self) -> impl Iterator<Item = &str> {
        let events = match self {
            Range::Semver(e) | Range::Ecosystem(e) => Some(e),
            Range::Git { .. } => None,
        };
        events.into_iter().flat_map(Events::fixed_versions)
    }
}

impl serde::Serialize for Range {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let repo = match self {
            Range::Git { repo, .. } => Some(repo),
            _ => None,
        };
        let mut st = s.serialize_struct("Range", 2 + usize::from(repo.is_some()))?;
        st.serialize_field("type", self.kind().as_str())?;
        if let Some(r) = repo {
            st.serialize_field("repo", r)?;
        }
        st.serialize_field("events", self.events())?;
        st.end()
    }
}

/// The outcome of evaluating one affected package against a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Evaluation {
    /// The version is listed or in a range.
    Affected,
    /// Every range was decidable and none contains the version.
    NotAffected,
    /// Not listed, not in any decidable range, and at least one range could not be
    /// evaluated (a version the ordering cannot parse).
    Undecidable,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test ordering: dot-separated unsigned integers ("1.10" > "1.9"); anything else is
    /// unparseable. Missing components count as 0 ("1" == "1.0").
    struct Dotted;

    fn parse(v: &str) -> Option<Vec<u64>> {
        v.split('.').map(|p| p.parse::<u64>().ok()).collect()
    }

    impl VersionOrdering for Dotted {
        fn compare(&self, a: &str, b: &str) -> Option<Ordering> {
            let (a, b) = (parse(a)?, parse(b)?);
            let n = a.len().max(b.len());
            for i in 0..n {
                let (x, y) = (
                    a.get(i).copied().unwrap_or(0),
                    b.get(i).copied().unwrap_or(0),
                );
                match x.cmp(&y) {
                    Ordering::Equal => {}
                    o => return Some(o),
                }
            }
            Some(Ordering::Equal)
        }
    }

    /// An ordering that must never be consulted (proves SEMVER/ECOSYSTEM separation).
    struct Never;
    impl VersionOrdering for Never {
        fn compare(&self, _: &str, _: &str) -> Option<Ordering> {
            panic!("the wrong ordering was consulted");
        }
    }

    fn ev(spec: &[(&str, &str)]) -> Events {
        let events = spec
            .iter()
            .map(|(k, v)| match *k {
                "i" => Event::Introduced((*v).into()),
                "f" => Event::Fixed((*v).into()),
                "l" => Event::LastAffected((*v).into()),
                "lim" => Event::Limit((*v).into()),
                _ => panic!("bad test spec"),
            })
            .collect();
        Events::new(events).expect("valid test events")
    }

    fn hits(e: &Events, v: &str) -> Option<bool> {
        e.contains(v, &Dotted)
    }

    #[test]
    fn spec_example_unfixed_affects_everything() {
        let e = ev(&[("i", "0")]);
        for v in ["0", "0.0.1", "1.0", "999.1"] {
            assert_eq!(hits(&e, v), Some(true), "{v}");
        }
        // No comparison is needed, so even an unparseable version is affected.
        assert_eq!(hits(&e, "not-a-version"), Some(true));
    }

    #[test]
    fn spec_example_fixed() {
        let e = ev(&[("i", "0"), ("f", "1.0.2")]);
        assert_eq!(hits(&e, "0.1"), Some(true));
        assert_eq!(hits(&e, "1.0.1"), Some(true));
        assert_eq!(hits(&e, "1.0.2"), Some(false));
        assert_eq!(hits(&e, "1.0.3"), Some(false));
    }

    #[test]
    fn spec_example_multiple_ranges_in_one_timeline() {
        let e = ev(&[
            ("i", "1.0.0"),
            ("f", "1.0.2"),
            ("i", "3.0.0"),
            ("f", "3.2.5"),
        ]);
        let expect = [
            ("0.9", false),
            ("1.0.0", true),
            ("1.0.1", true),
            ("1.0.2", false),
            ("2.9", false),
            ("3.0.0", true),
            ("3.2.4", true),
            ("3.2.5", false),
            ("4", false),
        ];
        for (v, want) in expect {
            assert_eq!(hits(&e, v), Some(want), "{v}");
        }
    }

    #[test]
    fn spec_example_last_affected_is_inclusive_fixed_is_exclusive() {
        let last = ev(&[("i", "0"), ("l", "2.1.214")]);
        let fixed = ev(&[("i", "0"), ("f", "2.1.214")]);
        assert_eq!(hits(&last, "2.1.214"), Some(true));
        assert_eq!(hits(&last, "2.1.215"), Some(false));
        assert_eq!(hits(&fixed, "2.1.214"), Some(false));
        assert_eq!(hits(&fixed, "2.1.213"), Some(true));
    }

    #[test]
    fn limit_caps_the_range_and_star_is_infinity() {
        let e = ev(&[("i", "1.0"), ("lim", "2.0")]);
        assert_eq!(hits(&e, "0.5"), Some(false));
        assert_eq!(hits(&e, "1.5"), Some(true));
        assert_eq!(hits(&e, "2.0"), Some(false));
        assert_eq!(hits(&e, "3.0"), Some(false));
        let star = ev(&[("i", "1.0"), ("lim", "*")]);
        assert_eq!(hits(&star, "99"), Some(true));
        // Several limits: below any one of them is enough.
        let two = ev(&[("i", "1.0"), ("lim", "2.0"), ("lim", "5.0")]);
        assert_eq!(hits(&two, "3.0"), Some(true));
        assert_eq!(hits(&two, "5.0"), Some(false));
    }

    #[test]
    fn unsorted_events_are_sorted_first() {
        // Same timeline as the multiple-range example, shuffled.
        let e = ev(&[
            ("f", "3.2.5"),
            ("i", "3.0.0"),
            ("f", "1.0.2"),
            ("i", "1.0.0"),
        ]);
        assert_eq!(hits(&e, "1.0.1"), Some(true));
        assert_eq!(hits(&e, "2.0"), Some(false));
        assert_eq!(hits(&e, "3.1"), Some(true));
        assert_eq!(hits(&e, "3.2.5"), Some(false));
        // introduced "0" listed last still sorts lowest.
        let z = ev(&[("f", "1.5"), ("i", "0")]);
        assert_eq!(hits(&z, "1.4"), Some(true));
        assert_eq!(hits(&z, "1.5"), Some(false));
    }

    #[test]
    fn numeric_not_lexical_ordering_is_used() {
        let e = ev(&[("i", "1.9"), ("f", "1.10")]);
        assert_eq!(hits(&e, "1.9.5"), Some(true));
        assert_eq!(hits(&e, "1.10"), Some(false));
    }

    #[test]
    fn unparseable_versions_are_undecidable_not_guessed() {
        let e = ev(&[("i", "1.0"), ("f", "2.0")]);
        assert_eq!(hits(&e, "1.x"), None);
        let bad_event = ev(&[("i", "1.0"), ("f", "2.beta")]);
        assert_eq!(hits(&bad_event, "1.5"), None);
        let bad_limit = ev(&[("i", "0"), ("lim", "zz")]);
        assert_eq!(hits(&bad_limit, "1.5"), None);
    }

    #[test]
    fn event_rules_are_enforced() {
        assert!(matches!(
            Events::new(vec![Event::Fixed("1".into())]),
            Err(ModelError::NoIntroduced { .. })
        ));
        assert!(matches!(
            Events::new(vec![
                Event::Introduced("0".into()),
                Event::Fixed("1".into()),
                Event::LastAffected("2".into()),
            ]),
            Err(ModelError::FixedAndLastAffected { .. })
        ));
        assert!(matches!(
            Events::new(vec![Event::Introduced(String::new())]),
            Err(ModelError::InvalidText { .. })
        ));
        assert!(matches!(
            Event::from_keys(Some("1".into()), Some("2".into()), None, None),
            Err(ModelError::InvalidEvent { found: 2, .. })
        ));
        assert!(matches!(
            Event::from_keys(None, None, None, None),
            Err(ModelError::InvalidEvent { found: 0, .. })
        ));
        let many = std::iter::once(Event::Introduced("0".into()))
            .chain((0..MAX_EVENTS).map(|i| Event::Fixed(i.to_string())))
            .collect();
        assert!(matches!(Events::new(many), Err(ModelError::TooMany { .. })));
    }

    #[test]
    fn range_kinds_pick_their_own_ordering() {
        let semver = Range::Semver(ev(&[("i", "0"), ("f", "2.0")]));
        let eco = Range::Ecosystem(ev(&[("i", "0"), ("f", "2.0")]));
        let use_semver = Orderings {
            semver: &Dotted,
            ecosystem: &Never,
        };
        let use_eco = Orderings {
            semver: &Never,
            ecosystem: &Dotted,
        };
        assert_eq!(semver.contains("1.0", use_semver), Some(true));
        assert_eq!(eco.contains("1.0", use_eco), Some(true));
        let git = Range::Git {
            repo: RepoUrl::new("https://example.invalid/r").expect("repo"),
            events: ev(&[("i", "0")]),
        };
        let never = Orderings {
            semver: &Never,
            ecosystem: &Never,
        };
        assert_eq!(git.contains("1.0", never), Some(false));
        assert_eq!(git.fixed_versions().count(), 0);
    }

    #[test]
    fn from_parts_checks_type_and_repo() {
        let events = || vec![Event::Introduced("0".into())];
        assert!(matches!(
            Range::from_parts("GIT", None, events()),
            Err(ModelError::MissingRepo { .. })
        ));
        assert!(matches!(
            Range::from_parts("BOGUS", None, events()),
            Err(ModelError::UnknownRangeType { .. })
        ));
        assert_eq!(
            Range::from_parts("ECOSYSTEM", None, events())
                .expect("ecosystem")
                .kind(),
            RangeKind::Ecosystem
        );
    }

    #[test]
    fn closures_are_orderings() {
        let by_len = |a: &str, b: &str| Some(a.len().cmp(&b.len()));
        let e = ev(&[("i", "aa"), ("f", "aaaa")]);
        assert_eq!(e.contains("aaa", &by_len), Some(true));
        assert_eq!(e.contains("a", &by_len), Some(false));
    }
}
