//! Writes seed corpora for the fuzz targets (`fuzz/README.md`): valid manifests and kits
//! signed with the fuzzing-only key the targets trust.
//!
//! ```text
//! cargo run -p bundles --example fuzz_seeds -- fuzz/corpus
//! ```
use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use bundles::manifest::{FeedSummary, Producer, Summary};
use bundles::path::media_types;
use bundles::{EntryPath, KitInfo, KitWriter, MediaType, Timestamp};
use signing::{KeyId, KeyPair};

fn main() -> Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).context("usage: fuzz_seeds DIR")?);
    let (mdir, kdir) = (out.join("manifest_parse"), out.join("kit_reader"));
    fs::create_dir_all(&mdir)?;
    fs::create_dir_all(&kdir)?;
    // The fuzzing-only key (same seed as in fuzz/fuzz_targets/*.rs).
    let key = KeyPair::from_seed(KeyId([0xf0; 8]), &[0x42; 32]);
    let shapes: &[&[(&str, &[u8])]] = &[
        &[],
        &[("a", b"alpha")],
        &[
            ("advisories/PyPI.jsonl", b"{\"id\":\"GHSA-1\"}\n"),
            ("empty", b""),
            ("oci/x/index.json", b"{}"),
        ],
    ];
    for (i, files) in shapes.iter().enumerate() {
        let mut summary = Summary::default();
        summary.feeds.insert(
            "osv".into(),
            FeedSummary {
                counts: [("PyPI".to_string(), 1u64)].into_iter().collect(),
                updated_at: Some(Timestamp::parse("2026-11-01T00:00:00Z")?),
                next_update: Some(Timestamp::parse("2026-11-02T00:00:00Z")?),
                source: Some("file:///mirror".into()),
            },
        );
        let mut w = KitWriter::new(KitInfo {
            kit_id: format!("seed-{i}"),
            sequence: i as u64 + 1,
            created_at: Timestamp::parse("2026-11-20T00:00:00Z")?,
            expires_at: Timestamp::parse("2026-12-20T00:00:00Z")?,
            site: (i == 2).then(|| "plant-7".to_string()),
            producer: Producer {
                name: "fuzz_seeds".into(),
                version: "1".into(),
            },
            summary,
        });
        for (p, d) in *files {
            w.add_bytes(
                EntryPath::new(*p)?,
                MediaType::new(media_types::OCI_BLOB)?,
                d.to_vec(),
            )?;
        }
        let (m, kit) = w.write(Vec::new(), &[&key])?;
        fs::write(mdir.join(format!("seed-{i}.json")), m.to_json_bytes()?)?;
        // Mode byte 0: raw .ouk; mode byte 1: the uncompressed tar.
        let mut raw = vec![0u8];
        raw.extend_from_slice(&kit);
        fs::write(kdir.join(format!("seed-{i}-ouk")), raw)?;
        let mut tar = vec![1u8];
        tar.extend_from_slice(&zstd::stream::decode_all(&kit[..])?);
        fs::write(kdir.join(format!("seed-{i}-tar")), tar)?;
    }
    Ok(())
}
