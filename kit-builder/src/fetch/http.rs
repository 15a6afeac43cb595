//! The retry / resume loop shared by every download.
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use reqwest::blocking::{Client, Response};
use reqwest::header::{self, HeaderMap};
use sha2::{Digest as _, Sha256};

use super::cache::{Cache, UrlRecord, write_atomic};
use super::progress::Progress;
use super::{FetchError, FetchOptions};

/// A small response held in memory.
#[derive(Debug)]
pub struct Fetched {
    /// HTTP status (2xx).
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Fetched {
    /// A header as text, if present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `sha256:<hex>` of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut f = File::open(path).map_err(|e| FetchError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| FetchError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

/// Where a download goes.
trait Sink {
    /// Bytes already held: the resume point.
    fn offset(&self) -> u64;
    /// Whether a partial download may be continued with Range.
    fn resumable(&self) -> bool;
    fn reset(&mut self) -> Result<(), FetchError>;
    fn write(&mut self, buf: &[u8]) -> Result<(), FetchError>;
    fn set_resumable(&mut self, resumable: bool);
}

/// What a fresh (200) response means for resuming later attempts.
enum OnStart {
    /// Nothing changes (blobs: always resumable, verified by digest).
    Keep,
    /// Resume with this `If-Range` validator; `None` = the resource has none, never resume.
    Validator(Option<String>),
}

struct MemSink(Vec<u8>);

impl Sink for MemSink {
    fn offset(&self) -> u64 {
        self.0.len() as u64
    }
    fn resumable(&self) -> bool {
        false
    }
    fn reset(&mut self) -> Result<(), FetchError> {
        self.0.clear();
        Ok(())
    }
    fn write(&mut self, buf: &[u8]) -> Result<(), FetchError> {
        self.0.extend_from_slice(buf);
        Ok(())
    }
    fn set_resumable(&mut self, _: bool) {}
}

struct FileSink {
    path: PathBuf,
    file: File,
    len: u64,
    resumable: bool,
}

impl FileSink {
    fn open(path: PathBuf, resumable: bool) -> Result<FileSink, FetchError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| FetchError::io(&path, e))?;
        let len = file.metadata().map_err(|e| FetchError::io(&path, e))?.len();
        let mut sink = FileSink {
            path,
            file,
            len,
            resumable,
        };
        if !resumable {
            sink.reset()?;
        }
        Ok(sink)
    }

    fn finish(mut self) -> Result<PathBuf, FetchError> {
        self.file
            .flush()
            .map_err(|e| FetchError::io(&self.path, e))?;
        self.file
            .sync_all()
            .map_err(|e| FetchError::io(&self.path, e))?;
        Ok(self.path)
    }
}

impl Sink for FileSink {
    fn offset(&self) -> u64 {
        self.len
    }
    fn resumable(&self) -> bool {
        self.resumable
    }
    fn reset(&mut self) -> Result<(), FetchError> {
        self.file
            .set_len(0)
            .map_err(|e| FetchError::io(&self.path, e))?;
        self.len = 0;
        Ok(())
    }
    fn write(&mut self, buf: &[u8]) -> Result<(), FetchError> {
        self.file
            .write_all(buf)
            .map_err(|e| FetchError::io(&self.path, e))?;
        self.len += buf.len() as u64;
        Ok(())
    }
    fn set_resumable(&mut self, resumable: bool) {
        self.resumable = resumable;
    }
}

/// What a finished download looked like.
struct Done {
    status: u16,
    headers: HeaderMap,
}

/// Per-download knobs of the loop.
struct Request<'a> {
    url: &'a str,
    headers: &'a [(&'a str, String)],
    max_bytes: u64,
    /// Sent with a Range request so a changed resource restarts from zero (RFC 9110 §13.1.5).
    if_range: Option<String>,
    /// Conditional headers for revalidating a cached copy; a 304 then ends the download.
    conditional: Vec<(header::HeaderName, String)>,
}

fn backoff(opts: &FetchOptions, failed_attempt: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failed_attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    opts.initial_backoff
        .saturating_mul(factor)
        .min(opts.max_backoff)
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "body read failed"
    } else {
        "request failed"
    };
    // The error chain carries the useful part (e.g. "connection refused").
    let mut msg = format!("{kind}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

/// The start offset of a `Content-Range: bytes START-END/TOTAL` header.
fn content_range_start(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let rest = v.strip_prefix("bytes ")?;
    rest.split('-').next()?.trim().parse().ok()
}

fn body_excerpt(resp: Response) -> Option<String> {
    let mut buf = Vec::new();
    resp.take(512).read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).trim().to_string();
    (!text.is_empty()).then_some(text)
}

enum Copy {
    Ok,
    TooLarge,
    Read(String),
}

fn copy_body(
    resp: &mut Response,
    sink: &mut dyn Sink,
    max: u64,
    progress: &mut Progress,
) -> Result<Copy, FetchError> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match resp.read(&mut buf) {
            Ok(0) => return Ok(Copy::Ok),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let mut msg = format!("body read failed after {} bytes: {e}", sink.offset());
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg.push_str(&format!(": {s}"));
                    src = s.source();
                }
                return Ok(Copy::Read(msg));
            }
        };
        if sink.offset().saturating_add(n as u64) > max {
            return Ok(Copy::TooLarge);
        }
        sink.write(&buf[..n])?;
        progress.inc(n as u64);
    }
}

/// The loop: attempts, backoff, Retry-After, Range resume, truncation detection.
fn download(
    client: &Client,
    opts: &FetchOptions,
    req: &Request<'_>,
    sink: &mut dyn Sink,
    on_fresh_start: &mut dyn FnMut(&HeaderMap) -> Result<OnStart, FetchError>,
) -> Result<Done, FetchError> {
    let attempts = opts.max_attempts.max(1);
    let mut if_range = req.if_range.clone();
    let mut last = String::new();
    for attempt in 1..=attempts {
        let offset = if sink.resumable() { sink.offset() } else { 0 };
        if !sink.resumable() {
            sink.reset()?;
        }
        let mut rb = client.get(req.url);
        for (k, v) in req.headers {
            rb = rb.header(*k, v);
        }
        if offset > 0 {
            rb = rb.header(header::RANGE, format!("bytes={offset}-"));
            if let Some(v) = &if_range {
                rb = rb.header(header::IF_RANGE, v);
            }
        } else {
            for (k, v) in &req.conditional {
                rb = rb.header(k, v);
            }
        }
        let mut wait = backoff(opts, attempt);
        let outcome: Result<Done, String> = match rb.send() {
            Err(e) => Err(describe(&e)),
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                match status {
                    200 | 206 => {
                        let resumed = status == 206;
                        if resumed && content_range_start(&headers) != Some(offset) {
                            // A server that answers a different range than asked is not
                            // trusted to splice: start over.
                            sink.reset()?;
                            Err("server answered an unexpected Content-Range; restarting".into())
                        } else {
                            if !resumed {
                                sink.reset()?;
                                if let OnStart::Validator(v) = on_fresh_start(&headers)? {
                                    sink.set_resumable(v.is_some());
                                    if_range = v;
                                }
                            }
                            let start = sink.offset();
                            let expected = resp.content_length().map(|l| l.saturating_add(start));
                            if expected.is_some_and(|t| t > req.max_bytes) {
                                return Err(FetchError::TooLarge {
                                    url: req.url.to_string(),
                                    limit: req.max_bytes,
                                });
                            }
                            let mut progress =
                                Progress::start(opts.progress, req.url, expected, start);
                            match copy_body(&mut resp, sink, req.max_bytes, &mut progress)? {
                                Copy::TooLarge => {
                                    return Err(FetchError::TooLarge {
                                        url: req.url.to_string(),
                                        limit: req.max_bytes,
                                    });
                                }
                                Copy::Read(msg) => Err(msg),
                                Copy::Ok => match expected {
                                    Some(t) if sink.offset() < t => Err(format!(
                                        "truncated body: {} of {t} bytes",
                                        sink.offset()
                                    )),
                                    _ => {
                                        progress.finish();
                                        Ok(Done { status, headers })
                                    }
                                },
                            }
                        }
                    }
                    304 if offset == 0 && !req.conditional.is_empty() => {
                        Ok(Done { status, headers })
                    }
                    401 => {
                        return Err(FetchError::Unauthorized {
                            url: req.url.to_string(),
                            challenge: headers
                                .get(header::WWW_AUTHENTICATE)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string),
                        });
                    }
                    416 if offset > 0 => {
                        sink.reset()?;
                        wait = Duration::ZERO;
                        Err("range not satisfiable; restarting from zero".into())
                    }
                    408 | 429 | 500 | 502 | 503 | 504 => {
                        if matches!(status, 429 | 503)
                            && let Some(ra) = retry_after(&headers)
                        {
                            if ra > opts.max_retry_after {
                                tracing::warn!(
                                    url = req.url,
                                    retry_after_secs = ra.as_secs(),
                                    cap_secs = opts.max_retry_after.as_secs(),
                                    "Retry-After longer than the cap; waiting the cap"
                                );
                            }
                            wait = ra.min(opts.max_retry_after);
                        }
                        Err(format!("HTTP {status}"))
                    }
                    _ => {
                        return Err(FetchError::Status {
                            url: req.url.to_string(),
                            status,
                            detail: body_excerpt(resp),
                        });
                    }
                }
            }
        };
        match outcome {
            Ok(done) => return Ok(done),
            Err(reason) => {
                if attempt < attempts {
                    tracing::warn!(url = req.url, attempt, of = attempts, wait_ms = wait.as_millis() as u64, %reason, "download attempt failed; retrying");
                    std::thread::sleep(wait);
                }
                last = reason;
            }
        }
    }
    Err(FetchError::RetriesExhausted {
        url: req.url.to_string(),
        attempts,
        last,
    })
}

pub(crate) fn get_small(
    client: &Client,
    opts: &FetchOptions,
    url: &str,
    headers: &[(&str, String)],
    max_bytes: u64,
) -> Result<Fetched, FetchError> {
    let mut sink = MemSink(Vec::new());
    let req = Request {
        url,
        headers,
        max_bytes,
        if_range: None,
        conditional: Vec::new(),
    };
    let quiet = FetchOptions {
        progress: super::ProgressMode::Hidden,
        ..opts.clone()
    };
    let done = download(client, &quiet, &req, &mut sink, &mut |_| Ok(OnStart::Keep))?;
    Ok(Fetched {
        status: done.status,
        headers: done.headers,
        body: sink.0,
    })
}

pub(crate) fn fetch_blob(
    client: &Client,
    opts: &FetchOptions,
    cache: &Cache,
    url: &str,
    headers: &[(&str, String)],
    digest: &str,
    size: u64,
) -> Result<PathBuf, FetchError> {
    let bad_digest = || FetchError::DigestMismatch {
        what: "blob",
        expected: digest.to_string(),
        actual: "(not a sha256 digest)".into(),
    };
    let part = cache.blob_partial_path(digest).ok_or_else(bad_digest)?;
    let target = cache.blob_path(digest).ok_or_else(bad_digest)?;
    // Blobs are immutable and verified by digest at the end, so any partial file may be
    // resumed without a validator.
    let mut sink = FileSink::open(part, true)?;
    if sink.offset() > size {
        sink.reset()?;
    }
    let complete = sink.offset() == size && size > 0;
    if !complete {
        let req = Request {
            url,
            headers,
            max_bytes: size,
            if_range: None,
            conditional: Vec::new(),
        };
        download(client, opts, &req, &mut sink, &mut |_| Ok(OnStart::Keep))?;
    }
    let received = sink.offset();
    let part = sink.finish()?;
    if received != size {
        let _ = fs::remove_file(&part);
        return Err(FetchError::SizeMismatch {
            what: "blob",
            digest: digest.to_string(),
            expected: size,
            actual: received,
        });
    }
    let actual = sha256_file(&part)?;
    if actual != digest {
        // Never resume from content that failed verification.
        let _ = fs::remove_file(&part);
        return Err(FetchError::DigestMismatch {
            what: "blob",
            expected: digest.to_string(),
            actual,
        });
    }
    fs::rename(&part, &target).map_err(|e| FetchError::io(&target, e))?;
    Ok(target)
}

/// A validator usable in `If-Range`: a strong ETag, else Last-Modified.
fn validator(headers: &HeaderMap) -> Option<String> {
    let text = |h| {
        headers
            .get(h)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    text(header::ETAG)
        .filter(|e| !e.starts_with("W/"))
        .or_else(|| text(header::LAST_MODIFIED))
        .map(str::to_string)
}

pub(crate) fn fetch_url(
    client: &Client,
    opts: &FetchOptions,
    cache: &Cache,
    url: &str,
    max_bytes: u64,
) -> Result<PathBuf, FetchError> {
    let (body, _) = cache.url_paths(url);
    let part = body.with_extension("part");
    let part_meta = body.with_extension("part.json");
    let record = cache.url_record(url).filter(|_| body.is_file());
    // A partial download can be continued only if we know which version of the resource
    // it holds; the validator is saved the moment the download starts.
    let if_range = fs::read_to_string(&part_meta)
        .ok()
        .filter(|v| !v.is_empty());
    let resumable = if_range.is_some();
    let mut sink = FileSink::open(part.clone(), resumable)?;
    let mut conditional = Vec::new();
    if let Some(r) = &record {
        if let Some(etag) = &r.etag {
            conditional.push((header::IF_NONE_MATCH, etag.clone()));
        }
        if let Some(lm) = &r.last_modified {
            conditional.push((header::IF_MODIFIED_SINCE, lm.clone()));
        }
    }
    let req = Request {
        url,
        headers: &[],
        max_bytes,
        if_range,
        conditional,
    };
    let meta_path = part_meta.clone();
    let done = download(client, opts, &req, &mut sink, &mut |headers| {
        let v = validator(headers);
        write_atomic(&meta_path, v.clone().unwrap_or_default().as_bytes())?;
        Ok(OnStart::Validator(v))
    })?;
    if done.status == 304 {
        drop(sink);
        let _ = fs::remove_file(&part);
        tracing::info!(url, "not modified since the cached copy");
        return cache.cached_url(url);
    }
    let size = sink.offset();
    let part = sink.finish()?;
    let sha256 = sha256_file(&part)?;
    let text = |h| {
        done.headers
            .get(h)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let record = UrlRecord {
        url: url.to_string(),
        size,
        sha256,
        etag: text(header::ETAG),
        last_modified: text(header::LAST_MODIFIED),
    };
    // Drop the old record first: a crash between the two steps must not leave a record
    // that vouches for different bytes.
    let (_, record_path) = cache.url_paths(url);
    let _ = fs::remove_file(&record_path);
    fs::rename(&part, &body).map_err(|e| FetchError::io(&body, e))?;
    cache.put_url_record(&record)?;
    let _ = fs::remove_file(&part_meta);
    Ok(body)
}
