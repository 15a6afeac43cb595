//! Load generator for the appliance API on loopback (docs/PERFORMANCE.md, "Service").
//!
//! Builds a throw-away data dir with a signed kit (the sample npm + PyPI feeds and one
//! client token allowing 100 M scans/day), serves it in-process on 127.0.0.1, then drives
//! it with N client threads, each with its own keep-alive HTTP/1.1 connection (a std-only
//! client: the appliance has no HTTP client crate):
//!
//! ```text
//! cargo run --release -p appliance --example api_bench -- [CLIENTS] [SECONDS] [--no-audit] [--relaxed]
//! ```
//!
//! Prints accepted scans/s with p50/p95/p99 latency for `POST /api/v1/scan` (a
//! 50-component CycloneDX SBOM) and for `POST /api/v1/layers/missing` (100 digests).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use appliance::server::{AppState, Config};
use bundles::manifest::{Producer, Summary};
use bundles::path::media_types;
use bundles::tokens::{ClientToken, ClientTokens, Revocations};
use bundles::{EntryPath, KitInfo, KitWriter, MediaType, Timestamp};
use importer::datadir::{DataDir, InitOptions};
use signing::minisign::{self, SignOptions};
use signing::{KeyId, KeyPair, jwt};
use time::OffsetDateTime;

fn advisories() -> anyhow::Result<Vec<u8>> {
    let mut advs = Vec::new();
    for eco in ["npm", "PyPI"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../samples/feeds/osv")
            .join(eco);
        for e in std::fs::read_dir(&root)? {
            let bytes = std::fs::read(e?.path())?;
            advs.push(bundles::model::Advisory::from_osv_json(&bytes)?);
        }
    }
    advs.sort_by(|a, b| a.id().as_str().cmp(b.id().as_str()));
    let mut out = Vec::new();
    bundles::model::write_jsonl(&mut out, advs.iter())?;
    Ok(out)
}

fn sbom_50() -> String {
    let mut comps = vec![
        r#"{"type":"library","name":"minimist","version":"1.2.5","purl":"pkg:npm/minimist@1.2.5"}"#
            .to_owned(),
        r#"{"type":"library","name":"express","version":"4.18.0","purl":"pkg:npm/express@4.18.0"}"#
            .to_owned(),
    ];
    for i in 0..48 {
        comps.push(format!(
            r#"{{"type":"library","name":"pkg-{i}","version":"1.{i}.0","purl":"pkg:npm/pkg-{i}@1.{i}.0"}}"#
        ));
    }
    format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"metadata":{{"component":{{"type":"application","name":"bench"}}}},"components":[{}]}}"#,
        comps.join(",")
    )
}

fn setup(dir: &Path) -> anyhow::Result<(std::path::PathBuf, String)> {
    let now = OffsetDateTime::now_utc();
    let vendor = KeyPair::from_seed(KeyId([0x11; 8]), &[7; 32]);
    let data = dir.join("data");
    DataDir::init(
        &data,
        &InitOptions {
            trust: vec![vendor.public()],
            threshold: 1,
            site: None,
            now: now - time::Duration::days(1),
        },
    )?;
    drop(appliance::store::init(
        &data,
        appliance::store::StoreOptions::default(),
        now,
    )?);
    let created = now - time::Duration::hours(1);
    let mut w = KitWriter::new(KitInfo {
        kit_id: "bench-1".into(),
        sequence: 1,
        created_at: Timestamp::new(created)?,
        expires_at: Timestamp::new(created + time::Duration::days(30))?,
        site: None,
        producer: Producer {
            name: "api-bench".into(),
            version: "1".into(),
        },
        summary: Summary::default(),
    });
    w.add_bytes(
        EntryPath::new("advisories/all.jsonl")?,
        MediaType::new(media_types::ADVISORIES_JSONL)?,
        advisories()?,
    )?;
    let claims = jwt::Claims {
        iss: Some("stella-kit:bench".into()),
        sub: "bench".into(),
        aud: None,
        exp: (created + time::Duration::days(30)).unix_timestamp(),
        nbf: Some(created.unix_timestamp()),
        iat: Some(created.unix_timestamp()),
        jti: Some("jti-bench".into()),
        tier: Some("Free".into()),
        max_scans_per_day: Some(100_000_000),
        extra: BTreeMap::new(),
    };
    let clients = ClientTokens {
        clients: vec![ClientToken {
            id: "bench".into(),
            token: jwt::issue(&claims, &vendor)?,
        }],
    };
    w.add_bytes(
        EntryPath::new("tokens/clients.json")?,
        MediaType::new(media_types::CLIENT_TOKENS)?,
        serde_json::to_vec(&clients)?,
    )?;
    w.add_bytes(
        EntryPath::new("tokens/revoked.json")?,
        MediaType::new(media_types::REVOKED_TOKENS)?,
        serde_json::to_vec(&Revocations { revoked: vec![] })?,
    )?;
    let (_, bytes) = w.write(Vec::new(), &[&vendor])?;
    let kit = dir.join("kit.ouk");
    std::fs::write(&kit, bytes)?;
    let sig = minisign::sign_file(
        &vendor,
        &kit,
        &SignOptions {
            trusted_comment: None,
            untrusted_comment: None,
            timestamp: now.unix_timestamp(),
            file_name: Some("kit.ouk"),
        },
    )?;
    std::fs::write(dir.join("kit.ouk.minisig"), sig.as_str())?;
    let dd = DataDir::open(&data)?;
    importer::Importer::new(&dd).clock(now).import(&kit)?;
    let kit_dir = std::fs::canonicalize(dd.current_link())?;
    let token = importer::import::read_tokens(&kit_dir)?
        .clients
        .into_iter()
        .next()
        .context("no token")?
        .token;
    Ok((data, token))
}

/// One keep-alive request; returns the status code.
fn request(
    conn: &mut BufReader<TcpStream>,
    addr: SocketAddr,
    path: &str,
    token: &str,
    body: &str,
) -> anyhow::Result<u16> {
    write!(
        conn.get_mut(),
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status: u16 = line.split(' ').nth(1).context("status")?.parse()?;
    let mut len = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse()?;
        }
    }
    let mut buf = vec![0u8; len];
    conn.read_exact(&mut buf)?;
    Ok(status)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn drive(
    addr: SocketAddr,
    clients: usize,
    secs: u64,
    path: &'static str,
    token: &str,
    body: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (token, body) = (token.to_owned(), body.to_owned());
            std::thread::spawn(move || -> anyhow::Result<(Vec<Duration>, u64)> {
                let mut conn = BufReader::new(TcpStream::connect(addr)?);
                conn.get_ref().set_nodelay(true)?;
                let (mut lat, mut bad) = (Vec::new(), 0u64);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let s = request(&mut conn, addr, path, &token, &body)?;
                    if s == 200 {
                        lat.push(t.elapsed());
                    } else {
                        bad += 1;
                    }
                }
                Ok((lat, bad))
            })
        })
        .collect();
    let started = Instant::now();
    let mut all = Vec::new();
    let mut bad = 0;
    for h in handles {
        let (l, b) = h
            .join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
        all.extend(l);
        bad += b;
    }
    let took = started.elapsed().as_secs_f64();
    all.sort_unstable();
    println!(
        "{path}: {} ok ({bad} not 200) in {took:.1} s = {:.0} req/s; latency p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        all.len(),
        all.len() as f64 / took,
        pct(&all, 0.50),
        pct(&all, 0.95),
        pct(&all, 0.99),
        all.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nums: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let clients = nums.first().copied().unwrap_or(32) as usize;
    let secs = nums.get(1).copied().unwrap_or(10);
    let tmp = tempfile::tempdir()?;
    let (data, token) = setup(tmp.path())?;
    let mut config = Config {
        audit_scans: !args.iter().any(|a| a == "--no-audit"),
        ..Config::default()
    };
    if args.iter().any(|a| a == "--relaxed") {
        config.durability = appliance::config::DurabilitySetting::Relaxed;
    }
    println!(
        "clients {clients}, {secs} s per endpoint, audit_scans {}, durability {:?}",
        config.audit_scans, config.durability
    );
    let state = AppState::open(&data, config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(appliance::server::serve_on(listener, state, async {
        let _ = rx.await;
    }));
    let layers: Vec<String> = (0..100).map(|i| format!("\"sha256:{i:064x}\"")).collect();
    let layers_body = format!("{{\"layers\":[{}]}}", layers.join(","));
    drive(
        addr,
        clients,
        secs,
        "/api/v1/layers/missing",
        &token,
        &layers_body,
    )?;
    drive(addr, clients, secs, "/api/v1/scan", &token, &sbom_50())?;
    let _ = tx.send(());
    rt.block_on(server)??;
    Ok(())
}
