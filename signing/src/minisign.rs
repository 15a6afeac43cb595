//! minisign-compatible detached signatures (FORMATS.md §6).
//!
//! A `.minisig` file is four lines:
//!
//! 1. `untrusted comment: <text>` — not signed, informational only;
//! 2. base64 of `sig_alg(2) ‖ keynum(8) ‖ sig(64)`, where `sig_alg` is `ED` (prehashed:
//!    the signature covers BLAKE2b-512 of the message) or `Ed` (legacy: the raw message);
//! 3. `trusted comment: <text>`;
//! 4. base64 of the *global signature* over `sig ‖ trusted_comment`.
//!
//! Stock `minisign -V` accepts our signatures and we accept its signatures (prehashed,
//! and legacy when allowed); `tests/minisign_cli.rs` checks both ways.
//!
//! # Verifying: jedisct1's `minisign-verify` decides
//!
//! No signature is accepted unless `minisign-verify` (0.3, by minisign's author, no
//! dependencies of its own) accepts it: prehashed signatures through
//! `PublicKey::verify_stream` and `StreamVerifier::update` in 1 MiB chunks, so a
//! multi-GiB kit is never held in memory; legacy ones through `PublicKey::verify`, on a
//! buffer capped at [`VerifyOptions::max_legacy_bytes`] (legacy signatures cover the raw
//! message, which no minisign implementation can stream). Around it, in this order,
//! each step with its own error:
//!
//! 1. parse ([`SignatureBox::parse`]): size caps, line prefixes, printable trusted
//!    comment, no trailing content ([`SigningError::MalformedSignature`],
//!    [`SigningError::TooLarge`]). Our own parser, because minisign-verify's
//!    `Signature::decode` checks none of these and does not expose the key id, which we
//!    need before any signature is checked. minisign-verify is then handed a re-encoding
//!    of what we parsed, so the two parsers cannot disagree;
//! 2. key id ([`SigningError::UnknownKey`] / [`SigningError::KeyIdMismatch`]), *before*
//!    any signature and before the data is read;
//! 3. algorithm: legacy only when [`VerifyOptions::allow_legacy`]
//!    ([`SigningError::LegacyNotAllowed`], [`SigningError::LegacyTooLarge`]);
//! 4. strictness that minisign-verify lacks. Its Ed25519 (its own code) refuses S ≥ L and
//!    the identity key, but accepts the other small-order public keys, under which
//!    anyone can forge signatures, and small-order R. libsodium, so the stock tool,
//!    refuses all of them. Small-order keys cannot reach this module
//!    ([`crate::keys::PublicKey::from_raw`] refuses them, [`SigningError::WeakKey`]); a
//!    message signature with a small-order R is refused here
//!    ([`SigningError::BadSignature`]); the global signature is covered by step 5;
//! 5. the global signature, checked strictly with ed25519-dalek *only to name a
//!    failure*: minisign-verify returns the same `InvalidSignature` for either signature.
//!    If it fails, the message signature says which error it is
//!    ([`SigningError::BadGlobalSignature`] when only the trusted comment was altered,
//!    [`SigningError::BadSignature`] when the signature is not this key's at all);
//! 6. minisign-verify: message signature and global signature. A refusal here is
//!    [`SigningError::BadSignature`] (the global signature passed step 5).
//!
//! # Signing: our code, because minisign's signatures are not reproducible
//!
//! We always sign prehashed, streaming the message through BLAKE2b-512 in 1 MiB chunks,
//! with ed25519-dalek's deterministic RFC 8032 signatures and the timestamp as a
//! parameter, so the same key, data and options give a byte-identical `.minisig`
//! (`tests/minisign_golden.rs` pins the bytes). jedisct1's `minisign` crate (0.10) cannot
//! do that: `minisign::sign` mixes 64 bytes from `getrandom` into every nonce (hedged
//! signatures), so each call gives other signature bytes, and its public API has no
//! deterministic variant. (It does stream, and takes caller-supplied trusted and
//! untrusted comments, but validates neither: we refuse control characters and
//! over-long lines before reading any data.) It is a dev-dependency only:
//! `tests/rust_minisign.rs` checks that it verifies our signatures, that we verify its
//! signatures, and pins the randomisation that keeps it out of the signing path.
//!
//! The text form ([`SignatureBox`]) is kept apart from the parsed form ([`Signature`]),
//! like [`crate::keys::PublicKeyBox`] and [`crate::keys::PublicKey`].
//!
//! ```
//! use signing::keys::{KeyId, KeyPair};
//! use signing::minisign::{self, SignOptions, VerifyOptions};
//! use signing::TrustRoot;
//!
//! let key = KeyPair::from_seed(KeyId([1; 8]), &[42; 32]);
//! let opts = SignOptions { timestamp: 1_700_000_000, file_name: Some("kit.ouk"), ..SignOptions::default() };
//! let sig = minisign::sign_reader(&key, &b"kit bytes"[..], &opts)?;
//! assert!(sig.as_str().contains("trusted comment: timestamp:1700000000\tfile:kit.ouk\thashed\n"));
//!
//! let trust = TrustRoot::single(key.public());
//! let ok = minisign::verify_reader(&trust, &sig, &b"kit bytes"[..], &VerifyOptions::default())?;
//! assert_eq!(ok.key_id, key.id());
//! assert!(minisign::verify_reader(&trust, &sig, &b"kit bytez"[..], &VerifyOptions::default()).is_err());
//! # Ok::<(), signing::SigningError>(())
//! ```
use std::io::{ErrorKind, Read};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use blake2::{Blake2b512, Digest};

use crate::SigningError;
use crate::keys::{KeyId, KeyPair, PublicKey, is_small_order_point};
use crate::trust::TrustRoot;

/// The prefix of line 1.
pub const UNTRUSTED_PREFIX: &str = "untrusted comment: ";
/// The prefix of line 3.
pub const TRUSTED_PREFIX: &str = "trusted comment: ";
/// Longest trusted-comment line we write or accept, prefix included, newline excluded.
///
/// minisign reads the line with `fgets(buf, 8192)` and refuses it when no newline fits,
/// so prefix + comment + `\n` must fit in 8191 bytes.
pub const MAX_TRUSTED_LINE_BYTES: usize = 8190;
/// Longest untrusted-comment line (prefix included, newline excluded); minisign's buffer
/// is 1024 bytes.
pub const MAX_UNTRUSTED_LINE_BYTES: usize = 1022;
/// Cap on the whole `.minisig` text: two comment lines at their maximum, two base64
/// lines and line ends fit well below it.
pub const MAX_SIGNATURE_TEXT_BYTES: u64 = 16 * 1024;
/// Default cap for buffering a message signed with a legacy signature.
pub const DEFAULT_MAX_LEGACY_BYTES: u64 = 64 * 1024 * 1024;

/// Read chunk size for hashing: large enough for throughput, small enough to be bounded.
const CHUNK: usize = 1 << 20;

/// The signature algorithm named on line 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `ED`: Ed25519 over BLAKE2b-512 of the message (minisign's default).
    Prehashed,
    /// `Ed`: Ed25519 over the raw message (`minisign -S -l`).
    Legacy,
}

impl Algorithm {
    /// The two bytes that name the algorithm on line 2.
    fn code(self) -> &'static [u8; 2] {
        match self {
            Algorithm::Prehashed => b"ED",
            Algorithm::Legacy => b"Ed",
        }
    }
}

/// The text of a `.minisig` file, not yet parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureBox(String);

impl SignatureBox {
    /// Wraps text read from somewhere (size is checked when parsing).
    pub fn from_text(text: impl Into<String>) -> Self {
        SignatureBox(text.into())
    }

    /// Reads a `.minisig` file (at most [`MAX_SIGNATURE_TEXT_BYTES`]).
    pub fn read(path: &Path) -> Result<Self, SigningError> {
        let io = |source| SigningError::Io {
            path: path.to_path_buf(),
            source,
        };
        let f = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        f.take(MAX_SIGNATURE_TEXT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_SIGNATURE_TEXT_BYTES {
            return Err(SigningError::TooLarge {
                what: "minisign signature file",
                limit: MAX_SIGNATURE_TEXT_BYTES,
            });
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            SigningError::MalformedSignature(format!("{}: not UTF-8 text", path.display()))
        })?;
        Ok(SignatureBox(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Writes the text to `path` (mode 0644), replacing an existing file atomically
    /// (written beside it, synced, then renamed) so a crash never leaves half a signature.
    pub fn write(&self, path: &Path) -> Result<(), SigningError> {
        use std::io::Write as _;
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| SigningError::Io { path: p, source }
        };
        let name = path.file_name().ok_or_else(|| SigningError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(ErrorKind::InvalidInput, "no file name"),
        })?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let res = f
            .write_all(self.0.as_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = res {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(path)(e));
        }
        Ok(())
    }

    /// Parses the four lines. Refuses oversized text, wrong prefixes, bad base64, wrong
    /// lengths, unknown algorithms, a non-printable trusted comment and trailing content.
    pub fn parse(&self) -> Result<Signature, SigningError> {
        let bad = |m: String| SigningError::MalformedSignature(m);
        if self.0.len() as u64 > MAX_SIGNATURE_TEXT_BYTES {
            return Err(SigningError::TooLarge {
                what: "minisign signature text",
                limit: MAX_SIGNATURE_TEXT_BYTES,
            });
        }
        // minisign reads lines with fgets and strips CR/LF; we accept LF or CRLF.
        let mut lines = self
            .0
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l));
        let mut next = |what: &str| {
            lines
                .next()
                .ok_or_else(|| bad(format!("missing the {what} line")))
        };
        let l1 = next("untrusted comment")?;
        let l2 = next("signature")?;
        let l3 = next("trusted comment")?;
        let l4 = next("global signature")?;
        if lines.any(|l| !l.trim().is_empty()) {
            return Err(bad("unexpected content after the fourth line".into()));
        }

        let untrusted = l1
            .strip_prefix(UNTRUSTED_PREFIX)
            .ok_or_else(|| bad(format!("line 1 must start with {UNTRUSTED_PREFIX:?}")))?;
        if l1.len() > MAX_UNTRUSTED_LINE_BYTES {
            return Err(bad(format!(
                "untrusted comment line longer than {MAX_UNTRUSTED_LINE_BYTES} bytes"
            )));
        }

        let bin = B64
            .decode(l2.trim())
            .map_err(|e| bad(format!("signature line base64: {e}")))?;
        if bin.len() != 74 {
            return Err(bad(format!(
                "signature line must decode to 74 bytes, got {}",
                bin.len()
            )));
        }
        let algorithm = match &bin[..2] {
            b"ED" => Algorithm::Prehashed,
            b"Ed" => Algorithm::Legacy,
            other => {
                return Err(bad(format!(
                    "unknown signature algorithm {:?}",
                    String::from_utf8_lossy(other)
                )));
            }
        };
        let mut id = [0u8; 8];
        id.copy_from_slice(&bin[2..10]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&bin[10..74]);

        let trusted = l3
            .strip_prefix(TRUSTED_PREFIX)
            .ok_or_else(|| bad(format!("line 3 must start with {TRUSTED_PREFIX:?}")))?;
        if l3.len() > MAX_TRUSTED_LINE_BYTES {
            return Err(bad(format!(
                "trusted comment line longer than {MAX_TRUSTED_LINE_BYTES} bytes"
            )));
        }
        check_printable(trusted).map_err(|r| bad(format!("trusted comment {r}")))?;

        let gbin = B64
            .decode(l4.trim())
            .map_err(|e| bad(format!("global signature base64: {e}")))?;
        let global_sig: [u8; 64] = gbin.as_slice().try_into().map_err(|_| {
            bad(format!(
                "global signature must decode to 64 bytes, got {}",
                gbin.len()
            ))
        })?;

        Ok(Signature {
            algorithm,
            key_id: KeyId(id),
            sig,
            untrusted_comment: untrusted.to_string(),
            trusted_comment: trusted.to_string(),
            global_sig,
        })
    }
}

/// A parsed minisign signature. Parsing checks only the format: nothing here is
/// verified until [`verify_reader`] succeeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    algorithm: Algorithm,
    key_id: KeyId,
    sig: [u8; 64],
    untrusted_comment: String,
    trusted_comment: String,
    global_sig: [u8; 64],
}

impl Signature {
    /// `ED` (prehashed) or `Ed` (legacy).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id the signature names (unauthenticated until verified).
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The untrusted comment (never signed; do not rely on it).
    pub fn untrusted_comment(&self) -> &str {
        &self.untrusted_comment
    }

    /// The trusted comment, *not yet verified*.
    pub fn trusted_comment_unverified(&self) -> &str {
        &self.trusted_comment
    }

    /// This signature as minisign-verify takes it: re-encoded from the parsed fields,
    /// so both parsers see the same signature, and the trusted comment minisign-verify
    /// checks is exactly the one [`Verified`] returns. (Its parser would accept texts
    /// ours refuses; the untrusted comment is left out, nothing checks it.)
    fn to_minisign_verify(&self) -> Result<minisign_verify::Signature, SigningError> {
        let mut bin = Vec::with_capacity(74);
        bin.extend_from_slice(self.algorithm.code());
        bin.extend_from_slice(self.key_id.as_bytes());
        bin.extend_from_slice(&self.sig);
        let text = format!(
            "{UNTRUSTED_PREFIX}\n{}\n{TRUSTED_PREFIX}{}\n{}\n",
            B64.encode(bin),
            self.trusted_comment,
            B64.encode(self.global_sig)
        );
        minisign_verify::Signature::decode(&text)
            .map_err(|e| SigningError::MalformedSignature(format!("minisign-verify: {e}")))
    }
}

/// Options for [`sign_reader`] and [`sign_file`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SignOptions<'a> {
    /// The trusted comment; default `timestamp:<timestamp>\tfile:<file_name>\thashed`
    /// (the `file:` part is left out when there is no file name).
    pub trusted_comment: Option<&'a str>,
    /// The untrusted comment; default `signature from stella-kit secret key <KEYID>`.
    pub untrusted_comment: Option<&'a str>,
    /// Unix seconds for the default trusted comment. A parameter, not the clock, so kit
    /// builds are reproducible (`SOURCE_DATE_EPOCH`).
    pub timestamp: i64,
    /// The file name for the default trusted comment ([`sign_file`] uses the path's
    /// base name when this is `None`).
    pub file_name: Option<&'a str>,
}

/// Options for [`verify_reader`] and [`verify_file`]. The default refuses legacy
/// signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Accept legacy `Ed` signatures (made with `minisign -S -l`).
    pub allow_legacy: bool,
    /// Legacy signatures cover the raw message, so it must be buffered: at most this many
    /// bytes ([`SigningError::LegacyTooLarge`] beyond).
    pub max_legacy_bytes: u64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            allow_legacy: false,
            max_legacy_bytes: DEFAULT_MAX_LEGACY_BYTES,
        }
    }
}

/// What a successful verification established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The pinned key that made the signature.
    pub key_id: KeyId,
    /// The trusted comment, covered by the global signature.
    pub trusted_comment: String,
}

/// Signs everything `data` yields with a prehashed (`ED`) minisign signature.
///
/// The message is streamed through BLAKE2b-512 in 1 MiB chunks; memory use does not
/// depend on its size.
pub fn sign_reader<R: Read>(
    key: &KeyPair,
    data: R,
    opts: &SignOptions<'_>,
) -> Result<SignatureBox, SigningError> {
    let trusted = match opts.trusted_comment {
        Some(t) => t.to_string(),
        None => match opts.file_name {
            Some(f) => format!("timestamp:{}\tfile:{f}\thashed", opts.timestamp),
            None => format!("timestamp:{}\thashed", opts.timestamp),
        },
    };
    let untrusted = match opts.untrusted_comment {
        Some(u) => u.to_string(),
        None => format!("signature from stella-kit secret key {}", key.id()),
    };
    // Validate the comments before reading (possibly gigabytes of) data.
    check_printable(&trusted).map_err(|reason| SigningError::InvalidComment {
        which: "trusted",
        reason,
    })?;
    if TRUSTED_PREFIX.len() + trusted.len() > MAX_TRUSTED_LINE_BYTES {
        return Err(SigningError::InvalidComment {
            which: "trusted",
            reason: format!(
                "longer than {} bytes",
                MAX_TRUSTED_LINE_BYTES - TRUSTED_PREFIX.len()
            ),
        });
    }
    check_printable(&untrusted).map_err(|reason| SigningError::InvalidComment {
        which: "untrusted",
        reason,
    })?;
    if UNTRUSTED_PREFIX.len() + untrusted.len() > MAX_UNTRUSTED_LINE_BYTES {
        return Err(SigningError::InvalidComment {
            which: "untrusted",
            reason: format!(
                "longer than {} bytes",
                MAX_UNTRUSTED_LINE_BYTES - UNTRUSTED_PREFIX.len()
            ),
        });
    }

    let digest = blake2b_stream(data)?;
    let sig = key.sign(&digest);
    let global = key.sign(&global_message(&sig, &trusted));

    let mut bin = Vec::with_capacity(74);
    bin.extend_from_slice(Algorithm::Prehashed.code());
    bin.extend_from_slice(key.id().as_bytes());
    bin.extend_from_slice(&sig);
    Ok(SignatureBox(format!(
        "{UNTRUSTED_PREFIX}{untrusted}\n{}\n{TRUSTED_PREFIX}{trusted}\n{}\n",
        B64.encode(bin),
        B64.encode(global)
    )))
}

/// Signs the file at `path` (streamed). The default trusted comment names the file's
/// base name unless [`SignOptions::file_name`] is given.
pub fn sign_file(
    key: &KeyPair,
    path: &Path,
    opts: &SignOptions<'_>,
) -> Result<SignatureBox, SigningError> {
    let f = std::fs::File::open(path).map_err(|source| SigningError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let opts = SignOptions {
        file_name: opts.file_name.or(base.as_deref()),
        ..*opts
    };
    sign_reader(key, f, &opts).map_err(|e| with_path(e, path))
}

/// Verifies `sig` over everything `data` yields, with the pinned key the signature names.
///
/// A `.minisig` carries one signature, so any one pinned key suffices here; k-of-n
/// thresholds apply to documents that carry several signatures (kit manifests, DSSE).
/// A key id that no pinned key has is refused with [`SigningError::UnknownKey`] before
/// any signature is checked.
pub fn verify_reader<R: Read>(
    keys: &TrustRoot,
    sig: &SignatureBox,
    data: R,
    opts: &VerifyOptions,
) -> Result<Verified, SigningError> {
    let parsed = sig.parse()?;
    let key = keys
        .key(&parsed.key_id)
        .ok_or(SigningError::UnknownKey(parsed.key_id))?;
    verify_parsed(key, &parsed, data, opts)
}

/// Verifies `sig` against one expected key; a signature by another key id is refused
/// with [`SigningError::KeyIdMismatch`] before any signature is checked.
pub fn verify_reader_with_key<R: Read>(
    key: &PublicKey,
    sig: &SignatureBox,
    data: R,
    opts: &VerifyOptions,
) -> Result<Verified, SigningError> {
    let parsed = sig.parse()?;
    if parsed.key_id != key.id() {
        return Err(SigningError::KeyIdMismatch {
            expected: key.id(),
            found: parsed.key_id,
        });
    }
    verify_parsed(key, &parsed, data, opts)
}

/// [`verify_reader`] over the file at `path` (streamed).
pub fn verify_file(
    keys: &TrustRoot,
    sig: &SignatureBox,
    path: &Path,
    opts: &VerifyOptions,
) -> Result<Verified, SigningError> {
    let f = std::fs::File::open(path).map_err(|source| SigningError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    verify_reader(keys, sig, f, opts).map_err(|e| with_path(e, path))
}

fn verify_parsed<R: Read>(
    key: &PublicKey,
    parsed: &Signature,
    data: R,
    opts: &VerifyOptions,
) -> Result<Verified, SigningError> {
    debug_assert_eq!(key.id(), parsed.key_id);
    // 3. The algorithm policy, before any data is read.
    if parsed.algorithm == Algorithm::Legacy && !opts.allow_legacy {
        return Err(SigningError::LegacyNotAllowed);
    }
    // 4. What libsodium (the stock tool) refuses and minisign-verify does not: a message
    //    signature whose R is a small-order point. (Small-order keys cannot get here:
    //    `PublicKey` refuses them.)
    let mut r = [0u8; 32];
    r.copy_from_slice(&parsed.sig[..32]);
    if is_small_order_point(&r) {
        return Err(SigningError::BadSignature);
    }
    // 5. The global signature, checked first (strictly, with ed25519-dalek) only so that a
    //    failure can be named: minisign-verify says `InvalidSignature` for either of the
    //    two signatures. When it fails, nothing is accepted, and the message signature
    //    alone decides which error it is.
    let global_ok = key
        .verify(
            &global_message(&parsed.sig, &parsed.trusted_comment),
            &parsed.global_sig,
        )
        .is_ok();
    // 6. minisign-verify: both signatures, streamed when prehashed.
    let mv_key = key.to_minisign_verify()?;
    let mv_sig = parsed.to_minisign_verify()?;
    let verdict = match parsed.algorithm {
        Algorithm::Prehashed => {
            if !global_ok {
                return Err(name_failure(key, parsed, &blake2b_stream(data)?));
            }
            let mut v = mv_key
                .verify_stream(&mv_sig)
                .map_err(|e| from_minisign_verify(e, key, parsed))?;
            read_chunks(data, |chunk| v.update(chunk))?;
            v.finalize()
        }
        Algorithm::Legacy => {
            let mut msg = Vec::new();
            data.take(opts.max_legacy_bytes.saturating_add(1))
                .read_to_end(&mut msg)
                .map_err(SigningError::Stream)?;
            if msg.len() as u64 > opts.max_legacy_bytes {
                return Err(SigningError::LegacyTooLarge {
                    limit: opts.max_legacy_bytes,
                });
            }
            if !global_ok {
                return Err(name_failure(key, parsed, &msg));
            }
            mv_key.verify(&msg, &mv_sig, true)
        }
    };
    // The global signature verified above, so a refusal here is the message signature's.
    verdict.map_err(|e| from_minisign_verify(e, key, parsed))?;
    Ok(Verified {
        key_id: parsed.key_id,
        trusted_comment: parsed.trusted_comment.clone(),
    })
}

/// Names a refusal when the global signature does not verify. `signed` is what the
/// message signature covers (the BLAKE2b-512 digest, or the message for legacy). If the
/// message signature is good, only the trusted comment (or the global signature line)
/// was changed; if it is bad too, the signature as a whole is not this key's, which is
/// the plain [`SigningError::BadSignature`] (minisign checks the message signature
/// first, and so did this crate before minisign-verify).
fn name_failure(key: &PublicKey, parsed: &Signature, signed: &[u8]) -> SigningError {
    match key.verify(signed, &parsed.sig) {
        Ok(()) => SigningError::BadGlobalSignature,
        Err(_) => SigningError::BadSignature,
    }
}

/// Maps minisign-verify's errors. Only `InvalidSignature` can happen: the key id, the
/// algorithm policy and the encoding were all checked before it was called.
fn from_minisign_verify(
    e: minisign_verify::Error,
    key: &PublicKey,
    parsed: &Signature,
) -> SigningError {
    use minisign_verify::Error as E;
    match e {
        E::InvalidSignature => SigningError::BadSignature,
        E::UnexpectedKeyId => SigningError::KeyIdMismatch {
            expected: key.id(),
            found: parsed.key_id,
        },
        E::UnexpectedAlgorithm | E::UnsupportedLegacyMode => SigningError::LegacyNotAllowed,
        E::InvalidEncoding | E::UnsupportedAlgorithm => {
            SigningError::MalformedSignature(format!("minisign-verify: {e}"))
        }
        E::IoError(e) => SigningError::Stream(e),
    }
}

fn global_message(sig: &[u8; 64], trusted: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + trusted.len());
    m.extend_from_slice(sig);
    m.extend_from_slice(trusted.as_bytes());
    m
}

/// Feeds everything `data` yields to `f`, in chunks of at most [`CHUNK`] bytes.
fn read_chunks<R: Read>(mut data: R, mut f: impl FnMut(&[u8])) -> Result<(), SigningError> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match data.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => f(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(SigningError::Stream(e)),
        }
    }
}

fn blake2b_stream<R: Read>(data: R) -> Result<[u8; 64], SigningError> {
    let mut h = Blake2b512::new();
    read_chunks(data, |chunk| h.update(chunk))?;
    Ok(h.finalize().into())
}

/// Printable = no control characters except TAB (the default trusted comment uses
/// tabs). Control characters could forge extra lines or carry terminal escapes into
/// whatever prints the comment.
fn check_printable(s: &str) -> Result<(), String> {
    match s.chars().find(|c| c.is_control() && *c != '\t') {
        Some(c) => Err(format!("contains the control character {c:?}")),
        None => Ok(()),
    }
}

/// Read errors of a file being signed or verified name the file.
fn with_path(e: SigningError, path: &Path) -> SigningError {
    match e {
        SigningError::Stream(source) => SigningError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kp(n: u8) -> KeyPair {
        KeyPair::from_seed(KeyId([n; 8]), &[n; 32])
    }

    fn opts() -> SignOptions<'static> {
        SignOptions {
            timestamp: 1_700_000_000,
            file_name: Some("kit.ouk"),
            ..SignOptions::default()
        }
    }

    fn sign(key: &KeyPair, data: &[u8]) -> SignatureBox {
        sign_reader(key, data, &opts()).expect("sign")
    }

    fn verify(
        trust: &TrustRoot,
        sig: &SignatureBox,
        data: &[u8],
    ) -> Result<Verified, SigningError> {
        verify_reader(trust, sig, data, &VerifyOptions::default())
    }

    /// Replaces line `n` (0-based) of a signature text.
    fn edit_line(sig: &SignatureBox, n: usize, f: impl Fn(&str) -> String) -> SignatureBox {
        let lines: Vec<String> = sig
            .as_str()
            .lines()
            .enumerate()
            .map(|(i, l)| if i == n { f(l) } else { l.to_string() })
            .collect();
        SignatureBox::from_text(lines.join("\n") + "\n")
    }

    /// A legacy (`Ed`) signature made by hand, the way `minisign -S -l` makes it.
    fn legacy(key: &KeyPair, data: &[u8], trusted: &str) -> SignatureBox {
        let sig = key.sign(data);
        let global = key.sign(&global_message(&sig, trusted));
        let mut bin = b"Ed".to_vec();
        bin.extend_from_slice(key.id().as_bytes());
        bin.extend_from_slice(&sig);
        SignatureBox::from_text(format!(
            "untrusted comment: x\n{}\ntrusted comment: {trusted}\n{}\n",
            B64.encode(bin),
            B64.encode(global)
        ))
    }

    #[test]
    fn signs_deterministically_in_the_documented_layout() {
        let k = kp(1);
        let a = sign(&k, b"data");
        let b = sign(&k, b"data");
        assert_eq!(a, b);
        let lines: Vec<&str> = a.as_str().lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            format!(
                "untrusted comment: signature from stella-kit secret key {}",
                k.id()
            )
        );
        assert_eq!(
            lines[2],
            "trusted comment: timestamp:1700000000\tfile:kit.ouk\thashed"
        );
        let parsed = a.parse().expect("parse");
        assert_eq!(parsed.algorithm(), Algorithm::Prehashed);
        assert_eq!(parsed.key_id(), k.id());
        // the signature covers BLAKE2b-512(data), not the data
        let digest: [u8; 64] = Blake2b512::digest(b"data").into();
        assert_eq!(parsed.sig, k.sign(&digest));
    }

    #[test]
    fn default_comment_without_a_file_name_and_custom_comments() {
        let k = kp(1);
        let s = sign_reader(
            &k,
            &b"x"[..],
            &SignOptions {
                timestamp: 5,
                ..SignOptions::default()
            },
        )
        .expect("sign");
        assert!(
            s.as_str()
                .contains("\ntrusted comment: timestamp:5\thashed\n")
        );
        let s = sign_reader(
            &k,
            &b"x"[..],
            &SignOptions {
                trusted_comment: Some("kit=demo seq=7"),
                untrusted_comment: Some("hello"),
                ..opts()
            },
        )
        .expect("sign");
        assert!(s.as_str().starts_with("untrusted comment: hello\n"));
        let v = verify(&TrustRoot::single(k.public()), &s, b"x").expect("verify");
        assert_eq!(v.trusted_comment, "kit=demo seq=7");
    }

    #[test]
    fn verifies_and_returns_the_trusted_comment() {
        let k = kp(1);
        let s = sign(&k, b"data");
        let v = verify(&TrustRoot::single(k.public()), &s, b"data").expect("ok");
        assert_eq!(v.key_id, k.id());
        assert_eq!(
            v.trusted_comment,
            "timestamp:1700000000\tfile:kit.ouk\thashed"
        );
        // CRLF line ends are accepted too
        let crlf = SignatureBox::from_text(s.as_str().replace('\n', "\r\n"));
        assert!(verify(&TrustRoot::single(k.public()), &crlf, b"data").is_ok());
    }

    #[test]
    fn tampered_data_is_a_bad_signature() {
        let k = kp(1);
        let s = sign(&k, b"data");
        let err = verify(&TrustRoot::single(k.public()), &s, b"dat4").expect_err("tampered");
        assert!(matches!(err, SigningError::BadSignature), "{err}");
    }

    #[test]
    fn edited_trusted_comment_is_a_bad_global_signature() {
        let k = kp(1);
        let s = sign(&k, b"data");
        let edited = edit_line(&s, 2, |l| l.replace("1700000000", "1800000000"));
        let err = verify(&TrustRoot::single(k.public()), &edited, b"data").expect_err("edited");
        assert!(matches!(err, SigningError::BadGlobalSignature), "{err}");
    }

    #[test]
    fn unknown_key_id_is_refused_before_the_signature() {
        let (a, b) = (kp(1), kp(2));
        let s = sign(&b, b"data");
        let err = verify(&TrustRoot::single(a.public()), &s, b"data").expect_err("unknown");
        assert!(
            matches!(err, SigningError::UnknownKey(id) if id == b.id()),
            "{err}"
        );
        let err = verify_reader_with_key(&a.public(), &s, &b"data"[..], &VerifyOptions::default())
            .expect_err("mismatch");
        assert!(
            matches!(err, SigningError::KeyIdMismatch { expected, found } if expected == a.id() && found == b.id()),
            "{err}"
        );
        // the key id is checked first: a reader that fails is never touched
        struct Boom;
        impl Read for Boom {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("must not be read"))
            }
        }
        let err = verify_reader(
            &TrustRoot::single(a.public()),
            &s,
            Boom,
            &VerifyOptions::default(),
        )
        .expect_err("unknown");
        assert!(matches!(err, SigningError::UnknownKey(_)), "{err}");
        let err = verify_reader(
            &TrustRoot::single(b.public()),
            &s,
            Boom,
            &VerifyOptions::default(),
        )
        .expect_err("read error");
        assert!(matches!(err, SigningError::Stream(_)), "{err}");
    }

    #[test]
    fn a_signature_relabelled_with_a_pinned_key_id_fails() {
        let (a, b) = (kp(1), kp(2));
        let s = sign(&b, b"data");
        let relabelled = edit_line(&s, 1, |l| {
            let mut bin = B64.decode(l).expect("b64");
            bin[2..10].copy_from_slice(a.id().as_bytes());
            B64.encode(bin)
        });
        let err =
            verify(&TrustRoot::single(a.public()), &relabelled, b"data").expect_err("relabel");
        assert!(matches!(err, SigningError::BadSignature), "{err}");
    }

    #[test]
    fn any_pinned_key_of_a_multi_key_root_is_selected_by_id() {
        let (a, b, c) = (kp(1), kp(2), kp(3));
        let root = TrustRoot::new(vec![a.public(), b.public(), c.public()], 2).expect("root");
        let v = verify(&root, &sign(&b, b"m"), b"m").expect("b is pinned");
        assert_eq!(v.key_id, b.id());
    }

    #[test]
    fn legacy_signatures_need_the_option_and_are_capped() {
        let k = kp(1);
        let trust = TrustRoot::single(k.public());
        let s = legacy(&k, b"legacy data", "t");
        let err = verify(&trust, &s, b"legacy data").expect_err("legacy refused");
        assert!(matches!(err, SigningError::LegacyNotAllowed), "{err}");
        let allow = VerifyOptions {
            allow_legacy: true,
            ..VerifyOptions::default()
        };
        let v = verify_reader(&trust, &s, &b"legacy data"[..], &allow).expect("allowed");
        assert_eq!(v.trusted_comment, "t");
        assert_eq!(s.parse().expect("parse").algorithm(), Algorithm::Legacy);
        let err = verify_reader(&trust, &s, &b"legacy dat4"[..], &allow).expect_err("tampered");
        assert!(matches!(err, SigningError::BadSignature), "{err}");
        let edited = edit_line(&s, 2, |_| "trusted comment: u".into());
        let err = verify_reader(&trust, &edited, &b"legacy data"[..], &allow).expect_err("edited");
        assert!(matches!(err, SigningError::BadGlobalSignature), "{err}");
        let small = VerifyOptions {
            allow_legacy: true,
            max_legacy_bytes: 5,
        };
        let err = verify_reader(&trust, &s, &b"legacy data"[..], &small).expect_err("too big");
        assert!(
            matches!(err, SigningError::LegacyTooLarge { limit: 5 }),
            "{err}"
        );
        // exactly at the cap is fine
        let exact = VerifyOptions {
            allow_legacy: true,
            max_legacy_bytes: 11,
        };
        assert!(verify_reader(&trust, &s, &b"legacy data"[..], &exact).is_ok());
    }

    #[test]
    fn malformed_signature_texts_are_refused_with_a_reason() {
        let k = kp(1);
        let s = sign(&k, b"d");
        let trust = TrustRoot::single(k.public());
        let cases: Vec<(SignatureBox, &str)> = vec![
            (SignatureBox::from_text(""), "missing"),
            (SignatureBox::from_text("untrusted comment: x\n"), "missing"),
            (
                edit_line(&s, 0, |l| l.replace("untrusted", "trusted")),
                "line 1",
            ),
            (edit_line(&s, 1, |_| "!!!".into()), "base64"),
            (edit_line(&s, 1, |l| l[..l.len() - 3].to_string()), "base64"),
            (edit_line(&s, 1, |_| B64.encode([0u8; 73])), "74 bytes"),
            (
                edit_line(&s, 1, |l| {
                    let mut bin = B64.decode(l).expect("b64");
                    bin[..2].copy_from_slice(b"XX");
                    B64.encode(bin)
                }),
                "algorithm",
            ),
            (
                edit_line(&s, 2, |l| l.replace("trusted comment: ", "trusted: ")),
                "line 3",
            ),
            (
                edit_line(&s, 2, |l| format!("{l}\u{1b}[31m")),
                "control character",
            ),
            (
                edit_line(&s, 2, |_| format!("trusted comment: {}", "a".repeat(8174))),
                "trusted comment line longer",
            ),
            (
                edit_line(&s, 0, |_| {
                    format!("untrusted comment: {}", "a".repeat(1004))
                }),
                "untrusted comment line longer",
            ),
            (edit_line(&s, 3, |_| B64.encode([0u8; 63])), "64 bytes"),
            (edit_line(&s, 3, |_| "%%".into()), "global signature base64"),
            (
                SignatureBox::from_text(format!("{}extra\n", s.as_str())),
                "after the fourth",
            ),
        ];
        for (bad, needle) in cases {
            let err = verify(&trust, &bad, b"d").expect_err(needle);
            assert!(
                matches!(err, SigningError::MalformedSignature(ref m) if m.contains(needle)),
                "{needle}: {err}"
            );
        }
        let huge = SignatureBox::from_text("a".repeat(MAX_SIGNATURE_TEXT_BYTES as usize + 1));
        assert!(matches!(
            verify(&trust, &huge, b"d"),
            Err(SigningError::TooLarge { .. })
        ));
        // at the limits: still parses
        let long = edit_line(&s, 2, |_| format!("trusted comment: {}", "a".repeat(8173)));
        assert!(long.parse().is_ok());
    }

    #[test]
    fn bad_comments_are_refused_before_reading_data() {
        let k = kp(1);
        struct Boom;
        impl Read for Boom {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("must not be read"))
            }
        }
        for (t, u) in [
            (Some("a\nb"), None),
            (None, Some("a\rb")),
            (Some("a".repeat(8174).leak() as &str), None),
            (None, Some("u".repeat(1004).leak() as &str)),
        ] {
            let err = sign_reader(
                &k,
                Boom,
                &SignOptions {
                    trusted_comment: t,
                    untrusted_comment: u,
                    ..opts()
                },
            )
            .expect_err("bad comment");
            assert!(matches!(err, SigningError::InvalidComment { .. }), "{err}");
        }
        // a file name with a newline would forge a line: refused too
        let err = sign_reader(
            &k,
            Boom,
            &SignOptions {
                file_name: Some("a\nb"),
                ..opts()
            },
        )
        .expect_err("bad name");
        assert!(matches!(
            err,
            SigningError::InvalidComment {
                which: "trusted",
                ..
            }
        ));
        // the longest allowed comments sign and verify
        let t = "a".repeat(8173);
        let u = "u".repeat(1003);
        let s = sign_reader(
            &k,
            &b"d"[..],
            &SignOptions {
                trusted_comment: Some(&t),
                untrusted_comment: Some(&u),
                ..opts()
            },
        )
        .expect("max comments");
        assert!(verify(&TrustRoot::single(k.public()), &s, b"d").is_ok());
    }

    #[test]
    fn files_sign_verify_and_write_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("kit.ouk");
        std::fs::write(&p, vec![7u8; 3 * CHUNK + 17]).expect("write");
        let k = kp(4);
        let s = sign_file(
            &k,
            &p,
            &SignOptions {
                timestamp: 9,
                ..SignOptions::default()
            },
        )
        .expect("sign");
        assert!(s.as_str().contains("timestamp:9\tfile:kit.ouk\thashed"));
        // same bytes through a reader give the same signature (chunking is invisible)
        let from_reader = sign_reader(
            &k,
            &vec![7u8; 3 * CHUNK + 17][..],
            &SignOptions {
                timestamp: 9,
                file_name: Some("kit.ouk"),
                ..SignOptions::default()
            },
        )
        .expect("sign");
        assert_eq!(s, from_reader);
        let sp = dir.path().join("kit.ouk.minisig");
        s.write(&sp).expect("write sig");
        s.write(&sp).expect("overwrite sig");
        let back = SignatureBox::read(&sp).expect("read sig");
        assert_eq!(back, s);
        let trust = TrustRoot::single(k.public());
        verify_file(&trust, &back, &p, &VerifyOptions::default()).expect("verify");
        let missing = dir.path().join("nope");
        assert!(matches!(
            verify_file(&trust, &back, &missing, &VerifyOptions::default()),
            Err(SigningError::Io { .. })
        ));
        assert!(matches!(
            sign_file(&k, &missing, &opts()),
            Err(SigningError::Io { .. })
        ));
        std::fs::write(&sp, vec![b'a'; MAX_SIGNATURE_TEXT_BYTES as usize + 1]).expect("w");
        assert!(matches!(
            SignatureBox::read(&sp),
            Err(SigningError::TooLarge { .. })
        ));
        std::fs::write(&sp, [0xff, 0xfe]).expect("w");
        assert!(matches!(
            SignatureBox::read(&sp),
            Err(SigningError::MalformedSignature(_))
        ));
    }
}
