//! An in-process HTTP server on 127.0.0.1:0 for the network tests: static files (OSV zips),
//! NVD 2.0 pages, and an OCI registry that demands the anonymous bearer-token flow — with
//! failure injection per path.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use sha2::{Digest as _, Sha256};

pub const TOKEN: &str = "test-anonymous-token";

/// What to do to the next request for a path.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and no body.
    Status(u16),
    /// Answer 429 (or 503) with this `Retry-After` value.
    RetryAfter(u16, String),
    /// Send the full Content-Length but only this many body bytes, then drop the connection.
    Truncate(usize),
    /// Wait this long before answering.
    Delay(Duration),
    /// Serve different bytes than the stored ones (same length).
    Corrupt,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub if_none_match: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Default)]
pub struct Inner {
    pub files: HashMap<String, (String, Vec<u8>)>,
    /// (repo, tag-or-digest) → (media type, bytes)
    pub manifests: HashMap<(String, String), (String, Vec<u8>)>,
    pub blobs: HashMap<String, Vec<u8>>,
    pub faults: HashMap<String, VecDeque<Fault>>,
    pub log: Vec<Seen>,
    pub nvd: Vec<serde_json::Value>,
}

pub struct Shared {
    pub port: u16,
    pub require_token: bool,
    pub inner: Mutex<Inner>,
}

pub struct TestServer {
    pub shared: Arc<Shared>,
    _thread: std::thread::JoinHandle<()>,
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", &sha256(bytes)[7..23])
}

impl TestServer {
    pub fn start(require_token: bool) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Shared {
            port,
            require_token,
            inner: Mutex::new(Inner::default()),
        });
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = axum::Router::new().fallback(handle).with_state(state);
                axum::serve(listener, app).await.expect("serve");
            });
        });
        TestServer {
            shared,
            _thread: thread,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.shared.port, path)
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.shared.port)
    }

    pub fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().expect("lock")
    }

    pub fn put_file(&self, path: &str, content_type: &str, bytes: Vec<u8>) {
        self.inner()
            .files
            .insert(path.to_string(), (content_type.to_string(), bytes));
    }

    pub fn fault(&self, path: &str, fault: Fault) {
        self.inner()
            .faults
            .entry(path.to_string())
            .or_default()
            .push_back(fault);
    }

    pub fn log(&self) -> Vec<Seen> {
        self.inner().log.clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Seen> {
        self.log().into_iter().filter(|s| s.path == path).collect()
    }

    pub fn put_blob(&self, bytes: Vec<u8>) -> String {
        let d = sha256(&bytes);
        self.inner().blobs.insert(d.clone(), bytes);
        d
    }

    /// Stores a manifest under its digest and under `tag`; returns its digest.
    pub fn put_manifest(&self, repo: &str, tag: &str, media_type: &str, bytes: Vec<u8>) -> String {
        let d = sha256(&bytes);
        let mut inner = self.inner();
        inner.manifests.insert(
            (repo.to_string(), d.clone()),
            (media_type.to_string(), bytes.clone()),
        );
        inner.manifests.insert(
            (repo.to_string(), tag.to_string()),
            (media_type.to_string(), bytes),
        );
        d
    }
}

fn respond(status: u16) -> axum::http::response::Builder {
    Response::builder().status(StatusCode::from_u16(status).expect("status"))
}

fn empty(status: u16) -> Response {
    respond(status).body(Body::empty()).expect("response")
}

fn json_error(status: u16, code: &str) -> Response {
    respond(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(
            r#"{{"errors":[{{"code":"{code}","message":"test"}}]}}"#
        )))
        .expect("response")
}

/// Serves `bytes` honouring `Range: bytes=N-` (and `If-Range`), applying a truncate or
/// corrupt fault.
fn serve_bytes(
    headers: &HeaderMap,
    content_type: &str,
    bytes: &[u8],
    extra: &[(&str, String)],
    fault: Option<&Fault>,
) -> (u16, Response) {
    let etag = etag_of(bytes);
    let range_start = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<usize>().ok());
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .is_none_or(|v| v.to_str().ok() == Some(etag.as_str()));
    let (status, start) = match range_start {
        Some(s) if if_range_ok && s < bytes.len() => (206u16, s),
        Some(s) if if_range_ok && s >= bytes.len() => return (416, empty(416)),
        _ => (200u16, 0),
    };
    let mut body = bytes[start..].to_vec();
    if matches!(fault, Some(Fault::Corrupt))
        && let Some(b) = body.first_mut()
    {
        *b ^= 0xff;
    }
    let full_len = body.len();
    let truncate = match fault {
        Some(Fault::Truncate(n)) => Some(*n),
        _ => None,
    };
    let mut b = respond(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, full_len.to_string())
        .header(header::ETAG, etag)
        .header(header::ACCEPT_RANGES, "bytes");
    if status == 206 {
        b = b.header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", start, bytes.len() - 1, bytes.len()),
        );
    }
    for (k, v) in extra {
        b = b.header(*k, v);
    }
    let body = match truncate {
        // A body of unknown length that fails part-way: hyper then drops the connection
        // with the announced Content-Length unfulfilled, like a proxy timing out mid-file.
        Some(n) => {
            body.truncate(n);
            // The pause lets hyper flush the first chunk before the failure aborts the
            // connection (otherwise the client may see no body bytes at all).
            let stream = futures_util::stream::unfold(Some(body), |state| async move {
                match state {
                    Some(chunk) => Some((Ok::<Vec<u8>, std::io::Error>(chunk), None)),
                    None => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Some((Err(std::io::Error::other("injected truncation")), None))
                    }
                }
            });
            Body::from_stream(stream)
        }
        None => Body::from(body),
    };
    (status, b.body(body).expect("response"))
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    // A request the registry will refuse with 401 does not consume a fault: faults are for
    // the authorized request that follows.
    let will_401 = s.require_token
        && path.starts_with("/v2/")
        && headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            != Some(&format!("Bearer {TOKEN}"));
    let fault = if will_401 {
        None
    } else {
        s.inner
            .lock()
            .expect("lock")
            .faults
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
    };
    if let Some(Fault::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let hv = |h: header::HeaderName| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (status, resp) = route(&s, &path, &query, &headers, fault.as_ref());
    s.inner.lock().expect("lock").log.push(Seen {
        method: method.to_string(),
        path,
        query,
        status,
        range: hv(header::RANGE),
        if_range: hv(header::IF_RANGE),
        if_none_match: hv(header::IF_NONE_MATCH),
        authorization: hv(header::AUTHORIZATION),
    });
    resp
}

fn route(
    s: &Shared,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    fault: Option<&Fault>,
) -> (u16, Response) {
    match fault {
        Some(Fault::Status(code)) => return (*code, empty(*code)),
        Some(Fault::RetryAfter(code, v)) => {
            return (
                *code,
                respond(*code)
                    .header(header::RETRY_AFTER, v.as_str())
                    .body(Body::empty())
                    .expect("response"),
            );
        }
        _ => {}
    }
    if path == "/token" {
        // The real flow sends service and scope; refuse a client that forgets them.
        if query_param(query, "service").is_none() || query_param(query, "scope").is_none() {
            return (400, json_error(400, "BAD_TOKEN_REQUEST"));
        }
        let body = format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#);
        return (
            200,
            respond(200)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .expect("response"),
        );
    }
    if let Some(rest) = path.strip_prefix("/v2/") {
        let authorized = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {TOKEN}"));
        let repo = rest
            .split_once("/manifests/")
            .or_else(|| rest.split_once("/blobs/"))
            .map(|(r, _)| r.to_string())
            .unwrap_or_default();
        if s.require_token && !authorized {
            let challenge = format!(
                r#"Bearer realm="http://127.0.0.1:{}/token",service="test-registry",scope="repository:{}:pull""#,
                s.port, repo
            );
            return (
                401,
                respond(401)
                    .header(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_str(&challenge).expect("header"),
                    )
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#))
                    .expect("response"),
            );
        }
        if rest.is_empty() {
            return (200, respond(200).body(Body::from("{}")).expect("response"));
        }
        let inner = s.inner.lock().expect("lock");
        if let Some((repo, reference)) = rest.split_once("/manifests/") {
            return match inner
                .manifests
                .get(&(repo.to_string(), reference.to_string()))
            {
                Some((mt, bytes)) => serve_bytes(
                    headers,
                    mt,
                    bytes,
                    &[("Docker-Content-Digest", sha256(bytes))],
                    fault,
                ),
                None => (404, json_error(404, "MANIFEST_UNKNOWN")),
            };
        }
        if let Some((_, digest)) = rest.split_once("/blobs/") {
            return match inner.blobs.get(digest) {
                Some(bytes) => serve_bytes(
                    headers,
                    "application/octet-stream",
                    bytes,
                    &[("Docker-Content-Digest", digest.to_string())],
                    fault,
                ),
                None => (404, json_error(404, "BLOB_UNKNOWN")),
            };
        }
        return (404, json_error(404, "NAME_UNKNOWN"));
    }
    if path == "/nvd" {
        let inner = s.inner.lock().expect("lock");
        let start: usize = query_param(query, "startIndex")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let per: usize = query_param(query, "resultsPerPage")
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000);
        let vulns: Vec<_> = inner.nvd.iter().skip(start).take(per).cloned().collect();
        let page = serde_json::json!({
            "resultsPerPage": vulns.len(), "startIndex": start, "totalResults": inner.nvd.len(),
            "format": "NVD_CVE", "version": "2.0", "timestamp": "2026-11-22T00:00:00.000",
            "vulnerabilities": vulns,
        });
        return serve_bytes(
            headers,
            "application/json",
            page.to_string().as_bytes(),
            &[],
            fault,
        );
    }
    let inner = s.inner.lock().expect("lock");
    match inner.files.get(path) {
        Some((ct, bytes)) => {
            let etag = etag_of(bytes);
            if headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                == Some(etag.as_str())
            {
                return (304, empty(304));
            }
            serve_bytes(headers, ct, bytes, &[], fault)
        }
        None => (404, empty(404)),
    }
}
