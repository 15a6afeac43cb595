//! Verifies and atomically activates Offline Update Kits on the sealed appliance.
//!
//! An [`Importer`] runs the ten numbered checks of [`import`] against the keys pinned in a
//! [`DataDir`](datadir::DataDir), stages the kit, and switches to it atomically; a
//! refusal names its check and changes nothing outside `audit/`. Its defaults are the
//! safe ones (system clock, [`bundles::Limits::default`]); a fixed clock or larger caps
//! are explicit calls.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use bundles::manifest::{Producer, Summary};
//! use bundles::{EntryPath, KitInfo, KitWriter, MediaType, Timestamp};
//! use importer::datadir::{DataDir, InitOptions};
//! use importer::{Check, Importer, Outcome};
//! use signing::minisign::{self, SignOptions};
//! use signing::{KeyId, KeyPair};
//! use time::macros::datetime;
//!
//! let now = datetime!(2026-11-22 12:00 UTC);
//! let vendor = KeyPair::from_seed(KeyId([1; 8]), &[1; 32]);
//! let tmp = tempfile::tempdir()?;
//! let (dd, _appliance_key) = DataDir::init(
//!     &tmp.path().join("data"),
//!     &InitOptions { trust: vec![vendor.public()], threshold: 1, site: None, now },
//! )?;
//!
//! // A kit with one (reference-only) NVD entry, signed by the vendor.
//! let mut kit = KitWriter::new(KitInfo {
//!     kit_id: "kit-1".into(),
//!     sequence: 1,
//!     created_at: Timestamp::new(now - time::Duration::hours(1))?,
//!     expires_at: Timestamp::new(now + time::Duration::days(30))?,
//!     site: None,
//!     producer: Producer { name: "doc".into(), version: "1".into() },
//!     summary: Summary::default(),
//! });
//! kit.add_bytes(
//!     EntryPath::new("nvd/cves.jsonl")?,
//!     MediaType::new(bundles::path::media_types::NVD_CVES_JSONL)?,
//!     b"{}\n".to_vec(),
//! )?;
//! let path = tmp.path().join("kit-1.ouk");
//! kit.write(std::fs::File::create(&path)?, &[&vendor])?;
//! let sig = minisign::sign_file(&vendor, &path, &SignOptions {
//!     trusted_comment: None, untrusted_comment: None, timestamp: 0, file_name: None,
//! })?;
//! std::fs::write(tmp.path().join("kit-1.ouk.minisig"), sig.as_str())?;
//!
//! // The kit was built an hour "ago": pin the clock instead of reading the system's.
//! let report = Importer::new(&dd).clock(now).import(&path)?;
//! assert_eq!(report.outcome, Outcome::Activated);
//! assert_eq!(report.checks.len(), Check::ALL.len());
//!
//! // Importing it again is a no-op; a smaller size cap refuses it at check 1.
//! let again = Importer::new(&dd).clock(now).import(&path)?;
//! assert_eq!(again.outcome, Outcome::AlreadyImported);
//! let small = bundles::Limits::default().max_kit_bytes(16);
//! let err = Importer::new(&dd).clock(now).limits(small).import(&path).unwrap_err();
//! assert_eq!(err.refusal().map(|r| r.check()), Some(Check::FileSize));
//! assert!(err.to_string().starts_with("refused at check 1 (file size cap): "));
//! # Ok(()) }
//! ```
//!
//! - [`import`]: the [`Importer`], the checks, the report; [`recover`], for the
//!   appliance to run at start (sweeps what a killed import left behind).
//! - [`datadir`]: the data directory layout, `init`, pinned trust.
//! - [`audit`]: the hash-chained audit log.
//! - [`activate`]: staging, atomic activation, rollback, crash recovery.
#![forbid(unsafe_code)]

pub mod activate;
pub mod audit;
pub mod datadir;
pub mod import;

pub use import::{Check, ImportError, ImportReport, Importer, Outcome, Refusal, recover};
