//! Writes and read-verifies a large kit of realistic content, and times the same file
//! through `zstd -dc kit.ouk | sha256sum` for comparison (`docs/PERFORMANCE.md`).
//!
//! ```text
//! cargo run --release -p bundles --example kit_bench -- /tmp/kitbench 1024
//! ```
//! Arguments: a work directory (inputs are generated there once and reused) and the
//! kit's uncompressed size in MiB (default 1024). About 3/4 of the content is JSON-lines
//! advisories (compressible), 1/4 incompressible blob bytes (like a gzip'd DB layer).
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bundles::manifest::{Producer, Summary};
use bundles::path::media_types;
use bundles::{EntryPath, KitInfo, KitReader, KitWriter, Limits, MediaType, Timestamp};
use signing::{KeyId, KeyPair, TrustRoot};

const ECOSYSTEMS: &[&str] = &[
    "PyPI",
    "npm",
    "Maven",
    "Go",
    "crates.io",
    "Debian:12",
    "RubyGems",
    "NuGet",
];
const WORDS: &[&str] = &[
    "buffer",
    "overflow",
    "in",
    "parser",
    "allows",
    "remote",
    "attackers",
    "to",
    "cause",
    "denial",
    "of",
    "service",
    "via",
    "crafted",
    "request",
    "header",
    "cross-site",
    "scripting",
    "injection",
    "path",
    "traversal",
    "when",
    "handling",
    "archive",
    "entries",
    "improper",
    "validation",
    "certificate",
    "memory",
    "leak",
    "use-after-free",
];

/// Deterministic test-data generator (xorshift64*; not for anything secret).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

fn advisory_line(rng: &mut Rng, eco: &str, n: u64) -> String {
    let words: Vec<&str> = (0..(8 + rng.next() % 40))
        .map(|_| rng.pick(WORDS))
        .collect();
    let (ma, mi, pa) = (rng.next() % 10, rng.next() % 30, rng.next() % 50);
    format!(
        concat!(
            r#"{{"affected":[{{"package":{{"ecosystem":"{eco}","name":"pkg-{pkg}","purl":"pkg:generic/pkg-{pkg}"}},"#,
            r#""ranges":[{{"events":[{{"introduced":"0"}},{{"fixed":"{ma}.{mi}.{pa}"}}],"type":"ECOSYSTEM"}}]}}],"#,
            r#""aliases":["CVE-20{yy:02}-{cve}"],"details":"{details}","id":"GHSA-{id:016x}","#,
            r#""modified":"2026-0{mo}-1{d}T12:00:00Z","severity":[{{"score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","type":"CVSS_V3"}}],"#,
            r#""summary":"{summary}"}}"#
        ),
        eco = eco,
        pkg = rng.next() % 50_000,
        ma = ma,
        mi = mi,
        pa = pa,
        yy = 10 + rng.next() % 16,
        cve = 1000 + rng.next() % 60_000,
        details = words.join(" "),
        id = n ^ rng.next(),
        mo = 1 + rng.next() % 9,
        d = rng.next() % 10,
        summary = words[..words.len().min(8)].join(" "),
    )
}

fn generate(dir: &Path, total_mib: u64) -> Result<Vec<(String, &'static str, std::path::PathBuf)>> {
    let inputs = dir.join(format!("inputs-{total_mib}"));
    let json_bytes = total_mib * 3 / 4 * (1 << 20);
    let blob_bytes = total_mib * (1 << 20) - json_bytes;
    let mut out = Vec::new();
    let done = inputs.join(".complete");
    fs::create_dir_all(&inputs)?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let per_eco = json_bytes / ECOSYSTEMS.len() as u64;
    for eco in ECOSYSTEMS {
        let p = inputs.join(format!("{eco}.jsonl"));
        if !done.exists() {
            let mut w = BufWriter::new(File::create(&p)?);
            let (mut written, mut n) = (0u64, 0u64);
            while written < per_eco {
                let line = advisory_line(&mut rng, eco, n);
                w.write_all(line.as_bytes())?;
                w.write_all(b"\n")?;
                written += line.len() as u64 + 1;
                n += 1;
            }
            w.flush()?;
        }
        out.push((
            format!("advisories/{eco}.jsonl"),
            media_types::ADVISORIES_JSONL,
            p,
        ));
    }
    let blob = inputs.join("layer.bin");
    if !done.exists() {
        let mut w = BufWriter::new(File::create(&blob)?);
        let mut left = blob_bytes;
        while left > 0 {
            let chunk: Vec<u8> = (0..8192).flat_map(|_| rng.next().to_le_bytes()).collect();
            let n = left.min(chunk.len() as u64) as usize;
            w.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        w.flush()?;
        File::create(&done)?;
    }
    out.push((
        "oci/trivy-db/blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000".into(),
        media_types::OCI_BLOB,
        blob,
    ));
    Ok(out)
}

fn mib_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1 << 20) as f64 / secs
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().context("usage: kit_bench DIR [MiB]")?);
    let mib: u64 = args.next().map_or(Ok(1024), |s| s.parse())?;
    let runs = 3;
    fs::create_dir_all(&dir)?;
    let t = Instant::now();
    let inputs = generate(&dir, mib)?;
    println!("inputs ready in {:.1}s", t.elapsed().as_secs_f64());

    // Benchmark key, not a real one.
    let key = KeyPair::from_seed(KeyId([0xbe; 8]), &[0x5a; 32]);
    let mut w = KitWriter::new(KitInfo {
        kit_id: "bench".into(),
        sequence: 1,
        created_at: Timestamp::parse("2026-11-20T00:00:00Z")?,
        expires_at: Timestamp::parse("2026-12-20T00:00:00Z")?,
        site: None,
        producer: Producer {
            name: "kit_bench".into(),
            version: "1".into(),
        },
        summary: Summary::default(),
    });
    for (path, media, file) in &inputs {
        w.add_file(EntryPath::new(path.clone())?, MediaType::new(*media)?, file)?;
    }
    let kit_path = dir.join("kit.ouk");
    let t = Instant::now();
    let (manifest, out) = w.write(BufWriter::new(File::create(&kit_path)?), &[&key])?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let write_s = t.elapsed().as_secs_f64();
    let total = manifest.total_size();
    let compressed = fs::metadata(&kit_path)?.len();
    println!(
        "write: {total} bytes in {} entries -> {compressed} bytes (ratio {:.2}) in {write_s:.2}s = {:.0} MiB/s (uncompressed)",
        manifest.entries.len(),
        total as f64 / compressed as f64,
        mib_s(total, write_s)
    );

    let trust = TrustRoot::single(key.public());
    let mut ours = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let mut r = KitReader::open(File::open(&kit_path)?, &trust, Limits::default())?;
        r.verify_all()?;
        ours.push(t.elapsed().as_secs_f64());
    }
    let mut stock = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "zstd -dc '{}' | sha256sum >/dev/null",
                kit_path.display()
            ))
            .status()
            .context("running zstd | sha256sum (apt-get install zstd)")?;
        if !st.success() {
            bail!("zstd -dc | sha256sum failed: {st}");
        }
        stock.push(t.elapsed().as_secs_f64());
    }
    let (o, s) = (median(ours.clone()), median(stock.clone()));
    println!(
        "read+verify (KitReader::verify_all): median {o:.2}s = {:.0} MiB/s  runs {ours:.2?}",
        mib_s(total, o)
    );
    println!(
        "zstd -dc kit.ouk | sha256sum:        median {s:.2}s = {:.0} MiB/s  runs {stock:.2?}",
        mib_s(total, s)
    );
    println!("ratio (ours / stock throughput): {:.2}", s / o);
    Ok(())
}
