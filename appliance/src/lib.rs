//! The sealed Stella Ops Offline appliance.
//!
//! ```text
//!   server (JSON API, /v2/)     console (web::Console)      cli (stella-appliance …)
//!            \                        |                        /
//!             `--------------- service (one workflow each) ---'
//!                                     |
//!          state (AppState: data dir, store, key, active kit, policy)
//!            |             |               |              |
//!          store         policy        evidence        scanner (crate: the matcher)
//! ```
//!
//! - [`service`]: every operation once — the scan workflow, the policy write path,
//!   operator login, client tokens — called by both doors.
//! - [`server`]: `stella-appliance serve`, the HTTP API: handlers parse, call
//!   [`service`], shape JSON. [`console`]: the web console ([`web::Console`]) over the same
//!   service. They are siblings; neither calls the other.
//! - [`state`]: the shared [`state::AppState`]; [`config`]: `appliance.toml`;
//!   [`metrics`]: the `/metrics` counters.
//! - [`store`]: persistence behind the [`store::Store`] trait (SQLite, sled, blob files).
//! - [`policy`]: YAML mute rules, verdict thresholds, optional Rego.
//! - [`evidence`]: signed in-toto/DSSE scan verdicts, bundles, replay.
//! - [`registry`]: the read-only OCI registry (`/v2/`) serving the active kit's artifacts.
//! - [`cli`]: the administrative commands; [`quickstart`]: the one-command demo;
//!   [`quota`]: UTC-day quota helpers and their HTTP header values.
//! - the matcher is the [`scanner`] crate (SBOM parsing, version orderings, advisory
//!   index, engine); the kit import is the [`importer`] crate.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod console;
pub mod evidence;
pub mod metrics;
pub mod policy;
pub mod quickstart;
pub mod quota;
pub mod registry;
pub mod server;
pub mod service;
pub mod state;
pub mod store;
