//! Checks 1 to 9, one function each, in the order they run: cheapest refusal first, and
//! nothing is written until check 7 has passed (checks 8 and 9 stream the entries into
//! the staging directory, which is removed on any refusal).
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use bundles::{KitError, KitReader, Limits, VerifiedManifest};
use sha2::{Digest as _, Sha256};
use signing::TrustRoot;
use signing::minisign::{self, SignatureBox, VerifyOptions};
use time::{Duration, OffsetDateTime};

use super::refusal::{Check, FreshnessProblem, Refusal};
use super::report::ImportReport;
use super::{CONTENT_DIR, Failure, read_capped, read_err};
use crate::activate::{self, KitHistory, Staging};
use crate::datadir::{DataDir, TrustFile, rfc3339};

/// Largest `.minisig` file read.
const MAX_SIG_BYTES: u64 = 16 * 1024;

/// The kit file read through a hasher, as the kit reader's source.
pub(super) type KitSource = HashingReader<BufReader<File>>;

/// Hashes everything read through it.
pub(super) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    fn hex(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn open_kit(kit: &Path) -> Result<KitSource, Failure> {
    let file = File::open(kit).map_err(read_err(kit))?;
    Ok(HashingReader::new(BufReader::with_capacity(1 << 20, file)))
}

/// Check 1: the size cap, from the file system, before reading a byte.
pub(super) fn file_size(
    kit: &Path,
    limits: &Limits,
    report: &mut ImportReport,
) -> Result<(), Failure> {
    let meta = std::fs::metadata(kit).map_err(read_err(kit))?;
    if !meta.is_file() {
        return Err(read_err(kit)(io::Error::other("not a regular file")));
    }
    let limit = limits.kit_bytes();
    if meta.len() > limit {
        return Err(Refusal::FileSize {
            size: meta.len(),
            limit,
        }
        .into());
    }
    report.pass(
        Check::FileSize,
        format!("{} bytes, cap {limit}", meta.len()),
    );
    Ok(())
}

/// Check 2: the detached signature over the whole file, against the pinned keys. The same pass
/// computes the file's sha256, which is returned.
pub(super) fn detached_signature(
    kit: &Path,
    signature: Option<&Path>,
    trust: &TrustRoot,
    report: &mut ImportReport,
) -> Result<String, Failure> {
    let sig_path = signature.map_or_else(
        || {
            let mut p = kit.as_os_str().to_owned();
            p.push(".minisig");
            PathBuf::from(p)
        },
        Path::to_path_buf,
    );
    let sig_refusal = |reason: String| Refusal::DetachedSignature {
        path: sig_path.display().to_string(),
        reason,
    };
    let sig_text = match read_capped(&sig_path, MAX_SIG_BYTES) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(
                sig_refusal("missing — copy the .minisig file next to the kit".into()).into(),
            );
        }
        Err(e) => return Err(sig_refusal(e.to_string()).into()),
    };
    let sig_box = SignatureBox::from_text(String::from_utf8_lossy(&sig_text).into_owned());
    let mut tee = open_kit(kit)?;
    let verified = minisign::verify_reader(trust, &sig_box, &mut tee, &VerifyOptions::default())
        .map_err(|e| sig_refusal(e.to_string()))?;
    // Read whatever the verifier left (it normally reads to the end).
    io::copy(&mut tee, &mut io::sink()).map_err(read_err(kit))?;
    let file_sha = tee.hex();
    report.kit_sha256 = Some(file_sha.clone());
    report.pass(
        Check::DetachedSignature,
        format!("signed by pinned key {}", verified.key_id),
    );
    Ok(file_sha)
}

/// Checks 3 + 4: the manifest — first entry, canonical, signed by the threshold of pinned keys,
/// a format version implemented here — verified before any payload is read.
pub(super) fn manifest(
    kit: &Path,
    trust: &TrustRoot,
    limits: Limits,
    report: &mut ImportReport,
) -> Result<KitReader<KitSource>, Failure> {
    let reader = KitReader::open(open_kit(kit)?, trust, limits).map_err(Refusal::from_kit)?;
    let manifest = reader.manifest();
    report.kit_id = Some(manifest.kit_id.clone());
    report.sequence = Some(manifest.sequence);
    report.created_at = Some(manifest.created_at.to_string());
    report.expires_at = Some(manifest.expires_at.to_string());
    let signers: Vec<String> = manifest.signed_by().iter().map(|k| k.to_string()).collect();
    report.pass(
        Check::ManifestSignatures,
        format!(
            "{} of {} required pinned key(s): {}",
            signers.len(),
            trust.threshold(),
            signers.join(", ")
        ),
    );
    report.pass(
        Check::FormatVersion,
        format!(
            "{} version {}",
            bundles::manifest::FORMAT,
            bundles::manifest::FORMAT_VERSION
        ),
    );
    Ok(reader)
}

/// Check 5: site binding.
pub(super) fn site_binding(
    manifest: &VerifiedManifest,
    pinned: &TrustFile,
    report: &mut ImportReport,
) -> Result<(), Failure> {
    match (&manifest.site, &pinned.site) {
        (Some(k), Some(a)) if k == a => report.pass(Check::SiteBinding, format!("site {k}")),
        (Some(k), a) => {
            return Err(Refusal::SiteBinding {
                kit_site: k.clone(),
                appliance_site: a.clone(),
            }
            .into());
        }
        (None, _) => report.pass(Check::SiteBinding, "kit not bound to a site"),
    }
    Ok(())
}

/// What check 6 found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Sequence {
    /// Above the last accepted one: go on.
    New,
    /// This very kit is the last one accepted: nothing to do.
    AlreadyImported,
}

/// Check 6: rollback: the sequence must be above the last accepted one; the same kit again is a
/// no-op, another kit with the same sequence a replay.
pub(super) fn rollback(
    manifest: &VerifiedManifest,
    history: &KitHistory,
    file_sha: &str,
    report: &mut ImportReport,
) -> Result<Sequence, Failure> {
    let Some(last) = history.last_accepted_sequence() else {
        report.pass(
            Check::Rollback,
            format!("sequence {} (first kit)", manifest.sequence),
        );
        return Ok(Sequence::New);
    };
    if manifest.sequence < last {
        return Err(Refusal::Rollback {
            sequence: manifest.sequence,
            last_accepted: last,
            active_kit_id: None,
        }
        .into());
    }
    if manifest.sequence == last {
        let accepted = || {
            history
                .kits
                .iter()
                .filter(|k| k.sequence == last)
                .filter_map(|k| k.activation.as_ref())
        };
        if accepted().any(|a| a.kit_id == manifest.kit_id && a.kit_sha256 == file_sha) {
            report.pass(
                Check::Rollback,
                format!("sequence {last} is already imported: nothing to do"),
            );
            return Ok(Sequence::AlreadyImported);
        }
        let other = accepted().next().map(|a| a.kit_id.clone());
        return Err(Refusal::Rollback {
            sequence: manifest.sequence,
            last_accepted: last,
            active_kit_id: Some(other.unwrap_or_else(|| "(unknown)".into())),
        }
        .into());
    }
    report.pass(
        Check::Rollback,
        format!("sequence {} > last accepted {last}", manifest.sequence),
    );
    Ok(Sequence::New)
}

/// Check 7: freshness and clock: not expired, not created in the future, and the clock not
/// behind the latest time this appliance has trusted.
pub(super) fn freshness(
    manifest: &VerifiedManifest,
    history: &KitHistory,
    dd: &DataDir,
    now: OffsetDateTime,
    clock_skew: Duration,
    report: &mut ImportReport,
) -> Result<(), Failure> {
    let trusted = history
        .latest_trusted_time()
        .into_iter()
        .chain(dd.initialized_at().ok())
        .max();
    if let Some(t) = trusted
        && now + clock_skew < t
    {
        return Err(Refusal::Freshness(FreshnessProblem::ClockBehind {
            now: rfc3339(now),
            trusted: rfc3339(t),
        })
        .into());
    }
    let created = manifest.created_at.as_offset_date_time();
    let expires = manifest.expires_at.as_offset_date_time();
    if created > now + clock_skew {
        return Err(Refusal::Freshness(FreshnessProblem::CreatedInFuture {
            created_at: manifest.created_at.to_string(),
            now: rfc3339(now),
        })
        .into());
    }
    if expires <= now {
        return Err(Refusal::Freshness(FreshnessProblem::Expired {
            expires_at: manifest.expires_at.to_string(),
            now: rfc3339(now),
        })
        .into());
    }
    let days_left = (expires - now).whole_days();
    report.pass(
        Check::Freshness,
        format!(
            "expires {} ({days_left} days left), created {}",
            manifest.expires_at, manifest.created_at
        ),
    );
    if days_left < 7 {
        report.warnings.push(format!(
            "the kit expires in {days_left} day(s): bring a newer one soon"
        ));
    }
    Ok(())
}

/// Check 1, again, before anything is written: the data directory's file system must
/// hold the unpacked kit (its size from the verified manifest) with `keep_free` bytes to
/// spare, so an import never fills the disk the appliance runs on.
pub(super) fn disk_space(
    dd: &DataDir,
    manifest: &VerifiedManifest,
    keep_free: u64,
    report: &mut ImportReport,
) -> Result<(), Failure> {
    let dir = dd.kits_dir();
    let free = dd.free_bytes().map_err(read_err(&dir))?;
    let unpacked = manifest.total_size();
    let needed = unpacked.saturating_add(keep_free);
    if free < needed {
        return Err(Refusal::DiskSpace {
            path: dir.display().to_string(),
            unpacked,
            needed,
            free,
        }
        .into());
    }
    report.amend(
        Check::FileSize,
        &format!(
            "; unpacks to {} bytes, {} bytes free on {}",
            unpacked,
            free,
            dir.display()
        ),
    );
    Ok(())
}

/// Checks 8 + 9: streams every entry into `staging/content/`: each is checked against the
/// manifest's size and sha256 while it streams (8), and only listed regular files at safe
/// relative paths get that far (9). Then the file must hash as it did at check 2.
pub(super) fn stage_entries(
    mut reader: KitReader<KitSource>,
    kit: &Path,
    staging: &Staging,
    file_sha: &str,
    report: &mut ImportReport,
) -> Result<(), Failure> {
    let content = staging.path().join(CONTENT_DIR);
    std::fs::create_dir_all(&content).map_err(read_err(&content))?;
    let mut files = 0u64;
    let mut bytes = 0u64;
    loop {
        let mut entry = match reader.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => return Err(Refusal::from_kit(e).into()),
        };
        let rel = entry.path().as_str().to_string();
        let dest = content.join(&rel);
        let conflict = |e: io::Error| {
            Refusal::PathSafety(format!("entry {rel} conflicts with another entry: {e}"))
        };
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(conflict)?;
        }
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(conflict)?;
        bytes += copy_entry(&mut entry, &mut out, &dest)?;
        entry.finish().map_err(Refusal::from_kit)?;
        files += 1;
    }
    activate::crash_point("after-entries");
    // The file must not have changed between the signature pass and this one (a USB
    // stick swapped or rewritten mid-import).
    let mut src = reader
        .into_source()
        .ok_or_else(|| Refusal::EntryIntegrity("the kit did not end cleanly".into()))?;
    io::copy(&mut src, &mut io::sink()).map_err(read_err(kit))?;
    let second_sha = src.hex();
    if second_sha != file_sha {
        return Err(Refusal::EntryIntegrity(format!(
            "the kit file changed while it was being read (sha256 {file_sha} then {second_sha})"
        ))
        .into());
    }
    report.pass(
        Check::EntryIntegrity,
        format!(
            "{files} entries, {bytes} bytes, every size and sha256 matches the signed manifest"
        ),
    );
    report.pass(
        Check::PathSafety,
        "only listed regular files at safe relative paths",
    );
    Ok(())
}

/// Copies an entry into its staging file, mapping a digest or size failure (carried in
/// the I/O error) back to its refusal.
fn copy_entry<R: Read>(entry: &mut R, out: &mut File, dest: &Path) -> Result<u64, Failure> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Refusal::from_kit(KitError::from_io(e)).into()),
        };
        out.write_all(&buf[..n]).map_err(read_err(dest))?;
        total += n as u64;
    }
    Ok(total)
}
