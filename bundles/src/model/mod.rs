//! The canonical advisory schema carried in kits (OSV-based, FORMATS.md §3).
//!
//! Shared by the producer (kit-builder) and the consumer (importer, scan engine); serde
//! and validation only, no I/O.

pub mod ecosystem;

pub use ecosystem::{BaseEcosystem, Ecosystem, InvalidEcosystem, VersionScheme};
