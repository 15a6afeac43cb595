//! Round trips and determinism.
use std::io::{Cursor, Read, Write};
use std::sync::{Arc, Mutex};

use bundles::path::media_types;
use bundles::{KitReader, KitWriter, Limits};
use sha2::{Digest as _, Sha256};

use crate::util::*;

#[test]
fn kit_round_trips_every_entry_in_path_order() {
    let (m, kit) = good_kit();
    let mut r = KitReader::open(Cursor::new(kit), &trust(), Limits::default()).expect("open");
    assert_eq!(r.manifest().manifest(), &m);
    assert_eq!(r.manifest().sequence, 42);
    assert_eq!(r.manifest().site.as_deref(), Some("plant-7"));
    let mut seen = Vec::new();
    while let Some(mut e) = r.next_entry().expect("entry") {
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).expect("read");
        seen.push((e.path().to_string(), buf));
    }
    let want: Vec<(String, Vec<u8>)> = contents()
        .into_iter()
        .map(|(p, d)| (p.to_string(), d))
        .collect();
    assert_eq!(seen, want);
    // The end is sticky.
    assert!(r.next_entry().expect("still at end").is_none());
}

#[test]
fn first_tar_entry_is_the_canonical_manifest() {
    let (m, kit) = good_kit();
    let tar = decompress(&kit);
    let mut a = tar::Archive::new(&tar[..]);
    let mut entries = a.entries().expect("entries");
    let mut first = entries.next().expect("one").expect("ok");
    assert_eq!(first.path().expect("path").to_str(), Some("manifest.json"));
    let h = first.header().clone();
    assert_eq!(h.mode().expect("mode"), 0o644);
    assert_eq!(h.mtime().expect("mtime"), 0);
    assert_eq!(h.uid().expect("uid"), 0);
    assert_eq!(h.username().expect("uname"), Some(""));
    assert!(h.as_ustar().is_some(), "plain POSIX ustar");
    let mut bytes = Vec::new();
    first.read_to_end(&mut bytes).expect("read");
    assert_eq!(bytes, m.to_json_bytes().expect("json"));
    // zstd frame has the checksum flag (frame header descriptor bit 2).
    assert_eq!(&kit[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    assert_ne!(kit[4] & 0b100, 0, "content checksum flag set");
}

#[test]
fn same_inputs_give_byte_identical_kits_whatever_the_insertion_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("blob");
    std::fs::File::create(&f)
        .and_then(|mut h| h.write_all(&vec![9u8; 300_000]))
        .expect("write file");
    let build = |reverse: bool| {
        let mut w = KitWriter::new(info());
        let mut items = contents();
        if reverse {
            items.reverse();
        }
        for (path, data) in items {
            w.add_bytes(p(path), mt(media_types::OCI_BLOB), data)
                .expect("add");
        }
        w.add_file(p("oci/trivy-db/big"), mt(media_types::OCI_BLOB), &f)
            .expect("add file");
        w.write(Vec::new(), &[&test_key(1)]).expect("write").1
    };
    let a = build(false);
    let b = build(true);
    assert_eq!(Sha256::digest(&a), Sha256::digest(&b));
    assert_eq!(a, b);
    // And a one-byte change in one input changes the kit.
    let mut w = KitWriter::new(info());
    for (path, mut data) in contents() {
        if path == "advisories/npm.jsonl" {
            data[2] ^= 1;
        }
        w.add_bytes(p(path), mt(media_types::OCI_BLOB), data)
            .expect("add");
    }
    w.add_file(p("oci/trivy-db/big"), mt(media_types::OCI_BLOB), &f)
        .expect("add file");
    let c = w.write(Vec::new(), &[&test_key(1)]).expect("write").1;
    assert_ne!(a, c);
}

#[test]
fn file_inputs_stream_and_verify() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("layer");
    let data: Vec<u8> = (0..3_000_000u32)
        .map(|i| i.wrapping_mul(2_654_435_761) as u8)
        .collect();
    std::fs::write(&f, &data).expect("write");
    let mut w = KitWriter::new(info());
    w.add_file(p("oci/x/blobs/sha256/aa"), mt(media_types::OCI_BLOB), &f)
        .expect("add");
    let (m, kit) = w.write(Vec::new(), &[&test_key(1)]).expect("write");
    assert_eq!(m.entries[0].size, data.len() as u64);
    assert_eq!(
        m.entries[0].sha256.as_bytes()[..],
        Sha256::digest(&data)[..]
    );
    read_kit(kit, &trust(), Limits::default()).expect("reads");
}

#[test]
fn adding_a_path_twice_is_refused() {
    let mut w = KitWriter::new(info());
    w.add_bytes(p("a"), mt(media_types::OCI_BLOB), b"1".to_vec())
        .expect("add");
    let e = w
        .add_bytes(p("a"), mt(media_types::OCI_BLOB), b"2".to_vec())
        .expect_err("dup");
    assert!(matches!(e, bundles::KitError::DuplicateInput { path } if path == "a"));
}

#[test]
fn skipped_entries_are_still_verified() {
    let (_, kit) = good_kit();
    let mut tar = decompress(&kit);
    // Flip a byte of the last entry's content (all 7s), then read without touching it.
    let pos = tar.windows(16).rposition(|w| w == [7u8; 16]).expect("blob");
    tar[pos] ^= 0xff;
    let mut r = KitReader::open(Cursor::new(compress(&tar)), &trust(), Limits::default())
        .expect("manifest still fine");
    let err = r.verify_all().expect_err("tamper detected");
    assert!(
        matches!(&err, bundles::KitError::DigestMismatch { path, .. } if path == "oci/trivy-db/blob"),
        "{err:?}"
    );
}

/// A reader that copies everything it reads into a shared hasher (an importer's tee).
struct Tee<R> {
    inner: R,
    seen: Arc<Mutex<Sha256>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.lock().expect("lock").update(&buf[..n]);
        Ok(n)
    }
}

#[test]
fn the_source_comes_back_after_a_clean_end_and_saw_every_byte() {
    let (_, kit) = good_kit();
    let want = Sha256::digest(&kit);
    let seen = Arc::new(Mutex::new(Sha256::new()));
    let tee = Tee {
        inner: Cursor::new(kit),
        seen: Arc::clone(&seen),
    };
    let mut r = KitReader::open(tee, &trust(), Limits::default()).expect("open");
    r.verify_all().expect("verify");
    let tee = r.into_source().expect("source returned");
    assert_eq!(tee.inner.position() as usize, tee.inner.get_ref().len());
    let got = seen.lock().expect("lock").clone().finalize();
    assert_eq!(got, want);
}

#[test]
fn finish_after_reading_an_entry_to_its_end_is_a_no_op() {
    use std::io::Read as _;
    let (_, kit) = crate::util::good_kit();
    let mut r = bundles::KitReader::open(
        std::io::Cursor::new(kit),
        &crate::util::trust(),
        bundles::Limits::default(),
    )
    .expect("open");
    while let Some(mut e) = r.next_entry().expect("entry") {
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).expect("read");
        // The digest was checked when the last byte was read; finishing again must not
        // re-check an emptied hasher (regression: it reported the empty-input sha256).
        e.finish().expect("finish after a full read");
    }
}
