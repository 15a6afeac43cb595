//! Display formatting shared by the pages (dates, ages, short digests).

use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};

/// `2026-11-22 10:04 UTC`.
pub(crate) fn date_time(t: OffsetDateTime) -> String {
    let f = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.format(&f).unwrap_or_else(|_| t.to_string())
}

/// `2026-11-22`.
pub(crate) fn date(d: Date) -> String {
    let f = format_description!("[year]-[month]-[day]");
    d.format(&f).unwrap_or_else(|_| d.to_string())
}

/// Parses an HTML date input value (`YYYY-MM-DD`).
pub(crate) fn parse_date(s: &str) -> Option<Date> {
    let f = format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &f).ok()
}

/// A coarse duration: `3 d 4 h`, `5 h 12 min`, `40 s`.
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.whole_seconds().unsigned_abs();
    let (days, hours, mins) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins} min")
    } else if mins > 0 {
        format!("{mins} min")
    } else {
        format!("{secs} s")
    }
}

/// `in 3 d 4 h` / `3 d 4 h ago`, relative to `now`.
pub(crate) fn relative(now: OffsetDateTime, t: OffsetDateTime) -> String {
    let d = t - now;
    if d.is_negative() {
        format!("{} ago", duration(d))
    } else {
        format!("in {}", duration(d))
    }
}

/// First 12 hex digits of a digest (after any `sha256:` prefix).
pub(crate) fn short_digest(s: &str) -> String {
    let hex = s.split_once(':').map_or(s, |(_, h)| h);
    hex.chars().take(12).collect()
}

/// Percent-encodes a query-string value.
pub(crate) fn q(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Percent-encodes a path segment.
pub(crate) fn seg(s: &str) -> String {
    q(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn durations_are_coarse_and_signed_relative() {
        assert_eq!(duration(Duration::seconds(40)), "40 s");
        assert_eq!(duration(Duration::minutes(125)), "2 h 5 min");
        assert_eq!(duration(Duration::hours(50)), "2 d 2 h");
        let now = datetime!(2026-11-22 10:00 UTC);
        assert_eq!(relative(now, now + Duration::days(3)), "in 3 d 0 h");
        assert_eq!(relative(now, now - Duration::hours(2)), "2 h 0 min ago");
    }

    #[test]
    fn dates_round_trip_and_reject_garbage() {
        let d = parse_date("2026-02-28").expect("valid date");
        assert_eq!(date(d), "2026-02-28");
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("<script>").is_none());
        assert_eq!(short_digest("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(q("a b&c=<"), "a%20b%26c%3D%3C");
    }
}
