//! The sealed Stella Ops Offline appliance.
//!
//! - the matcher is the [`scanner`] crate (SBOM parsing, version orderings, advisory index, engine).
//! - [`store`]: persistence behind the [`store::Store`] trait (SQLite, sled, blob files).
//! - [`console`]: the web console over the real state ([`web::Console`]).
//! - [`cli`]: the administrative commands (`init`, `import`, `token`, `status`, `rollback`, `audit verify`).
//! - [`quickstart`]: the one-command demo.
//! - [`registry`]: the read-only OCI registry (`/v2/`) serving the active kit's artifacts.
//! - [`server`]: `stella-appliance serve`, the HTTP API (auth, quotas, scans, policy, metrics).
//! - [`policy`]: YAML mute rules and verdict thresholds.
//! - [`evidence`]: signed in-toto/DSSE scan verdicts.
//! - [`quota`]: UTC-day quota helpers and their HTTP header values.
#![forbid(unsafe_code)]

pub mod cli;
pub mod console;
pub mod evidence;
pub mod policy;
pub mod quickstart;
pub mod quota;
pub mod registry;
pub mod server;
pub mod store;
