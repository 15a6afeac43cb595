//! The subcommands: flags in, exit code out. All printing of the binary happens here
//! (reports on stdout or `--output`, progress and the quota on stderr).

use crate::cli::{ColorChoice, CompletionsArgs, QuotaArgs, ScanArgs, ServerArgs};
use crate::client::{Client, ClientConfig};
use crate::error::{CliError, EXIT_PASS, EXIT_POLICY_FAIL};
use crate::format::{self, Context, Format};
use crate::output::{self, MAX_SBOM_BYTES};
use crate::report::{Decision, Mark, Marked, ScanReport, Verdict};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// Largest token file read.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;
/// Largest evidence envelope accepted from the appliance.
const MAX_EVIDENCE_BYTES: usize = 16 * 1024 * 1024;

/// Where informational lines go: stderr, unless `--quiet`.
#[derive(Debug, Clone, Copy)]
struct Log {
    quiet: bool,
}

impl Log {
    fn info(self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }
}

/// The token, by precedence: `--token`, `--token-file`, `STELLA_TOKEN`, `STELLA_TOKEN_FILE`.
/// (Flags beat the environment so a job can override a runner-wide default.)
fn resolve_token(args: &ServerArgs) -> Result<String, CliError> {
    fn from_file(path: &Path) -> Result<String, CliError> {
        let bytes = output::read_input("token file", path, MAX_TOKEN_FILE_BYTES)?;
        let text = String::from_utf8(bytes).map_err(|_| CliError::BadInput {
            what: "token file",
            path: path.to_owned(),
            reason: "is not UTF-8 text".into(),
        })?;
        Ok(text.trim().to_owned())
    }
    if let Some(t) = &args.token {
        return Ok(t.trim().to_owned());
    }
    if let Some(p) = &args.token_file {
        return from_file(p);
    }
    if let Some(t) = std::env::var_os("STELLA_TOKEN").filter(|t| !t.is_empty()) {
        return t
            .into_string()
            .map(|t| t.trim().to_owned())
            .map_err(|_| CliError::Usage("STELLA_TOKEN is not valid UTF-8".into()));
    }
    if let Some(p) = std::env::var_os("STELLA_TOKEN_FILE").filter(|p| !p.is_empty()) {
        return from_file(Path::new(&p));
    }
    Err(CliError::Usage(
        "no token: set STELLA_TOKEN or STELLA_TOKEN_FILE, or pass --token-file FILE (the appliance operator issues tokens with `stella-appliance token`)".into(),
    ))
}

fn client(args: &ServerArgs) -> Result<Client, CliError> {
    let server = args
        .server
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            CliError::Usage(
                "no appliance: pass --server URL or set STELLA_SERVER (e.g. http://127.0.0.1:8080)"
                    .into(),
            )
        })?;
    let token = resolve_token(args)?;
    Client::new(&ClientConfig {
        server,
        token,
        timeout: args.timeout,
        ca_file: args.ca_file.clone(),
        retries: args.retries,
        backoff: Duration::from_millis(500),
    })
}

/// Checks an OCI digest (`algorithm:encoded`) before it is recorded in signed evidence.
fn check_image_digest(d: &str) -> Result<(), CliError> {
    let bad = |why: &str| {
        CliError::Usage(format!(
            "--image-digest {d:?} {why} (expected e.g. sha256: followed by 64 hex digits)"
        ))
    };
    let (alg, hex) = d.split_once(':').ok_or_else(|| bad("has no algorithm"))?;
    let hex_len = match alg {
        "sha256" => 64,
        "sha512" => 128,
        _ => return Err(bad("uses an unsupported algorithm")),
    };
    if hex.len() != hex_len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad(&format!("must have {hex_len} lower-case hex digits")));
    }
    Ok(())
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        }
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|source| CliError::Write {
            path: "<stdout>".into(),
            source,
        })
}

/// Sends the scan, waiting out a spent quota when `--wait-quota` allows it.
fn scan_with_quota_wait(
    client: &Client,
    args: &ScanArgs,
    sbom: &[u8],
    log: Log,
) -> Result<crate::client::Answer, CliError> {
    let started = Instant::now();
    let mut waits: u32 = 0;
    loop {
        match client.scan(sbom, args.name.as_deref(), args.image_digest.as_deref()) {
            Err(CliError::QuotaExhausted {
                message,
                resets_at,
                retry_at,
                ..
            }) if args.wait_quota => {
                let Some(at) = retry_at else {
                    return Err(CliError::QuotaExhausted {
                        message: format!(
                            "{message}; the appliance named no reset time to wait for"
                        ),
                        waited: true,
                        resets_at,
                        retry_at,
                    });
                };
                let until = at.duration_since(SystemTime::now()).unwrap_or_default();
                // A small margin past the reset for clock skew; growing if the appliance
                // keeps refusing after its own reset time, so a confused server is not hammered.
                let floor = Duration::from_secs(1u64 << waits.min(6))
                    .saturating_sub(Duration::from_secs(1));
                let wait = (until + Duration::from_millis(250)).max(floor);
                let budget = args.max_wait.saturating_sub(started.elapsed());
                if wait > budget {
                    return Err(CliError::QuotaExhausted {
                        message: format!(
                            "{message}; the reset is {} away, beyond --max-wait {}",
                            humantime::format_duration(Duration::from_secs(wait.as_secs())),
                            humantime::format_duration(args.max_wait)
                        ),
                        waited: true,
                        resets_at,
                        retry_at,
                    });
                }
                log.info(&format!(
                    "quota exhausted; waiting {} for the reset{}",
                    humantime::format_duration(Duration::from_millis(wait.as_millis() as u64)),
                    resets_at.map(|r| format!(" at {r}")).unwrap_or_default()
                ));
                std::thread::sleep(wait);
                waits += 1;
            }
            other => return other,
        }
    }
}

/// `stella scan`.
///
/// # Errors
/// Any [`CliError`]; the caller maps it to the exit code.
pub fn scan(args: &ScanArgs) -> Result<u8, CliError> {
    let log = Log {
        quiet: args.server.quiet,
    };
    if let Some(d) = &args.image_digest {
        check_image_digest(d)?;
    }
    // Configuration first, then the SBOM: a missing token should not cost reading stdin.
    let client = client(&args.server)?;
    let sbom = output::read_input("SBOM", &args.sbom, MAX_SBOM_BYTES)?;

    let answer = scan_with_quota_wait(&client, args, &sbom, log)?;
    let scan_url = format!("{}/api/v1/scan", client.base());
    let not_a_result = |e: serde_json::Error| CliError::BadResponse {
        url: scan_url.clone(),
        detail: format!("not a scan result: {e}"),
    };
    let (rendered, facts) = if args.format == Format::Json {
        // The server's bytes are printed as they are: read only what the exit code and
        // the summary line need (parsing validates the whole document).
        let report: ScanReport<Mark> = ScanReport::from_json(&answer.body).map_err(not_a_result)?;
        let decision = Decision::new(&report, args.fail_on);
        let facts = Facts::of(&report, decision);
        (format::json_pretty_valid(&answer.body), facts)
    } else {
        let report: ScanReport = ScanReport::from_json(&answer.body).map_err(not_a_result)?;
        let decision = Decision::new(&report, args.fail_on);
        let sbom_uri = output::sbom_uri(&args.sbom);
        let ctx = Context {
            report: &report,
            raw: &answer.body,
            decision,
            sbom_uri: &sbom_uri,
            sbom: &sbom,
            name: args.name.as_deref(),
            color: args.output.is_none() && args.format == Format::Table && use_color(args.color),
        };
        let rendered = format::render(args.format, &ctx).map_err(|e| CliError::BadResponse {
            url: scan_url.clone(),
            detail: format!("not JSON: {e}"),
        })?;
        (rendered, Facts::of(&report, decision))
    };
    match &args.output {
        Some(path) => output::write_atomic(path, &rendered)?,
        None => write_stdout(&rendered)?,
    }

    if let Some(path) = &args.evidence {
        let ev = client.evidence(&facts.scan_id)?;
        check_envelope_shape(&ev.body).map_err(|detail| CliError::BadResponse {
            url: format!("{}/api/v1/scans/{}/evidence", client.base(), facts.scan_id),
            detail,
        })?;
        output::write_atomic(path, &ev.body)?;
        log.info(&format!("evidence: {}", path.display()));
    }

    if let Some(line) = answer.rate.line() {
        log.info(&line);
    }
    let decision = facts.decision;
    log.info(&format!(
        "verdict: {} ({} unmuted findings at or above {}; {} findings, {} muted; scan {})",
        decision.verdict.as_str(),
        facts.failing,
        decision.threshold,
        facts.total,
        facts.muted,
        crate::format::table::fit(&facts.scan_id, 40),
    ));
    Ok(match decision.verdict {
        Verdict::Pass => EXIT_PASS,
        Verdict::Fail => EXIT_POLICY_FAIL,
    })
}

/// What `stella scan` reports after the output is written, whichever way it was parsed.
struct Facts {
    scan_id: String,
    decision: Decision,
    failing: usize,
    total: usize,
    muted: usize,
}

impl Facts {
    fn of<F: Marked>(report: &ScanReport<F>, decision: Decision) -> Facts {
        Facts {
            scan_id: report.scan_id.clone(),
            decision,
            failing: report.failing(decision.threshold).count(),
            total: report.findings.len(),
            muted: report.findings.iter().filter(|f| f.muted()).count(),
        }
    }
}

/// A DSSE envelope has `payload`, `payloadType` and a non-empty `signatures` array; the
/// signature itself is checked by `verify-evidence`, not here.
fn check_envelope_shape(body: &[u8]) -> Result<(), String> {
    if body.len() > MAX_EVIDENCE_BYTES {
        return Err(format!("evidence larger than {MAX_EVIDENCE_BYTES} bytes"));
    }
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("evidence is not JSON: {e}"))?;
    let ok = v.get("payload").is_some_and(serde_json::Value::is_string)
        && v.get("payloadType")
            .is_some_and(serde_json::Value::is_string)
        && v.get("signatures")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|s| !s.is_empty());
    if ok {
        Ok(())
    } else {
        Err("evidence is not a DSSE envelope (payload, payloadType, signatures)".into())
    }
}

/// `stella quota`.
///
/// # Errors
/// Any [`CliError`].
pub fn quota(args: &QuotaArgs) -> Result<u8, CliError> {
    #[derive(serde::Deserialize)]
    struct Quota {
        client: Option<String>,
        limit: u64,
        used: u64,
        remaining: u64,
        resets_at: Option<String>,
    }
    let client = client(&args.server)?;
    let answer = client.quota()?;
    let url = format!("{}/api/v1/quota", client.base());
    if args.json {
        let pretty = format::json_pretty(&answer.body).map_err(|e| CliError::BadResponse {
            url,
            detail: format!("not JSON: {e}"),
        })?;
        write_stdout(&pretty)?;
        return Ok(EXIT_PASS);
    }
    let q: Quota = serde_json::from_slice(&answer.body).map_err(|e| CliError::BadResponse {
        url,
        detail: format!("not a quota answer: {e}"),
    })?;
    let who = q
        .client
        .map(|c| format!("client {}: ", crate::format::table::fit(&c, 40)))
        .unwrap_or_default();
    let mut line = format!(
        "{who}{} of {} scans left today ({} used)",
        q.remaining, q.limit, q.used
    );
    if let Some(r) = q.resets_at {
        let r = crate::format::table::fit(&r, 40);
        let until = time::OffsetDateTime::parse(&r, &time::format_description::well_known::Rfc3339)
            .ok()
            .and_then(|t| SystemTime::from(t).duration_since(SystemTime::now()).ok())
            .map(|d| {
                format!(
                    " (in {})",
                    humantime::format_duration(Duration::from_secs(d.as_secs() / 60 * 60))
                )
            })
            .unwrap_or_default();
        line.push_str(&format!("; resets {r}{until}"));
    }
    line.push('\n');
    write_stdout(line.as_bytes())?;
    Ok(EXIT_PASS)
}

/// `stella completions`.
///
/// # Errors
/// stdout cannot be written.
pub fn completions(args: &CompletionsArgs) -> Result<u8, CliError> {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "stella", &mut buf);
    write_stdout(&buf)?;
    Ok(EXIT_PASS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_digests() {
        let ok = format!("sha256:{}", "a".repeat(64));
        assert!(check_image_digest(&ok).is_ok());
        assert!(check_image_digest(&format!("sha512:{}", "0".repeat(128))).is_ok());
        let refused = |d: &str, why: &str| {
            let e = check_image_digest(d).expect_err(d);
            assert!(
                matches!(&e, CliError::Usage(m) if m.contains(why) && m.contains("--image-digest")),
                "{d}: {e}"
            );
            assert_eq!(e.exit_code(), crate::error::EXIT_USAGE);
        };
        refused("sha256:abc", "must have 64 lower-case hex digits");
        refused(
            &format!("md5:{}", "a".repeat(64)),
            "uses an unsupported algorithm",
        );
        refused(
            &format!("sha256:{}", "A".repeat(64)),
            "must have 64 lower-case hex digits",
        );
        refused("latest", "has no algorithm");
    }

    #[test]
    fn envelope_shape() {
        assert!(check_envelope_shape(br#"{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"x"}]}"#).is_ok());
        let e = check_envelope_shape(br#"{"payload":"e30=","payloadType":"t","signatures":[]}"#)
            .expect_err("no signature");
        assert!(e.contains("is not a DSSE envelope"), "{e}");
        let e = check_envelope_shape(b"<html/>").expect_err("not JSON");
        assert!(e.starts_with("evidence is not JSON"), "{e}");
    }
}
