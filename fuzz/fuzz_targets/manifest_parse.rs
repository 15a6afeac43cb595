//! `Manifest::parse_and_verify` on arbitrary bytes: must never panic, and anything it
//! accepts must re-serialize to exactly the input (canonical form).
#![no_main]

use bundles::{Limits, Manifest};
use libfuzzer_sys::fuzz_target;
use signing::{KeyId, KeyPair, TrustRoot};

fuzz_target!(|data: &[u8]| {
    // Fuzzing-only key: the seed corpus is signed with it, so mutations that keep the
    // signed bytes intact reach the structure and limit checks.
    let key = KeyPair::from_seed(KeyId([0xf0; 8]), &[0x42; 32]);
    let trust = TrustRoot::single(key.public());
    let limits = Limits::default().max_entries(1000).max_total_bytes(1 << 30);
    if let Ok(v) = Manifest::parse_and_verify(data, &trust, &limits) {
        let again = v.to_json_bytes().expect("a verified manifest serializes");
        assert_eq!(again, data, "accepted manifest is not canonical");
        assert!(v.entries.windows(2).all(|w| w[0].path < w[1].path));
    }
});
