//! One test per row of KIT-SECURITY.md (and per numbered check): each refusal names its
//! check, and leaves every file outside `audit/` byte-identical.
mod common;

use std::path::Path;

use bundles::Limits;
use common::*;
use importer::datadir::DataDir;
use importer::import::{self, Check, ImportError, Importer, Outcome};
use signing::{TrustRoot, jwt};

/// Imports and expects a refusal at check `n`, with nothing changed but the audit log,
/// which must record the refusal.
fn assert_refused(dd: &DataDir, kit: &Path, imp: &Importer, n: u8) -> String {
    let before = snapshot(dd);
    let audit_before = dd.audit().records().expect("audit").len();
    let err = imp.import(kit).expect_err("must be refused");
    let refusal = err
        .refusal()
        .unwrap_or_else(|| panic!("not a refusal: {err}"));
    assert_eq!(
        refusal.check().number(),
        n,
        "refused at the wrong check: {}",
        refusal.one_line()
    );
    assert_eq!(snapshot(dd), before, "a refusal changed the data dir");
    let recs = dd.audit().records().expect("audit");
    assert_eq!(recs.len(), audit_before + 1, "the refusal is audited");
    let last = recs.last().expect("record");
    assert_eq!(last.kind, "import");
    assert_eq!(last.event["result"], "refused");
    assert_eq!(last.event["check"], u64::from(n));
    dd.audit()
        .verify(Some(&dd.appliance_public().expect("pub")))
        .expect("chain intact");
    let line = refusal.one_line();
    assert!(line.contains(&format!("check {n}")), "{line}");
    assert!(line.ends_with("nothing was changed"), "{line}");
    line
}

/// The importer of most tests: the data dir's safe defaults with the test clock.
fn importer(dd: &DataDir) -> Importer {
    Importer::new(dd).clock(NOW)
}

fn kit(dir: &Path, name: &str, spec: &KitSpec) -> std::path::PathBuf {
    write_kit(dir, name, &kit_bytes(spec, &[&vendor()]), &vendor())
}

#[test]
fn a_valid_kit_is_activated_with_every_check_reported() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k = kit(tmp.path(), "k1.ouk", &KitSpec::new(1));
    let r = importer(&dd).import(&k).expect("import");
    assert_eq!(r.outcome, Outcome::Activated);
    let numbers: Vec<u8> = r.checks.iter().map(|c| c.number).collect();
    assert_eq!(numbers, (1..=10).collect::<Vec<u8>>());
    assert!(r.checks.iter().all(|c| c.passed));
    assert_eq!(r.sequence, Some(1));
    assert!(r.advisories["advisories/PyPI.jsonl"] > 0);
    let dir = dd.current_link().canonicalize().expect("current");
    assert!(dir.join("content/advisories/PyPI.jsonl").is_file());
    assert!(dir.join("manifest.json").is_file());
    assert!(dir.join("activated.json").is_file());
    let rec = dd.audit().records().expect("audit");
    assert_eq!(rec.last().expect("rec").event["result"], "accepted");
}

// 1. arbitrary content: only pinned keys count ----------------------------------------

#[test]
fn row1_kit_signed_by_an_unpinned_key_is_refused_at_check_2() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let bytes = kit_bytes(&KitSpec::new(1), &[&stranger()]);
    let k = write_kit(tmp.path(), "k.ouk", &bytes, &stranger());
    let line = assert_refused(&dd, &k, &importer(&dd), 2);
    assert!(line.contains("detached signature"), "{line}");
}

#[test]
fn row1_missing_detached_signature_is_refused_at_check_2() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k = kit(tmp.path(), "k.ouk", &KitSpec::new(1));
    std::fs::remove_file(tmp.path().join("k.ouk.minisig")).expect("rm");
    let line = assert_refused(&dd, &k, &importer(&dd), 2);
    assert!(line.contains("missing"), "{line}");
}

#[test]
fn row1_tampered_file_fails_the_detached_signature() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k = kit(tmp.path(), "k.ouk", &KitSpec::new(1));
    let mut b = std::fs::read(&k).expect("read");
    let n = b.len();
    b[n / 2] ^= 1;
    std::fs::write(&k, b).expect("write");
    assert_refused(&dd, &k, &importer(&dd), 2);
}

#[test]
fn row1_manifest_signed_by_an_unpinned_key_is_refused_at_check_3() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    // The detached signature is by the vendor (e.g. a re-signed file), the manifest is not.
    let bytes = kit_bytes(&KitSpec::new(1), &[&stranger()]);
    let k = write_kit(tmp.path(), "k.ouk", &bytes, &vendor());
    assert_refused(&dd, &k, &importer(&dd), 3);
}

// 2. rollback ----------------------------------------------------------------------------

#[test]
fn row2_older_sequence_is_refused_and_the_same_one_is_a_no_op() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k5 = kit(tmp.path(), "k5.ouk", &KitSpec::new(5));
    assert_eq!(
        importer(&dd).import(&k5).expect("5").outcome,
        Outcome::Activated
    );
    let k4 = kit(tmp.path(), "k4.ouk", &KitSpec::new(4));
    let line = assert_refused(&dd, &k4, &importer(&dd), 6);
    assert!(
        line.contains("older than the last accepted kit (5)"),
        "{line}"
    );
    let before = snapshot(&dd);
    let again = importer(&dd).import(&k5).expect("same kit");
    assert_eq!(again.outcome, Outcome::AlreadyImported);
    assert_eq!(snapshot(&dd), before);
    // a different kit claiming the same sequence is a replay
    let mut other = KitSpec::new(5);
    other.kit_id = "other-5".into();
    let k5b = kit(tmp.path(), "k5b.ouk", &other);
    let line = assert_refused(&dd, &k5b, &importer(&dd), 6);
    assert!(line.contains("replay"), "{line}");
}

// 3. freeze -------------------------------------------------------------------------------

#[test]
fn row3_expired_kit_is_refused_at_check_7() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let mut s = KitSpec::new(1);
    s.created_at = NOW - time::Duration::days(40);
    let k = kit(tmp.path(), "k.ouk", &s);
    // the data dir was initialised a day before NOW; an old kit is not a clock problem
    let o = importer(&dd).clock_skew(time::Duration::minutes(10));
    let line = assert_refused(&dd, &k, &o, 7);
    assert!(line.contains("expired"), "{line}");
}

// 4. clock tampering ---------------------------------------------------------------------

#[test]
fn row4_clock_earlier_than_the_latest_trusted_time_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k1 = kit(tmp.path(), "k1.ouk", &KitSpec::new(1));
    importer(&dd).import(&k1).expect("first");
    let k2 = kit(tmp.path(), "k2.ouk", &KitSpec::new(2));
    let o = importer(&dd).clock(NOW - time::Duration::days(3));
    let line = assert_refused(&dd, &k2, &o, 7);
    assert!(
        line.contains("earlier than the latest trusted time"),
        "{line}"
    );
}

#[test]
fn row4_kit_from_the_future_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let mut s = KitSpec::new(1);
    s.created_at = NOW + time::Duration::days(2);
    let k = kit(tmp.path(), "k.ouk", &s);
    let line = assert_refused(&dd, &k, &importer(&dd), 7);
    assert!(line.contains("after the appliance clock"), "{line}");
}

// 5. mix-and-match -----------------------------------------------------------------------

/// Splits a tar stream into (header, data-with-padding) blocks per entry.
fn entries(tar: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 512 <= tar.len() && tar[at..at + 512].iter().any(|&b| b != 0) {
        let h = tar::Header::from_byte_slice(&tar[at..at + 512]);
        let size = usize::try_from(h.entry_size().expect("size")).expect("fits");
        let padded = size.div_ceil(512) * 512;
        out.push((
            tar[at..at + 512].to_vec(),
            tar[at + 512..at + 512 + padded].to_vec(),
        ));
        at += 512 + padded;
    }
    out
}

/// The bytes of the manifest (the first entry, padding cut).
fn manifest_bytes(parts: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let size = tar::Header::from_byte_slice(&parts[0].0)
        .entry_size()
        .expect("size");
    parts[0].1[..usize::try_from(size).expect("fits")].to_vec()
}

/// The manifest, parsed without checking signatures.
fn manifest_of(parts: &[(Vec<u8>, Vec<u8>)]) -> bundles::Manifest {
    bundles::Manifest::parse_unverified(&manifest_bytes(parts), &Limits::default())
        .expect("manifest")
}

/// Replaces the manifest (the first entry) with `body`.
fn set_manifest(parts: &mut [(Vec<u8>, Vec<u8>)], body: &[u8]) {
    let mut h = tar::Header::from_byte_slice(&parts[0].0).clone();
    h.set_size(body.len() as u64);
    h.set_cksum();
    let mut data = body.to_vec();
    data.resize(body.len().div_ceil(512) * 512, 0);
    parts[0] = (h.as_bytes().to_vec(), data);
}

fn join(parts: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut t = Vec::new();
    for (h, d) in parts {
        t.extend_from_slice(h);
        t.extend_from_slice(d);
    }
    t.extend_from_slice(&[0u8; 1024]);
    t
}

#[test]
fn row5_entry_from_another_kit_is_refused_at_check_8() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let a = entries(&untar(&kit_bytes(&KitSpec::new(1), &[&vendor()])));
    let mut spec_b = KitSpec::new(1);
    // same size, different content: only the digest can tell
    let mut adv = spec_b.advisories.clone();
    let pos = adv.iter().position(|&c| c == b'Z').unwrap_or(10);
    adv[pos] = if adv[pos] == b'Y' { b'X' } else { b'Y' };
    spec_b.advisories = adv;
    let b = entries(&untar(&kit_bytes(&spec_b, &[&vendor()])));
    let mixed = vec![a[0].clone(), b[1].clone()];
    // An attacker cannot make the detached signature; re-signing here isolates check 8.
    let k = write_kit(tmp.path(), "k.ouk", &retar(&join(&mixed)), &vendor());
    let line = assert_refused(&dd, &k, &importer(&dd), 8);
    assert!(line.contains("sha256"), "{line}");
}

// 6. endless data ------------------------------------------------------------------------

#[test]
fn row6_oversized_kit_file_is_refused_at_check_1_before_reading() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k = kit(tmp.path(), "k.ouk", &KitSpec::new(1));
    let o = importer(&dd).limits(Limits::default().max_kit_bytes(100));
    let line = assert_refused(&dd, &k, &o, 1);
    assert!(line.contains("cap"), "{line}");
}

#[test]
fn row6_a_kit_that_does_not_fit_on_the_disk_is_refused_at_check_1_before_staging() {
    use importer::import::Refusal;
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k = kit(tmp.path(), "k.ouk", &KitSpec::new(1));
    // Asking for more free space than any test machine has stands in for a full disk.
    let o = importer(&dd).keep_free(1 << 60);
    let line = assert_refused(&dd, &k, &o, 1);
    assert!(
        line.contains("staging the kit needs") && line.contains("is free"),
        "{line}"
    );
    let err = o.import(&k).expect_err("refused");
    match err.refusal() {
        Some(Refusal::DiskSpace {
            unpacked,
            needed,
            free,
            ..
        }) => {
            assert_eq!(*unpacked, KitSpec::new(1).advisories.len() as u64);
            assert_eq!(*needed, unpacked + (1 << 60));
            assert!(free < needed);
        }
        other => panic!("not a disk-space refusal: {other:?}"),
    }
    // with the default reserve the same kit fits, and check 1 says how much was free
    let r = importer(&dd).import(&k).expect("fits");
    assert!(
        r.checks[0].detail.contains("bytes free on"),
        "{:?}",
        r.checks[0]
    );
}

#[test]
fn row6_unpacked_size_above_the_cap_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k = kit(tmp.path(), "k.ouk", &KitSpec::new(1));
    let o = importer(&dd).limits(Limits::default().max_total_bytes(16));
    let line = assert_refused(&dd, &k, &o, 8);
    assert!(line.contains("limit"), "{line}");
}

// 7. extraneous or malicious entries -----------------------------------------------------

/// A ustar header of `kind` for `name`, size 0.
fn header(kind: tar::EntryType, name: &[u8], link: Option<&str>) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(0);
    h.set_mode(0o644);
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    if let Some(l) = link {
        h.set_link_name(l).expect("link");
    }
    h.set_cksum();
    h.as_bytes().to_vec()
}

/// A valid kit plus an entry the manifest does not list (for what no manifest can
/// list: `..` and absolute paths are not entry paths).
fn with_extra_entry(kind: tar::EntryType, name: &[u8], link: Option<&str>) -> Vec<u8> {
    let mut all = entries(&untar(&kit_bytes(&KitSpec::new(1), &[&vendor()])));
    all.push((header(kind, name, link), Vec::new()));
    retar(&join(&all))
}

/// A kit whose signed manifest lists `name` (an empty file) but whose tar carries it as
/// `kind`: being listed, the entry can only be refused for its type.
fn with_listed_entry_of_type(kind: tar::EntryType, name: &str, link: Option<&str>) -> Vec<u8> {
    let mut s = KitSpec::new(1);
    s.extra.push((name.into(), "text/plain".into(), Vec::new()));
    let bytes = kit_bytes(&s, &[&vendor()]);
    let listed = bundles::peek_manifest(bytes.as_slice(), &Limits::default()).expect("manifest");
    assert!(listed.entry(name).is_some(), "{name} is listed");
    let mut parts = entries(&untar(&bytes));
    let i = parts
        .iter()
        .position(|(h, _)| tar::Header::from_byte_slice(h).path_bytes().as_ref() == name.as_bytes())
        .expect("entry in the tar");
    parts[i] = (header(kind, name.as_bytes(), link), Vec::new());
    retar(&join(&parts))
}

/// Expects a refusal at check 9 whose reason is exactly `reason` (a `KitError` message).
fn assert_path_refusal(dd: &DataDir, kit: &Path, reason: &str) {
    let line = assert_refused(dd, kit, &importer(dd), 9);
    assert!(
        line.starts_with(&format!("refused at check 9 (path safety): {reason}; ")),
        "{line}"
    );
}

#[test]
fn row7_unlisted_entry_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let b = with_extra_entry(tar::EntryType::Regular, b"zz-extra.json", None);
    let k = write_kit(tmp.path(), "k.ouk", &b, &vendor());
    assert_path_refusal(
        &dd,
        &k,
        "tar entry \"zz-extra.json\" is not listed in the signed manifest",
    );
}

#[test]
fn row7_parent_traversal_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    // No signed manifest can list it: `..` is not an entry path.
    assert!(matches!(
        bundles::EntryPath::new("../../etc/cron.d/x"),
        Err(bundles::KitError::InvalidPath {
            reason: "`..` component",
            ..
        })
    ));
    let b = with_extra_entry(tar::EntryType::Regular, b"../../etc/cron.d/x", None);
    let k = write_kit(tmp.path(), "k.ouk", &b, &vendor());
    assert_path_refusal(
        &dd,
        &k,
        "tar entry path escapes with `..`: \"../../etc/cron.d/x\"",
    );
    assert!(!tmp.path().join("etc").exists());
}

#[test]
fn row7_absolute_path_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    assert!(matches!(
        bundles::EntryPath::new("/tmp/evil"),
        Err(bundles::KitError::InvalidPath {
            reason: "absolute path",
            ..
        })
    ));
    let b = with_extra_entry(tar::EntryType::Regular, b"/tmp/evil", None);
    let k = write_kit(tmp.path(), "k.ouk", &b, &vendor());
    assert_path_refusal(&dd, &k, "tar entry has an absolute path: \"/tmp/evil\"");
}

#[test]
fn row7_symlink_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let b = with_listed_entry_of_type(tar::EntryType::Symlink, "link", Some("/etc/passwd"));
    let k = write_kit(tmp.path(), "k.ouk", &b, &vendor());
    assert_path_refusal(
        &dd,
        &k,
        "tar entry \"link\" is a symlink to \"/etc/passwd\"",
    );
}

#[test]
fn row7_hard_link_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let b = with_listed_entry_of_type(tar::EntryType::Link, "hard", Some("advisories/PyPI.jsonl"));
    let k = write_kit(tmp.path(), "k.ouk", &b, &vendor());
    assert_path_refusal(
        &dd,
        &k,
        "tar entry \"hard\" is a hard link to \"advisories/PyPI.jsonl\"",
    );
}

#[test]
fn row7_device_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    for (kind, name, what) in [
        (tar::EntryType::Char, "dev", "character device"),
        (tar::EntryType::Block, "blk", "block device"),
        (tar::EntryType::Fifo, "fifo", "fifo"),
    ] {
        let b = with_listed_entry_of_type(kind, name, None);
        let k = write_kit(tmp.path(), &format!("{name}.ouk"), &b, &vendor());
        assert_path_refusal(&dd, &k, &format!("tar entry \"{name}\" is a {what}"));
    }
}

#[test]
fn row7_directory_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let b = with_listed_entry_of_type(tar::EntryType::Directory, "dir", None);
    let k = write_kit(tmp.path(), "k.ouk", &b, &vendor());
    assert_path_refusal(&dd, &k, "tar entry \"dir\" is a directory");
}

#[test]
fn row7_duplicate_entry_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let parts = entries(&untar(&kit_bytes(&KitSpec::new(1), &[&vendor()])));
    // the listed advisories entry, twice
    let mut all = parts.clone();
    all.push(parts[1].clone());
    let k = write_kit(tmp.path(), "k.ouk", &retar(&join(&all)), &vendor());
    assert_path_refusal(&dd, &k, "tar entry \"advisories/PyPI.jsonl\" appears twice");
}

#[test]
fn row7_unknown_entry_kind_is_refused_at_check_10() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let mut s = KitSpec::new(1);
    s.extra.push((
        "scripts/postinst".into(),
        "text/plain".into(),
        b"rm -rf /".to_vec(),
    ));
    let k = kit(tmp.path(), "k.ouk", &s);
    let line = assert_refused(&dd, &k, &importer(&dd), 10);
    assert!(line.contains("scripts/postinst"), "{line}");
}

// 8. key compromise: k-of-n ---------------------------------------------------------------

#[test]
fn row8_threshold_two_needs_two_distinct_pinned_signers() {
    let (tmp, dd) = data_dir(&[&vendor(), &vendor2()], 2, None);
    let one = write_kit(
        tmp.path(),
        "one.ouk",
        &kit_bytes(&KitSpec::new(1), &[&vendor()]),
        &vendor(),
    );
    let line = assert_refused(&dd, &one, &importer(&dd), 3);
    assert!(
        line.starts_with("refused at check 3 (manifest signatures): manifest: manifest has 1 valid signature(s) from trusted keys, 2 required; "),
        "{line}"
    );
    // The same key's signature twice, written into the manifest itself (the signer
    // would keep one): one signer, not two.
    let mut parts = entries(&untar(&kit_bytes(&KitSpec::new(1), &[&vendor()])));
    let mut m = manifest_of(&parts);
    m.signatures = vec![m.signatures[0].clone(), m.signatures[0].clone()];
    set_manifest(&mut parts, &m.to_json_bytes().expect("json"));
    let dup = write_kit(tmp.path(), "dup.ouk", &retar(&join(&parts)), &vendor());
    assert_eq!(
        manifest_of(&entries(&untar(&std::fs::read(&dup).expect("read"))))
            .signatures
            .len(),
        2
    );
    let line = assert_refused(&dd, &dup, &importer(&dd), 3);
    assert!(
        line.starts_with("refused at check 3 (manifest signatures): manifest: manifest has 1 valid signature(s) from trusted keys, 2 required; "),
        "the same key twice is one signer: {line}"
    );
    let two = write_kit(
        tmp.path(),
        "two.ouk",
        &kit_bytes(&KitSpec::new(1), &[&vendor(), &vendor2()]),
        &vendor2(),
    );
    assert_eq!(
        importer(&dd).import(&two).expect("two").outcome,
        Outcome::Activated
    );
}

// 10. wrong site --------------------------------------------------------------------------

#[test]
fn row10_kit_for_another_site_is_refused_at_check_5() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, Some("plant-7"));
    let mut s = KitSpec::new(1);
    s.site = Some("plant-9".into());
    let k = kit(tmp.path(), "k.ouk", &s);
    let line = assert_refused(&dd, &k, &importer(&dd), 5);
    assert!(
        line.contains("plant-9") && line.contains("plant-7"),
        "{line}"
    );
    let (tmp2, dd2) = data_dir(&[&vendor()], 1, None);
    let k2 = kit(tmp2.path(), "k.ouk", &s);
    assert_refused(&dd2, &k2, &importer(&dd2), 5);
}

// 11. tokens ------------------------------------------------------------------------------

#[test]
fn row11_tokens_are_verified_then_resigned_by_the_appliance() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, Some("plant-7"));
    let mut s = KitSpec::new(1);
    s.site = Some("plant-7".into());
    s.clients = vec![
        (
            "ci-a".into(),
            vendor_token(&vendor(), "ci-a", s.created_at, Some("plant-7")),
        ),
        (
            "ci-b".into(),
            vendor_token(&vendor(), "ci-b", s.created_at, Some("plant-7")),
        ),
    ];
    s.revoked = vec!["jti-ci-b".into(), "old-1".into()];
    let k = kit(tmp.path(), "k.ouk", &s);
    let r = importer(&dd).import(&k).expect("import");
    assert_eq!(r.clients, vec!["ci-a".to_string()]);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("ci-b") && w.contains("revoked"))
    );
    let dir = dd.current_link().canonicalize().expect("current");
    let t = import::read_tokens(&dir).expect("tokens");
    assert_eq!(t.revoked, vec!["jti-ci-b".to_string(), "old-1".to_string()]);
    let app = TrustRoot::single(dd.appliance_public().expect("pub"));
    let v = jwt::Validation {
        now: NOW.unix_timestamp(),
        leeway_secs: 0,
        issuer: Some(dd.appliance_id().expect("id")),
        audience: Some("plant-7".into()),
    };
    let claims = jwt::verify(&t.clients[0].token, &app, &v).expect("appliance-signed");
    assert_eq!(claims.sub, "ci-a");
    assert_eq!(claims.max_scans_per_day, Some(333));
    // the vendor-signed original is not accepted as an appliance token
    let vendor_original = &s.clients[0].1;
    let e = jwt::verify(vendor_original, &app, &v).expect_err("vendor-signed");
    // Refused for its key (kid = the vendor's), not for a claim that happens to differ.
    assert!(
        matches!(&e, jwt::JwtError::UnknownKid(kid) if *kid == vendor().id().to_string()),
        "{e:?}"
    );
}

#[test]
fn row11_forged_token_refuses_the_kit_at_check_10() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let mut s = KitSpec::new(1);
    s.clients = vec![(
        "ci-a".into(),
        vendor_token(&stranger(), "ci-a", s.created_at, None),
    )];
    let k = kit(tmp.path(), "k.ouk", &s);
    let line = assert_refused(&dd, &k, &importer(&dd), 10);
    assert!(line.contains("ci-a"), "{line}");
}

#[test]
fn row11_token_listed_under_another_client_is_refused() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let mut s = KitSpec::new(1);
    s.clients = vec![(
        "ci-a".into(),
        vendor_token(&vendor(), "ci-b", s.created_at, None),
    )];
    let k = kit(tmp.path(), "k.ouk", &s);
    assert_refused(&dd, &k, &importer(&dd), 10);
}

// content ---------------------------------------------------------------------------------

#[test]
fn advisories_that_do_not_parse_are_refused_at_check_10() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let mut s = KitSpec::new(1);
    s.advisories = b"{\"id\":\"X\"}\n".to_vec();
    let k = kit(tmp.path(), "k.ouk", &s);
    let line = assert_refused(&dd, &k, &importer(&dd), 10);
    assert!(
        line.contains("advisories/PyPI.jsonl") && line.contains("line 1"),
        "{line}"
    );
}

#[test]
fn format_version_2_is_refused_at_check_4() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let mut parts = entries(&untar(&kit_bytes(&KitSpec::new(1), &[&vendor()])));
    let text = String::from_utf8_lossy(&manifest_bytes(&parts))
        .replace("\"format_version\":1", "\"format_version\":2");
    set_manifest(&mut parts, text.as_bytes());
    let k = write_kit(tmp.path(), "k.ouk", &retar(&join(&parts)), &vendor());
    let line = assert_refused(&dd, &k, &importer(&dd), 4);
    assert!(line.contains("format_version"), "{line}");
}

#[test]
fn every_check_has_a_number_and_a_title() {
    let n: Vec<u8> = Check::ALL.iter().map(|c| c.number()).collect();
    assert_eq!(n, (1..=10).collect::<Vec<u8>>());
    assert!(Check::ALL.iter().all(|c| !c.title().is_empty()));
}

#[test]
fn a_second_concurrent_import_is_told_to_wait() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k = kit(tmp.path(), "k.ouk", &KitSpec::new(1));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dd.audit_dir().join(".import.lock"))
        .expect("lock file");
    lock.lock().expect("lock");
    assert!(matches!(importer(&dd).import(&k), Err(ImportError::Busy)));
    lock.unlock().expect("unlock");
    assert!(importer(&dd).import(&k).is_ok());
}

// 8. key rotation: the new root is signed by the pinned one -------------------------------

fn rotation_kit(
    dir: &Path,
    name: &str,
    seq: u64,
    doc: &bundles::trustroot::RootDoc,
    signer: &signing::KeyPair,
) -> std::path::PathBuf {
    let mut s = KitSpec::new(seq);
    s.extra.push((
        bundles::trustroot::ROOT_PATH.into(),
        bundles::trustroot::ROOT_MEDIA_TYPE.into(),
        doc.to_json().expect("json"),
    ));
    write_kit(dir, name, &kit_bytes(&s, &[signer]), signer)
}

#[test]
fn row8_rotation_signed_by_the_pinned_root_moves_trust_to_the_new_key() {
    use bundles::trustroot::RootDoc;
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    // a rotation signed by a stranger is refused and nothing changes
    let forged = RootDoc::signed(1, &[stranger().public()], 1, &[&stranger()]).expect("doc");
    let k = rotation_kit(tmp.path(), "forged.ouk", 1, &forged, &vendor());
    let line = assert_refused(&dd, &k, &importer(&dd), 10);
    assert!(line.contains("trust/root.json"), "{line}");
    // the genuine rotation: old key signs a root holding the new key
    let doc = RootDoc::signed(1, &[vendor2().public()], 1, &[&vendor()]).expect("doc");
    let k1 = rotation_kit(tmp.path(), "rot.ouk", 1, &doc, &vendor());
    let r = importer(&dd).import(&k1).expect("rotation kit");
    assert_eq!(r.rotated_root, Some(1));
    let tf = dd.trust_file().expect("trust");
    assert_eq!(tf.root_version, 1);
    assert_eq!(tf.keys, vec![vendor2().public().to_base64()]);
    // the old key is no longer trusted; the new one is
    let old = kit(tmp.path(), "old2.ouk", &KitSpec::new(2));
    assert_refused(&dd, &old, &importer(&dd), 2);
    let new = write_kit(
        tmp.path(),
        "new2.ouk",
        &kit_bytes(&KitSpec::new(2), &[&vendor2()]),
        &vendor2(),
    );
    assert_eq!(
        importer(&dd).import(&new).expect("new key").outcome,
        Outcome::Activated
    );
    // replaying the version-1 rotation (re-signed by the new key) is refused: not newer
    let replay = RootDoc::signed(1, &[vendor().public()], 1, &[&vendor2()]).expect("doc");
    let k3 = rotation_kit(tmp.path(), "replay.ouk", 3, &replay, &vendor2());
    let line = assert_refused(&dd, &k3, &importer(&dd), 10);
    assert!(line.contains("must increase"), "{line}");
}

// the audit log --------------------------------------------------------------------------

#[test]
fn an_import_over_forged_audit_records_is_refused_before_anything_changes() {
    use importer::audit::{AuditError, Record};
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k = kit(tmp.path(), "k.ouk", &KitSpec::new(1));
    // Someone with file access appends a well-chained record: no key, no signed head.
    let last = dd
        .audit()
        .records()
        .expect("records")
        .pop()
        .expect("init record");
    let mut forged = serde_json::json!({
        "seq": last.seq + 1,
        "time": "2026-11-22T00:00:00Z",
        "kind": "import",
        "event": {"result": "accepted", "kit_id": "forged"},
        "prev": last.hash,
    });
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        serde_json::to_vec(&forged).expect("json"),
    ));
    forged["hash"] = hash.into();
    let rec: Record = serde_json::from_value(forged).expect("a valid record");
    let mut log = std::fs::read(dd.audit().path()).expect("log");
    log.extend(serde_json::to_vec(&rec).expect("json"));
    log.push(b'\n');
    std::fs::write(dd.audit().path(), &log).expect("forge");
    let before = snapshot(&dd);

    let err = importer(&dd).import(&k).expect_err("refused");
    assert!(
        matches!(
            err,
            ImportError::Audit(AuditError::Unsigned { after_seq, .. }) if after_seq == last.seq
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("without the appliance key"),
        "{err}"
    );
    assert_eq!(snapshot(&dd), before, "nothing changed");
    assert_eq!(
        std::fs::read(dd.audit().path()).expect("log"),
        log,
        "the forged record was neither adopted nor removed"
    );
}

#[test]
fn deleting_the_whole_audit_log_is_detected_once_kits_were_imported() {
    use importer::audit::AuditError;
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k = kit(tmp.path(), "k.ouk", &KitSpec::new(1));
    importer(&dd).import(&k).expect("import");
    assert_eq!(dd.verify_audit().expect("intact").records, 2);
    std::fs::remove_file(dd.audit().path()).expect("rm log");
    std::fs::remove_file(dd.audit_dir().join("head.json")).expect("rm head");
    // the chain alone cannot tell: an empty log is a valid chain
    assert_eq!(dd.audit().verify(None).expect("empty chain").records, 0);
    let err = dd.verify_audit().expect_err("a deleted log is refused");
    assert!(matches!(err, AuditError::Missing(_)), "{err}");
    assert!(
        err.to_string().contains("activated 1 kit(s)") && err.to_string().contains("deleted"),
        "{err}"
    );
}

#[test]
fn row8_rotation_needs_the_pinned_threshold_of_co_signers() {
    use bundles::trustroot::RootDoc;
    let (tmp, dd) = data_dir(&[&vendor(), &vendor2()], 2, None);
    let kit_of = |name: &str, doc: &RootDoc| {
        let mut s = KitSpec::new(1);
        s.extra.push((
            bundles::trustroot::ROOT_PATH.into(),
            bundles::trustroot::ROOT_MEDIA_TYPE.into(),
            doc.to_json().expect("json"),
        ));
        // the manifest meets the threshold: only the rotation document is short
        write_kit(
            tmp.path(),
            name,
            &kit_bytes(&s, &[&vendor(), &vendor2()]),
            &vendor(),
        )
    };
    let one = RootDoc::signed(1, &[stranger().public()], 1, &[&vendor()]).expect("doc");
    let line = assert_refused(&dd, &kit_of("one.ouk", &one), &importer(&dd), 10);
    assert!(
        line.contains("trust/root.json: trust/root.json is not signed by the pinned trust root"),
        "{line}"
    );
    assert_eq!(dd.trust_file().expect("trust").root_version, 0);
    let both =
        RootDoc::signed(1, &[stranger().public()], 1, &[&vendor(), &vendor2()]).expect("doc");
    let r = importer(&dd)
        .import(&kit_of("both.ouk", &both))
        .expect("co-signed rotation");
    assert_eq!(r.rotated_root, Some(1));
    assert_eq!(
        dd.trust_file().expect("trust").keys,
        vec![stranger().public().to_base64()]
    );
}

/// A file that is no kit at all (here a signed text file: someone picked the wrong file
/// from the stick and signed it) is called "not a kit", not "kit is truncated" or a
/// zstd decoder's "Unknown frame descriptor".
#[test]
fn a_signed_file_that_is_not_a_kit_is_called_not_a_kit() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k = write_kit(
        tmp.path(),
        "notes.ouk",
        b"meeting notes, not a kit\n",
        &vendor(),
    );
    let line = assert_refused(&dd, &k, &importer(&dd), 4);
    assert!(
        line.contains("not a kit: the file does not start with a zstd frame"),
        "{line}"
    );
}
