//! The Offline Update Kit format and the canonical advisory model.
//!
//! - [`model`]: the advisory schema shared by kit-builder, importer and scan engine.
#![forbid(unsafe_code)]

pub mod model;
