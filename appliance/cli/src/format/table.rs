//! The human-readable report: fits an 80-column CI log, colour only when asked.

use super::Context;
use crate::report::{Finding, Severity, Verdict};
use std::fmt::Write as _;

/// Width of the table: the classic CI log width.
pub const WIDTH: usize = 80;

// Column widths (2 spaces between columns): 9 + 19 + 20 + 12 + 12 + 4×2 = 80.
// The severity column holds "critical!" (the "!" marks rows that fail the policy).
const W_SEV: usize = 9;
const W_ID: usize = 19;
const W_PKG: usize = 20;
const W_VER: usize = 12;
const W_FIX: usize = 12;

/// Truncates `s` to at most `width` characters, marking the cut with `…`, and replaces
/// control characters (a hostile feed must not be able to move the cursor in a CI log).
#[must_use]
pub fn fit(s: &str, width: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if clean.chars().count() <= width {
        return clean;
    }
    let mut out: String = clean.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    let mut out = s.to_owned();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(n)));
    out
}

struct Painter {
    on: bool,
}

impl Painter {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn severity(&self, sev: Severity, padded: &str) -> String {
        let code = match sev {
            Severity::Critical => "1;31",
            Severity::High => "31",
            Severity::Medium => "33",
            Severity::Low => "36",
            Severity::Unknown => "2",
        };
        self.paint(code, padded)
    }
}

fn sort_key(f: &Finding) -> (std::cmp::Reverse<Severity>, &str, &str) {
    (std::cmp::Reverse(f.severity), f.id.as_str(), f.purl())
}

/// Renders the table, the summary and the verdict.
#[must_use]
pub fn render(ctx: &Context<'_>) -> String {
    let p = Painter { on: ctx.color };
    let r = ctx.report;
    let mut out = String::new();

    let mut open: Vec<&Finding> = r.findings.iter().filter(|f| !f.muted).collect();
    open.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    let mut muted: Vec<&Finding> = r.findings.iter().filter(|f| f.muted).collect();
    muted.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));

    if open.is_empty() {
        out.push_str("No unmuted findings.\n");
    } else {
        let header = format!(
            "{}  {}  {}  {}  {}",
            pad("SEVERITY", W_SEV),
            pad("ADVISORY", W_ID),
            pad("PACKAGE", W_PKG),
            pad("INSTALLED", W_VER),
            "FIXED IN"
        );
        let _ = writeln!(out, "{}", p.paint("1", header.trim_end()));
        for f in &open {
            let fixed = if f.fixed_versions.is_empty() {
                "-".to_owned()
            } else {
                f.fixed_versions.join(", ")
            };
            let mark = if ctx.decision.fails(*f) { "!" } else { " " };
            // The "!" marks rows that fail the policy, so the log shows why a build failed
            // even without colour; "?" marks a finding the engine could not decide.
            let undecided = if f.undecided { "?" } else { "" };
            let sev = pad(&format!("{}{undecided}{mark}", f.severity), W_SEV);
            let line = format!(
                "{}  {}  {}  {}  {}",
                p.severity(f.severity, &sev),
                pad(&fit(&f.id, W_ID), W_ID),
                pad(&fit(&f.package.name, W_PKG), W_PKG),
                pad(&fit(&f.package.version, W_VER), W_VER),
                fit(&fixed, W_FIX)
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }

    if !muted.is_empty() {
        let _ = writeln!(out, "\nMuted ({}):", muted.len());
        for f in &muted {
            let head = format!("  {} {} {}", f.id, f.package.name, f.package.version);
            let _ = writeln!(out, "{}", p.paint("2", &fit(&head, WIDTH)));
            let reason = f.mute_reason.as_deref().unwrap_or("no reason given");
            let _ = writeln!(
                out,
                "{}",
                p.paint("2", &fit(&format!("    reason: {reason}"), WIDTH))
            );
        }
    }

    let s = &r.summary;
    let b = &s.by_severity;
    let _ = writeln!(
        out,
        "\n{} components, {} findings ({} muted)",
        s.components, s.findings, s.muted
    );
    let _ = writeln!(
        out,
        "unmuted: {} critical, {} high, {} medium, {} low, {} unknown",
        b.critical, b.high, b.medium, b.low, b.unknown
    );
    let undecided = r
        .findings
        .iter()
        .filter(|f| f.undecided && !f.muted)
        .count();
    if undecided > 0 {
        let _ = writeln!(
            out,
            "{undecided} undecided (marked ?): the appliance could not compare the version with the advisory's ranges; {}",
            if ctx.decision.ignore_undecided {
                "the policy ignores them for the verdict"
            } else {
                "they count for the verdict; check by hand"
            }
        );
    }
    for w in &r.warnings {
        let _ = writeln!(
            out,
            "{}",
            p.paint("33", &fit(&format!("warning: {w}"), WIDTH))
        );
    }
    if s.stale_feed {
        let _ = writeln!(
            out,
            "{}",
            p.paint(
                "33",
                "warning: the appliance's feeds are stale; import a newer kit"
            )
        );
    }
    if let Some(k) = &r.kit {
        let _ = writeln!(
            out,
            "{}",
            fit(
                &format!(
                    "kit: {} (sequence {}, created {})",
                    k.id, k.sequence, k.created_at
                ),
                WIDTH
            )
        );
    }
    let _ = writeln!(out, "{}", fit(&format!("scan: {}", r.scan_id), WIDTH));

    let failing = r.failing(ctx.decision.threshold).count();
    let how = if ctx.decision.local {
        "--fail-on"
    } else {
        "appliance policy"
    };
    let verdict = match ctx.decision.verdict {
        Verdict::Pass => p.paint("1;32", "PASS"),
        Verdict::Fail => p.paint("1;31", "FAIL"),
    };
    let _ = writeln!(
        out,
        "verdict: {verdict} ({failing} unmuted at or above {}, {how})",
        ctx.decision.threshold
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixtures;
    use crate::report::FailOn;

    fn ctx<'a>(
        r: &'a crate::report::ScanReport,
        color: bool,
        fail_on: Option<FailOn>,
    ) -> Context<'a> {
        Context {
            report: r,
            raw: fixtures::RAW.as_bytes(),
            decision: fixtures::decision(r, fail_on),
            sbom_uri: "bom.json",
            sbom: fixtures::SBOM.as_bytes(),
            name: None,
            color,
        }
    }

    #[test]
    fn fits_80_columns_without_colour() {
        let r = fixtures::report();
        let out = render(&ctx(&r, false, None));
        for line in out.lines() {
            assert!(line.chars().count() <= WIDTH, "too wide: {line:?}");
        }
        assert!(!out.contains('\x1b'), "no escapes without colour");
        assert!(!out.contains('\u{1}'), "control characters are replaced");
        assert!(out.contains("a-really-long-packa…"), "{out}");
        assert!(
            out.contains("verdict: FAIL (2 unmuted at or above high, appliance policy)"),
            "{out}"
        );
        assert!(out.contains("not reachable: build-time only (SEC-42)"));
        assert!(out.contains("feeds are stale"));
    }

    #[test]
    fn sorted_by_severity_and_marks_failing_rows() {
        let r = fixtures::report();
        let out = render(&ctx(&r, false, Some(FailOn::Critical)));
        let crit = out.find("critical!").expect("critical row marked");
        let high = out.find("high ").expect("high row unmarked");
        let low = out.find("low ").expect("low row");
        assert!(crit < high && high < low, "{out}");
        assert!(
            out.contains("verdict: FAIL (1 unmuted at or above critical, --fail-on)"),
            "{out}"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let r = fixtures::report();
        let out = render(&ctx(&r, true, None));
        assert!(out.contains("\x1b[1;31mFAIL\x1b[0m"));
    }

    #[test]
    fn fit_truncates_by_characters() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abcd", 4), "abcd");
        assert_eq!(fit("äöüß€", 3), "äö…");
        assert_eq!(fit("a\x1b[2Jb", 10), "a?[2Jb");
    }
}
