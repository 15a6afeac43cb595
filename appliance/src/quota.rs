//! Pure quota helpers: UTC days, the next UTC midnight, and the HTTP header values of a
//! quota answer (`Retry-After`, `X-RateLimit-*`). The counting itself lives in
//! [`Store::quota_try_consume`](crate::store::Store::quota_try_consume).
//!
//! ```
//! use appliance::quota::{http_date, next_utc_midnight};
//! use time::macros::datetime;
//!
//! let now = datetime!(2026-11-22 17:45:03 UTC);
//! assert_eq!(http_date(next_utc_midnight(now).expect("in range")), "Mon, 23 Nov 2026 00:00:00 GMT");
//! ```

use time::macros::format_description;
use time::{Date, OffsetDateTime, Time, UtcOffset};

use crate::store::QuotaStatus;

/// The Free tier's daily scan limit per token (MISSION.md).
pub const FREE_SCANS_PER_DAY: u32 = 333;

/// The UTC calendar day containing `now` (quotas are counted per UTC day).
pub fn utc_day(now: OffsetDateTime) -> Date {
    now.to_offset(UtcOffset::UTC).date()
}

/// 00:00:00 UTC of the day after `day`: when that day's counter resets.
/// `None` only at the end of `time`'s supported range.
pub fn next_midnight_after(day: Date) -> Option<OffsetDateTime> {
    Some(day.next_day()?.with_time(Time::MIDNIGHT).assume_utc())
}

/// The first UTC midnight strictly after `now` (a request at exactly midnight belongs
/// to the new day, so its quota resets at the following midnight).
pub fn next_utc_midnight(now: OffsetDateTime) -> Option<OffsetDateTime> {
    next_midnight_after(utc_day(now))
}

/// An IMF-fixdate (RFC 9110 §5.6.7), e.g. `Mon, 23 Nov 2026 00:00:00 GMT`: the preferred
/// HTTP-date format for `Retry-After`. Sub-second precision is dropped. Years outside
/// 0000–9999 cannot be written in this format and are clamped to the range's edge.
pub fn http_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let fmt = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    match t.format(fmt) {
        Ok(s) if (0..=9999).contains(&t.year()) => s,
        _ if t.year() < 0 => "Sat, 01 Jan 0000 00:00:00 GMT".to_owned(),
        _ => "Fri, 31 Dec 9999 23:59:59 GMT".to_owned(),
    }
}

/// Whole seconds from `now` until `until`, rounded up (a client that waits this long is
/// past the reset), and 0 if `until` has passed.
pub fn seconds_until(now: OffsetDateTime, until: OffsetDateTime) -> u64 {
    let d = until - now;
    if d.is_negative() || d.is_zero() {
        return 0;
    }
    let secs = d.whole_seconds().unsigned_abs();
    if d.subsec_nanoseconds() > 0 {
        secs + 1
    } else {
        secs
    }
}

/// The header values of a quota answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaHeaders {
    /// `X-RateLimit-Limit`: scans allowed per UTC day.
    pub limit: String,
    /// `X-RateLimit-Remaining`: scans left today.
    pub remaining: String,
    /// `X-RateLimit-Reset`: the reset time in Unix seconds (the GitHub convention that
    /// most CI tools read).
    pub reset: String,
    /// `Retry-After`: the reset time as an HTTP-date; send only with a 429.
    pub retry_after: String,
}

impl QuotaHeaders {
    /// Header name/value pairs; `Retry-After` is included only when `refused`.
    pub fn pairs(&self, refused: bool) -> Vec<(&'static str, &str)> {
        let mut v = vec![
            ("X-RateLimit-Limit", self.limit.as_str()),
            ("X-RateLimit-Remaining", self.remaining.as_str()),
            ("X-RateLimit-Reset", self.reset.as_str()),
        ];
        if refused {
            v.push(("Retry-After", self.retry_after.as_str()));
        }
        v
    }
}

/// The headers describing `status`.
pub fn quota_headers(status: &QuotaStatus) -> QuotaHeaders {
    QuotaHeaders {
        limit: status.limit.to_string(),
        remaining: status.remaining.to_string(),
        reset: status.resets_at.unix_timestamp().to_string(),
        retry_after: http_date(status.resets_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn midnight_rolls_over_month_year_and_leap_day() {
        assert_eq!(
            next_utc_midnight(datetime!(2026-12-31 23:59:59.999 UTC)),
            Some(datetime!(2027-01-01 0:00 UTC))
        );
        assert_eq!(
            next_utc_midnight(datetime!(2028-02-28 12:00 UTC)),
            Some(datetime!(2028-02-29 0:00 UTC))
        );
        // Exactly midnight is already the new day.
        assert_eq!(
            next_utc_midnight(datetime!(2026-11-23 0:00 UTC)),
            Some(datetime!(2026-11-24 0:00 UTC))
        );
    }

    #[test]
    fn day_is_taken_in_utc_not_local_offset() {
        // 23:30 at UTC-5 is already the next day in UTC.
        let t = datetime!(2026-11-22 23:30 -5);
        assert_eq!(utc_day(t), date!(2026 - 11 - 23));
        assert_eq!(next_utc_midnight(t), Some(datetime!(2026-11-24 0:00 UTC)));
    }

    #[test]
    fn http_date_is_imf_fixdate() {
        assert_eq!(
            http_date(datetime!(2026-11-23 0:00 UTC)),
            "Mon, 23 Nov 2026 00:00:00 GMT"
        );
        // Converted to GMT, zero-padded day.
        assert_eq!(
            http_date(datetime!(2026-01-05 02:03:04.9 +2)),
            "Mon, 05 Jan 2026 00:03:04 GMT"
        );
    }

    #[test]
    fn http_date_matches_python_email_utils_vectors() {
        // Generated by tests/data/quota/gen_http_dates.py with Python's
        // email.utils.formatdate(ts, usegmt=True), an independent implementation.
        let data = include_str!("../tests/data/quota/http_dates.txt");
        let mut n = 0;
        for line in data
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (ts, want) = line.split_once(' ').expect("'<unix> <date>' line");
            let ts: i64 = ts.parse().expect("unix seconds");
            let t = OffsetDateTime::from_unix_timestamp(ts).expect("in range");
            assert_eq!(http_date(t), want, "unix time {ts}");
            n += 1;
        }
        assert!(n >= 50, "vector file has only {n} vectors");
    }

    #[test]
    fn seconds_until_rounds_up_and_never_negative() {
        let now = datetime!(2026-11-22 23:59:58.5 UTC);
        let reset = datetime!(2026-11-23 0:00 UTC);
        assert_eq!(seconds_until(now, reset), 2);
        assert_eq!(seconds_until(reset, reset), 0);
        assert_eq!(seconds_until(reset, now), 0);
    }

    #[test]
    fn headers_describe_the_status() {
        let st = QuotaStatus {
            limit: 333,
            used: 333,
            remaining: 0,
            resets_at: datetime!(2026-11-23 0:00 UTC),
        };
        let h = quota_headers(&st);
        assert_eq!(
            h.pairs(true),
            vec![
                ("X-RateLimit-Limit", "333"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", "1795392000"),
                ("Retry-After", "Mon, 23 Nov 2026 00:00:00 GMT"),
            ]
        );
        assert_eq!(h.pairs(false).len(), 3);
    }
}
