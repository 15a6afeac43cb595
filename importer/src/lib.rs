//! importer (see Cargo.toml description).
