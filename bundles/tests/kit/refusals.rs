//! One test per refusal, named after the attack, asserting the exact variant.
use std::io::{Cursor, Read};

use bundles::manifest::ManifestSignature;
use bundles::{KitError, KitReader, Limits, Manifest};
use signing::TrustRoot;
use tar::EntryType;

use crate::util::*;

const A: &[u8] = b"alpha";
const B: &[u8] = b"bravo";

fn ab() -> [(&'static str, &'static [u8]); 2] {
    [("a", A), ("b", B)]
}

macro_rules! assert_refused {
    ($err:expr, $pat:pat $(if $guard:expr)?) => {{
        let err = $err;
        assert!(matches!(&err, $pat $(if $guard)?), "unexpected error: {err:?}");
    }};
}

// ---- tar structure -------------------------------------------------------------------

#[test]
fn manifest_not_first_is_refused() {
    let m = signed_bytes(manifest_for(&ab()));
    let kit = compress(&RawTar::new().file("a", A).manifest(&m).file("b", B).end());
    assert_refused!(refusal(kit), KitError::ManifestNotFirst { found } if found == "a");
}

#[test]
fn empty_archive_has_no_manifest() {
    assert_refused!(
        refusal(compress(&[0u8; 1024])),
        KitError::ManifestNotFirst { .. }
    );
}

#[test]
fn absolute_path_is_refused() {
    let kit = kit_with(&ab(), |t| t.file("/etc/passwd", A));
    assert_refused!(refusal(kit), KitError::AbsolutePath { path } if path == "/etc/passwd");
}

#[test]
fn dotdot_traversal_is_refused() {
    let kit = kit_with(&ab(), |t| t.file("../x", A));
    assert_refused!(refusal(kit), KitError::ParentTraversal { path } if path == "../x");
    let kit = kit_with(&ab(), |t| t.file("a/../../x", A));
    assert_refused!(refusal(kit), KitError::ParentTraversal { .. });
}

#[test]
fn symlink_is_refused() {
    let kit = kit_with(&ab(), |t| {
        t.raw(&header(b"a", 0, EntryType::Symlink, b"/etc/shadow"), b"")
    });
    assert_refused!(refusal(kit), KitError::Symlink { path, target }
        if path == "a" && target == "/etc/shadow");
}

#[test]
fn hard_link_is_refused() {
    let kit = kit_with(&ab(), |t| {
        t.raw(&header(b"a", 0, EntryType::Link, b"manifest.json"), b"")
    });
    assert_refused!(refusal(kit), KitError::HardLink { path, .. } if path == "a");
}

#[test]
fn device_and_fifo_are_refused() {
    let kit = kit_with(&ab(), |t| {
        t.raw(&header(b"a", 0, EntryType::Char, b""), b"")
    });
    assert_refused!(
        refusal(kit),
        KitError::SpecialFile {
            kind: "character device",
            ..
        }
    );
    let kit = kit_with(&ab(), |t| {
        t.raw(&header(b"a", 0, EntryType::Block, b""), b"")
    });
    assert_refused!(
        refusal(kit),
        KitError::SpecialFile {
            kind: "block device",
            ..
        }
    );
    let kit = kit_with(&ab(), |t| {
        t.raw(&header(b"a", 0, EntryType::Fifo, b""), b"")
    });
    assert_refused!(refusal(kit), KitError::SpecialFile { kind: "fifo", .. });
}

#[test]
fn directory_entry_is_refused() {
    let kit = kit_with(&ab(), |t| {
        t.raw(&header(b"a", 0, EntryType::Directory, b""), b"")
    });
    assert_refused!(refusal(kit), KitError::Directory { path } if path == "a");
}

#[test]
fn pax_header_path_override_is_refused() {
    let pax = b"20 path=../../evil\n";
    let kit = kit_with(&ab(), |t| {
        t.raw(
            &header(b"PaxHeader", pax.len() as u64, EntryType::XHeader, b""),
            pax,
        )
        .file("a", A)
    });
    assert_refused!(
        refusal(kit),
        KitError::UnsupportedEntryType { type_flag: 'x', .. }
    );
}

#[test]
fn gnu_long_name_is_refused() {
    let kit = kit_with(&ab(), |t| {
        t.raw(
            &header(b"././@LongLink", 4, EntryType::GNULongName, b""),
            b"b\0\0\0",
        )
    });
    assert_refused!(
        refusal(kit),
        KitError::UnsupportedEntryType { type_flag: 'L', .. }
    );
}

#[test]
fn duplicate_entry_is_refused() {
    let kit = kit_with(&ab(), |t| t.file("a", A).file("a", A).file("b", B));
    assert_refused!(refusal(kit), KitError::DuplicateEntry { path } if path == "a");
}

#[test]
fn second_manifest_is_refused() {
    let m = signed_bytes(manifest_for(&ab()));
    let kit = compress(&RawTar::new().manifest(&m).file("a", A).manifest(&m).end());
    assert_refused!(refusal(kit), KitError::DuplicateEntry { path } if path == "manifest.json");
}

#[test]
fn unlisted_entry_is_refused() {
    let kit = kit_with(&ab(), |t| t.file("a", A).file("b", B).file("evil", b"x"));
    assert_refused!(refusal(kit), KitError::UnlistedEntry { path } if path == "evil");
}

#[test]
fn reordered_entries_are_refused() {
    let kit = kit_with(&ab(), |t| t.file("b", B).file("a", A));
    assert_refused!(refusal(kit), KitError::OutOfOrder { path, expected }
        if path == "b" && expected == "a");
}

#[test]
fn missing_entry_is_refused() {
    let kit = kit_with(&ab(), |t| t.file("a", A));
    assert_refused!(refusal(kit), KitError::MissingEntries { first, count: 1 } if first == "b");
}

#[test]
fn truncated_compressed_file_is_refused() {
    let (_, kit) = good_kit();
    let cut = kit[..kit.len() - 10].to_vec();
    assert_refused!(refusal(cut), KitError::Truncated { .. });
}

#[test]
fn truncated_tar_inside_an_entry_is_refused() {
    let (_, kit) = good_kit();
    let tar = decompress(&kit);
    // Cut inside the last entry's content (1500 bytes of 7s).
    let pos = tar.windows(8).rposition(|w| w == [7u8; 8]).expect("blob");
    assert_refused!(
        refusal(compress(&tar[..pos - 100])),
        KitError::Truncated { .. }
    );
}

#[test]
fn missing_second_end_block_is_refused() {
    let (_, kit) = good_kit();
    let tar = decompress(&kit);
    assert_refused!(
        refusal(compress(&tar[..tar.len() - 512])),
        KitError::Truncated { .. }
    );
}

#[test]
fn tampered_content_fails_the_digest() {
    let kit = kit_with(&ab(), |t| t.file("a", b"ALPHA").file("b", B));
    assert_refused!(refusal(kit), KitError::DigestMismatch { path, .. } if path == "a");
}

#[test]
fn tampered_content_fails_the_read_itself() {
    let kit = kit_with(&ab(), |t| t.file("a", b"ALPHA").file("b", B));
    let mut r = KitReader::open(Cursor::new(kit), &trust(), Limits::default()).expect("open");
    let mut e = r.next_entry().expect("header ok").expect("entry a");
    let mut buf = Vec::new();
    let io = e
        .read_to_end(&mut buf)
        .expect_err("digest mismatch surfaces in read");
    assert_refused!(KitError::from_io(io), KitError::DigestMismatch { .. });
    // A failed reader never continues.
    assert_refused!(
        r.next_entry().map(|_| ()).expect_err("aborted"),
        KitError::Aborted
    );
}

#[test]
fn size_lie_in_tar_header_is_refused() {
    let kit = kit_with(&ab(), |t| t.file("a", b"alphaXXXX").file("b", B));
    assert_refused!(refusal(kit), KitError::SizeMismatch { path, manifest: 5, tar: 9 }
        if path == "a");
}

#[test]
fn bad_tar_checksum_is_refused() {
    let kit = kit_with(&ab(), |t| {
        let mut h = header(b"a", A.len() as u64, EntryType::Regular, b"");
        h.as_mut_bytes()[0] = b'c'; // name changed after the checksum was computed
        t.raw(&h, A)
    });
    assert_refused!(refusal(kit), KitError::BadTarHeader { .. });
}

#[test]
fn gnu_format_header_is_refused() {
    let kit = kit_with(&ab(), |t| {
        let mut h = tar::Header::new_gnu();
        h.set_path("a").expect("path");
        h.set_size(A.len() as u64);
        h.set_entry_type(EntryType::Regular);
        h.set_cksum();
        t.raw(&h, A)
    });
    assert_refused!(refusal(kit), KitError::BadTarHeader { .. });
}

#[test]
fn invalid_entry_path_is_refused() {
    let kit = kit_with(&ab(), |t| t.file("a b", A));
    assert_refused!(refusal(kit), KitError::InvalidPath { .. });
}

#[test]
fn trailing_garbage_after_end_of_archive_is_refused() {
    let (_, kit) = good_kit();
    let mut tar = decompress(&kit);
    tar.extend_from_slice(b"surprise");
    assert_refused!(refusal(compress(&tar)), KitError::TrailingData { .. });
}

#[test]
fn entry_hidden_after_a_single_zero_block_is_refused() {
    let m = signed_bytes(manifest_for(&ab()));
    let mut tar = RawTar::new().manifest(&m).file("a", A).file("b", B).0;
    tar.extend_from_slice(&[0u8; 512]);
    let tar = RawTar(tar).file("evil", b"x").end();
    assert_refused!(refusal(compress(&tar)), KitError::TrailingData { .. });
}

#[test]
fn zero_padding_to_a_record_is_accepted() {
    let (_, kit) = good_kit();
    let mut tar = decompress(&kit);
    tar.resize(tar.len().div_ceil(10_240) * 10_240, 0);
    read_kit(compress(&tar), &trust(), Limits::default()).expect("GNU record padding is fine");
}

#[test]
fn trailing_bytes_after_the_zstd_frame_are_refused() {
    let (_, mut kit) = good_kit();
    kit.extend_from_slice(b"appended");
    assert_refused!(refusal(kit), KitError::TrailingCompressedData { .. });
}

#[test]
fn corrupt_zstd_is_refused() {
    let (_, kit) = good_kit();
    let mut bad = kit.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    bad[mid + 1] ^= 0xaa;
    let err = refusal(bad);
    assert!(
        matches!(
            err,
            KitError::Decompress(_)
                | KitError::DigestMismatch { .. }
                | KitError::BadTarHeader { .. }
        ),
        "{err:?}"
    );
    let mut not_zstd = kit;
    not_zstd[0] = b'P';
    let e = refusal(not_zstd);
    assert_refused!(&e, KitError::NotAKit { .. });
    assert!(e.to_string().starts_with("not a kit: "), "{e}");
}

#[test]
fn decompression_bomb_after_the_archive_is_cut_off() {
    let (_, kit) = good_kit();
    let mut tar = decompress(&kit);
    tar.resize(tar.len() + (256 << 20), 0); // 256 MiB of zeros: ~10 KB compressed
    let bomb = compress(&tar);
    assert!(bomb.len() < 100_000);
    let t = std::time::Instant::now();
    assert_refused!(refusal(bomb), KitError::DecompressionBomb { .. });
    // Bounded: stops after the exact tar size, long before 256 MiB are inflated.
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn decompression_bomb_in_the_manifest_header_is_refused_before_reading() {
    let h = header(b"manifest.json", 1 << 40, EntryType::Regular, b"");
    let kit = compress(&RawTar::new().raw(&h, b"").end());
    assert_refused!(refusal(kit), KitError::ManifestTooLarge { size, .. } if *size == 1 << 40);
}

// ---- limits --------------------------------------------------------------------------

#[test]
fn oversize_compressed_kit_is_refused() {
    let (_, kit) = good_kit();
    let err = read_kit(kit, &trust(), Limits::default().max_kit_bytes(100)).expect_err("big");
    assert_refused!(err, KitError::KitTooLarge { limit: 100 });
}

#[test]
fn too_many_entries_is_refused() {
    let (_, kit) = good_kit();
    let err = read_kit(kit, &trust(), Limits::default().max_entries(3)).expect_err("many");
    assert_refused!(err, KitError::TooManyEntries { count: 4, limit: 3 });
}

#[test]
fn oversize_entry_is_refused_from_the_manifest() {
    let (_, kit) = good_kit();
    let err = read_kit(kit, &trust(), Limits::default().max_entry_bytes(1000)).expect_err("big");
    assert_refused!(err, KitError::EntryTooLarge { path, size: 1500, limit: 1000 }
        if path == "oci/trivy-db/blob");
}

#[test]
fn oversize_total_is_refused() {
    let (_, kit) = good_kit();
    let err = read_kit(kit, &trust(), Limits::default().max_total_bytes(1000)).expect_err("big");
    assert_refused!(err, KitError::TotalTooLarge { limit: 1000, .. });
}

#[test]
fn oversize_manifest_is_refused() {
    let (_, kit) = good_kit();
    let err = read_kit(kit, &trust(), Limits::default().max_manifest_bytes(100)).expect_err("big");
    assert_refused!(err, KitError::ManifestTooLarge { limit: 100, .. });
}

// ---- manifest ------------------------------------------------------------------------

fn verify(bytes: &[u8]) -> KitError {
    Manifest::parse_and_verify(bytes, &trust(), &Limits::default())
        .expect_err("manifest must be refused")
}

#[test]
fn tampered_manifest_fails_its_signature() {
    let mut m = manifest_for(&ab());
    m.sign(&[&test_key(1)]).expect("sign");
    m.sequence += 1; // e.g. to defeat rollback protection
    let bytes = m.to_json_bytes().expect("json");
    assert_refused!(verify(&bytes), KitError::BadSignature { .. });
    // And through the reader.
    let kit = compress(
        &RawTar::new()
            .manifest(&bytes)
            .file("a", A)
            .file("b", B)
            .end(),
    );
    assert_refused!(refusal(kit), KitError::BadSignature { .. });
}

#[test]
fn manifest_signed_by_an_unpinned_key_is_refused() {
    let mut m = manifest_for(&ab());
    m.sign(&[&test_key(9)]).expect("sign");
    let bytes = m.to_json_bytes().expect("json");
    assert_refused!(
        verify(&bytes),
        KitError::SignatureThresholdNotMet {
            valid: 0,
            required: 1
        }
    );
}

#[test]
fn unsigned_manifest_is_refused() {
    let m = manifest_for(&ab());
    let bytes = m.to_json_bytes().expect("json");
    assert_refused!(
        verify(&bytes),
        KitError::SignatureThresholdNotMet {
            valid: 0,
            required: 1
        }
    );
}

#[test]
fn below_threshold_is_refused_and_at_threshold_accepted() {
    let (k1, k2, k3) = (test_key(1), test_key(2), test_key(3));
    let root = TrustRoot::new(vec![k1.public(), k2.public(), k3.public()], 2).expect("root");
    let mut m = manifest_for(&ab());
    m.sign(&[&k1]).expect("sign");
    let one = m.to_json_bytes().expect("json");
    assert_refused!(
        Manifest::parse_and_verify(&one, &root, &Limits::default()).expect_err("1 of 2"),
        KitError::SignatureThresholdNotMet {
            valid: 1,
            required: 2
        }
    );
    // The same key twice still counts once.
    let mut twice = m.clone();
    twice.signatures.push(twice.signatures[0].clone());
    let twice = twice.to_json_bytes().expect("json");
    assert_refused!(
        Manifest::parse_and_verify(&twice, &root, &Limits::default()).expect_err("dup"),
        KitError::SignatureThresholdNotMet {
            valid: 1,
            required: 2
        }
    );
    m.sign(&[&k3, &k1]).expect("sign");
    let two = m.to_json_bytes().expect("json");
    let v = Manifest::parse_and_verify(&two, &root, &Limits::default()).expect("2 of 3");
    assert_eq!(v.signed_by().len(), 2);
}

#[test]
fn signature_moved_to_another_key_id_is_refused() {
    let (k1, k2) = (test_key(1), test_key(2));
    let root = TrustRoot::new(vec![k1.public(), k2.public()], 1).expect("root");
    let mut m = manifest_for(&ab());
    m.sign(&[&k2]).expect("sign");
    m.signatures = vec![ManifestSignature {
        keyid: k1.id(),
        sig: m.signatures[0].sig.clone(),
    }];
    let bytes = m.to_json_bytes().expect("json");
    assert_refused!(
        Manifest::parse_and_verify(&bytes, &root, &Limits::default()).expect_err("moved"),
        KitError::BadSignature { keyid } if *keyid == k1.id()
    );
}

fn edit(f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<u8> {
    let bytes = signed_bytes(manifest_for(&ab()));
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    f(v.as_object_mut().expect("object"));
    bundles::manifest::canonical_json(&v).expect("canonical")
}

#[test]
fn wrong_format_version_is_refused() {
    let bytes = edit(|o| {
        o.insert("format_version".into(), 2.into());
        o.insert("new_field_of_v2".into(), true.into());
    });
    assert_refused!(verify(&bytes), KitError::UnsupportedFormatVersion { found, supported: 1 }
        if found == "2");
}

#[test]
fn wrong_format_is_refused() {
    let bytes = edit(|o| {
        o.insert("format".into(), "zarf".into());
    });
    assert_refused!(verify(&bytes), KitError::UnsupportedFormat { found } if found == "zarf");
    assert_refused!(verify(b"[1,2]"), KitError::UnsupportedFormat { .. });
}

#[test]
fn unknown_manifest_field_is_refused() {
    let bytes = edit(|o| {
        o.insert("allow_downgrade".into(), true.into());
    });
    assert_refused!(verify(&bytes), KitError::ManifestSchema(_));
}

#[test]
fn float_sequence_is_refused() {
    let bytes = signed_bytes(manifest_for(&ab()));
    let text = String::from_utf8(bytes)
        .expect("utf8")
        .replace("\"sequence\":42", "\"sequence\":42.0");
    assert_refused!(verify(text.as_bytes()), KitError::ManifestSchema(_));
}

#[test]
fn non_canonical_manifest_is_refused() {
    let bytes = signed_bytes(manifest_for(&ab()));
    let mut spaced = b" ".to_vec();
    spaced.extend_from_slice(&bytes);
    assert_refused!(verify(&spaced), KitError::ManifestNotCanonical);
    // A duplicated key (last one wins in most parsers) is not canonical either.
    let text = String::from_utf8(bytes).expect("utf8");
    let dup = text.replacen("{", "{\"sequence\":1,", 1);
    let _ = verify(dup.as_bytes());
}

#[test]
fn deeply_nested_manifest_is_refused_before_parsing() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_refused!(verify(deep.as_bytes()), KitError::ManifestTooDeep { .. });
}

#[test]
fn malformed_json_manifest_is_refused() {
    assert_refused!(verify(b"{\"format\":"), KitError::ManifestJson(_));
}

#[test]
fn unsorted_manifest_entries_are_refused() {
    let mut m = manifest_for(&[("b", B), ("a", A)]);
    force_sign(&mut m, &[&test_key(1)]);
    let bytes = m.to_json_bytes().expect("json");
    assert_refused!(verify(&bytes), KitError::ManifestNotSorted { path, previous }
        if path == "a" && previous == "b");
}

#[test]
fn duplicate_manifest_entries_are_refused() {
    let mut m = manifest_for(&[("a", A), ("a", A)]);
    force_sign(&mut m, &[&test_key(1)]);
    let bytes = m.to_json_bytes().expect("json");
    assert_refused!(verify(&bytes), KitError::DuplicateManifestEntry { path } if path == "a");
}

#[test]
fn manifest_listing_unsafe_paths_is_refused() {
    let bytes = edit(|o| {
        o["entries"][0]["path"] = "../etc/passwd".into();
    });
    assert_refused!(verify(&bytes), KitError::ManifestSchema(_));
}

#[test]
fn expiry_before_creation_is_refused() {
    let mut m = manifest_for(&ab());
    m.expires_at = m.created_at;
    assert_refused!(
        m.sign(&[&test_key(1)]).expect_err("refused"),
        KitError::InvalidManifest {
            field: "expires_at",
            ..
        }
    );
}
