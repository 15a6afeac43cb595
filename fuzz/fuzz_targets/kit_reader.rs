//! `KitReader` on arbitrary input. The first byte picks the mode: odd → the rest is the
//! *uncompressed* tar stream (compressed here at level 1, so the fuzzer works on tar
//! structure behind a valid signed manifest from the seed corpus); even → the rest is fed
//! as the raw `.ouk` bytes (zstd framing). Must never panic or hang.
#![no_main]

use std::io::{Cursor, Read};

use bundles::{KitError, KitReader, Limits};
use libfuzzer_sys::fuzz_target;
use signing::{KeyId, KeyPair, TrustRoot};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let kit = if mode & 1 == 1 {
        match zstd::stream::encode_all(rest, 1) {
            Ok(k) => k,
            Err(_) => return,
        }
    } else {
        rest.to_vec()
    };
    let key = KeyPair::from_seed(KeyId([0xf0; 8]), &[0x42; 32]);
    let trust = TrustRoot::single(key.public());
    // Small limits keep each execution fast; the bounds logic is what is under test.
    let limits = Limits::default()
        .max_kit_bytes(4 << 20)
        .max_manifest_bytes(1 << 20)
        .max_entries(64)
        .max_entry_bytes(1 << 20)
        .max_total_bytes(4 << 20);
    let Ok(mut r) = KitReader::open(Cursor::new(kit), &trust, limits) else {
        return;
    };
    let mut buf = [0u8; 4096];
    loop {
        match r.next_entry() {
            Ok(Some(mut e)) => loop {
                match e.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(err) => {
                        let _ = KitError::from_io(err);
                        return;
                    }
                }
            },
            Ok(None) => {
                assert!(r.into_source().is_some(), "clean end returns the source");
                return;
            }
            Err(_) => return,
        }
    }
});
