//! Verifies and atomically activates Offline Update Kits on the sealed appliance.
//!
//! - [`datadir`]: the data directory layout, `init`, pinned trust.
//! - [`audit`]: the hash-chained audit log.
//! - [`activate`]: staging, atomic activation, rollback, crash recovery.
#![forbid(unsafe_code)]

pub mod activate;
pub mod audit;
pub mod datadir;
pub mod import;
