//! The vocabulary of refusals: the ten numbered [`Check`]s and one [`Refusal`] variant per
//! check, each with the message the operator reads.
use bundles::KitError;
use serde::{Deserialize, Serialize};

/// The numbered checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// 1: the kit file is no larger than the cap.
    FileSize,
    /// 2: the detached `.minisig` verifies against a pinned vendor key.
    DetachedSignature,
    /// 3: the manifest is well-formed and signed by at least `threshold` pinned keys.
    ManifestSignatures,
    /// 4: the format and format version are implemented here.
    FormatVersion,
    /// 5: the kit is not bound to another site.
    SiteBinding,
    /// 6: the sequence is above the last accepted one.
    Rollback,
    /// 7: the kit has not expired and the clock has not gone back.
    Freshness,
    /// 8: every entry matches the manifest's size and sha256.
    EntryIntegrity,
    /// 9: every entry is a plain file at a safe path.
    PathSafety,
    /// 10: the content parses and its tokens verify.
    Content,
}

impl Check {
    /// Every check, in order.
    pub const ALL: [Check; 10] = [
        Check::FileSize,
        Check::DetachedSignature,
        Check::ManifestSignatures,
        Check::FormatVersion,
        Check::SiteBinding,
        Check::Rollback,
        Check::Freshness,
        Check::EntryIntegrity,
        Check::PathSafety,
        Check::Content,
    ];

    /// The check's number (1–10), as printed in refusals.
    pub fn number(self) -> u8 {
        match self {
            Check::FileSize => 1,
            Check::DetachedSignature => 2,
            Check::ManifestSignatures => 3,
            Check::FormatVersion => 4,
            Check::SiteBinding => 5,
            Check::Rollback => 6,
            Check::Freshness => 7,
            Check::EntryIntegrity => 8,
            Check::PathSafety => 9,
            Check::Content => 10,
        }
    }

    /// A short name for reports.
    pub fn title(self) -> &'static str {
        match self {
            Check::FileSize => "file size cap",
            Check::DetachedSignature => "detached signature",
            Check::ManifestSignatures => "manifest signatures",
            Check::FormatVersion => "format version",
            Check::SiteBinding => "site binding",
            Check::Rollback => "rollback",
            Check::Freshness => "expiry and clock",
            Check::EntryIntegrity => "entry size and sha256",
            Check::PathSafety => "path safety",
            Check::Content => "content validation",
        }
    }
}

/// Why check 7 refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FreshnessProblem {
    /// `expires_at` is not after the appliance clock.
    Expired {
        /// The kit's expiry (RFC 3339).
        expires_at: String,
        /// The appliance clock (RFC 3339).
        now: String,
    },
    /// The appliance clock is earlier than a time it has already trusted.
    ClockBehind {
        /// The appliance clock (RFC 3339).
        now: String,
        /// The latest trusted time (RFC 3339).
        trusted: String,
    },
    /// The kit claims to be created after the appliance clock (plus the allowed skew).
    CreatedInFuture {
        /// The kit's creation time (RFC 3339).
        created_at: String,
        /// The appliance clock (RFC 3339).
        now: String,
    },
}

/// A refused kit: exactly one variant per numbered check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Check 1.
    #[error("the kit file is {size} bytes, larger than the {limit}-byte cap")]
    FileSize {
        /// The file's size.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// Check 1, once the verified manifest says how large the kit unpacks: the data
    /// directory's file system has not enough room to stage it.
    #[error(
        "staging the kit needs {} on {path} (it unpacks to {}, and {} must stay free), only {} is free — free some space and import again",
        human(*.needed), human(*.unpacked), human(*.needed - *.unpacked), human(*.free)
    )]
    DiskSpace {
        /// The file system checked (the `kits/` directory).
        path: String,
        /// What the kit's entries add up to (signed manifest).
        unpacked: u64,
        /// `unpacked` plus the space that must stay free.
        needed: u64,
        /// Available to the appliance now.
        free: u64,
    },
    /// Check 2.
    #[error("detached signature {path}: {reason}")]
    DetachedSignature {
        /// The `.minisig` file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Check 3.
    #[error("manifest: {0}")]
    ManifestSignatures(String),
    /// Check 4.
    #[error("{0}")]
    FormatVersion(String),
    /// Check 5.
    #[error("{}", site_message(.kit_site, .appliance_site.as_deref()))]
    SiteBinding {
        /// The site the kit is bound to.
        kit_site: String,
        /// This appliance's site (None = no site configured).
        appliance_site: Option<String>,
    },
    /// Check 6.
    #[error("{}", rollback_message(*.sequence, *.last_accepted, .active_kit_id.as_deref()))]
    Rollback {
        /// The kit's sequence.
        sequence: u64,
        /// The last accepted sequence.
        last_accepted: u64,
        /// Set when the same sequence was accepted before with a different kit id (a
        /// replay of a re-built kit): that kit's id.
        active_kit_id: Option<String>,
    },
    /// Check 7.
    #[error("{}", freshness_message(.0))]
    Freshness(FreshnessProblem),
    /// Check 8.
    #[error("{0}")]
    EntryIntegrity(String),
    /// Check 9.
    #[error("{0}")]
    PathSafety(String),
    /// Check 10.
    #[error("{path}: {reason}")]
    Content {
        /// The entry at fault.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// `1.5 GiB (1610612736 bytes)`: readable, and exact.
pub(super) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {} ({bytes} bytes)", UNITS[unit])
    }
}

fn site_message(kit: &str, appliance: Option<&str>) -> String {
    match appliance {
        Some(a) => format!("the kit is bound to site {kit:?}, this appliance is site {a:?}"),
        None => format!(
            "the kit is bound to site {kit:?}, this appliance has no site id (set at init with --site)"
        ),
    }
}

fn rollback_message(sequence: u64, last: u64, other: Option<&str>) -> String {
    match other {
        Some(id) => format!(
            "kit sequence {sequence} was already accepted as kit {id} — a different kit with the same sequence is a replay"
        ),
        None => format!(
            "kit sequence {sequence} is older than the last accepted kit ({last}) — possible rollback"
        ),
    }
}

fn freshness_message(p: &FreshnessProblem) -> String {
    match p {
        FreshnessProblem::Expired { expires_at, now } => {
            format!("the kit expired at {expires_at} (appliance clock {now})")
        }
        FreshnessProblem::ClockBehind { now, trusted } => format!(
            "the appliance clock ({now}) is earlier than the latest trusted time ({trusted}) — fix the clock"
        ),
        FreshnessProblem::CreatedInFuture { created_at, now } => format!(
            "the kit was created at {created_at}, after the appliance clock ({now}) — fix the clock"
        ),
    }
}

impl Refusal {
    /// The check that refused.
    pub fn check(&self) -> Check {
        match self {
            Refusal::FileSize { .. } | Refusal::DiskSpace { .. } => Check::FileSize,
            Refusal::DetachedSignature { .. } => Check::DetachedSignature,
            Refusal::ManifestSignatures(_) => Check::ManifestSignatures,
            Refusal::FormatVersion(_) => Check::FormatVersion,
            Refusal::SiteBinding { .. } => Check::SiteBinding,
            Refusal::Rollback { .. } => Check::Rollback,
            Refusal::Freshness(_) => Check::Freshness,
            Refusal::EntryIntegrity(_) => Check::EntryIntegrity,
            Refusal::PathSafety(_) => Check::PathSafety,
            Refusal::Content { .. } => Check::Content,
        }
    }

    /// The one line printed to the operator:
    /// `refused at check 6 (rollback): kit sequence 41 is older … — nothing was changed`.
    pub fn one_line(&self) -> String {
        let c = self.check();
        format!(
            "refused at check {} ({}): {}; nothing was changed",
            c.number(),
            c.title(),
            self
        )
    }

    /// Sorts a kit-format error into the check it belongs to.
    pub(super) fn from_kit(e: KitError) -> Refusal {
        use KitError as K;
        match e {
            K::UnsupportedFormat { .. }
            | K::UnsupportedFormatVersion { .. }
            | K::NotAKit { .. } => Refusal::FormatVersion(e.to_string()),
            K::ManifestNotFirst { .. }
            | K::ManifestTooLarge { .. }
            | K::ManifestTooDeep { .. }
            | K::ManifestJson(_)
            | K::ManifestSchema(_)
            | K::ManifestNotCanonical
            | K::InvalidManifest { .. }
            | K::BadSignature { .. }
            | K::SignatureThresholdNotMet { .. }
            | K::ManifestNotSorted { .. }
            | K::DuplicateManifestEntry { .. } => Refusal::ManifestSignatures(e.to_string()),
            K::InvalidPath { .. }
            | K::AbsolutePath { .. }
            | K::ParentTraversal { .. }
            | K::Symlink { .. }
            | K::HardLink { .. }
            | K::SpecialFile { .. }
            | K::Directory { .. }
            | K::UnsupportedEntryType { .. }
            | K::DuplicateEntry { .. }
            | K::UnlistedEntry { .. } => Refusal::PathSafety(e.to_string()),
            _ => Refusal::EntryIntegrity(e.to_string()),
        }
    }
}
