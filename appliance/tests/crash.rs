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
use signing::{KeyId, KeyPair};
use time::OffsetDateTime;

use crate::util::{BIN, sign_detached};

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
    sign_detached(&vendor(), &p, now);
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

/// Where a killed import stopped, read from the data directory it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// No trace of the new kit (killed while starting or reading).
    Before,
    /// A staging directory without a manifest: killed during the checks.
    Checking,
    /// A staging directory with its manifest: every check passed, killed while activating.
    Activating,
    /// The new kit's directory is in place but `current` still names the old one.
    Renamed,
    /// `current` names the new kit (killed after the switch, e.g. in the audit record).
    Switched,
    /// The import had finished before the kill.
    Finished,
}

fn phase_of(data: &Path, finished: bool) -> Phase {
    if finished {
        return Phase::Finished;
    }
    if active(data) == 2 {
        return Phase::Switched;
    }
    let mut phase = Phase::Before;
    for e in std::fs::read_dir(data.join("kits")).expect("kits") {
        let e = e.expect("entry");
        let name = e.file_name().to_string_lossy().into_owned();
        let p = if name.starts_with(".staging-") {
            if e.path().join("manifest.json").is_file() {
                Phase::Activating
            } else {
                Phase::Checking
            }
        } else if name.starts_with("2-") {
            Phase::Renamed
        } else {
            Phase::Before
        };
        phase = phase.max(p);
    }
    phase
}

/// A copy of `base` (a data dir with kit 1 active) at `to`, symlinks kept.
fn copy_data(base: &Path, to: &Path) {
    let o = Command::new("cp")
        .arg("-a")
        .arg(base)
        .arg(to)
        .output()
        .expect("cp");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn sigkill_at_random_instants_never_leaves_a_mix() {
    let d = tempfile::tempdir().expect("tmp");
    let base = init(d.path());
    let k1 = make_kit(d.path(), 1, 2, 1000);
    assert!(import(&base, &k1, None).status.success());
    let k2 = make_kit(d.path(), 2, 20, 128 * 1024);

    // How long a whole import of kit 2 takes here (process start included), so the kills
    // below are spread across all of it, up to and past the rename and switch.
    let mut took = Vec::new();
    for i in 0..3 {
        let data = d.path().join(format!("timing-{i}"));
        copy_data(&base, &data);
        let t = std::time::Instant::now();
        assert!(import(&data, &k2, None).status.success());
        took.push(t.elapsed());
    }
    took.sort();
    let whole = took[0];

    let mut phases = std::collections::BTreeMap::<Phase, u32>::new();
    let kill = |i: usize, at: Duration| {
        let data = d.path().join(format!("kill-{i}"));
        copy_data(&base, &data);
        let mut child = Command::new(BIN)
            .args(["import", "--data"])
            .arg(&data)
            .arg(&k2)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(at);
        let finished = matches!(child.try_wait(), Ok(Some(_)));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // old or new, complete (active() checks every entry), never a mix
        let phase = phase_of(&data, finished);
        // and the next import recovers and ends with kit 2 active, nothing left behind
        let o = import(&data, &k2, None);
        assert!(
            o.status.success(),
            "after a kill at {at:?} ({phase:?}): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(active(&data), 2, "after a kill at {at:?} ({phase:?})");
        let staging = std::fs::read_dir(data.join("kits"))
            .expect("kits")
            .filter(|e| {
                let e = e.as_ref().expect("entry");
                e.file_name().to_string_lossy().starts_with(".staging-")
            })
            .count();
        assert_eq!(staging, 0, "staging left after recovery ({phase:?})");
        std::fs::remove_dir_all(&data).expect("clean up");
        phase
    };
    // 16 instants from 5 % to 105 % of the fastest import
    for i in 0..16u32 {
        let p = kill(i as usize, whole * (5 + i * 100 / 15) / 100);
        *phases.entry(p).or_insert(0) += 1;
    }
    // The activation window is a few milliseconds; when the spread missed it, probe the
    // last fifth of the import finely until a kill lands after the checks.
    let late = |p: &std::collections::BTreeMap<Phase, u32>| {
        p.range(Phase::Activating..=Phase::Switched)
            .map(|(_, n)| n)
            .sum::<u32>()
    };
    let mut i = 16;
    while late(&phases) == 0 && i < 16 + 60 {
        let step = u32::try_from(i - 16).expect("small");
        let p = kill(i, whole * (80 + step % 30) / 100);
        *phases.entry(p).or_insert(0) += 1;
        i += 1;
    }
    assert!(
        late(&phases) > 0,
        "no kill landed after the checks (import takes {whole:?}): {phases:?}"
    );
    assert!(
        phases.get(&Phase::Checking).copied().unwrap_or(0) > 0,
        "no kill landed during the checks (import takes {whole:?}): {phases:?}"
    );
    eprintln!("import takes {whole:?}; kills by phase: {phases:?}");
}
