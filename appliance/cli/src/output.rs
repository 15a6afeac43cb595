//! Local files: bounded reads of inputs and atomic writes of results.

use crate::error::CliError;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Largest SBOM `stella` will read (the appliance has its own, smaller, limit and answers 413).
pub const MAX_SBOM_BYTES: u64 = 512 * 1024 * 1024;

/// Reads at most `limit` bytes from `path` (`-` = standard input).
///
/// # Errors
/// Unreadable, larger than `limit`, or empty.
pub fn read_input(what: &'static str, path: &Path, limit: u64) -> Result<Vec<u8>, CliError> {
    let read = |source| CliError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let mut buf = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(read)?;
    } else {
        std::fs::File::open(path)
            .map_err(read)?
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(read)?;
    }
    if buf.len() as u64 > limit {
        return Err(CliError::BadInput {
            what,
            path: path.to_owned(),
            reason: format!("is larger than {limit} bytes"),
        });
    }
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Err(CliError::BadInput {
            what,
            path: path.to_owned(),
            reason: "is empty".into(),
        });
    }
    Ok(buf)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over `path`, so a CI step never reads a half-written report.
///
/// # Errors
/// [`CliError::Write`] naming `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let err = |source| CliError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".stella-")
        .tempfile_in(&dir)
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    #[cfg(unix)]
    {
        // Reports are artefacts for other CI steps: readable like any file the job writes
        // (the temporary file starts 0600).
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(err)?;
    }
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// How the SBOM is named in SARIF and JUnit: a relative URI reference for a relative
/// path, a `file://` URI for an absolute one, `stdin` for `-`.
#[must_use]
pub fn sbom_uri(path: &Path) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    if path.as_os_str() == "-" {
        return "stdin".into();
    }
    let s = path.to_string_lossy().replace('\\', "/");
    let s = s.strip_prefix("./").unwrap_or(&s).to_owned();
    let enc = utf8_percent_encode(&s, KEEP).to_string();
    if path.is_absolute() {
        format!("file://{enc}")
    } else {
        enc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("out.sarif");
        write_atomic(&p, b"first version, long").expect("write");
        write_atomic(&p, b"second").expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), b"second");
        let leftovers = std::fs::read_dir(dir.path()).expect("ls").count();
        assert_eq!(leftovers, 1, "no temporary files left behind");
    }

    #[test]
    fn write_into_missing_directory_fails_with_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("nope/out.json");
        let e = write_atomic(&p, b"x").expect_err("no dir");
        assert!(e.to_string().contains("nope/out.json"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn inputs_are_bounded_and_non_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("bom.json");
        std::fs::write(&p, b"0123456789").expect("write");
        assert!(read_input("SBOM", &p, 10).is_ok());
        let e = read_input("SBOM", &p, 9).expect_err("too big");
        assert!(e.to_string().contains("larger than 9 bytes"), "{e}");
        std::fs::write(&p, b" \n").expect("write");
        assert!(
            read_input("SBOM", &p, 10)
                .expect_err("empty")
                .to_string()
                .contains("empty")
        );
        let e = read_input("SBOM", &dir.path().join("missing.json"), 10).expect_err("missing");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn sbom_uris() {
        assert_eq!(sbom_uri(Path::new("-")), "stdin");
        assert_eq!(
            sbom_uri(Path::new("./build/bom 1.json")),
            "build/bom%201.json"
        );
        assert_eq!(sbom_uri(Path::new("/tmp/b.json")), "file:///tmp/b.json");
    }
}
