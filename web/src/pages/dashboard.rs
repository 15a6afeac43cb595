//! `GET /`: feed age, the active kit, quotas, expiry warnings, recent scans and new
//! criticals.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use time::{Duration, OffsetDateTime};

use super::scans::ScanLine;
use super::{Chrome, html};
use crate::auth::Operator;
use crate::console::{ClientQuota, DashboardData, KitInfo, NewCritical};
use crate::error::WebError;
use crate::fmt;
use crate::state::AppState;

/// How long before an expiry the dashboard raises a red warning.
pub(crate) const EXPIRY_WARNING: Duration = Duration::days(7);

/// A status tile.
pub(crate) struct Tile {
    pub(crate) label: &'static str,
    pub(crate) value: String,
    pub(crate) sub: String,
    /// `ok`, `warn`, `bad` or `neutral`: a CSS class.
    pub(crate) status: &'static str,
}

/// One client's quota chip.
pub(crate) struct QuotaChip {
    pub(crate) client: String,
    pub(crate) used: u32,
    pub(crate) limit: u32,
    /// Fill of the bar, rounded to 5 % steps (CSS classes `w0`…`w100`; no inline style
    /// under our CSP).
    pub(crate) pct: u32,
    pub(crate) status: &'static str,
}

/// Kit facts as label/value pairs.
pub(crate) struct KitFacts {
    pub(crate) rows: Vec<(&'static str, String)>,
    pub(crate) counts: Vec<(String, u64)>,
    pub(crate) total: u64,
}

/// The dashboard.
#[derive(Template)]
#[template(path = "dashboard.html")]
pub(crate) struct DashboardPage {
    chrome: Chrome,
    now: String,
    toasts: Vec<String>,
    tiles: Vec<Tile>,
    quotas: Vec<QuotaChip>,
    kit: Option<KitFacts>,
    rows: Vec<ScanLine>,
    criticals: Vec<NewCritical>,
}

/// `GET /`.
pub(crate) async fn show(
    State(st): State<AppState>,
    op: Operator,
) -> Result<Html<String>, WebError> {
    let data = st.call(|c| c.dashboard()).await?;
    html(&DashboardPage::build(Chrome::new(&op, "dashboard"), data))
}

/// Feed-age status against the policy maximum: red beyond it, amber in its last
/// quarter, green before.
pub(crate) fn feed_status(age: Duration, max_days: u32) -> &'static str {
    let max = Duration::days(i64::from(max_days));
    if age > max {
        "bad"
    } else if age * 4 > max * 3 {
        "warn"
    } else {
        "ok"
    }
}

fn expiry_status(now: OffsetDateTime, expires: OffsetDateTime) -> &'static str {
    if expires <= now {
        "bad"
    } else if expires - now <= EXPIRY_WARNING {
        "warn"
    } else {
        "ok"
    }
}

/// Red warnings for everything that expires within [`EXPIRY_WARNING`] (or already has).
pub(crate) fn expiry_toasts(
    now: OffsetDateTime,
    kit: Option<&KitInfo>,
    quotas: &[ClientQuota],
) -> Vec<String> {
    let mut out = Vec::new();
    let mut warn = |what: String, at: OffsetDateTime, fix: &str| {
        if at <= now {
            out.push(format!(
                "{what} expired {} ({}). {fix}",
                fmt::relative(now, at),
                fmt::date_time(at)
            ));
        } else if at - now <= EXPIRY_WARNING {
            out.push(format!(
                "{what} expires {} ({}). {fix}",
                fmt::relative(now, at),
                fmt::date_time(at)
            ));
        }
    };
    if let Some(k) = kit {
        warn(
            format!("Kit #{}", k.sequence),
            k.expires,
            "Import a newer kit.",
        );
    }
    for q in quotas {
        warn(
            format!("The token of client {}", q.client_id),
            q.token_expires,
            "A new kit carries fresh tokens.",
        );
    }
    out
}

fn pct(used: u32, limit: u32) -> u32 {
    if limit == 0 {
        return 100;
    }
    let p = (u64::from(used) * 100 / u64::from(limit)).min(100);
    // Round to the nearest 5 %; at least 5 % once anything is used.
    let r = ((p + 2) / 5 * 5) as u32;
    if used > 0 && r == 0 { 5 } else { r }
}

impl DashboardPage {
    pub(crate) fn build(chrome: Chrome, d: DashboardData) -> Self {
        let now = d.now;
        let mut tiles = Vec::with_capacity(4);
        match &d.kit {
            Some(k) => {
                let age = now - k.created;
                tiles.push(Tile {
                    label: "Feed age",
                    value: fmt::duration(age),
                    sub: format!(
                        "snapshot {} · policy maximum {} days",
                        fmt::date_time(k.created),
                        d.max_feed_age_days
                    ),
                    status: feed_status(age, d.max_feed_age_days),
                });
                tiles.push(Tile {
                    label: "Active kit",
                    value: format!("#{}", k.sequence),
                    sub: format!("expires {}", fmt::relative(now, k.expires)),
                    status: expiry_status(now, k.expires),
                });
            }
            None => {
                tiles.push(Tile {
                    label: "Feed age",
                    value: "no feeds".into(),
                    sub: "import a kit to start scanning".into(),
                    status: "bad",
                });
                tiles.push(Tile {
                    label: "Active kit",
                    value: "none".into(),
                    sub: "Kits → upload a .ouk".into(),
                    status: "bad",
                });
            }
        }
        let used: u64 = d.quotas.iter().map(|q| u64::from(q.used)).sum();
        let limit: u64 = d.quotas.iter().map(|q| u64::from(q.limit)).sum();
        let exhausted = d.quotas.iter().filter(|q| q.used >= q.limit).count();
        tiles.push(Tile {
            label: "Scans today",
            value: used.to_string(),
            sub: match exhausted {
                0 => format!("of {limit} allowed · {} clients", d.quotas.len()),
                1 => format!("of {limit} allowed · 1 client at its limit"),
                n => format!("of {limit} allowed · {n} clients at their limit"),
            },
            status: if exhausted > 0 { "warn" } else { "neutral" },
        });
        tiles.push(Tile {
            label: "New criticals",
            value: d.new_criticals.len().to_string(),
            sub: "since the last kit import".into(),
            status: if d.new_criticals.is_empty() {
                "ok"
            } else {
                "bad"
            },
        });

        let quotas = d
            .quotas
            .iter()
            .map(|q| QuotaChip {
                client: q.client_id.clone(),
                used: q.used,
                limit: q.limit,
                pct: pct(q.used, q.limit),
                status: if q.used >= q.limit {
                    "bad"
                } else if u64::from(q.used) * 10 >= u64::from(q.limit) * 9 {
                    "warn"
                } else {
                    "ok"
                },
            })
            .collect();

        let kit = d.kit.as_ref().map(|k| {
            let mut rows = vec![
                ("Sequence", format!("#{}", k.sequence)),
                ("Kit id", k.kit_id.clone()),
                ("Created", fmt::date_time(k.created)),
                (
                    "Expires",
                    format!(
                        "{} ({})",
                        fmt::date_time(k.expires),
                        fmt::relative(now, k.expires)
                    ),
                ),
            ];
            if let Some(a) = k.activated {
                rows.push(("Activated", fmt::date_time(a)));
            }
            if let Some(site) = &k.site {
                rows.push(("Site", site.clone()));
            }
            rows.push((
                "Trivy DB",
                k.trivy_db_updated
                    .map_or_else(|| "not in this kit".to_owned(), fmt::date_time),
            ));
            KitFacts {
                rows,
                counts: k
                    .advisory_counts
                    .iter()
                    .map(|c| (c.ecosystem.clone(), c.advisories))
                    .collect(),
                total: k.advisory_counts.iter().map(|c| c.advisories).sum(),
            }
        });

        DashboardPage {
            chrome,
            now: fmt::date_time(now),
            toasts: expiry_toasts(now, d.kit.as_ref(), &d.quotas),
            tiles,
            quotas,
            kit,
            rows: d
                .recent_scans
                .iter()
                .take(10)
                .map(|r| ScanLine::new(r, now))
                .collect(),
            criticals: d.new_criticals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn feed_age_colours_follow_the_policy_maximum() {
        assert_eq!(feed_status(Duration::days(1), 8), "ok");
        assert_eq!(feed_status(Duration::days(6), 8), "ok");
        assert_eq!(feed_status(Duration::days(7), 8), "warn");
        assert_eq!(feed_status(Duration::days(8), 8), "warn");
        assert_eq!(
            feed_status(Duration::days(8) + Duration::seconds(1), 8),
            "bad"
        );
    }

    #[test]
    fn toasts_appear_seven_days_before_expiry() {
        let now = datetime!(2026-11-22 10:00 UTC);
        let q = |id: &str, days: i64| ClientQuota {
            client_id: id.into(),
            used: 0,
            limit: 333,
            token_expires: now + Duration::days(days),
        };
        let toasts = expiry_toasts(now, None, &[q("far", 8), q("near", 7), q("gone", -1)]);
        assert_eq!(toasts.len(), 2, "{toasts:?}");
        assert!(toasts[0].contains("near") && toasts[0].contains("expires in 7 d"));
        assert!(toasts[1].contains("gone") && toasts[1].contains("expired"));
    }

    #[test]
    fn quota_bar_rounds_to_css_steps() {
        assert_eq!(pct(0, 333), 0);
        assert_eq!(pct(1, 333), 5);
        assert_eq!(pct(333, 333), 100);
        assert_eq!(pct(400, 333), 100);
        assert_eq!(pct(166, 333), 50);
        assert_eq!(pct(0, 0), 100);
    }
}
