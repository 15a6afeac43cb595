//! Crash consistency of `stella-appliance import`: the importer is killed at every
//! named point of the activation (abort, no destructors) and at random instants
//! (SIGKILL); the data directory must always hold the old kit or the new kit, complete,
//! never a mix, and the next import must recover and succeed.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bundles::manifest::{Producer, Summary};
use bundles::path::media_types;
use bundles::{EntryPath, KitInfo, KitWriter, MediaType, Timestamp};
use signing::minisign::{self, SignOptions};
use signing::{KeyId, KeyPair};
use time::OffsetDateTime;

const BIN: &str = env!("CARGO_BIN_EXE_stella-appliance");

fn vendor() -> KeyPair {
    KeyPair::from_seed(KeyId([0x44; 8]), &[4; 32])
}

/// A signed kit with `entries` advisory-free filler entries of `size` bytes (the
/// `nvd/` area is accepted without parsing), so the import takes a measurable time.
fn make_kit(dir: &Path, seq: u64, entries: usize, size: usize) -> PathBuf {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).expect("ns");
    let mut w = KitWriter::new(KitInfo {
        kit_id: format!("crash-{seq}"),
        sequence: seq,
        created_at: Timestamp::new(now - time::Duration::minutes(1)).expect("ts"),
        expires_at: Timestamp::new(now + time::Duration::days(30)).expect("ts"),
        site: None,
        producer: Producer {
            name: "crash-test".into(),
            version: "1".into(),
        },
        summary: Summary::default(),
    });
    for i in 0..entries {
        let body: Vec<u8> = (0..size)
            .map(|j| ((i * 31 + j * 7 + seq as usize) % 251) as u8)
            .collect();
        w.add_bytes(
            EntryPath::new(format!("nvd/filler-{i:04}.bin")).expect("path"),
            MediaType::new(media_types::NVD_CVES_JSONL).expect("mt"),
            body,
        )
        .expect("add");
    }
    let p = dir.join(format!("kit-{seq}.ouk"));
    let f = std::fs::File::create(&p).expect("create");
    w.write(std::io::BufWriter::new(f), &[&vendor()])
        .expect("write");
    let sig = minisign::sign_file(
        &vendor(),
        &p,
        &SignOptions {
            trusted_comment: None,
            untrusted_comment: None,
            timestamp: now.unix_timestamp(),
            file_name: None,
        },
    )
    .expect("sign");
    let mut sp = p.as_os_str().to_owned();
    sp.push(".minisig");
    sig.write(&PathBuf::from(sp)).expect("sig");
    p
}

fn init(root: &Path) -> PathBuf {
    let pubkey = root.join("vendor.pub");
    vendor().public().to_box().write(&pubkey).expect("pub");
    let data = root.join("data");
    let o = Command::new(BIN)
        .args(["init", "--data"])
        .arg(&data)
        .arg("--trust")
        .arg(&pubkey)
        .output()
        .expect("init");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    data
}

fn import(data: &Path, kit: &Path, crash_at: Option<&str>) -> std::process::Output {
    let mut c = Command::new(BIN);
    c.args(["import", "--data"]).arg(data).arg(kit);
    if let Some(p) = crash_at {
        c.env("STELLA_CRASH_AT", p);
    }
    c.output().expect("import")
}

/// The active sequence, after checking the active kit is complete.
fn active(data: &Path) -> u64 {
    let cur = data
        .join("current")
        .canonicalize()
        .expect("current resolves");
    let name = cur
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let seq: u64 = name
        .split('-')
        .next()
        .expect("seq")
        .parse()
        .expect("number");
    // complete: the manifest and every listed entry are there with the right size
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cur.join("manifest.json")).expect("manifest"))
            .expect("json");
    for e in m["entries"].as_array().expect("entries") {
        let p = cur.join("content").join(e["path"].as_str().expect("path"));
        let len = std::fs::metadata(&p)
            .unwrap_or_else(|_| panic!("{} missing", p.display()))
            .len();
        assert_eq!(len, e["size"].as_u64().expect("size"), "{}", p.display());
    }
    assert!(cur.join("tokens.json").is_file());
    seq
}

fn status_json(data: &Path) -> serde_json::Value {
    let o = Command::new(BIN)
        .args(["status", "--json", "--data"])
        .arg(data)
        .output()
        .expect("status");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("json")
}

#[test]
fn a_crash_at_every_activation_step_leaves_old_or_new_and_recovers() {
    for point in [
        "after-entries",
        "after-content",
        "before-activate",
        "after-rename",
        "after-switch",
    ] {
        let d = tempfile::tempdir().expect("tmp");
        let data = init(d.path());
        let k1 = make_kit(d.path(), 1, 3, 1000);
        let k2 = make_kit(d.path(), 2, 3, 1000);
        assert!(import(&data, &k1, None).status.success());
        let o = import(&data, &k2, Some(point));
        assert!(
            !o.status.success(),
            "{point}: the importer should have died"
        );
        let seq = active(&data);
        match point {
            "after-switch" => assert_eq!(seq, 2, "{point}: switched before the crash"),
            _ => assert_eq!(seq, 1, "{point}: old kit still active"),
        }
        // The next import recovers (sweeps staging/orphans, completes a marker) and ends
        // with kit 2 active.
        let o = import(&data, &k2, None);
        assert!(
            o.status.success(),
            "{point}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(active(&data), 2, "{point}");
        let st = status_json(&data);
        assert_eq!(st["active_kit"]["sequence"], 2, "{point}");
        let leftovers: Vec<String> = std::fs::read_dir(data.join("kits"))
            .expect("kits")
            .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".staging"))
            .collect();
        assert!(leftovers.is_empty(), "{point}: {leftovers:?}");
    }
}

#[test]
fn sigkill_at_random_instants_never_leaves_a_mix() {
    let d = tempfile::tempdir().expect("tmp");
    let data = init(d.path());
    let k1 = make_kit(d.path(), 1, 2, 1000);
    assert!(import(&data, &k1, None).status.success());
    // Big enough that the import takes tens of milliseconds.
    let k2 = make_kit(d.path(), 2, 40, 256 * 1024);
    let mut outcomes = std::collections::BTreeMap::new();
    for i in 0..12u64 {
        let mut child = Command::new(BIN)
            .args(["import", "--data"])
            .arg(&data)
            .arg(&k2)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(5 + i * 9));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let seq = active(&data);
        assert!(seq == 1 || seq == 2);
        *outcomes.entry(seq).or_insert(0) += 1;
        if seq == 2 {
            break;
        }
    }
    let o = import(&data, &k2, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(active(&data), 2);
    assert!(!outcomes.is_empty());
}
