//! `stella-appliance quickstart`: a working demo on a fresh machine.
//!
//! Plays both sides of the air gap locally: a vendor key, a kit signed with it from the
//! repository's sample OSV feed (with one client token), then `init` and `import` exactly
//! as an operator would run them. The appliance itself still never needs the network:
//! the kit is built here with the same kit format code, not with the connected-side
//! `stella-kit` (which carries an HTTP client the appliance must not link).
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bundles::manifest::{FeedSummary, Producer, Summary};
use bundles::model::{Advisory, write_jsonl};
use bundles::path::media_types;
use bundles::tokens::{ClientToken, ClientTokens, Revocations};
use bundles::{EntryPath, KitInfo, KitWriter, MediaType, Timestamp};
use importer::datadir::{DataDir, InitOptions};
use importer::import::Importer;
use signing::minisign::{self, SignOptions};
use signing::{KeyPair, jwt};
use time::{Duration, OffsetDateTime};

/// The demo client.
pub const DEMO_CLIENT: &str = "ci-demo";

/// What the quickstart prepared.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The demo root.
    pub root: PathBuf,
    /// The appliance data directory.
    pub data: PathBuf,
    /// The kit that was imported.
    pub kit: PathBuf,
    /// The vendor public key.
    pub vendor_pub: PathBuf,
    /// The client token (appliance-signed).
    pub token: String,
    /// The operator password.
    pub password: String,
    /// A sample SBOM to scan, if the samples are present.
    pub sample_sbom: Option<PathBuf>,
    /// Advisories in the kit.
    pub advisories: u64,
}

/// Where the repository's samples are: `--samples`, `$STELLA_SAMPLES`, the source tree
/// this binary was built from, or `./samples`. A folder the user named (the option or the
/// variable) that holds no sample feed is an error, never silently passed over.
fn samples_root(explicit: Option<PathBuf>) -> Result<PathBuf> {
    let named = |c: PathBuf, how: &str| -> Result<PathBuf> {
        feed_root(&c).with_context(|| {
            format!(
                "{how} {}: no sample feed there (expected the repository's samples/ folder, \
                 holding feeds/osv/)",
                c.display()
            )
        })
    };
    if let Some(c) = explicit {
        return named(c, "--samples");
    }
    if let Some(c) = std::env::var_os("STELLA_SAMPLES") {
        return named(PathBuf::from(c), "STELLA_SAMPLES=");
    }
    [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples"),
        PathBuf::from("samples"),
    ]
    .iter()
    .find_map(|c| feed_root(c))
    .context(
        "the sample feed was not found: run from the source tree, or pass --samples DIR (the repository's samples/ folder)",
    )
}

/// `c` itself when it holds `feeds/osv/`, or the samples folder when `c` is that feed.
fn feed_root(c: &Path) -> Option<PathBuf> {
    if c.join("feeds/osv").is_dir() {
        return Some(c.to_path_buf());
    }
    if c.file_name().is_some_and(|n| n == "osv") && c.is_dir() {
        return c.parent().and_then(Path::parent).map(Path::to_path_buf);
    }
    None
}

/// Builds the demo kit and imports it into a fresh data directory under `dir` (a new
/// temporary directory by default).
pub fn prepare(dir: Option<PathBuf>, samples: Option<PathBuf>) -> Result<Demo> {
    let samples = samples_root(samples)?;
    let root = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!(
            "stella-quickstart-{}",
            OffsetDateTime::now_utc().unix_timestamp()
        )),
    };
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let data = root.join("data");
    if data.exists() {
        bail!(
            "{} already exists: remove it or pick another --dir",
            data.display()
        );
    }
    let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;

    // The connected side: vendor key, advisories, a token, the signed kit.
    let vendor = KeyPair::generate()?;
    let keys = root.join("vendor");
    std::fs::create_dir_all(&keys)?;
    vendor.write_secret(&keys.join("vendor.key"))?;
    let vendor_pub = keys.join("vendor.pub");
    vendor.public().to_box().write(&vendor_pub)?;

    let feed = samples.join("feeds/osv");
    let mut by_eco: BTreeMap<String, Vec<Advisory>> = BTreeMap::new();
    let mut ecos: Vec<PathBuf> = std::fs::read_dir(&feed)
        .with_context(|| format!("reading {}", feed.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    ecos.sort();
    for eco_dir in ecos {
        let eco = eco_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&eco_dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f)?;
            let adv = Advisory::from_osv_json(&bytes)
                .with_context(|| format!("sample record {}", f.display()))?;
            if !adv.is_withdrawn(now) {
                by_eco.entry(eco.clone()).or_default().push(adv);
            }
        }
    }
    let mut counts = BTreeMap::new();
    let mut w = KitWriter::new(KitInfo {
        kit_id: format!("quickstart-{}", now.unix_timestamp()),
        sequence: 1,
        created_at: Timestamp::new(now)?,
        expires_at: Timestamp::new(now + Duration::days(30))?,
        site: None,
        producer: Producer {
            name: "stella-appliance-quickstart".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        summary: Summary::default(),
    });
    let mut total = 0u64;
    for (eco, mut advs) in by_eco {
        advs.sort_by(|a, b| a.id().as_str().cmp(b.id().as_str()));
        advs.dedup_by(|a, b| a.id() == b.id());
        let mut buf = Vec::new();
        write_jsonl(&mut buf, advs.iter())?;
        w.add_bytes(
            EntryPath::advisories_for(&eco)?,
            MediaType::new(media_types::ADVISORIES_JSONL)?,
            buf,
        )?;
        counts.insert(eco, advs.len() as u64);
        total += advs.len() as u64;
    }
    let claims = jwt::Claims {
        iss: Some(format!("stella-kit:{}", vendor.id())),
        sub: DEMO_CLIENT.into(),
        aud: None,
        exp: (now + Duration::days(30)).unix_timestamp(),
        nbf: Some(now.unix_timestamp()),
        iat: Some(now.unix_timestamp()),
        jti: Some(format!("quickstart-{}", now.unix_timestamp())),
        tier: Some("Free".into()),
        max_scans_per_day: Some(333),
        extra: BTreeMap::new(),
    };
    let vendor_token = jwt::issue(&claims, &vendor)?;
    w.add_bytes(
        EntryPath::new(bundles::tokens::CLIENTS_PATH)?,
        MediaType::new(media_types::CLIENT_TOKENS)?,
        serde_json::to_vec(&ClientTokens {
            clients: vec![ClientToken {
                id: DEMO_CLIENT.into(),
                token: vendor_token,
            }],
        })?,
    )?;
    w.add_bytes(
        EntryPath::new(bundles::tokens::REVOKED_PATH)?,
        MediaType::new(media_types::REVOKED_TOKENS)?,
        serde_json::to_vec(&Revocations::default())?,
    )?;
    // The summary is part of the signed manifest: fill it before writing.
    w.set_summary(Summary {
        feeds: BTreeMap::from([(
            "osv".to_string(),
            FeedSummary {
                counts,
                updated_at: Some(Timestamp::new(now)?),
                next_update: None,
                source: Some("samples/feeds/osv".into()),
            },
        )]),
    });
    let kit = root.join("quickstart.ouk");
    let file = std::fs::File::create(&kit)?;
    w.write(std::io::BufWriter::new(file), &[&vendor])?;
    let sig = minisign::sign_file(
        &vendor,
        &kit,
        &SignOptions {
            trusted_comment: None,
            untrusted_comment: None,
            timestamp: now.unix_timestamp(),
            file_name: Some("quickstart.ouk"),
        },
    )?;
    sig.write(&root.join("quickstart.ouk.minisig"))?;

    // The sealed side: init + import, exactly as an operator does.
    let (dd, _key) = DataDir::init(
        &data,
        &InitOptions {
            trust: vec![vendor.public()],
            threshold: 1,
            site: None,
            now: now - Duration::seconds(1),
        },
    )?;
    let report = crate::store::init(&data, crate::store::StoreOptions::default(), now)?;
    let password = report.admin_password.clone();
    crate::store::write_operator_password_file(&data, &password)?;
    drop(report);
    Importer::new(&dd)
        .clock(now + Duration::seconds(1))
        .import(&kit)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let active = dd.current_link().canonicalize()?;
    let tokens = importer::import::read_tokens(&active)?;
    let token = tokens
        .clients
        .into_iter()
        .find(|c| c.id == DEMO_CLIENT)
        .map(|c| c.token)
        .context("the demo token was not re-signed")?;
    std::fs::write(root.join("token"), format!("{token}\n"))?;
    let sample_sbom = samples
        .join("sboms/demo-cyclonedx.json")
        .canonicalize()
        .ok()
        .filter(|p| p.is_file());
    Ok(Demo {
        root,
        data,
        kit,
        vendor_pub,
        token,
        password,
        sample_sbom,
        advisories: total,
    })
}

impl Demo {
    /// What was done and the three next steps, for the binary to print. `serving` says
    /// whether the server starts next (not with `--no-serve`). The binaries are named as
    /// [`command_for`] finds them.
    pub fn summary(&self, listen: SocketAddr, serving: bool) -> String {
        use std::fmt::Write as _;
        let stella = command_for("stella", "cargo run --release -q -p stella-cli --");
        let mut o = String::new();
        let _ = writeln!(
            o,
            "Stella Ops Offline quickstart — demo in {}",
            self.root.display()
        );
        let _ = writeln!(
            o,
            "  kit      {} ({} advisories, signed; check: minisign -Vm {} -p {})",
            self.kit.display(),
            self.advisories,
            shell_word(&self.kit.display().to_string()),
            shell_word(&self.vendor_pub.display().to_string())
        );
        let _ = writeln!(o, "  data     {}", self.data.display());
        let _ = writeln!(o);
        if !serving {
            let _ = writeln!(o, "Start the server first (--no-serve was given):");
            let _ = writeln!(
                o,
                "       {} serve --data {} --listen {listen}",
                command_for("stella-appliance", "cargo run --release -q -p appliance --"),
                shell_word(&self.data.display().to_string())
            );
        }
        let _ = writeln!(o, "Next steps:");
        let sbom = self.sample_sbom.as_ref().map_or_else(
            || "bom.json".to_string(),
            |p| shell_word(&p.display().to_string()),
        );
        let _ = writeln!(o, "  1. scan an SBOM from CI:");
        let _ = writeln!(
            o,
            "       export STELLA_SERVER=http://{listen} STELLA_TOKEN_FILE={}",
            shell_word(&self.root.join("token").display().to_string())
        );
        let _ = writeln!(o, "       {stella} scan --sbom {sbom}");
        let _ = writeln!(
            o,
            "  2. open the console: http://{listen}/  (user admin, password {})",
            self.password
        );
        let _ = writeln!(o, "  3. see the quota left today: {stella} quota");
        if serving {
            let _ = writeln!(o);
            let _ = writeln!(o, "Ctrl-C stops the server.");
        }
        o
    }
}

/// How to run the binary `name` in printed steps: `name` when it is on `PATH`, else its
/// full path when it was built beside this binary (`target/release/`), else `fallback`
/// (the command that builds and runs it).
pub fn command_for(name: &str, fallback: &str) -> String {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| is_executable(&d.join(name))));
    if on_path {
        return name.into();
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(name)))
        .filter(|p| is_executable(p));
    match beside {
        Some(p) => shell_word(&p.display().to_string()),
        None => fallback.into(),
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `s` as one word for a POSIX shell: unchanged when it holds only safe characters, else
/// single-quoted, so every printed command can be pasted as it is.
fn shell_word(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:=@%,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::{samples_root, shell_word};
    use std::path::PathBuf;

    #[test]
    fn a_named_samples_folder_without_the_feed_is_an_error() {
        let e = samples_root(Some(PathBuf::from("/nonexistent"))).expect_err("refused");
        let e = format!("{e:#}");
        assert!(
            e.contains("--samples /nonexistent: no sample feed there"),
            "{e}"
        );
    }

    #[test]
    fn shell_words_survive_spaces_and_quotes() {
        assert_eq!(shell_word("/tmp/a-b/c.json"), "/tmp/a-b/c.json");
        assert_eq!(shell_word("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
