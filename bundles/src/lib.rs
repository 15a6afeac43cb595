//! bundles (see Cargo.toml description).
