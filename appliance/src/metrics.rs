//! Prometheus metrics, hand-formatted in the text exposition format (0.0.4): a handful
//! of counters and one histogram do not justify a metrics framework.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the scan-latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The service's counters. All updates are lock-free.
#[derive(Debug, Default)]
pub struct Metrics {
    scans_pass: AtomicU64,
    scans_fail: AtomicU64,
    scan_errors: AtomicU64,
    rejected_sboms: AtomicU64,
    quota_refusals: AtomicU64,
    busy_refusals: AtomicU64,
    auth_failures: AtomicU64,
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    imports_accepted: AtomicU64,
    imports_refused: AtomicU64,
    imports_other: AtomicU64,
}

/// Facts sampled when the metrics are rendered.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    /// Seconds since the active kit was created (`None` = no kit).
    pub kit_age_seconds: Option<i64>,
    /// Sequence of the active kit.
    pub kit_sequence: Option<u64>,
}

impl Metrics {
    /// Counts a completed scan.
    pub fn scan_done(&self, pass: bool, took: Duration) {
        if pass {
            self.scans_pass.fetch_add(1, Ordering::Relaxed);
        } else {
            self.scans_fail.fetch_add(1, Ordering::Relaxed);
        }
        let secs = took.as_secs_f64();
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Counts a scan that failed inside the appliance (5xx).
    pub fn scan_error(&self) {
        self.scan_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an SBOM refused as unparseable or too large.
    pub fn sbom_rejected(&self) {
        self.rejected_sboms.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a 429.
    pub fn quota_refused(&self) {
        self.quota_refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a scan refused with 503 because the in-flight body budget was spent.
    pub fn busy_refused(&self) {
        self.busy_refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a 401 on a client endpoint.
    pub fn auth_failed(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the import counters (taken from the audit log when the kit is (re)loaded).
    pub fn set_imports(&self, accepted: u64, refused: u64, other: u64) {
        self.imports_accepted.store(accepted, Ordering::Relaxed);
        self.imports_refused.store(refused, Ordering::Relaxed);
        self.imports_other.store(other, Ordering::Relaxed);
    }

    /// Scans counted so far, (pass, fail).
    pub fn scans(&self) -> (u64, u64) {
        (
            self.scans_pass.load(Ordering::Relaxed),
            self.scans_fail.load(Ordering::Relaxed),
        )
    }

    /// The exposition text.
    pub fn render(&self, g: Gauges) -> String {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::with_capacity(2048);
        // Writing to a String cannot fail; the results are ignored on purpose.
        let _ = writeln!(s, "# HELP stella_scans_total Scans answered, by verdict.");
        let _ = writeln!(s, "# TYPE stella_scans_total counter");
        let _ = writeln!(
            s,
            "stella_scans_total{{verdict=\"pass\"}} {}",
            l(&self.scans_pass)
        );
        let _ = writeln!(
            s,
            "stella_scans_total{{verdict=\"fail\"}} {}",
            l(&self.scans_fail)
        );
        let _ = writeln!(
            s,
            "# HELP stella_scan_errors_total Scans that failed inside the appliance (5xx)."
        );
        let _ = writeln!(s, "# TYPE stella_scan_errors_total counter");
        let _ = writeln!(s, "stella_scan_errors_total {}", l(&self.scan_errors));
        let _ = writeln!(
            s,
            "# HELP stella_sbom_rejected_total SBOM uploads refused as unparseable or too large."
        );
        let _ = writeln!(s, "# TYPE stella_sbom_rejected_total counter");
        let _ = writeln!(s, "stella_sbom_rejected_total {}", l(&self.rejected_sboms));
        let _ = writeln!(
            s,
            "# HELP stella_quota_refusals_total Scans refused with 429 (daily quota spent)."
        );
        let _ = writeln!(s, "# TYPE stella_quota_refusals_total counter");
        let _ = writeln!(s, "stella_quota_refusals_total {}", l(&self.quota_refusals));
        let _ = writeln!(
            s,
            "# HELP stella_busy_refusals_total Scans refused with 503 (in-flight body budget spent)."
        );
        let _ = writeln!(s, "# TYPE stella_busy_refusals_total counter");
        let _ = writeln!(s, "stella_busy_refusals_total {}", l(&self.busy_refusals));
        let _ = writeln!(
            s,
            "# HELP stella_auth_failures_total Client requests refused with 401."
        );
        let _ = writeln!(s, "# TYPE stella_auth_failures_total counter");
        let _ = writeln!(s, "stella_auth_failures_total {}", l(&self.auth_failures));
        let _ = writeln!(
            s,
            "# HELP stella_scan_duration_seconds Time to answer an accepted scan."
        );
        let _ = writeln!(s, "# TYPE stella_scan_duration_seconds histogram");
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "stella_scan_duration_seconds_bucket{{le=\"{b}\"}} {}",
                l(&self.buckets[i])
            );
        }
        let count = l(&self.latency_count);
        let _ = writeln!(
            s,
            "stella_scan_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            s,
            "stella_scan_duration_seconds_sum {}",
            l(&self.latency_sum_us) as f64 / 1e6
        );
        let _ = writeln!(s, "stella_scan_duration_seconds_count {count}");
        let _ = writeln!(
            s,
            "# HELP stella_kit_imports_total Kit imports recorded in the audit log, by result."
        );
        let _ = writeln!(s, "# TYPE stella_kit_imports_total counter");
        let _ = writeln!(
            s,
            "stella_kit_imports_total{{result=\"accepted\"}} {}",
            l(&self.imports_accepted)
        );
        let _ = writeln!(
            s,
            "stella_kit_imports_total{{result=\"refused\"}} {}",
            l(&self.imports_refused)
        );
        let _ = writeln!(
            s,
            "stella_kit_imports_total{{result=\"other\"}} {}",
            l(&self.imports_other)
        );
        let _ = writeln!(
            s,
            "# HELP stella_kit_active Whether a kit is active (1) or not (0)."
        );
        let _ = writeln!(s, "# TYPE stella_kit_active gauge");
        let _ = writeln!(
            s,
            "stella_kit_active {}",
            u8::from(g.kit_age_seconds.is_some())
        );
        if let Some(age) = g.kit_age_seconds {
            let _ = writeln!(
                s,
                "# HELP stella_kit_age_seconds Seconds since the active kit was created (feed age)."
            );
            let _ = writeln!(s, "# TYPE stella_kit_age_seconds gauge");
            let _ = writeln!(s, "stella_kit_age_seconds {age}");
        }
        if let Some(seq) = g.kit_sequence {
            let _ = writeln!(
                s,
                "# HELP stella_kit_sequence Sequence number of the active kit."
            );
            let _ = writeln!(s, "# TYPE stella_kit_sequence gauge");
            let _ = writeln!(s, "stella_kit_sequence {seq}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_match() {
        let m = Metrics::default();
        m.scan_done(true, Duration::from_micros(800));
        m.scan_done(false, Duration::from_millis(20));
        m.quota_refused();
        let t = m.render(Gauges {
            kit_age_seconds: Some(42),
            kit_sequence: Some(3),
        });
        assert!(
            t.contains("stella_scans_total{verdict=\"pass\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("stella_scans_total{verdict=\"fail\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("stella_scan_duration_seconds_bucket{le=\"0.001\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("stella_scan_duration_seconds_bucket{le=\"0.025\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("stella_scan_duration_seconds_bucket{le=\"+Inf\"} 2\n"),
            "{t}"
        );
        assert!(t.contains("stella_scan_duration_seconds_count 2\n"), "{t}");
        assert!(t.contains("stella_quota_refusals_total 1\n"), "{t}");
        assert!(t.contains("stella_kit_age_seconds 42\n"), "{t}");
        let none = m.render(Gauges::default());
        assert!(none.contains("stella_kit_active 0\n"));
        assert!(!none.contains("stella_kit_age_seconds"));
    }
}
