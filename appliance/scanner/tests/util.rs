//! Helpers shared by the scanner's integration tests.
use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate: `appliance/scanner`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}
