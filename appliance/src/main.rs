//! `stella-appliance`: the sealed appliance — init, import, serve, admin.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use std::io::Write as _;

use anyhow::Context as _;
use appliance::cli::{self, Done};
use appliance::server::{self, LogFormat};
use clap::{CommandFactory, Parser, Subcommand};

/// mimalloc: scans allocate many short-lived strings on several threads next to a large,
/// long-lived index; glibc malloc made parallel matching slower than serial
/// (docs/PERFORMANCE.md, "vs Trivy").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The sealed Stella Ops Offline appliance: imports Offline Update Kits, serves SBOM
/// scans, quotas, signed evidence and the operator console. Never opens an outbound
/// connection.
#[derive(Parser, Debug)]
#[command(name = "stella-appliance", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create a data directory: appliance key pair, pinned vendor key(s), stores, and the
    /// operator account `admin` (password in DIR/operator-password, mode 0600).
    #[command(
        after_help = "Examples:\n  stella-appliance init --data /var/lib/stella --trust vendor.pub --site plant-7\n  stella-appliance init --data /var/lib/stella --trust a.pub --trust b.pub --threshold 2"
    )]
    Init {
        /// The data directory (must not exist or be empty).
        #[arg(long, env = "STELLA_DATA")]
        data: PathBuf,
        /// A vendor public key to pin (minisign format); repeat for k-of-n.
        #[arg(long, required = true)]
        trust: Vec<PathBuf>,
        /// How many distinct pinned keys must sign a kit manifest.
        #[arg(long, default_value_t = 1)]
        threshold: usize,
        /// This appliance's site id; kits bound to another site are refused.
        #[arg(long)]
        site: Option<String>,
    },
    /// Verify a kit (ten numbered checks) and activate it atomically. On refusal, exit 1
    /// and one line naming the failed check; nothing outside DIR/audit/ changes.
    #[command(
        after_help = "Exit codes: 0 imported (or already imported), 1 refused, 2 usage, 3 another import is running, 4 I/O error.\n\nExample:\n  stella-appliance import --data /var/lib/stella /media/usb/kit-42.ouk"
    )]
    Import {
        /// The data directory.
        #[arg(long, env = "STELLA_DATA")]
        data: PathBuf,
        /// The kit file (its .minisig must sit beside it).
        file: PathBuf,
        /// The detached signature, when it is not FILE.minisig.
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Print the verification report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the API, the console and the OCI mirror (HTTPS with a site certificate).
    #[command(
        after_help = "TLS: give both --tls-cert and --tls-key (or [tls] cert/key in the config, or STELLA_TLS_CERT/STELLA_TLS_KEY); neither serves plain HTTP.\n\nExample:\n  stella-appliance serve --data /var/lib/stella --listen 0.0.0.0:8443 --tls-cert /etc/stella/tls/cert.pem --tls-key /etc/stella/tls/key.pem"
    )]
    Serve {
        /// The data directory.
        #[arg(long, env = "STELLA_DATA")]
        data: PathBuf,
        /// Listen address.
        #[arg(long, env = "STELLA_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Optional TOML configuration (environment variables STELLA_* override it).
        #[arg(long, env = "STELLA_CONFIG")]
        config: Option<PathBuf>,
        /// Log lines as text or JSON (for log shippers); filter with RUST_LOG.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        log_format: String,
        /// Serve HTTPS with this PEM certificate chain (end-entity first); needs --tls-key
        /// (or a key from the config / STELLA_TLS_KEY).
        #[arg(long, value_name = "PEM")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key (PKCS#8, RSA or EC) of the --tls-cert certificate.
        #[arg(long, value_name = "PEM")]
        tls_key: Option<PathBuf>,
    },
    /// Print a client's appliance-signed token.
    Token {
        /// The data directory.
        #[arg(long, env = "STELLA_DATA")]
        data: PathBuf,
        /// The client id.
        #[arg(long)]
        client: String,
    },
    /// Show the active kit, feed age, expiry and clients.
    Status {
        /// The data directory.
        #[arg(long, env = "STELLA_DATA")]
        data: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Re-activate the previous retained kit (or --to SEQ). Audited.
    Rollback {
        /// The data directory.
        #[arg(long, env = "STELLA_DATA")]
        data: PathBuf,
        /// The retained kit sequence to activate.
        #[arg(long)]
        to: Option<u64>,
    },
    /// Signed evidence of scans.
    Evidence {
        #[command(subcommand)]
        cmd: EvidenceCmd,
    },
    /// Re-run a stored scan against the kit and policy version it recorded; exit 0 when
    /// the findings digest is the same, 1 with the findings that appeared or disappeared.
    #[command(
        after_help = "Needs the store: stop `stella-appliance serve` first.\n\nExample:\n  stella-appliance replay --data /var/lib/stella 01JD3Q6Z0000000000000000"
    )]
    Replay {
        /// The data directory.
        #[arg(long, env = "STELLA_DATA")]
        data: PathBuf,
        /// The scan id.
        scan_id: String,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// A working demo in about a second (once built): keys, a kit from the sample feed, an
    /// import, and the server on 127.0.0.1:8080.
    Quickstart {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Keep the demo in this directory (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The samples folder holding feeds/osv/ (default: $STELLA_SAMPLES, else the
        /// source tree's samples/, else ./samples).
        #[arg(long)]
        samples: Option<PathBuf>,
        /// Prepare everything but do not serve (for scripts and tests).
        #[arg(long)]
        no_serve: bool,
    },
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
enum EvidenceCmd {
    /// Write a scan's evidence bundle (.tar.zst: SBOM, findings, policy, DSSE envelope,
    /// appliance key, kit manifest, audit records) for off-line verification.
    #[command(
        after_help = "While the server runs it holds the store: download the bundle from GET /api/v1/scans/ID/bundle or the console instead.\n\nExample:\n  stella-appliance evidence export --data /var/lib/stella 01JD3Q6Z0000000000000000 --out scan.tar.zst"
    )]
    Export {
        /// The data directory.
        #[arg(long, env = "STELLA_DATA")]
        data: PathBuf,
        /// The scan id.
        scan_id: String,
        /// Output file (default scan-ID.evidence.tar.zst in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// Check the hash chain and the signed head; exit 1 if a record was edited, deleted
    /// or reordered.
    Verify {
        /// The data directory.
        #[arg(long, env = "STELLA_DATA")]
        data: PathBuf,
    },
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("stella-appliance: error: {}", cli::error_line(&e));
            ExitCode::from(cli::exit_code(&e))
        }
    }
}

/// Runs the command; printing happens here and nowhere in the library.
fn run() -> anyhow::Result<u8> {
    let done = match Cli::parse().cmd {
        Cmd::Init {
            data,
            trust,
            threshold,
            site,
        } => cli::init(&data, &trust, threshold, site)?,
        Cmd::Import {
            data,
            file,
            signature,
            json,
        } => cli::import_kit(&data, &file, signature, json)?,
        Cmd::Serve {
            data,
            listen,
            config,
            log_format,
            tls_cert,
            tls_key,
        } => {
            server::install_tracing(if log_format == "json" {
                LogFormat::Json
            } else {
                LogFormat::Text
            });
            serve(server::ServeOptions {
                data,
                listen,
                config,
                tls_cert,
                tls_key,
            })?;
            Done::default()
        }
        Cmd::Token { data, client } => cli::token(&data, &client)?,
        Cmd::Status { data, json } => cli::status(&data, json)?,
        Cmd::Rollback { data, to } => cli::rollback(&data, to)?,
        Cmd::Audit {
            cmd: AuditCmd::Verify { data },
        } => cli::audit_verify(&data)?,
        Cmd::Evidence {
            cmd: EvidenceCmd::Export { data, scan_id, out },
        } => cli::evidence_export(&data, &scan_id, out)?,
        Cmd::Replay { data, scan_id } => cli::replay(&data, &scan_id)?,
        Cmd::Quickstart {
            listen,
            dir,
            samples,
            no_serve,
        } => {
            // A busy port is found before anything is made or printed: the password and
            // next steps of a server that cannot start would be a lie.
            let probe = if no_serve {
                None
            } else {
                Some(std::net::TcpListener::bind(listen).with_context(|| {
                    format!("quickstart: cannot listen on {listen}: pass --listen ADDR (e.g. 127.0.0.1:8081) or stop what uses it")
                })?)
            };
            let demo = appliance::quickstart::prepare(dir, samples).context("quickstart")?;
            print(&Done::text(demo.summary(listen, !no_serve)));
            drop(probe);
            if !no_serve {
                server::install_tracing(LogFormat::Text);
                serve(server::ServeOptions {
                    data: demo.data.clone(),
                    listen,
                    config: None,
                    tls_cert: None,
                    tls_key: None,
                })?;
            }
            Done::default()
        }
        Cmd::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "stella-appliance", &mut out);
            Done::text(String::from_utf8_lossy(&out))
        }
    };
    print(&done);
    Ok(done.exit_code())
}

fn print(done: &Done) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(done.out.as_bytes());
    let _ = out.flush();
    for n in &done.notes {
        eprintln!("{n}");
    }
}

fn serve(opts: server::ServeOptions) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(server::serve(opts)).map_err(|e| match e {
        // A certificate, key or setting the site must fix: exit 2 ("usage or
        // configuration error"), not 4 (I/O), so a unit file can tell them apart.
        e @ (server::ServeError::Tls(_)
        | server::ServeError::State(server::StateError::Config(_))) => cli::usage(e),
        e => anyhow::Error::new(e),
    })
}
