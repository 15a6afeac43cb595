//! The appliance over real loopback TCP: a [`Server`] running `serve_on` with a chosen
//! [`Config`], and a minimal std-only HTTP/1.1 client (the appliance's tree has no HTTP
//! client crate, and these tests need byte-level control of what is sent and when).

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use appliance::server::AppState;

/// `serve_on` on `127.0.0.1:0` in its own runtime, until [`Server::stop`] (graceful: waits
/// for open connections, so close them first) or drop (the runtime is torn down).
pub struct Server {
    pub addr: SocketAddr,
    rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Serves `st` (e.g. [`super::Env::state`] with the settings under test).
    pub fn start(st: AppState) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(appliance::server::serve_on(listener, st, async {
            let _ = rx.await;
        }));
        Self {
            addr,
            rt,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Shuts down gracefully; the store is released when this returns.
    pub fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            self.rt.block_on(task).expect("join").expect("serve");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// One raw HTTP/1.1 exchange on a new connection, read to EOF (send `Connection: close`);
/// returns (status, head, body).
pub fn raw_http(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(request.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = status_of(&out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (status, head.to_owned(), body.to_owned())
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

/// The value of header `name` (lower case, as hyper sends them) in a response head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads one response with a `Content-Length` (or none: an empty body) from a kept-alive
/// connection; returns (status, head, body).
pub fn read_response(s: &mut TcpStream) -> (u16, String, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).expect("read response head") {
            0 => panic!(
                "connection closed inside a response head: {:?}",
                String::from_utf8_lossy(&buf)
            ),
            _ => buf.push(byte[0]),
        }
    }
    let head = String::from_utf8(buf).expect("ASCII head");
    let len: usize = header(&head, "content-length").map_or(0, |v| v.parse().expect("length"));
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("read response body");
    let head = head.trim_end().to_owned();
    (
        status_of(&head),
        head,
        String::from_utf8(body).expect("UTF-8 body"),
    )
}

/// How a connection the server is expected to close ended.
#[derive(Debug)]
pub struct Closed {
    /// Time from the start of the wait until EOF or a reset.
    pub after: Duration,
    /// What the server sent before closing.
    pub received: Vec<u8>,
}

/// Waits up to `within` for the server to close `s` (EOF or a reset), sending one byte of
/// `drip` (if any) before each `every`-long wait; `None` if it is still open by then.
pub fn wait_closed(
    s: &mut TcpStream,
    mut drip: &[u8],
    every: Duration,
    within: Duration,
) -> Option<Closed> {
    let start = Instant::now();
    let mut received = Vec::new();
    s.set_read_timeout(Some(every)).expect("read timeout");
    let mut buf = [0u8; 1024];
    while start.elapsed() < within {
        if let Some((first, rest)) = drip.split_first() {
            if s.write_all(&[*first]).is_err() {
                return Some(Closed {
                    after: start.elapsed(),
                    received,
                });
            }
            drip = rest;
        }
        match s.read(&mut buf) {
            Ok(0) => {
                return Some(Closed {
                    after: start.elapsed(),
                    received,
                });
            }
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                return Some(Closed {
                    after: start.elapsed(),
                    received,
                });
            }
        }
    }
    None
}

/// Signs in on the console over real TCP (GET the form for its CSRF cookie, POST it);
/// returns the POST's (status, head, body).
pub fn console_login(addr: SocketAddr, user: &str, password: &str) -> (u16, String, String) {
    let (status, head, body) = raw_http(
        addr,
        &format!("GET /login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 200, "{head}");
    let cookie = set_cookie(&head, "stella_login_csrf").expect("login csrf cookie");
    let csrf = hidden_csrf(&body).expect("csrf field");
    let enc = |v: &str| {
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let form = format!(
        "user={}&password={}&csrf={}",
        enc(user),
        enc(password),
        enc(&csrf)
    );
    raw_http(
        addr,
        &format!(
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    )
}

/// The `name=value` pair of the cookie `name` set in a response head.
pub fn set_cookie(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("set-cookie").then(|| v.trim())
        })
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// The value of the first hidden `csrf` form field of a console page.
pub fn hidden_csrf(page: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker)? + marker.len();
    let end = start + page[start..].find('"')?;
    Some(page[start..end].to_owned())
}
