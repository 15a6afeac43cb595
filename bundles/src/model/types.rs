//! Validated leaf types: ids, timestamps, severities, references.
use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{ModelError, excerpt};
use super::limits::{MAX_ID_LEN, MAX_SCORE_LEN, MAX_URL_LEN, check_token};

/// An advisory id (`GHSA-jfh8-c2jp-5v3q`, `CVE-2021-44228`, `DEBIAN-CVE-2023-4911`):
/// non-empty, at most [`MAX_ID_LEN`] bytes, only `[A-Za-z0-9._:-]`.
///
/// ```
/// use bundles::model::AdvisoryId;
/// assert!(AdvisoryId::new("GHSA-jfh8-c2jp-5v3q").is_ok());
/// assert!(AdvisoryId::new("../etc/passwd").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct AdvisoryId(String);

impl AdvisoryId {
    /// Validates an id. Ids become file names and index keys, hence the narrow alphabet.
    pub fn new(id: impl Into<String>) -> Result<AdvisoryId, ModelError> {
        let id = id.into();
        let reason = if id.is_empty() {
            Some("must not be empty")
        } else if id.len() > MAX_ID_LEN {
            Some("longer than 128 bytes")
        } else if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            Some("only A-Z, a-z, 0-9 and . _ : - are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ModelError::InvalidId {
                field: String::new(),
                value: excerpt(&id),
                reason,
            }),
            None => Ok(AdvisoryId(id)),
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdvisoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for AdvisoryId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        AdvisoryId::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An RFC 3339 timestamp, kept as its canonical UTC text (`2021-12-10T00:40:56Z`; fractional
/// seconds kept, trailing zeros dropped) plus the parsed instant.
///
/// ```
/// use bundles::model::Timestamp;
/// let t = Timestamp::parse("2021-12-10T01:40:56.500+01:00").expect("valid");
/// assert_eq!(t.as_str(), "2021-12-10T00:40:56.5Z");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Timestamp {
    text: String,
    #[serde(skip)]
    at: OffsetDateTime,
}

/// Formats an instant as RFC 3339 UTC with second precision (`2026-11-22T10:00:00Z`): the
/// one spelling of times the product writes (kit manifests, audit records, API answers,
/// evidence). Fractions are dropped, offsets converted to `Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    // `checked_to_offset` instead of `to_offset`, which panics at the edges of the
    // supported years; such an instant keeps its own offset's date fields.
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses any RFC 3339 timestamp (offsets and fractions allowed), for reading back what
/// [`rfc3339`] or another producer wrote.
pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    if s.len() > 64 {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

impl Timestamp {
    /// Parses RFC 3339 text and canonicalises it to UTC.
    pub fn parse(text: &str) -> Result<Timestamp, ModelError> {
        let bad = |reason: String| ModelError::InvalidTimestamp {
            field: String::new(),
            value: excerpt(text),
            reason,
        };
        // The parser is linear, but there is no reason to hand it megabytes.
        if text.len() > 64 {
            return Err(bad("longer than 64 bytes".into()));
        }
        let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| bad(e.to_string()))?;
        // `to_offset` panics when the shift leaves the supported years; the checked form
        // turns that hostile edge into an error.
        let at = parsed
            .checked_to_offset(time::UtcOffset::UTC)
            .ok_or_else(|| bad("out of range in UTC".into()))?;
        let text = at.format(&Rfc3339).map_err(|e| bad(e.to_string()))?;
        Ok(Timestamp { text, at })
    }

    /// The canonical UTC text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant.
    pub fn datetime(&self) -> OffsetDateTime {
        self.at
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The kind of a severity score (OSV `severity[].type`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScoreKind {
    /// `CVSS_V2`: a CVSS v2 vector.
    CvssV2,
    /// `CVSS_V3`: a CVSS v3.x vector.
    CvssV3,
    /// `CVSS_V4`: a CVSS v4.0 vector.
    CvssV4,
    /// `Ubuntu`: Ubuntu's priority word (`low`, `medium`, …).
    Ubuntu,
    /// Any other type, spelled as given (never one of the names above).
    Other(String),
}

impl ScoreKind {
    /// Parses OSV's spelling.
    pub fn parse(s: &str) -> Result<ScoreKind, ModelError> {
        Ok(match s {
            "CVSS_V2" => ScoreKind::CvssV2,
            "CVSS_V3" => ScoreKind::CvssV3,
            "CVSS_V4" => ScoreKind::CvssV4,
            "Ubuntu" => ScoreKind::Ubuntu,
            other => {
                check_token("type", other, MAX_SCORE_LEN)?;
                ScoreKind::Other(other.to_string())
            }
        })
    }

    /// OSV's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            ScoreKind::CvssV2 => "CVSS_V2",
            ScoreKind::CvssV3 => "CVSS_V3",
            ScoreKind::CvssV4 => "CVSS_V4",
            ScoreKind::Ubuntu => "Ubuntu",
            ScoreKind::Other(s) => s,
        }
    }
}

impl serde::Serialize for ScoreKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One severity score: a kind and its score text (a CVSS vector, or a word for `Ubuntu`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct SeverityScore {
    #[serde(rename = "type")]
    kind: ScoreKind,
    score: String,
}

impl SeverityScore {
    /// Validates a severity entry.
    pub fn new(kind: &str, score: impl Into<String>) -> Result<SeverityScore, ModelError> {
        let kind = ScoreKind::parse(kind)?;
        let score = score.into();
        check_token("score", &score, MAX_SCORE_LEN)?;
        Ok(SeverityScore { kind, score })
    }

    /// The kind.
    pub fn kind(&self) -> &ScoreKind {
        &self.kind
    }

    /// The score text.
    pub fn score(&self) -> &str {
        &self.score
    }
}

/// The kind of a reference (OSV `references[].type`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReferenceKind {
    /// `ADVISORY`
    Advisory,
    /// `ARTICLE`
    Article,
    /// `DETECTION`
    Detection,
    /// `DISCUSSION`
    Discussion,
    /// `REPORT`
    Report,
    /// `FIX`
    Fix,
    /// `INTRODUCED`
    Introduced,
    /// `GIT`
    Git,
    /// `PACKAGE`
    Package,
    /// `EVIDENCE`
    Evidence,
    /// `WEB`
    Web,
    /// Any other type, spelled as given (never one of the names above).
    Other(String),
}

impl ReferenceKind {
    /// Parses OSV's spelling.
    pub fn parse(s: &str) -> Result<ReferenceKind, ModelError> {
        Ok(match s {
            "ADVISORY" => ReferenceKind::Advisory,
            "ARTICLE" => ReferenceKind::Article,
            "DETECTION" => ReferenceKind::Detection,
            "DISCUSSION" => ReferenceKind::Discussion,
            "REPORT" => ReferenceKind::Report,
            "FIX" => ReferenceKind::Fix,
            "INTRODUCED" => ReferenceKind::Introduced,
            "GIT" => ReferenceKind::Git,
            "PACKAGE" => ReferenceKind::Package,
            "EVIDENCE" => ReferenceKind::Evidence,
            "WEB" => ReferenceKind::Web,
            other => {
                check_token("type", other, MAX_SCORE_LEN)?;
                ReferenceKind::Other(other.to_string())
            }
        })
    }

    /// OSV's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            ReferenceKind::Advisory => "ADVISORY",
            ReferenceKind::Article => "ARTICLE",
            ReferenceKind::Detection => "DETECTION",
            ReferenceKind::Discussion => "DISCUSSION",
            ReferenceKind::Report => "REPORT",
            ReferenceKind::Fix => "FIX",
            ReferenceKind::Introduced => "INTRODUCED",
            ReferenceKind::Git => "GIT",
            ReferenceKind::Package => "PACKAGE",
            ReferenceKind::Evidence => "EVIDENCE",
            ReferenceKind::Web => "WEB",
            ReferenceKind::Other(s) => s,
        }
    }
}

impl serde::Serialize for ReferenceKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A reference link.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Reference {
    #[serde(rename = "type")]
    kind: ReferenceKind,
    url: String,
}

impl Reference {
    /// The URL, moved out.
    pub fn into_url(self) -> String {
        self.url
    }

    /// Validates a reference (URL non-empty, bounded, no control characters). The URL is
    /// not fetched or parsed further: the sealed side only displays it.
    pub fn new(kind: &str, url: impl Into<String>) -> Result<Reference, ModelError> {
        let kind = ReferenceKind::parse(kind)?;
        let url = url.into();
        check_token("url", &url, MAX_URL_LEN)?;
        Ok(Reference { kind, url })
    }

    /// The kind.
    pub fn kind(&self) -> &ReferenceKind {
        &self.kind
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in [
            "GHSA-jfh8-c2jp-5v3q",
            "CVE-2021-44228",
            "GO-2022-0969",
            "RUSTSEC-2020-0071",
            "DEBIAN-CVE-2023-4911",
            "ALPINE-CVE-2022-28391",
            "UBUNTU-CVE-2023-4004",
            "DSA-5417-1",
            "PYSEC-2021.59",
            "x:y_z",
        ] {
            assert!(AdvisoryId::new(ok).is_ok(), "{ok}");
        }
        let long = "A".repeat(129);
        for bad in ["", "a b", "a/b", "ü", "a\n", long.as_str()] {
            assert!(
                matches!(AdvisoryId::new(bad), Err(ModelError::InvalidId { .. })),
                "{bad:?}"
            );
        }
        assert!(AdvisoryId::new("A".repeat(128)).is_ok());
    }

    #[test]
    fn timestamps_canonicalise_to_utc_z() {
        let cases = [
            ("2021-12-10T00:40:56Z", "2021-12-10T00:40:56Z"),
            ("2021-12-10T00:40:56.000Z", "2021-12-10T00:40:56Z"),
            ("2024-02-16T08:17:29.962944Z", "2024-02-16T08:17:29.962944Z"),
            (
                "2026-09-12T11:00:05.986201214Z",
                "2026-09-12T11:00:05.986201214Z",
            ),
            ("2021-12-10T02:40:56+02:00", "2021-12-10T00:40:56Z"),
            // RFC 3339 §5.6 allows a space for `T`; the canonical text always uses `T`.
            ("2021-12-10 00:40:56Z", "2021-12-10T00:40:56Z"),
            ("2021-12-09T19:40:56-05:00", "2021-12-10T00:40:56Z"),
        ];
        for (input, want) in cases {
            let t = Timestamp::parse(input).expect(input);
            assert_eq!(t.as_str(), want);
            assert_eq!(Timestamp::parse(t.as_str()).expect("reparse"), t);
        }
        for bad in [
            "",
            "2021-12-10",
            "2021-12-10T00:40:56",
            "2021-13-10T00:40:56Z",
            "yesterday",
            "9999-12-31T23:00:00-05:00",
        ] {
            assert!(
                matches!(
                    Timestamp::parse(bad),
                    Err(ModelError::InvalidTimestamp { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn severity_and_reference_kinds_round_trip() {
        for k in ["CVSS_V2", "CVSS_V3", "CVSS_V4", "Ubuntu", "Vendor"] {
            assert_eq!(ScoreKind::parse(k).expect(k).as_str(), k);
        }
        assert_eq!(ScoreKind::parse("CVSS_V3").expect("v3"), ScoreKind::CvssV3);
        for k in [
            "ADVISORY",
            "ARTICLE",
            "DETECTION",
            "DISCUSSION",
            "REPORT",
            "FIX",
            "INTRODUCED",
            "GIT",
            "PACKAGE",
            "EVIDENCE",
            "WEB",
            "NEWTHING",
        ] {
            assert_eq!(ReferenceKind::parse(k).expect(k).as_str(), k);
        }
        assert!(SeverityScore::new("CVSS_V3", "").is_err());
        assert!(Reference::new("WEB", "").is_err());
        assert!(Reference::new("", "https://x").is_err());
    }
}
