//! The sealed Stella Ops Offline appliance.
//!
//! - [`scan`]: the scan engine (SBOM parsing, version ordering, matching).
#![forbid(unsafe_code)]

pub mod scan;
