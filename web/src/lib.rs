//! web (see Cargo.toml description).
