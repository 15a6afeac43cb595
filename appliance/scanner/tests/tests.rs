//! The scanner's integration tests, built as one binary (ripgrep's `tests/` layout: one
//! link step, shared helpers in [`util`]). Fixtures are in `tests/data/`, each folder with
//! the script that regenerated it from the reference tools; nothing here reaches the
//! network.
//!
//! - `corpus`: real advisory records (PyPI, Go, crates.io, Packagist) against a reference OSV
//!   matcher built on each ecosystem's real comparator, counted per ecosystem.
//! - `engine`: OSV evaluation, merge rules, release matching, golden findings of the samples.
//! - `sbom`: CycloneDX / SPDX / Syft parsing against real Syft and Trivy output.
//! - `vercmp`: every version ordering against its reference implementation's verdicts.
//! - `version_props`: property tests (each ordering is a total order; parsing never panics).
//! - `trivy_crosscheck`: findings against the real Trivy 0.76 on the same advisories, and
//!   the in-process half of the vs-Trivy benchmark.

/// The appliance binary's allocator, so the in-process figures are the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod util;

mod corpus;
mod engine;
mod sbom;
mod trivy_crosscheck;
mod vercmp;
mod version_props;
