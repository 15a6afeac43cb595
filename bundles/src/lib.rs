//! The Offline Update Kit format and the canonical advisory model.
//!
//! - [`model`]: the advisory schema shared by kit-builder, importer and scan engine.
//! - the kit format (`docs/ouk-format.md`): [`EntryPath`], [`Digest`], [`MediaType`]
//!   (validated names), [`Manifest`] / [`VerifiedManifest`] (signed manifest),
//!   [`KitWriter`] (deterministic tar+zstd writer) and [`KitReader`] (bounded, streaming,
//!   verifying reader) with its [`Limits`]. Every refusal is a distinct [`KitError`].
//!
//! ```
//! use bundles::{EntryPath, KitInfo, KitReader, KitWriter, Limits, MediaType, Timestamp};
//! use bundles::manifest::{Producer, Summary};
//! use signing::{KeyId, KeyPair, TrustRoot};
//! use std::io::Read;
//!
//! // Test key (deterministic seed); real kits use `stella-kit keygen`.
//! let key = KeyPair::from_seed(KeyId([1; 8]), &[42; 32]);
//! let mut w = KitWriter::new(KitInfo {
//!     kit_id: "demo-1".into(),
//!     sequence: 1,
//!     created_at: Timestamp::parse("2026-11-20T00:00:00Z")?,
//!     expires_at: Timestamp::parse("2026-12-20T00:00:00Z")?,
//!     site: None,
//!     producer: Producer { name: "doctest".into(), version: "1".into() },
//!     summary: Summary::default(),
//! });
//! w.add_bytes(
//!     EntryPath::new("advisories/PyPI.jsonl")?,
//!     MediaType::new("application/vnd.stella.advisories.v1+jsonl")?,
//!     b"{\"id\":\"GHSA-1\"}\n".to_vec(),
//! )?;
//! let (_manifest, kit) = w.write(Vec::new(), &[&key])?;
//!
//! let trust = TrustRoot::single(key.public());
//! let mut r = KitReader::open(std::io::Cursor::new(kit), &trust, Limits::default())?;
//! assert_eq!(r.manifest().sequence, 1);
//! let mut entry = r.next_entry()?.expect("one entry");
//! assert_eq!(entry.path().as_str(), "advisories/PyPI.jsonl");
//! let mut text = String::new();
//! entry.read_to_string(&mut text)?;
//! assert_eq!(text, "{\"id\":\"GHSA-1\"}\n");
//! assert!(r.next_entry()?.is_none()); // clean end: nothing unlisted, nothing trailing
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod error;
pub mod evidence;
pub mod limits;
pub mod manifest;
pub mod model;
pub mod path;
pub mod reader;
pub mod tokens;
pub mod trustroot;
pub mod writer;

pub use error::KitError;
pub use limits::Limits;
pub use manifest::{Manifest, ManifestEntry, Timestamp, VerifiedManifest};
pub use path::{Digest, EntryPath, MediaType};
pub use reader::{KitEntry, KitReader, peek_manifest};
pub use writer::{KitInfo, KitWriter};
