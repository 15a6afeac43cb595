//! Fuzz the SBOM parser: any bytes must give `Ok` or an `SbomError`, never a panic, and
//! parsing must be deterministic.
#![no_main]

use scanner::sbom::{SbomLimits, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = SbomLimits::default();
    let first = parse(data, &limits);
    let second = parse(data, &limits);
    assert_eq!(first, second, "parse is not deterministic");
});
