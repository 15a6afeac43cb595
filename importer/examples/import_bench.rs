//! Times one import with the library directly (what `stella-appliance import` runs), for
//! `tests/bench/kit_build.sh` and docs/PERFORMANCE.md.
//!
//! ```text
//! cargo run --release -p importer --example import_bench -- DATA_DIR VENDOR.pub KIT.ouk
//! ```
//! DATA_DIR is created (it must not exist).
use std::path::PathBuf;
use std::time::Instant;

use importer::datadir::{DataDir, InitOptions};
use importer::import::Importer;
use signing::PublicKey;
use time::OffsetDateTime;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [data, vendor, kit] = args.as_slice() else {
        return Err("usage: import_bench DATA_DIR VENDOR.pub KIT.ouk".into());
    };
    let now = OffsetDateTime::now_utc();
    let (dd, _) = DataDir::init(
        data,
        &InitOptions {
            trust: vec![PublicKey::read(vendor)?],
            threshold: 1,
            site: None,
            now: now - time::Duration::days(3650),
        },
    )?;
    let t = Instant::now();
    let report = Importer::new(&dd).clock(now).import(kit)?;
    let secs = t.elapsed().as_secs_f64();
    let advisories: u64 = report.advisories.values().sum();
    println!(
        "imported sequence {:?}: {advisories} advisories, {} clients, {} OCI artifact(s) in {secs:.2} s",
        report.sequence,
        report.clients.len(),
        report.oci.len()
    );
    Ok(())
}
