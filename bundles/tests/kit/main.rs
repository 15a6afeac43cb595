//! Kit format tests: round trips, byte-identical rebuilds, and one test per refusal,
//! named after the attack, asserting the exact `KitError` variant.
//!
//! Malicious kits are crafted in-test: raw ustar blocks built from `tar::Header`, a
//! manifest signed with the committed test keys below, compressed with zstd.

mod util;

mod rebuild;
mod refusals;
