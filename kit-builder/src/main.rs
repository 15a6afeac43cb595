//! `stella-kit`: builds and signs Offline Update Kits on the connected side.
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use bundles::{KitReader, Limits, peek_manifest};
use clap::{Parser, Subcommand};
use kit_builder::build::{BuildOptions, build};
use kit_builder::config::KitConfig;
use kit_builder::fetch::{FetchOptions, Fetcher, ProgressMode};
use signing::minisign::{SignatureBox, VerifyOptions};
use signing::{KeyPair, PublicKey, TrustRoot};
use time::OffsetDateTime;

/// Builds and signs Offline Update Kits for Stella Ops Offline appliances.
#[derive(Parser, Debug)]
#[command(name = "stella-kit", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create a vendor key pair: DIR/vendor.key (secret, 0600) and DIR/vendor.pub
    /// (minisign format).
    #[command(
        after_help = "Example:\n  stella-kit keygen --out keys/\n  minisign -V -p keys/vendor.pub -m kit.ouk   # works with the stock tool"
    )]
    Keygen {
        /// Directory for the key files (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Base name of the files.
        #[arg(long, default_value = "vendor")]
        name: String,
    },
    /// Build and sign a kit from kit.toml: FILE.ouk and FILE.ouk.minisig.
    #[command(
        after_help = "The sequence is the last one built with this key plus one (kept in \
        <key>.state.json beside the key), unless --sequence is given. With SOURCE_DATE_EPOCH set, \
        it is the kit's creation time: the same inputs then give a byte-identical kit.\n\n\
        Example:\n  SOURCE_DATE_EPOCH=$(date +%s) stella-kit build --config kit.toml --key keys/vendor.key --out kit-42.ouk"
    )]
    Build {
        /// The kit description.
        #[arg(long, default_value = "kit.toml")]
        config: PathBuf,
        /// The vendor secret key.
        #[arg(long)]
        key: PathBuf,
        /// The kit to write.
        #[arg(long)]
        out: PathBuf,
        /// Use this sequence instead of last + 1.
        #[arg(long)]
        sequence: Option<u64>,
        /// Download cache (a failed run restarts cheaply from it). Default:
        /// $XDG_CACHE_HOME/stella-kit, else ~/.cache/stella-kit.
        #[arg(long, visible_alias = "cache-dir", value_name = "DIR")]
        cache: Option<PathBuf>,
        /// Build from this cache alone: no network access at all.
        #[arg(long, value_name = "DIR", conflicts_with = "cache")]
        offline_sources: Option<PathBuf>,
        /// Print the build report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sign a trust-root rotation: the current vendor key(s) vouch for the new key(s).
    /// Carry it in the next kit with `trust_root = "root.json"` in kit.toml; appliances
    /// pin the new keys when they accept that kit.
    #[command(
        after_help = "Example:\n  stella-kit rotate-root --key keys/vendor.key --new-pub keys2/vendor.pub --version 1 --out root.json"
    )]
    RotateRoot {
        /// Current vendor secret key(s) (as many as the appliances' threshold).
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// New vendor public key(s).
        #[arg(long = "new-pub", required = true)]
        new_pubs: Vec<PathBuf>,
        /// Signatures the new root requires on each kit.
        #[arg(long, default_value_t = 1)]
        threshold: usize,
        /// Root version: higher than the pinned one (appliances start at 0).
        #[arg(long)]
        version: u64,
        /// Where to write the document.
        #[arg(long)]
        out: PathBuf,
    },
    /// Show a kit's manifest (without verifying it; use `verify` for that).
    Inspect {
        /// The kit.
        file: PathBuf,
        /// Print the manifest as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify a kit completely: detached signature, manifest signatures, every entry.
    Verify {
        /// The kit.
        file: PathBuf,
        /// Vendor public key(s) (minisign format).
        #[arg(long = "pub", required = true)]
        pubs: Vec<PathBuf>,
        /// Signatures required on the manifest.
        #[arg(long, default_value_t = 1)]
        threshold: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "stella-kit: error: {}",
                bundles::error::error_line(e.as_ref())
            );
            ExitCode::FAILURE
        }
    }
}

/// The download cache when `--cache` is not given: `$XDG_CACHE_HOME/stella-kit`, else
/// `$HOME/.cache/stella-kit` (the XDG base directory default), never the current directory.
fn default_cache_dir() -> Result<PathBuf> {
    cache_dir_from(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
}

fn cache_dir_from(
    xdg: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Result<PathBuf> {
    // The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    if let Some(x) = xdg.map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Ok(x.join("stella-kit"));
    }
    match home.map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(h) => Ok(h.join(".cache").join("stella-kit")),
        None => {
            bail!("no cache directory: neither XDG_CACHE_HOME nor HOME is set; give --cache DIR")
        }
    }
}

/// What to pass to `minisign -p`: the public key beside the secret key
/// (`keys/vendor.key` → `keys/vendor.pub`, as `keygen` writes them) when it is there and
/// is this key's, else a placeholder naming the key id.
fn public_key_hint(secret: &Path, kp: &KeyPair) -> String {
    let beside = secret.with_extension("pub");
    match PublicKey::read(&beside) {
        Ok(p) if p.id() == kp.id() => beside.display().to_string(),
        _ => format!("<public key {}>", kp.id()),
    }
}

fn tracing_init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STELLA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colour only on a terminal: cron mail and log files must not get escape codes.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Keygen { out, name } => keygen(&out, &name),
        Cmd::Build {
            config,
            key,
            out,
            sequence,
            cache,
            offline_sources,
            json,
        } => {
            let cfg = KitConfig::load(&config)?;
            let kp =
                KeyPair::read(&key).with_context(|| format!("reading key {}", key.display()))?;
            let created_at = match std::env::var("SOURCE_DATE_EPOCH") {
                Ok(v) => {
                    let secs: i64 = v
                        .trim()
                        .parse()
                        .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number"))?;
                    OffsetDateTime::from_unix_timestamp(secs)
                        .with_context(|| format!("SOURCE_DATE_EPOCH={v} is out of range"))?
                }
                Err(_) => OffsetDateTime::now_utc(),
            };
            let options = FetchOptions {
                progress: ProgressMode::Auto,
                ..FetchOptions::default()
            };
            let fetcher = match &offline_sources {
                Some(dir) => Fetcher::offline(dir, options)?,
                None => {
                    let cache = match cache {
                        Some(dir) => dir,
                        None => default_cache_dir()?,
                    };
                    Fetcher::new(&cache, options)?
                }
            };
            let report = build(&BuildOptions {
                config: &cfg,
                key: &kp,
                key_path: &key,
                out: &out,
                sequence,
                created_at,
                fetcher: &fetcher,
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "built {} (kit {}, sequence {}, {} bytes)",
                    report.kit.display(),
                    report.kit_id,
                    report.sequence,
                    report.bytes
                );
                println!("  signature  {}", report.signature.display());
                println!("  sha256     {}", report.sha256);
                println!("  valid      {} → {}", report.created_at, report.expires_at);
                for (eco, n) in &report.advisories {
                    println!("  advisories {eco}: {n}");
                }
                if !report.clients.is_empty() {
                    println!("  tokens     {}", report.clients.join(", "));
                }
                for o in &report.oci {
                    println!("  oci        {o}");
                }
                if report.nvd_enriched > 0 {
                    println!("  nvd        {} advisories enriched", report.nvd_enriched);
                }
                if !report.rejected.is_empty() {
                    eprintln!(
                        "warning: {} upstream record(s) refused by the model (first: {}: {})",
                        report.rejected.len(),
                        report.rejected[0].0,
                        report.rejected[0].1
                    );
                }
                println!(
                    "check it with the stock tool: minisign -Vm {} -p {}",
                    report.kit.display(),
                    public_key_hint(&key, &kp)
                );
            }
            Ok(())
        }
        Cmd::RotateRoot {
            keys,
            new_pubs,
            threshold,
            version,
            out,
        } => {
            let signers = keys
                .iter()
                .map(|p| KeyPair::read(p).with_context(|| format!("reading {}", p.display())))
                .collect::<Result<Vec<_>>>()?;
            let new = new_pubs
                .iter()
                .map(|p| PublicKey::read(p).with_context(|| format!("reading {}", p.display())))
                .collect::<Result<Vec<_>>>()?;
            let refs: Vec<&KeyPair> = signers.iter().collect();
            let doc = bundles::trustroot::RootDoc::signed(version, &new, threshold, &refs)?;
            std::fs::write(&out, doc.to_json()?)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {} (root version {version}, {} key(s), threshold {threshold}); add trust_root = \"{}\" to kit.toml",
                out.display(),
                new.len(),
                out.display()
            );
            Ok(())
        }
        Cmd::Inspect { file, json } => inspect(&file, json),
        Cmd::Verify {
            file,
            pubs,
            threshold,
        } => verify(&file, &pubs, threshold),
    }
}

fn keygen(out: &Path, name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        bail!("--name must be a plain file name");
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let sk = out.join(format!("{name}.key"));
    let pk = out.join(format!("{name}.pub"));
    if sk.exists() || pk.exists() {
        bail!(
            "{} or {} already exists; refusing to overwrite a key",
            sk.display(),
            pk.display()
        );
    }
    let kp = KeyPair::generate()?;
    kp.write_secret(&sk)?;
    kp.public().to_box().write(&pk)?;
    println!("key id     {}", kp.id());
    println!("secret key {} (mode 0600: keep it offline)", sk.display());
    println!(
        "public key {} (pin it on appliances: stella-appliance init --trust)",
        pk.display()
    );
    Ok(())
}

fn inspect(file: &Path, json: bool) -> Result<()> {
    let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let m = peek_manifest(BufReader::new(f), &Limits::default())
        .with_context(|| format!("reading the manifest of {}", file.display()))?;
    if json {
        let bytes = m.to_json_bytes()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("kit        {}", m.kit_id);
    println!("sequence   {}", m.sequence);
    println!("created    {}", m.created_at);
    println!("expires    {}", m.expires_at);
    println!("site       {}", m.site.as_deref().unwrap_or("(any)"));
    println!("producer   {} {}", m.producer.name, m.producer.version);
    for (feed, s) in &m.summary.feeds {
        let counts: Vec<String> = s.counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let upd = s
            .updated_at
            .map(|t| format!(", updated {t}"))
            .unwrap_or_default();
        println!("feed       {feed}: {}{upd}", counts.join(" "));
    }
    println!(
        "entries    {} ({} bytes unpacked)",
        m.entries.len(),
        m.total_size()
    );
    for e in &m.entries {
        println!("  {:>12}  {}  {}", e.size, &e.sha256.to_hex()[..16], e.path);
    }
    let keys: Vec<String> = m.signatures.iter().map(|s| s.keyid.to_string()).collect();
    println!(
        "signed by  {} (not verified here: use `stella-kit verify`)",
        keys.join(", ")
    );
    Ok(())
}

fn verify(file: &Path, pubs: &[PathBuf], threshold: usize) -> Result<()> {
    let keys = pubs
        .iter()
        .map(|p| PublicKey::read(p).with_context(|| format!("reading {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let trust = TrustRoot::new(keys, threshold)?;
    let mut sig_path = file.as_os_str().to_owned();
    sig_path.push(".minisig");
    let sig_path = PathBuf::from(sig_path);
    let sig =
        SignatureBox::read(&sig_path).with_context(|| format!("reading {}", sig_path.display()))?;
    let v = signing::minisign::verify_file(&trust, &sig, file, &VerifyOptions::default())
        .with_context(|| format!("detached signature {}", sig_path.display()))?;
    println!(
        "detached signature: ok (key {}; {})",
        v.key_id, v.trusted_comment
    );
    let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut r =
        KitReader::open(BufReader::new(f), &trust, Limits::default()).context("manifest")?;
    let signers: Vec<String> = r
        .manifest()
        .signed_by()
        .iter()
        .map(|k| k.to_string())
        .collect();
    println!("manifest signatures: ok ({})", signers.join(", "));
    let n = r.manifest().entries.len();
    r.verify_all().context("entries")?;
    println!("entries: ok ({n} entries, sizes and sha256 match)");
    let m = r.manifest();
    let now = OffsetDateTime::now_utc();
    if m.expires_at.as_offset_date_time() <= now {
        bail!("the kit expired at {}", m.expires_at);
    }
    println!(
        "kit {} sequence {} is valid until {}",
        m.kit_id, m.sequence, m.expires_at
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cache_dir_from;
    use std::path::PathBuf;

    #[test]
    fn the_cache_follows_xdg_and_never_lands_in_the_current_directory() {
        let dir = |x: Option<&str>, h: Option<&str>| {
            cache_dir_from(x.map(Into::into), h.map(Into::into)).map_err(|e| e.to_string())
        };
        assert_eq!(
            dir(Some("/x/cache"), Some("/home/u")),
            Ok(PathBuf::from("/x/cache/stella-kit"))
        );
        assert_eq!(
            dir(None, Some("/home/u")),
            Ok(PathBuf::from("/home/u/.cache/stella-kit"))
        );
        // A relative XDG_CACHE_HOME is ignored, as the XDG spec says.
        assert_eq!(
            dir(Some("rel"), Some("/home/u")),
            Ok(PathBuf::from("/home/u/.cache/stella-kit"))
        );
        let e = dir(None, None).expect_err("no home");
        assert!(e.contains("give --cache DIR"), "{e}");
    }
}
