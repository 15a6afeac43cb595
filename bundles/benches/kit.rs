//! Criterion benchmark of the kit writer and reader on a small (16 MiB) kit, kept short
//! so `cargo bench` stays quick. The 1 GiB comparison with `zstd -dc | sha256sum` is the
//! `kit_bench` example (docs/PERFORMANCE.md).
#![allow(missing_docs)]

use std::io::Cursor;
use std::time::Duration;

use bundles::manifest::{Producer, Summary};
use bundles::path::media_types;
use bundles::{EntryPath, KitInfo, KitReader, KitWriter, Limits, MediaType, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use signing::{KeyId, KeyPair, TrustRoot};

fn content() -> Vec<(String, Vec<u8>)> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::new();
    for eco in ["PyPI", "npm", "Maven"] {
        let mut s = String::new();
        let mut n = 0u64;
        while s.len() < 4 << 20 {
            let v = next();
            s.push_str(&format!(
                "{{\"affected\":[{{\"package\":{{\"ecosystem\":\"{eco}\",\"name\":\"pkg-{}\"}}}}],\"id\":\"GHSA-{n:08x}\",\"modified\":\"2026-01-01T00:00:00Z\",\"summary\":\"remote attackers cause denial of service via crafted input {}\"}}\n",
                v % 10_000,
                v % 977
            ));
            n += 1;
        }
        out.push((format!("advisories/{eco}.jsonl"), s.into_bytes()));
    }
    let blob: Vec<u8> = (0..(4 << 20) / 8)
        .flat_map(|_| next().to_le_bytes())
        .collect();
    out.push(("oci/trivy-db/blobs/sha256/00".into(), blob));
    out
}

fn write_kit(content: &[(String, Vec<u8>)], key: &KeyPair) -> Vec<u8> {
    let mut w = KitWriter::new(KitInfo {
        kit_id: "bench".into(),
        sequence: 1,
        created_at: Timestamp::parse("2026-11-20T00:00:00Z").expect("ts"),
        expires_at: Timestamp::parse("2026-12-20T00:00:00Z").expect("ts"),
        site: None,
        producer: Producer {
            name: "bench".into(),
            version: "1".into(),
        },
        summary: Summary::default(),
    });
    for (p, d) in content {
        w.add_bytes(
            EntryPath::new(p.clone()).expect("path"),
            MediaType::new(media_types::OCI_BLOB).expect("mt"),
            d.clone(),
        )
        .expect("add");
    }
    w.write(Vec::new(), &[key]).expect("write").1
}

fn bench(c: &mut Criterion) {
    let key = KeyPair::from_seed(KeyId([3; 8]), &[3; 32]); // benchmark-only key
    let trust = TrustRoot::single(key.public());
    let content = content();
    let total: u64 = content.iter().map(|(_, d)| d.len() as u64).sum();
    let kit = write_kit(&content, &key);

    let mut g = c.benchmark_group("kit_16MiB");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Bytes(total));
    g.bench_function("write", |b| b.iter(|| write_kit(&content, &key)));
    g.bench_function("read_verify", |b| {
        b.iter(|| {
            let mut r =
                KitReader::open(Cursor::new(kit.clone()), &trust, Limits::default()).expect("open");
            r.verify_all().expect("verify");
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
