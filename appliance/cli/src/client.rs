//! The HTTP side: a small blocking client (ureq over rustls) with bounded retries, and the
//! mapping of the appliance's answers to [`CliError`]s.
//!
//! Retry policy (why it is this narrow): a retried `POST /api/v1/scan` that the appliance
//! had already processed would spend a second scan of the day's quota, so only failures
//! where the request cannot have been processed are retried for non-idempotent calls —
//! the connection could not be made, or a gateway answered 502/503/504. Every other 4xx/5xx
//! is final. Idempotent `GET`s are also retried on read timeouts and resets.
//!
//! An answer sent before the upload ended is read, not lost: the appliance refuses an
//! oversized SBOM (413) from its `Content-Length` alone, answers, and closes, so the rest
//! of the upload fails with a broken pipe or a reset while that answer already waits in
//! the socket. `EarlyAnswer`, a link of the connector chain, stops the upload at that write
//! error and lets the answer be read as usual; only when none follows is the write error
//! the outcome (exit 4). It uses ureq's `unversioned::transport` API (not covered by
//! semver: a ureq update may need this module adjusted; Cargo.lock pins the version).

use crate::error::CliError;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use ureq::http::{HeaderMap, Response};
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, RustlsConnector,
    TcpConnector, Transport,
};

/// Largest answer read from the appliance (a scan of a huge SBOM with many findings).
pub const MAX_ANSWER_BYTES: u64 = 256 * 1024 * 1024;
/// Largest `--ca-file` read.
pub const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// How to reach the appliance.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL, e.g. `https://appliance.plant7:8443` (a path prefix is kept).
    pub server: String,
    /// The client token (never printed).
    pub token: String,
    /// Timeout of one whole request (connect, send, receive).
    pub timeout: Duration,
    /// Site CA certificates (PEM) that replace the built-in public roots.
    pub ca_file: Option<PathBuf>,
    /// Retries after the first attempt, for the failures described in the module docs.
    pub retries: u32,
    /// Delay before the first retry; doubles each time (capped at 8 s).
    pub backoff: Duration,
}

/// The rate-limit headers of an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// `X-RateLimit-Limit`: scans per UTC day.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`: unix seconds of the next reset.
    pub reset: Option<u64>,
}

impl RateLimit {
    fn from_headers(h: &HeaderMap) -> Self {
        let num = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            limit: num("x-ratelimit-limit"),
            remaining: num("x-ratelimit-remaining"),
            reset: num("x-ratelimit-reset"),
        }
    }

    /// The stderr line, e.g. `quota: 12/333 scans left today, resets 00:00 UTC`.
    #[must_use]
    pub fn line(&self) -> Option<String> {
        let (remaining, limit) = (self.remaining?, self.limit?);
        let reset = self
            .reset
            .and_then(|r| time::OffsetDateTime::from_unix_timestamp(i64::try_from(r).ok()?).ok())
            .map(|t| format!(", resets {:02}:{:02} UTC", t.hour(), t.minute()))
            .unwrap_or_default();
        Some(format!(
            "quota: {remaining}/{limit} scans left today{reset}"
        ))
    }
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Rate-limit headers.
    pub rate: RateLimit,
}

/// The write error that ended the current request's upload early, if one did.
type BrokeOff = Arc<Mutex<Option<std::io::Error>>>;

/// Whether a write error means the peer stopped reading (it may have answered first).
fn peer_stopped_reading(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted
    )
}

/// The link of the connector chain between the socket and TLS (ureq's default chain with
/// this one added): wraps each connection in an [`EarlyAnswerTransport`]. See the module
/// docs. Below TLS, not above it: rustls flushes what it still holds to send before it
/// reads, so above it the answer's read would fail on the same broken pipe.
#[derive(Debug)]
struct EarlyAnswer {
    broke_off: BrokeOff,
}

impl<In: Transport> Connector<In> for EarlyAnswer {
    type Out = EarlyAnswerTransport<In>;

    fn connect(
        &self,
        _details: &ConnectionDetails<'_>,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| EarlyAnswerTransport {
            inner,
            broke_off: Arc::clone(&self.broke_off),
            stopped: false,
        }))
    }
}

/// A connection whose first "peer stopped reading" write error ends the upload instead of
/// the request: the rest of the body is dropped, the error is kept in `broke_off`, and
/// reading the answer goes on. The connection then counts as closed (never pooled).
#[derive(Debug)]
struct EarlyAnswerTransport<T> {
    inner: T,
    broke_off: BrokeOff,
    stopped: bool,
}

impl<T: Transport> Transport for EarlyAnswerTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.stopped {
            return Ok(());
        }
        match self.inner.transmit_output(amount, timeout) {
            Err(ureq::Error::Io(e)) if peer_stopped_reading(&e) => {
                self.stopped = true;
                *self
                    .broke_off
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(e);
                Ok(())
            }
            other => other,
        }
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.maybe_await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        !self.stopped && self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// The blocking client.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    broke_off: BrokeOff,
    base: String,
    token: String,
    retries: u32,
    backoff: Duration,
}

/// Checks and normalises `--server`: http(s), no query or fragment, no trailing slash.
///
/// # Errors
/// [`CliError::Usage`] naming what is wrong.
pub fn normalize_server(url: &str) -> Result<String, CliError> {
    let u = url.trim();
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--server {u:?} must start with http:// or https:// (e.g. http://127.0.0.1:8080)"
            ))
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(CliError::Usage(format!("--server {u:?} has no host")));
    }
    if u.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        return Err(CliError::Usage(format!(
            "--server {u:?} must be a plain base URL (no spaces, query or fragment)"
        )));
    }
    Ok(u.trim_end_matches('/').to_owned())
}

/// Checks a token before it goes into a header; the error never contains the token.
///
/// # Errors
/// [`CliError::Usage`] when it is empty or holds characters a header cannot carry.
pub fn check_token(token: &str) -> Result<(), CliError> {
    if token.is_empty() {
        return Err(CliError::Usage(
            "the token is empty (set --token, STELLA_TOKEN or STELLA_TOKEN_FILE)".into(),
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CliError::Usage(
            "the token contains spaces or non-ASCII characters; check that the whole token, and only it, was copied".into(),
        ));
    }
    Ok(())
}

fn load_roots(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, CliError> {
    let read = |source| CliError::Read {
        what: "CA file",
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut pem = Vec::new();
    file.take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(read)?;
    if pem.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(CliError::BadInput {
            what: "CA file",
            path: path.to_owned(),
            reason: format!("larger than {MAX_CA_FILE_BYTES} bytes"),
        });
    }
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(CliError::BadInput {
                    what: "CA file",
                    path: path.to_owned(),
                    reason: format!("not valid PEM: {e}"),
                });
            }
        }
    }
    if certs.is_empty() {
        return Err(CliError::BadInput {
            what: "CA file",
            path: path.to_owned(),
            reason: "contains no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        });
    }
    Ok(certs)
}

/// Whether a transport error means the request cannot have reached the application.
fn never_delivered(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        ureq::Error::Timeout(t) => matches!(t, ureq::Timeout::Connect | ureq::Timeout::Resolve),
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionRefused | K::NotConnected | K::AddrNotAvailable
        ),
        _ => false,
    }
}

/// Whether a transport error is worth retrying for an idempotent request.
fn transient(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    never_delivered(e)
        || matches!(e, ureq::Error::Timeout(_))
        || matches!(e, ureq::Error::Io(io) if matches!(io.kind(), K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof | K::TimedOut))
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => {
            format!("timed out ({t:?}); raise --timeout if the appliance is just slow")
        }
        other => {
            let text = other.to_string();
            let lower = text.to_ascii_lowercase();
            if matches!(other, ureq::Error::Rustls(_))
                || lower.contains("certificate")
                || lower.contains("issuer")
            {
                format!(
                    "{text}; if the appliance's certificate comes from a site CA or is self-signed, pass that CA with --ca-file"
                )
            } else {
                text
            }
        }
    }
}

/// The `{"error","message"}` body of an API error, leniently.
#[derive(Debug, Default)]
pub struct ApiError {
    /// Error code, or `-`.
    pub code: String,
    /// The human sentence (or a cleaned excerpt of a non-JSON body).
    pub message: String,
    /// `resets_at` (429 only).
    pub resets_at: Option<String>,
}

impl ApiError {
    /// Parses an error body; never fails.
    #[must_use]
    pub fn parse(status: u16, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Raw {
            error: Option<String>,
            message: Option<String>,
            resets_at: Option<String>,
        }
        let clean = |s: &str| -> String {
            let s: String = s
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            crate::format::table::fit(s.trim(), 300)
        };
        match serde_json::from_slice::<Raw>(body) {
            Ok(raw) => Self {
                code: raw.error.map(|c| clean(&c)).unwrap_or_else(|| "-".into()),
                message: raw
                    .message
                    .map(|m| clean(&m))
                    .unwrap_or_else(|| format!("HTTP {status}")),
                resets_at: raw.resets_at.map(|r| clean(&r)),
            },
            Err(_) => {
                let text = String::from_utf8_lossy(&body[..body.len().min(600)]).into_owned();
                let text = clean(&text);
                Self {
                    code: "-".into(),
                    message: if text.is_empty() {
                        format!("HTTP {status}")
                    } else {
                        text
                    },
                    resets_at: None,
                }
            }
        }
    }
}

fn rfc3339(t: SystemTime) -> Option<String> {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// When a 429 says the quota resets: `Retry-After` (seconds or HTTP-date), else
/// `X-RateLimit-Reset` (unix seconds), else the body's `resets_at` (RFC 3339).
#[must_use]
pub fn quota_reset(headers: &HeaderMap, body: &ApiError, now: SystemTime) -> Option<SystemTime> {
    if let Some(v) = headers.get("retry-after").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if let Ok(secs) = v.parse::<u64>() {
            return now.checked_add(Duration::from_secs(secs));
        }
        if let Ok(t) = httpdate::parse_http_date(v) {
            return Some(t);
        }
    }
    if let Some(reset) = RateLimit::from_headers(headers).reset {
        return UNIX_EPOCH.checked_add(Duration::from_secs(reset));
    }
    let at = body.resets_at.as_deref()?;
    let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
    Some(SystemTime::from(t))
}

/// Maps a non-2xx answer to its error (and so its exit code).
#[must_use]
pub fn classify(status: u16, headers: &HeaderMap, body: &[u8]) -> CliError {
    let api = ApiError::parse(status, body);
    match status {
        401 | 403 => CliError::TokenRefused {
            status,
            message: api.message,
        },
        429 => {
            let retry_at = quota_reset(headers, &api, SystemTime::now());
            CliError::QuotaExhausted {
                resets_at: api.resets_at.clone().or_else(|| retry_at.and_then(rfc3339)),
                message: api.message,
                waited: false,
                retry_at,
            }
        }
        500.. => CliError::Server {
            status,
            code: api.code,
            message: api.message,
        },
        _ => CliError::Rejected {
            status,
            code: api.code,
            message: api.message,
        },
    }
}

enum Method<'a> {
    Get,
    Post(&'a [u8]),
}

impl Client {
    /// Builds the client (loads `--ca-file` now, so a bad file fails before any upload).
    ///
    /// # Errors
    /// Bad server URL, bad token, unreadable or empty CA file.
    pub fn new(cfg: &ClientConfig) -> Result<Self, CliError> {
        let base = normalize_server(&cfg.server)?;
        check_token(&cfg.token)?;
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(cfg.timeout))
            .timeout_connect(Some(cfg.timeout.min(Duration::from_secs(10))))
            .user_agent(concat!("stella/", env!("CARGO_PKG_VERSION")))
            // The token must never follow a redirect to another host.
            .max_redirects(0);
        if let Some(ca) = &cfg.ca_file {
            let roots = load_roots(ca)?;
            builder = builder.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
                    .build(),
            );
        }
        let broke_off = BrokeOff::default();
        // ureq's DefaultConnector (CONNECT proxy, TCP, rustls) with EarlyAnswer on the socket.
        let connector = ()
            .chain(ConnectProxyConnector::default())
            .chain(TcpConnector::default())
            .chain(EarlyAnswer {
                broke_off: Arc::clone(&broke_off),
            })
            .chain(RustlsConnector::default());
        Ok(Self {
            agent: ureq::Agent::with_parts(
                builder.build(),
                connector,
                ureq::unversioned::resolver::DefaultResolver::default(),
            ),
            broke_off,
            base,
            token: cfg.token.clone(),
            retries: cfg.retries,
            backoff: cfg.backoff,
        })
    }

    /// The normalised base URL.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The write error that ended this attempt's upload early, if one did.
    fn take_broke_off(&self) -> Option<std::io::Error> {
        self.broke_off
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.backoff
            .saturating_mul(factor)
            .min(Duration::from_secs(8))
    }

    fn exchange(
        &self,
        method: Method<'_>,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Answer, CliError> {
        let url = format!("{}{}", self.base, path);
        let idempotent = matches!(method, Method::Get);
        let tries = self.retries.saturating_add(1);
        let auth = format!("Bearer {}", self.token);
        let mut attempt = 0;
        loop {
            if attempt > 0 {
                std::thread::sleep(self.delay(attempt));
            }
            attempt += 1;
            let last = attempt >= tries;
            self.take_broke_off();
            let sent = match method {
                Method::Get => {
                    let mut req = self.agent.get(&url).header("Authorization", &auth);
                    for (k, v) in query {
                        req = req.query(*k, *v);
                    }
                    req.header("Accept", "application/json").call()
                }
                Method::Post(body) => {
                    let mut req = self.agent.post(&url).header("Authorization", &auth);
                    for (k, v) in query {
                        req = req.query(*k, *v);
                    }
                    req.header("Accept", "application/json")
                        .header("Content-Type", "application/json")
                        .send(body)
                }
            };
            let mut resp: Response<ureq::Body> = match sent {
                Ok(r) => r,
                Err(e) => {
                    // The upload broke off and no answer could be read after it: the
                    // write error is what happened (and decides about retrying).
                    let (e, detail) = match self.take_broke_off() {
                        Some(w) => {
                            let read = describe(&e);
                            let w = ureq::Error::Io(w);
                            let detail = format!(
                                "{} (the connection closed while the request was sent, and no answer could be read: {read})",
                                describe(&w)
                            );
                            (w, detail)
                        }
                        None => {
                            let detail = describe(&e);
                            (e, detail)
                        }
                    };
                    let retry = if idempotent {
                        transient(&e)
                    } else {
                        never_delivered(&e)
                    };
                    if retry && !last {
                        continue;
                    }
                    return Err(CliError::Unreachable {
                        url,
                        tries: attempt,
                        detail,
                    });
                }
            };
            let status = resp.status().as_u16();
            // An answer that came before the upload ended: a refusal (413, 401, 429 ...) is
            // reported as such below; a success cannot be one (the body was not all read).
            let broke_off = self.take_broke_off();
            if let Some(w) = &broke_off
                && (200..300).contains(&status)
            {
                return Err(CliError::BadResponse {
                    url,
                    detail: format!(
                        "HTTP {status} before the request was fully sent (the upload broke off: {w})"
                    ),
                });
            }
            if matches!(status, 502..=504) && !last {
                continue;
            }
            // Sized from Content-Length up front (at most 16 MiB: a server's header alone
            // never reserves more): growing a 300 kB answer from a small buffer cost page
            // faults and copies.
            let expected = resp
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(0, |n| n.min(16 << 20));
            let mut buf = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
            let read = {
                use std::io::Read as _;
                resp.body_mut()
                    .with_config()
                    .limit(MAX_ANSWER_BYTES)
                    .reader()
                    .read_to_end(&mut buf)
            };
            let body = match read.map(|_| buf).map_err(ureq::Error::from) {
                Ok(b) => b,
                Err(ureq::Error::BodyExceedsLimit(n)) => {
                    return Err(CliError::BadResponse {
                        url,
                        detail: format!("answer larger than {n} bytes"),
                    });
                }
                Err(e) => {
                    if idempotent && transient(&e) && !last {
                        continue;
                    }
                    return Err(CliError::Unreachable {
                        url,
                        tries: attempt,
                        detail: format!("the answer broke off: {}", describe(&e)),
                    });
                }
            };
            if !(200..300).contains(&status) {
                return Err(classify(status, resp.headers(), &body));
            }
            return Ok(Answer {
                status,
                body,
                rate: RateLimit::from_headers(resp.headers()),
            });
        }
    }

    /// `POST /api/v1/scan`.
    ///
    /// # Errors
    /// See [`classify`] and the retry policy in the module docs.
    pub fn scan(
        &self,
        sbom: &[u8],
        name: Option<&str>,
        image_digest: Option<&str>,
    ) -> Result<Answer, CliError> {
        let mut query = Vec::new();
        if let Some(n) = name {
            query.push(("name", n));
        }
        if let Some(d) = image_digest {
            query.push(("image_digest", d));
        }
        self.exchange(Method::Post(sbom), "/api/v1/scan", &query)
    }

    /// `GET /api/v1/quota`.
    ///
    /// # Errors
    /// See [`classify`].
    pub fn quota(&self) -> Result<Answer, CliError> {
        self.exchange(Method::Get, "/api/v1/quota", &[])
    }

    /// `GET /api/v1/scans/{id}/evidence` (the id is path-encoded).
    ///
    /// # Errors
    /// See [`classify`].
    pub fn evidence(&self, scan_id: &str) -> Result<Answer, CliError> {
        let id = percent_encoding::utf8_percent_encode(scan_id, percent_encoding::NON_ALPHANUMERIC);
        self.exchange(Method::Get, &format!("/api/v1/scans/{id}/evidence"), &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::HeaderValue;

    #[test]
    fn server_urls() {
        assert_eq!(
            normalize_server("http://127.0.0.1:8080/").expect("ok"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_server("https://a.b/prefix").expect("ok"),
            "https://a.b/prefix"
        );
        for (url, why) in [
            ("127.0.0.1:8080", "must start with http:// or https://"),
            ("ftp://x", "must start with http:// or https://"),
            ("http://", "has no host"),
            ("http://x/?a=1", "must be a plain base URL"),
        ] {
            let e = normalize_server(url).expect_err(url);
            assert!(
                matches!(&e, CliError::Usage(m) if m.contains(why)),
                "{url}: {e}"
            );
        }
    }

    #[test]
    fn token_errors_never_echo_the_token() {
        let e = check_token("abc def-secret").expect_err("space");
        assert!(!e.to_string().contains("secret"));
        let e = check_token("").expect_err("empty");
        assert!(
            matches!(&e, CliError::Usage(m) if m.starts_with("the token is empty")),
            "{e}"
        );
        assert!(
            matches!(&check_token("abc def-secret"), Err(CliError::Usage(m)) if m.contains("spaces or non-ASCII")),
        );
        assert!(check_token("eyJ.abc.def").is_ok());
    }

    #[test]
    fn statuses_map_to_exit_codes() {
        let h = HeaderMap::new();
        let body = br#"{"error":"bad_sbom","message":"not a CycloneDX, SPDX or Syft document"}"#;
        assert_eq!(classify(400, &h, body).exit_code(), 2);
        assert_eq!(classify(413, &h, b"").exit_code(), 2);
        let e = classify(
            401,
            &h,
            br#"{"error":"bad_token","message":"token expired"}"#,
        );
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().starts_with("token refused: token expired"),
            "{e}"
        );
        assert_eq!(classify(429, &h, b"{}").exit_code(), 3);
        assert_eq!(classify(500, &h, b"<html>oops</html>").exit_code(), 4);
        assert_eq!(classify(503, &h, b"").exit_code(), 4);
        let e = classify(400, &h, body);
        assert!(e.to_string().contains("bad_sbom"));
        assert!(e.to_string().contains("not a CycloneDX"));
    }

    #[test]
    fn quota_reset_sources_in_order() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let api = ApiError {
            resets_at: Some("1970-01-13T00:00:00Z".into()),
            ..ApiError::default()
        };
        let mut h = HeaderMap::new();
        assert_eq!(
            quota_reset(&h, &api, now),
            Some(UNIX_EPOCH + Duration::from_secs(12 * 86400))
        );
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1000500"));
        assert_eq!(
            quota_reset(&h, &api, now),
            Some(UNIX_EPOCH + Duration::from_secs(1_000_500))
        );
        h.insert(
            "retry-after",
            HeaderValue::from_static("Thu, 01 Jan 1970 00:16:40 GMT"),
        );
        assert_eq!(
            quota_reset(&h, &api, now),
            Some(UNIX_EPOCH + Duration::from_secs(1000))
        );
        h.insert("retry-after", HeaderValue::from_static("30"));
        assert_eq!(
            quota_reset(&h, &api, now),
            Some(now + Duration::from_secs(30))
        );
    }

    #[test]
    fn quota_line() {
        let r = RateLimit {
            limit: Some(333),
            remaining: Some(12),
            reset: Some(86400 * 20000),
        };
        assert_eq!(
            r.line().as_deref(),
            Some("quota: 12/333 scans left today, resets 00:00 UTC")
        );
        assert_eq!(RateLimit::default().line(), None);
    }

    #[test]
    fn non_json_error_bodies_are_cleaned() {
        let e = ApiError::parse(502, b"<html>\n\x1b[31mBad gateway</html>");
        assert!(!e.message.contains('\x1b'));
        assert!(!e.message.contains('\n'));
        assert_eq!(e.code, "-");
    }
}
