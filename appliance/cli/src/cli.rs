//! Command-line flags (clap derive). Raw flags only: resolution (environment fallbacks,
//! token files, validation) happens in the commands, so it can report errors with context.

use crate::format::Format;
use crate::report::FailOn;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

const EXIT_CODES: &str = "\
Exit codes:
  0  pass (or the command succeeded)
  1  policy verdict fail (verify-evidence: the evidence does not match)
  2  usage, configuration or input error: bad flags, unreadable files, the SBOM was
     refused (HTTP 400/413), the token was refused (HTTP 401/403)
  3  the day's scan quota is exhausted (HTTP 429)
  4  the appliance is unreachable or failed (connection errors, timeouts, HTTP 5xx)

Environment:
  STELLA_SERVER      appliance base URL (as --server)
  STELLA_TOKEN       client token (as --token; preferred over the flag, which shows in ps)
  STELLA_TOKEN_FILE  file holding the client token (as --token-file)
  STELLA_CA_FILE     site CA certificates, PEM (as --ca-file)
  NO_COLOR           set and non-empty: never colour the table";

/// `stella`: the offline CI client of the Stella Ops Offline appliance.
#[derive(Debug, Parser)]
#[command(
    name = "stella",
    version,
    about = "Scan SBOMs on a Stella Ops Offline appliance and gate CI on the verdict",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload an SBOM, print the findings, exit with the verdict.
    #[command(after_help = SCAN_HELP)]
    Scan(ScanArgs),
    /// Show how many scans are left today for this token.
    #[command(after_help = QUOTA_HELP)]
    Quota(QuotaArgs),
    /// Check a scan's signed evidence offline (signature, SBOM digest, bundle, kit).
    #[command(name = "verify-evidence", after_help = VERIFY_HELP)]
    VerifyEvidence(VerifyArgs),
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

const SCAN_HELP: &str = "\
Examples:
  export STELLA_SERVER=https://appliance.plant7:8443 STELLA_TOKEN_FILE=/run/secrets/stella
  stella scan --sbom bom.cdx.json
  syft dir:. -o cyclonedx-json | stella scan --sbom - --name web-frontend
  stella scan --sbom bom.json --fail-on critical --format sarif --output stella.sarif
  stella scan --sbom bom.json --format junit --output junit-stella.xml --evidence verdict.dsse.json
  stella scan --sbom bom.json --wait-quota --max-wait 30m

The verdict is the appliance's, under its policy, unless --fail-on is given: then it is
recomputed here from the unmuted findings at or above that severity (findings of unknown
severity never fail a threshold). The quota left is printed on stderr.

Exit codes: 0 pass, 1 policy fail, 2 usage/input/token error, 3 quota exhausted,
4 appliance unreachable or failed.";

const QUOTA_HELP: &str = "\
Examples:
  stella quota
  stella quota --json | jq .remaining

Exit codes: 0 ok, 2 usage or token error, 4 appliance unreachable or failed.";

const VERIFY_HELP: &str = "\
Examples:
  stella verify-evidence verdict.dsse.json --pub appliance.pub
  stella verify-evidence verdict.dsse.json --pub appliance.pub --sbom bom.json
  stella verify-evidence --bundle scan.evidence.tar.zst --vendor-pub vendor.pub
  stella verify-evidence --bundle scan.evidence.tar.zst --vendor-pub vendor.pub \\
      --pub appliance.pub

Works offline: nothing is sent anywhere.
Exit codes: 0 verified, 1 a check failed (the message names it), 2 unreadable input.";

const COMPLETIONS_HELP: &str = "\
Examples:
  stella completions bash > /etc/bash_completion.d/stella
  stella completions zsh > \"${fpath[1]}/_stella\"
  stella completions fish > ~/.config/fish/completions/stella.fish";

/// How to reach the appliance (shared by `scan` and `quota`).
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Appliance base URL, e.g. http://127.0.0.1:8080
    #[arg(long, value_name = "URL", env = "STELLA_SERVER")]
    pub server: Option<String>,
    /// Client token. Prefer STELLA_TOKEN or --token-file: flags are visible to other
    /// users in the process list. [env: STELLA_TOKEN]
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// File holding the client token (surrounding whitespace ignored) [env: STELLA_TOKEN_FILE]
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Site CA certificates (PEM) for an appliance serving TLS; replaces the built-in
    /// public roots
    #[arg(long, value_name = "PEM", env = "STELLA_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Timeout of each request, e.g. 30s, 2m (a bare number is seconds)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Retries on connection errors and HTTP 502/503/504 (exponential backoff from 0.5 s)
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
    /// Print nothing on stderr but errors
    #[arg(short, long)]
    pub quiet: bool,
}

/// When to colour the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `stella scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// SBOM to scan: CycloneDX 1.4–1.6, SPDX 2.3 or Syft JSON; `-` reads stdin
    #[arg(long, short = 's', value_name = "FILE")]
    pub sbom: PathBuf,
    /// A name for this scan in the console and reports (e.g. the image or repo)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Digest of the image the SBOM describes, recorded in the evidence
    #[arg(long, value_name = "sha256:HEX")]
    pub image_digest: Option<String>,
    /// Recompute the verdict here: fail on unmuted findings at or above this severity
    #[arg(long, value_name = "SEVERITY", value_enum)]
    pub fail_on: Option<FailOn>,
    /// Report format
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: Format,
    /// Write the report to FILE (atomically) instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also save the signed evidence (DSSE envelope) to FILE
    #[arg(long, value_name = "FILE")]
    pub evidence: Option<PathBuf>,
    /// When the day's quota is spent, wait for the reset instead of exiting 3
    #[arg(long)]
    pub wait_quota: bool,
    /// Longest total wait for --wait-quota, e.g. 90s, 30m, 6h
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration, requires = "wait_quota")]
    pub max_wait: Duration,
    /// Colour the table
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: ColorChoice,
    /// Appliance connection.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `stella quota`.
#[derive(Debug, Args)]
pub struct QuotaArgs {
    /// Print the appliance's JSON answer
    #[arg(long)]
    pub json: bool,
    /// Appliance connection.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `stella verify-evidence`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The DSSE envelope (from `stella scan --evidence` or the evidence API); with
    /// --bundle, optional (it must then equal the bundle's)
    #[arg(value_name = "ENVELOPE", required_unless_present = "bundle")]
    pub envelope: Option<PathBuf>,
    /// The appliance's public key (minisign format, `appliance.pub`); with --bundle,
    /// defaults to the bundle's copy (pass it to pin the key you trust)
    #[arg(long = "pub", value_name = "FILE", required_unless_present = "bundle")]
    pub public_key: Option<PathBuf>,
    /// The SBOM that was scanned: its sha256 must be a subject of the statement
    #[arg(long, value_name = "FILE")]
    pub sbom: Option<PathBuf>,
    /// The evidence bundle (.tar.zst) to check against the envelope
    #[arg(long, value_name = "FILE.tar.zst", requires = "vendor_pub")]
    pub bundle: Option<PathBuf>,
    /// The vendor's public key, to check the kit manifest signatures in the bundle
    #[arg(long, value_name = "FILE", requires = "bundle")]
    pub vendor_pub: Option<PathBuf>,
}

/// `stella completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Parses `90s`, `30m`, `1h 30m` (humantime) or a bare number of seconds.
///
/// # Errors
/// A sentence clap shows next to the flag.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| e.to_string());
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 30s, 5m, 1h)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        for bad in ["soon", ""] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(e.ends_with("(examples: 30s, 5m, 1h)"), "{bad:?}: {e}");
        }
    }
}
