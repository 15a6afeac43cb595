//! Shared helpers for the end-to-end tests.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// A binary of the workspace in `target/<profile>/`, next to the running test binary's
/// `deps/` folder (`cargo test --workspace` builds every binary first).
///
/// # Panics
///
/// When the binary is missing, with what to run instead (a test helper: failing loudly
/// is the point).
#[allow(clippy::expect_used)]
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "{} is missing: run the suite with `cargo test --workspace` (scripts/test.sh)",
        p.display()
    );
    p
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
