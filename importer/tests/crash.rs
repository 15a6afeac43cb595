//! Crash consistency of the import, in the library: a child process imports a kit and
//! dies (abort: no destructors, no cleanup) at every named crash point; the data
//! directory must hold the old state or the new one, never a mix — in particular the
//! pinned trust and the active kit always belong together (KIT-SECURITY row 9) — and the
//! next import must recover and succeed.
mod common;

use std::path::{Path, PathBuf};

use bundles::trustroot::{ROOT_MEDIA_TYPE, ROOT_PATH, RootDoc};
use common::*;
use importer::activate::KitHistory;
use importer::datadir::DataDir;
use importer::import::{Importer, Outcome};

/// Every point `STELLA_CRASH_AT` can name on the way of an import, in order.
const POINTS: [&str; 10] = [
    "after-entries",
    "after-content",
    "before-activate",
    "after-rename",
    "after-switch",
    "after-activate",
    "audit-after-intent",
    "audit-mid-records",
    "audit-after-records",
    "audit-after-commit",
];

/// The child half: imports `STELLA_CRASH_KIT` into `STELLA_CRASH_DATA` with
/// `STELLA_CRASH_AT` set, and dies there.
#[test]
#[ignore = "run as a child process by the crash tests"]
fn crash_child_import() {
    let (Some(data), Some(kit)) = (
        std::env::var_os("STELLA_CRASH_DATA"),
        std::env::var_os("STELLA_CRASH_KIT"),
    ) else {
        return;
    };
    let dd = DataDir::open(Path::new(&data)).expect("open");
    let _ = Importer::new(&dd).clock(NOW).import(Path::new(&kit));
}

fn import_crashing_at(dd: &DataDir, kit: &Path, point: &str) {
    let out = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args([
            "crash_child_import",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env("STELLA_CRASH_AT", point)
        .env("STELLA_CRASH_DATA", dd.root())
        .env("STELLA_CRASH_KIT", kit)
        .output()
        .expect("spawn");
    assert!(
        !out.status.success(),
        "{point}: the importer should have died: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Kit `seq` signed by vendor 1, carrying a trust root (version 1) that moves trust to
/// vendor 2.
fn rotation_kit(dir: &Path, seq: u64) -> PathBuf {
    let doc = RootDoc::signed(1, &[vendor2().public()], 1, &[&vendor()]).expect("doc");
    let mut s = KitSpec::new(seq);
    s.extra.push((
        ROOT_PATH.into(),
        ROOT_MEDIA_TYPE.into(),
        doc.to_json().expect("json"),
    ));
    write_kit(dir, "rotate.ouk", &kit_bytes(&s, &[&vendor()]), &vendor())
}

/// The sequence `current` points to.
fn active(dd: &DataDir) -> Option<u64> {
    KitHistory::load(dd)
        .expect("history")
        .active()
        .map(|k| k.sequence)
}

/// The vendor keys in force, and those on disk in `trust.json`.
fn trust_keys(dd: &DataDir) -> (Vec<String>, Vec<String>) {
    let on_disk: importer::datadir::TrustFile =
        serde_json::from_slice(&std::fs::read(dd.root().join("trust.json")).expect("trust.json"))
            .expect("json");
    (dd.trust_file().expect("trust").keys, on_disk.keys)
}

#[test]
fn a_crash_at_every_point_of_a_trust_rotation_never_mixes_kit_and_keys() {
    let old_keys = vec![vendor().public().to_base64()];
    let new_keys = vec![vendor2().public().to_base64()];
    for point in POINTS {
        let (tmp, dd) = data_dir(&[&vendor()], 1, None);
        let k1 = write_kit(
            tmp.path(),
            "k1.ouk",
            &kit_bytes(&KitSpec::new(1), &[&vendor()]),
            &vendor(),
        );
        Importer::new(&dd).clock(NOW).import(&k1).expect("kit 1");
        let rot = rotation_kit(tmp.path(), 2);
        import_crashing_at(&dd, &rot, point);

        // Old or new, never a mix: the keys in force belong to the active kit, and
        // trust.json is never ahead of it.
        let (in_force, on_disk) = trust_keys(&dd);
        match active(&dd) {
            Some(1) => {
                assert_eq!(in_force, old_keys, "{point}: kit 1 active, old keys");
                assert_eq!(on_disk, old_keys, "{point}: trust.json ahead of the kit");
            }
            Some(2) => assert_eq!(in_force, new_keys, "{point}: kit 2 active, new keys"),
            other => panic!("{point}: active kit {other:?}"),
        }
        dd.verify_audit()
            .unwrap_or_else(|e| panic!("{point}: audit verify: {e}"));

        // The next import recovers and ends with the rotation in force, on disk too.
        // With the old state kept, that is the rotation kit again (it was refused at
        // check 2 when a crash had pinned the new key under kit 1). With the new state,
        // the rotation is in force: the old key no longer signs anything, so the next
        // kit is one of the new key.
        if active(&dd) == Some(1) {
            let again = Importer::new(&dd)
                .clock(NOW)
                .import(&rot)
                .unwrap_or_else(|e| panic!("{point}: re-importing the rotation kit: {e}"));
            assert_eq!(again.outcome, Outcome::Activated, "{point}");
            assert_eq!(
                trust_keys(&dd),
                (new_keys.clone(), new_keys.clone()),
                "{point}"
            );
        }
        let k3 = write_kit(
            tmp.path(),
            "k3.ouk",
            &kit_bytes(&KitSpec::new(3), &[&vendor2()]),
            &vendor2(),
        );
        let r = Importer::new(&dd)
            .clock(NOW)
            .import(&k3)
            .unwrap_or_else(|e| panic!("{point}: a kit of the new key: {e}"));
        assert_eq!(r.outcome, Outcome::Activated, "{point}");
        assert_eq!(active(&dd), Some(3), "{point}");
        assert_eq!(
            trust_keys(&dd),
            (new_keys.clone(), new_keys.clone()),
            "{point}"
        );
        dd.verify_audit()
            .unwrap_or_else(|e| panic!("{point}: audit verify at the end: {e}"));
        assert!(staging_dirs(&dd).is_empty(), "{point}: staging left behind");
    }
}

#[test]
fn the_trust_a_kit_pinned_survives_pruning_that_kit() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let before_rotation = std::fs::read(dd.root().join("trust.json")).expect("trust.json");
    let rot = rotation_kit(tmp.path(), 1);
    Importer::new(&dd)
        .clock(NOW)
        .import(&rot)
        .expect("rotation");
    for seq in 2..=3 {
        let k = write_kit(
            tmp.path(),
            &format!("k{seq}.ouk"),
            &kit_bytes(&KitSpec::new(seq), &[&vendor2()]),
            &vendor2(),
        );
        Importer::new(&dd).clock(NOW).import(&k).expect("new key");
    }
    // trust.json without the rotation (as a crash right after the switch leaves it): the
    // kit that pinned it still holds it, and pruning that kit first copies it over.
    std::fs::write(dd.root().join("trust.json"), before_rotation).expect("write");
    assert_eq!(
        trust_keys(&dd),
        (
            vec![vendor2().public().to_base64()],
            vec![vendor().public().to_base64()]
        )
    );
    assert_eq!(
        importer::activate::prune(&dd, 1, &Default::default()).expect("prune"),
        2
    );
    assert_eq!(
        trust_keys(&dd),
        (
            vec![vendor2().public().to_base64()],
            vec![vendor2().public().to_base64()]
        )
    );
}

/// The `.staging-*` directories under `kits/`.
fn staging_dirs(dd: &DataDir) -> Vec<PathBuf> {
    std::fs::read_dir(dd.kits_dir())
        .expect("kits")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".staging"))
        .map(|e| e.path())
        .collect()
}

#[test]
fn recovery_at_start_removes_the_staging_of_a_killed_import() {
    let (tmp, dd) = data_dir(&[&vendor()], 1, None);
    let k1 = write_kit(
        tmp.path(),
        "k1.ouk",
        &kit_bytes(&KitSpec::new(1), &[&vendor()]),
        &vendor(),
    );
    import_crashing_at(&dd, &k1, "after-content");
    let left = staging_dirs(&dd);
    assert_eq!(left.len(), 1, "the killed import left its staging");
    assert!(left[0].join("content/advisories/PyPI.jsonl").is_file());

    // While an import holds the lock its staging is live: recovery leaves it alone.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(dd.audit_dir().join(".import.lock"))
        .expect("lock file");
    lock.lock().expect("lock");
    assert!(matches!(
        importer::recover(&dd),
        Err(importer::ImportError::Busy)
    ));
    assert_eq!(staging_dirs(&dd), left);
    lock.unlock().expect("unlock");

    let r = importer::recover(&dd).expect("recover");
    assert_eq!(r.staging_removed, 1);
    assert!(staging_dirs(&dd).is_empty());
    assert_eq!(active(&dd), None, "nothing was activated");
    assert_eq!(importer::recover(&dd).expect("again").staging_removed, 0);
}
