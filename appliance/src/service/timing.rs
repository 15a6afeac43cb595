//! `Server-Timing` for `POST /api/v1/scan`: where the milliseconds of one scan went.
//!
//! Every scan answer carries a [`Server-Timing`] header naming its phases (`auth`, `body`,
//! `parse`, `quota`, `match`, `policy`, `json`, `store`, `sign`, `insert`, `audit`,
//! `total`), so an operator or a CI engineer can see with `curl -D -` (or a browser's
//! network panel) whether a slow scan was the SBOM, the engine or the disk. Only phase
//! names and durations are disclosed, nothing about the data.
//!
//! [`Server-Timing`]: https://www.w3.org/TR/server-timing/

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Phase durations of one request, in the order they ran.
#[derive(Debug, Clone)]
pub struct Timings {
    started: Instant,
    last: Instant,
    phases: Vec<(&'static str, Duration)>,
}

impl Timings {
    /// Starts timing at `started` (the request's arrival).
    pub fn new(started: Instant) -> Self {
        Timings {
            started,
            last: started,
            phases: Vec::with_capacity(12),
        }
    }

    /// Ends the current phase, naming it `name`, and starts the next one.
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.phases
            .push((name, now.saturating_duration_since(self.last)));
        self.last = now;
    }

    /// Time since the request arrived.
    pub fn total(&self) -> Duration {
        self.started.elapsed()
    }

    /// The recorded phases.
    pub fn phases(&self) -> &[(&'static str, Duration)] {
        &self.phases
    }

    /// The `Server-Timing` header value: `parse;dur=1.234, …, total;dur=9.876` (ms).
    pub fn header_text(&self) -> String {
        let mut s = String::with_capacity(16 * (self.phases.len() + 1));
        for (name, d) in &self.phases {
            let _ = write!(s, "{name};dur={:.3}, ", d.as_secs_f64() * 1e3);
        }
        let _ = write!(s, "total;dur={:.3}", self.total().as_secs_f64() * 1e3);
        // Phase names are static ASCII tokens and the numbers are digits and a dot.
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lists_phases_in_order_then_total() {
        let mut t = Timings::new(Instant::now());
        t.mark("parse");
        std::thread::sleep(Duration::from_millis(2));
        t.mark("match");
        let h = t.header_text();
        let names: Vec<&str> = h
            .split(", ")
            .map(|p| p.split(';').next().expect("name"))
            .collect();
        assert_eq!(names, ["parse", "match", "total"]);
        let match_ms: f64 = h
            .split(", ")
            .nth(1)
            .and_then(|p| p.strip_prefix("match;dur="))
            .and_then(|v| v.parse().ok())
            .expect("match duration");
        assert!(match_ms >= 2.0, "{h}");
        assert!(t.total() >= Duration::from_millis(2));
    }
}
