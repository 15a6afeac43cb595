//! The network layer: one blocking HTTP client with the behaviour a nightly cron job needs.
//!
//! - connect and read timeouts ([`FetchOptions::connect_timeout`], [`FetchOptions::read_timeout`]);
//! - retries with exponential backoff on connection errors, timeouts, truncated bodies,
//!   HTTP 408/429/5xx, honouring `Retry-After` on 429/503 up to [`FetchOptions::max_retry_after`];
//! - resumable downloads: a partial file in the cache is continued with an HTTP `Range`
//!   request (guarded by `If-Range` for URL downloads, by the digest for blobs);
//! - a content-keyed download cache ([`Cache`]): blobs by digest, URL downloads by URL with
//!   their validators, OCI tags by reference — so a failed run restarts cheaply and an
//!   offline run ([`Fetcher::offline`]) builds from the cache alone;
//! - progress bars on a terminal ([`ProgressMode::Auto`]) and `tracing` lines otherwise.
//!
//! Why blocking `reqwest` and not async: a kit build is a batch job that fetches a handful of
//! large files one after another; nothing is gained from concurrency that the upstreams'
//! rate limits would allow, and the blocking client keeps the library callable from a plain
//! `main` without a runtime. Its `timeout` applies to the wait for headers and to every
//! single body read, which is exactly a read timeout for multi-gigabyte downloads (a total
//! timeout would kill a slow but healthy transfer).
//!
//! `file://` URLs are read in place (never copied into the cache).

pub(crate) mod cache;
mod http;
mod progress;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use cache::{Cache, UrlRecord};
pub use http::{Fetched, sha256_file};
pub use progress::ProgressMode;

/// Why a download failed. Every variant names the URL (or digest) it was about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The server answered with an HTTP status that is not retried (or retries ran out).
    #[error("GET {url}: HTTP {status}{}", detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// A short excerpt of the response body, if any.
        detail: Option<String>,
    },
    /// HTTP 401: the caller may authenticate (the OCI bearer-token flow) and try again.
    #[error("GET {url}: HTTP 401 unauthorized (challenge: {challenge:?})")]
    Unauthorized {
        /// The URL requested.
        url: String,
        /// The `WWW-Authenticate` header, if the server sent one.
        challenge: Option<String>,
    },
    /// Every attempt failed; `last` is the reason the final attempt failed.
    #[error("GET {url}: gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// The URL requested.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// Why the final attempt failed (timeout, connection error, HTTP status, truncation).
        last: String,
    },
    /// The response is larger than the cap for this kind of download.
    #[error("GET {url}: response larger than the {limit}-byte limit")]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// Downloaded content does not hash to the digest it was requested by.
    #[error("{what} {expected} digest mismatch (content hashes to {actual})")]
    DigestMismatch {
        /// `blob` or `manifest`.
        what: &'static str,
        /// The digest that was asked for.
        expected: String,
        /// The digest of what was received.
        actual: String,
    },
    /// Downloaded content does not have the size its descriptor announced.
    #[error("{what} {digest} size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// `blob` or `manifest`.
        what: &'static str,
        /// The digest of the content.
        digest: String,
        /// The size announced by the descriptor.
        expected: u64,
        /// The size received.
        actual: u64,
    },
    /// Offline mode and the cache does not hold what was asked for.
    #[error("offline: {what} is not in the cache {}", cache.display())]
    NotCached {
        /// The URL, reference or digest asked for.
        what: String,
        /// The cache directory that was searched.
        cache: PathBuf,
    },
    /// The URL cannot be used (bad syntax or an unsupported scheme).
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A local file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl FetchError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> FetchError {
        FetchError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Network behaviour. The defaults suit a nightly job against ghcr.io, osv.dev and NVD.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Longest wait for a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Longest wait for response headers and for each body read.
    pub read_timeout: Duration,
    /// Attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled for each later one.
    pub initial_backoff: Duration,
    /// Upper bound of the exponential backoff.
    pub max_backoff: Duration,
    /// Upper bound on a server's `Retry-After`: a longer wait is cut to this.
    pub max_retry_after: Duration,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
            progress: ProgressMode::Log,
            user_agent: concat!("stella-kit/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Downloads through the cache; online ([`Fetcher::new`]) or from the cache alone
/// ([`Fetcher::offline`]).
#[derive(Debug)]
pub struct Fetcher {
    client: Option<reqwest::blocking::Client>,
    cache: Cache,
    options: FetchOptions,
}

impl Fetcher {
    /// An online fetcher that keeps its downloads in `cache_dir` (created if missing).
    pub fn new(
        cache_dir: impl Into<PathBuf>,
        options: FetchOptions,
    ) -> Result<Fetcher, FetchError> {
        let cache = Cache::open(cache_dir.into())?;
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.read_timeout)
            .user_agent(options.user_agent.clone())
            // Redirects are how ghcr.io hands out blobs (to its CDN); reqwest drops the
            // Authorization header when a redirect leaves the host.
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(Fetcher {
            client: Some(client),
            cache,
            options,
        })
    }

    /// An offline fetcher: every request is answered from `cache_dir` (a cache filled by an
    /// earlier online run) or fails with [`FetchError::NotCached`]. No socket is opened.
    pub fn offline(
        cache_dir: impl Into<PathBuf>,
        options: FetchOptions,
    ) -> Result<Fetcher, FetchError> {
        let dir = cache_dir.into();
        if !dir.is_dir() {
            return Err(FetchError::io(
                &dir,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "offline sources directory not found",
                ),
            ));
        }
        Ok(Fetcher {
            client: None,
            cache: Cache::open(dir)?,
            options,
        })
    }

    /// True when no network access will be attempted.
    pub fn is_offline(&self) -> bool {
        self.client.is_none()
    }

    /// The download cache.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The options in force.
    pub fn options(&self) -> &FetchOptions {
        &self.options
    }

    /// Fetches `url` (`https://`, `http://` or `file://`) into the cache and returns the path
    /// of the complete file.
    ///
    /// Online, a cached copy is revalidated with `If-None-Match` / `If-Modified-Since`
    /// (a 304 costs no transfer), and a partial download left by a failed run is resumed
    /// with `Range` + `If-Range`. Offline, the cached copy is used as is (its recorded
    /// SHA-256 is checked first). `file://` paths are returned in place.
    pub fn fetch_url(&self, url: &str, max_bytes: u64) -> Result<PathBuf, FetchError> {
        if let Some(path) = file_url_path(url)? {
            return check_local_file(url, path, max_bytes);
        }
        match &self.client {
            None => self.cache.cached_url(url),
            Some(client) => http::fetch_url(client, &self.options, &self.cache, url, max_bytes),
        }
    }

    /// GETs a small document into memory (manifests, tokens, NVD pages), with retries.
    /// Not cached; offline mode refuses it.
    pub fn get(
        &self,
        url: &str,
        headers: &[(&str, String)],
        max_bytes: u64,
    ) -> Result<Fetched, FetchError> {
        let client = self.client.as_ref().ok_or_else(|| FetchError::NotCached {
            what: url.to_string(),
            cache: self.cache.root().to_path_buf(),
        })?;
        http::get_small(client, &self.options, url, headers, max_bytes)
    }

    /// Makes sure the blob `digest` (`sha256:<hex>`, `size` bytes) is in the cache and returns
    /// its path. A cached copy is re-verified; otherwise it is downloaded from `url` (resuming
    /// a partial file), and its size and digest verified before it enters the cache.
    pub fn fetch_blob(
        &self,
        url: &str,
        headers: &[(&str, String)],
        digest: &str,
        size: u64,
    ) -> Result<PathBuf, FetchError> {
        if let Some(path) = self.cache.verified_blob(digest, size)? {
            return Ok(path);
        }
        let client = self.client.as_ref().ok_or_else(|| FetchError::NotCached {
            what: format!("blob {digest}"),
            cache: self.cache.root().to_path_buf(),
        })?;
        http::fetch_blob(
            client,
            &self.options,
            &self.cache,
            url,
            headers,
            digest,
            size,
        )
    }
}

/// For a `file://` URL, the local path; `None` for http(s); an error for other schemes.
pub(crate) fn file_url_path(url: &str) -> Result<Option<PathBuf>, FetchError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| FetchError::InvalidUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    match parsed.scheme() {
        "http" | "https" => Ok(None),
        "file" => parsed
            .to_file_path()
            .map(Some)
            .map_err(|()| FetchError::InvalidUrl {
                url: url.to_string(),
                reason: "not a local absolute path".into(),
            }),
        other => Err(FetchError::InvalidUrl {
            url: url.to_string(),
            reason: format!("unsupported scheme {other:?} (use https://, http:// or file://)"),
        }),
    }
}

fn check_local_file(url: &str, path: PathBuf, max_bytes: u64) -> Result<PathBuf, FetchError> {
    let meta = std::fs::metadata(&path).map_err(|e| FetchError::io(&path, e))?;
    if meta.len() > max_bytes {
        return Err(FetchError::TooLarge {
            url: url.to_string(),
            limit: max_bytes,
        });
    }
    Ok(path)
}
