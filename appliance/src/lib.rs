//! The sealed Stella Ops Offline appliance.
//!
//! - [`scan`]: the scan engine (SBOM parsing, version ordering, matching).
//! - [`store`]: persistence behind the [`store::Store`] trait (SQLite, sled, blob files).
//! - [`quota`]: UTC-day quota helpers and their HTTP header values.
#![forbid(unsafe_code)]

pub mod quota;
pub mod scan;
pub mod store;
