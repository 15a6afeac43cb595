//! The appliance's integration tests, built as one binary (ripgrep's `tests/` layout: one
//! link step, shared fixtures in [`util`]). Everything here is real: data directories,
//! SQLite and sled files, kits signed as `stella-kit` signs them, the router in process or
//! over loopback TCP, the `stella-appliance` binary, Chromium, skopeo and Trivy. Nothing
//! reaches the network; `scripts/test.sh` runs it inside `unshare -n`.
//!
//! - `api`: the HTTP API (scan, tokens, quotas, operator endpoints, mutes, layers).
//! - `clients`: one quota per client, dropped clients, local revocations.
//! - `console`, `console_xss`, `browser`: the web console in process, against hostile
//!   input, and in a real Chromium.
//! - `crash`: SIGKILL and crash points during imports.
//! - `disk`: a full data disk (503 `insufficient_storage`, `/readyz`).
//! - `evidence_bundle`: evidence bundles, replay and the import statement.
//! - `hardening`: the serve path's defences over loopback TCP (CSRF on the API, slow and
//!   excess connections, the scan body budget, login backoff per address).
//! - `policy_rego`: Rego rules through the API, and their replay.
//! - `registry`: the Trivy DB mirror, pulled by skopeo and by Trivy itself.
//! - `store`: the embedded store (quotas, scans, operators, sessions, policy versions).
//! - `tls`: HTTPS serving and certificate errors.

mod util;

mod api;
mod browser;
mod clients;
mod console;
mod console_xss;
mod crash;
mod disk;
mod evidence_bundle;
mod hardening;
mod policy_rego;
mod registry;
mod store;
mod tls;
