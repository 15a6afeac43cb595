//! Severity of a finding: from a CVSS vector's base score, else the advisory's own rating.
//!
//! Order of preference (the first that yields a value wins):
//!
//! 1. a CVSS v4.0 vector (`CVSS_V4`): base score with the `cvss` crate (rustsec);
//! 2. a CVSS v3.1 / v3.0 vector (`CVSS_V3`): base score, same crate;
//! 3. the database's own rating: GHSA `database_specific.severity`
//!    (`LOW`/`MODERATE`/`HIGH`/`CRITICAL`), or an Ubuntu priority word (`negligible`, `low`,
//!    `medium`, `high`, `critical`);
//! 4. [`Severity::Unknown`].
//!
//! CVSS v2 vectors are not used (v2 bands differ and every record that has one also has a
//! newer rating or a database label). Bands are the CVSS v3.1/v4.0 qualitative scale: 0.1–3.9
//! low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical; a 0.0 score ("none") is reported as
//! low, because the record still says the package is affected.
//!
//! ```
//! use scanner::severity::assess;
//! use bundles::model::{Severity, SeverityScore as Score};
//!
//! let v31 = Score::new("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")?;
//! let a = assess(&[v31], None);
//! assert_eq!(a.severity, Severity::Critical);
//! assert_eq!(a.cvss.as_ref().map(|c| c.score), Some(9.8));
//! assert_eq!(assess(&[], Some("MODERATE")).severity, Severity::Medium);
//! # Ok::<(), bundles::model::ModelError>(())
//! ```
use bundles::model::{Cvss, CvssVersion, ScoreKind, Severity, SeverityScore as ScoreEntry};

/// A severity and, when it came from one, the CVSS vector behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The severity.
    pub severity: Severity,
    /// The vector used, if any.
    pub cvss: Option<Cvss>,
}

impl Assessment {
    /// Whether `self` ranks above `other`: higher severity, then higher score, then a newer
    /// CVSS version. Used to keep the highest rating when records are merged.
    pub fn outranks(&self, other: &Assessment) -> bool {
        let key = |a: &Assessment| {
            (
                a.severity,
                a.cvss.as_ref().map_or(-1.0, |c| c.score),
                a.cvss.as_ref().map_or(0, |c| match c.version {
                    CvssVersion::V4_0 => 3,
                    CvssVersion::V3_1 => 2,
                    CvssVersion::V3_0 => 1,
                }),
            )
        };
        let (a, b) = (key(self), key(other));
        match a.0.cmp(&b.0) {
            std::cmp::Ordering::Equal => (a.1, a.2) > (b.1, b.2),
            o => o == std::cmp::Ordering::Greater,
        }
    }
}

/// Scores a CVSS v4.0 vector.
pub fn score_v4(vector: &str) -> Option<Cvss> {
    let v: cvss::v4::Vector = vector.parse().ok()?;
    Some(Cvss {
        version: CvssVersion::V4_0,
        vector: vector.to_string(),
        score: v.score().value(),
    })
}

/// Scores a CVSS v3.0 / v3.1 vector (the version comes from its `CVSS:3.x/` prefix).
pub fn score_v3(vector: &str) -> Option<Cvss> {
    let v: cvss::v3::Vector = vector.parse().ok()?;
    let version = match v.minor_version {
        0 => CvssVersion::V3_0,
        1 => CvssVersion::V3_1,
        _ => return None,
    };
    Some(Cvss {
        version,
        vector: vector.to_string(),
        score: v.score().value(),
    })
}

/// The severity of a record from its severity entries and database label (preference
/// order in the module documentation). Vectors that do not parse are skipped.
pub fn assess(entries: &[ScoreEntry], database_label: Option<&str>) -> Assessment {
    let first = |kind: ScoreKind, f: fn(&str) -> Option<Cvss>| {
        entries
            .iter()
            .filter(|e| *e.kind() == kind)
            .find_map(|e| f(e.score()))
    };
    if let Some(c) =
        first(ScoreKind::CvssV4, score_v4).or_else(|| first(ScoreKind::CvssV3, score_v3))
    {
        return Assessment {
            severity: Severity::from_score(c.score),
            cvss: Some(c),
        };
    }
    let label = database_label.and_then(Severity::from_label).or_else(|| {
        entries
            .iter()
            .filter(|e| *e.kind() == ScoreKind::Ubuntu)
            .find_map(|e| Severity::from_label(e.score()))
    });
    Assessment {
        severity: label.unwrap_or(Severity::Unknown),
        cvss: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, score: &str) -> ScoreEntry {
        ScoreEntry::new(kind, score).expect("valid severity entry")
    }

    #[test]
    fn specification_examples_v31() {
        // CVSS v3.1 specification, section 7 examples / NVD calculator.
        let cases = [
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                9.8,
                Severity::Critical,
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
                6.1,
                Severity::Medium,
            ),
            (
                "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                7.8,
                Severity::High,
            ),
            (
                "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N",
                3.7,
                Severity::Low,
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
                10.0,
                Severity::Critical,
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N",
                0.0,
                Severity::Low,
            ),
        ];
        for (v, score, sev) in cases {
            let a = assess(&[entry("CVSS_V3", v)], None);
            let c = a.cvss.expect(v);
            assert_eq!(c.score, score, "{v}");
            assert_eq!(c.version, CvssVersion::V3_1);
            assert_eq!(a.severity, sev, "{v}");
        }
        let v30 = assess(
            &[entry(
                "CVSS_V3",
                "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H",
            )],
            None,
        );
        assert_eq!(
            v30.cvss.as_ref().map(|c| (c.version, c.score)),
            Some((CvssVersion::V3_0, 9.6))
        );
    }

    #[test]
    fn specification_examples_v40() {
        let cases = [
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
                Severity::Critical,
            ),
            (
                "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                8.5,
                Severity::High,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N",
                0.0,
                Severity::Low,
            ),
        ];
        for (v, score, sev) in cases {
            let a = assess(&[entry("CVSS_V4", v)], None);
            let c = a.cvss.expect(v);
            assert_eq!((c.version, c.score), (CvssVersion::V4_0, score), "{v}");
            assert_eq!(a.severity, sev, "{v}");
        }
    }

    #[test]
    fn v4_is_preferred_then_v3_then_labels() {
        let v3 = entry("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
        let v4 = entry(
            "CVSS_V4",
            "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        );
        let a = assess(&[v3.clone(), v4], Some("LOW"));
        assert_eq!(a.cvss.as_ref().map(|c| c.version), Some(CvssVersion::V4_0));
        assert_eq!(a.severity, Severity::High);
        assert_eq!(assess(&[v3], Some("LOW")).severity, Severity::Critical);
        // A broken vector falls through to the label.
        let broken = entry("CVSS_V3", "CVSS:3.1/AV:Q");
        let a = assess(&[broken], Some("MODERATE"));
        assert_eq!((a.severity, a.cvss), (Severity::Medium, None));
        let ubuntu = entry("Ubuntu", "negligible");
        assert_eq!(assess(&[ubuntu], None).severity, Severity::Low);
        assert_eq!(
            assess(&[entry("CVSS_V2", "AV:N/AC:L/Au:N/C:P/I:P/A:P")], None).severity,
            Severity::Unknown
        );
        assert_eq!(assess(&[], Some("untriaged")).severity, Severity::Unknown);
    }
}
