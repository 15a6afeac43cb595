//! Hard limits applied while reading a kit.
//!
//! A kit comes from removable media that anyone may have touched, so every size the
//! reader allocates or writes is capped *before* trusting anything in the kit. The
//! defaults suit a kit of up to 2 GiB compressed (a full OSV snapshot, NVD, the Trivy DB
//! and Java DB); each cap is loosened only by an explicit call.

/// Caps on what a [`crate::KitReader`] (and [`crate::Manifest::parse_and_verify`]) accept.
///
/// ```
/// use bundles::Limits;
/// let l = Limits::default().max_entries(500_000);
/// assert_eq!(l.entries(), 500_000);
/// assert_eq!(l.kit_bytes(), 2 << 30);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    kit_bytes: u64,
    manifest_bytes: u64,
    entries: u64,
    entry_bytes: u64,
    total_bytes: u64,
}

/// How deep JSON arrays/objects may nest in a manifest. The version-1 schema needs 5
/// (`summary.feeds.<feed>.counts`); the cap stops a hostile manifest before any
/// recursive parser sees it.
pub const MAX_MANIFEST_DEPTH: usize = 8;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            kit_bytes: 2 << 30,
            // 100 000 entries of ~250 bytes of JSON each, with room to spare.
            manifest_bytes: 32 << 20,
            entries: 100_000,
            // The largest single artifact today (Trivy Java DB layer) is under 1 GiB.
            entry_bytes: 4 << 30,
            // JSON advisories compress about 8-10x; blobs (gzip layers) not at all.
            total_bytes: 8 << 30,
        }
    }
}

impl Limits {
    /// Largest compressed kit (bytes read from the source).
    pub fn max_kit_bytes(mut self, n: u64) -> Self {
        self.kit_bytes = n;
        self
    }
    /// Largest `manifest.json`.
    pub fn max_manifest_bytes(mut self, n: u64) -> Self {
        self.manifest_bytes = n;
        self
    }
    /// Most entries listed in a manifest.
    pub fn max_entries(mut self, n: u64) -> Self {
        self.entries = n;
        self
    }
    /// Largest single entry.
    pub fn max_entry_bytes(mut self, n: u64) -> Self {
        self.entry_bytes = n;
        self
    }
    /// Largest sum of all entry sizes.
    pub fn max_total_bytes(mut self, n: u64) -> Self {
        self.total_bytes = n;
        self
    }

    /// The compressed kit cap.
    pub fn kit_bytes(&self) -> u64 {
        self.kit_bytes
    }
    /// The manifest cap.
    pub fn manifest_bytes(&self) -> u64 {
        self.manifest_bytes
    }
    /// The entry-count cap.
    pub fn entries(&self) -> u64 {
        self.entries
    }
    /// The per-entry cap.
    pub fn entry_bytes(&self) -> u64 {
        self.entry_bytes
    }
    /// The total-size cap.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }
}
