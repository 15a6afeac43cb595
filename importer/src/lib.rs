//! Verifies and atomically activates Offline Update Kits on the sealed appliance.
//!
//! - [`datadir`]: the data directory layout, `init`, pinned trust.
//! - [`audit`]: the hash-chained audit log.
#![forbid(unsafe_code)]

pub mod audit;
pub mod datadir;
