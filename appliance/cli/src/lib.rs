//! `stella`: the offline CI client of the Stella Ops Offline appliance.
//!
//! A CI job uploads an SBOM to the appliance on its sealed network, gets findings and a
//! verdict back, renders them (80-column table, JSON, SARIF 2.1.0, JUnit XML) and exits
//! with a code the pipeline can gate on (see [`error`]). The crate links no server code
//! (it must not depend on the `appliance` crate) and uses a small blocking HTTP client.
//!
//! The formatters are pure functions, usable on their own:
//!
//! ```
//! use stella_cli::report::{Decision, FailOn, ScanReport, Verdict};
//! let body = br#"{"scan_id":"01J","verdict":"pass","findings":[
//!   {"id":"GHSA-1","severity":"high","muted":false,
//!    "package":{"name":"lodash","version":"4.17.11","purl":"pkg:npm/lodash@4.17.11","ecosystem":"npm"}}]}"#;
//! let report: ScanReport = ScanReport::from_json(body).expect("valid answer");
//! // --fail-on recomputes the verdict locally from unmuted findings.
//! let d = Decision::new(&report, Some(FailOn::High));
//! assert_eq!(d.verdict, Verdict::Fail);
//! assert_eq!(Decision::new(&report, None).verdict, Verdict::Pass);
//! ```
#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod commands;
pub mod error;
pub mod format;
pub mod output;
pub mod report;
pub mod verify;

pub use error::CliError;

/// Runs a parsed command line and returns the exit code; errors are printed here, once,
/// as one `stella: error: …` line on stderr.
#[must_use]
pub fn run(cli: &cli::Cli) -> u8 {
    let result = match &cli.command {
        cli::Command::Scan(a) => commands::scan(a),
        cli::Command::Quota(a) => commands::quota(a),
        cli::Command::VerifyEvidence(a) => verify::verify_evidence(a),
        cli::Command::Completions(a) => commands::completions(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stella: error: {e}");
            e.exit_code()
        }
    }
}
