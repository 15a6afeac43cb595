//! `serve` over TLS on loopback: a site CA and a server certificate for
//! `localhost`/`127.0.0.1` generated here with rcgen, a real rustls client (no HTTP
//! client crate: the request is written by hand, as the appliance must not link one even
//! in tests), and the refusals — plain HTTP to the TLS port, a client that does not trust
//! the CA, a stalled handshake — none of which stops the server. Also the startup
//! refusals for bad certificate/key files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use appliance::server::tls::{self, TlsError, TlsFiles};
use appliance::server::{AppState, Config, HSTS, ServeError, ServeOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A throw-away site PKI in a temp dir: CA, and a server certificate signed by it.
struct Pki {
    dir: tempfile::TempDir,
    ca: CertificateDer<'static>,
    files: TlsFiles,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("ca key")).expect("ca cert")
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("tmp");
    let ca = ca("Stella test site CA");
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "appliance.test");
    let cert = params.signed_by(&key, &ca).expect("server cert");
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    // The chain as a site would install it: end-entity, then the CA.
    std::fs::write(&files.cert, format!("{}{}", cert.pem(), ca.pem())).expect("cert.pem");
    std::fs::write(&files.key, key.serialize_pem()).expect("key.pem");
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("ca.pem");
    Pki {
        ca: ca.der().clone(),
        dir,
        files,
    }
}

fn client(
    trusted: &CertificateDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).expect("root");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// One HTTP/1.1 answer, read to the end of the connection.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
    alpn: Option<Vec<u8>>,
    version: Option<rustls::ProtocolVersion>,
}

impl Answer {
    fn headers(&self, name: &str) -> Vec<&str> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim())
            .collect()
    }
}

/// Sends `request` (a whole HTTP/1.1 request with `Connection: close`) over TLS.
async fn https(
    addr: SocketAddr,
    connector: &TlsConnector,
    request: &str,
) -> Result<Answer, std::io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await?;
    let (_, conn) = tls.get_ref();
    let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
    let version = conn.protocol_version();
    tls.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw).await {
        Ok(_) => {}
        // A peer that closes without close_notify: what was read is still the answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => return Err(e),
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    Ok(Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
        alpn,
        version,
    })
}

fn get(path: &str, cookie: &str) -> String {
    let cookie = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{cookie}Connection: close\r\n\r\n")
}

/// A server over TLS on 127.0.0.1:0 in the test's runtime.
struct Running {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(state: AppState, files: &TlsFiles) -> Running {
    let config = tls::load(files).expect("load TLS files");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(appliance::server::serve_tls_on(
        listener,
        state,
        config,
        async {
            let _ = rx.await;
        },
    ));
    Running { addr, stop, task }
}

impl Running {
    /// Graceful shutdown must finish promptly, as on the plain path.
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("graceful shutdown within 10 s")
            .expect("join")
            .expect("serve ended cleanly");
    }
}

fn empty_state(root: &Path) -> AppState {
    empty_state_with(root, Config::default())
}

fn empty_state_with(root: &Path, config: Config) -> AppState {
    let data = root.join("data");
    crate::util::init_appliance(
        &data,
        &crate::util::vendor(),
        crate::util::fast_store_options(),
        time::OffsetDateTime::now_utc(),
    );
    AppState::open(&data, config).expect("open state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_and_bad_clients_never_stop_it() {
    let pki = pki();
    // A handshake has min(HANDSHAKE_TIMEOUT, header_timeout_secs) to finish: 2 s here, so
    // step 7 does not wait the default 10 s.
    let handshake_timeout = Duration::from_secs(2);
    let config = Config {
        header_timeout_secs: handshake_timeout.as_secs(),
        ..Config::default()
    };
    let state = empty_state_with(pki.dir.path(), config);
    let server = start(state, &pki.files).await;
    let trusting = client(&pki.ca, rustls::DEFAULT_VERSIONS);

    // 1. HTTPS works: TLS 1.3 by default, ALPN http/1.1 (h2 is offered but not spoken),
    //    and HSTS on the answer.
    let a = https(server.addr, &trusting, &get("/healthz", ""))
        .await
        .expect("https /healthz");
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.version, Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(a.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(a.headers("strict-transport-security"), vec![HSTS]);

    // 2. TLS 1.2 is accepted too.
    let tls12 = client(&pki.ca, &[&rustls::version::TLS12]);
    let a = https(server.addr, &tls12, &get("/healthz", ""))
        .await
        .expect("https over TLS 1.2");
    assert_eq!(a.status, 200);
    assert_eq!(a.version, Some(rustls::ProtocolVersion::TLSv1_2));

    // 3. Plain HTTP to the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(server.addr).await.expect("connect");
    plain
        .write_all(get("/healthz", "").as_bytes())
        .await
        .expect("write");
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut raw))
        .await
        .expect("the server closes the plain connection");
    assert!(
        !raw.starts_with(b"HTTP/"),
        "plain HTTP answered: {:?}",
        String::from_utf8_lossy(&raw)
    );

    // 4. A client that does not trust the site CA refuses the handshake.
    let stranger_ca = ca("Some other CA");
    let untrusting = client(stranger_ca.der(), rustls::DEFAULT_VERSIONS);
    let e = https(server.addr, &untrusting, &get("/healthz", ""))
        .await
        .expect_err("untrusted certificate");
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");

    // 5. Clients that open a connection and never start the handshake (slowloris) hold
    //    their own slot only: others are served meanwhile.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        stalled.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    let a = tokio::time::timeout(
        Duration::from_secs(5),
        https(server.addr, &trusting, &get("/readyz", "")),
    )
    .await
    .expect("served while handshakes stall")
    .expect("https /readyz");
    assert!(a.status == 200 || a.status == 503, "{a:?}");

    // 6. After all of that the server still serves.
    let a = https(server.addr, &trusting, &get("/healthz", ""))
        .await
        .expect("https /healthz again");
    assert_eq!(a.status, 200);

    // 7. A stalled handshake is cut off by the server after the handshake timeout (and
    //    not before: a fresh stalled connection stays open for most of it).
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(
        handshake_timeout + Duration::from_secs(5),
        stalled[0].read(&mut buf),
    )
    .await
    .expect("the server closes a stalled handshake");
    assert_eq!(n.expect("read"), 0, "closed without an answer");
    let mut late = TcpStream::connect(server.addr).await.expect("connect");
    let opened = std::time::Instant::now();
    let n = tokio::time::timeout(
        handshake_timeout + Duration::from_secs(5),
        late.read(&mut buf),
    )
    .await
    .expect("the server closes a stalled handshake");
    assert_eq!(n.expect("read"), 0);
    assert!(
        opened.elapsed() >= handshake_timeout - Duration::from_millis(200),
        "closed after {:?}, before the {handshake_timeout:?} timeout",
        opened.elapsed()
    );
    drop(stalled);
    server.stop().await;
}

fn percent(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn set_cookie<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.headers("set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {a:?}"))
}

fn has_secure(cookie: &str) -> bool {
    cookie
        .split(';')
        .any(|attr| attr.trim().eq_ignore_ascii_case("secure"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_login_over_tls_sets_secure_cookies() {
    let pki = pki();
    let site = crate::util::site::site();
    let state = AppState::open(&site.data, Config::default()).expect("open state");
    let server = start(state, &pki.files).await;
    let c = client(&pki.ca, rustls::DEFAULT_VERSIONS);

    let page = https(server.addr, &c, &get("/login", ""))
        .await
        .expect("GET /login");
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.headers("strict-transport-security"), vec![HSTS]);
    let csrf_cookie = set_cookie(&page, "stella_login_csrf");
    assert!(has_secure(csrf_cookie), "{csrf_cookie}");
    let csrf_pair = csrf_cookie.split(';').next().expect("pair").to_owned();
    let marker = "name=\"csrf\" value=\"";
    let start = page.body.find(marker).expect("csrf field") + marker.len();
    let csrf = &page.body[start..start + page.body[start..].find('"').expect("quote")];

    let form = format!(
        "user=admin&password={}&csrf={}",
        percent(&site.password),
        percent(csrf)
    );
    let post = format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\nCookie: {csrf_pair}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    let login = https(server.addr, &c, &post).await.expect("POST /login");
    assert_eq!(login.status, 303, "login succeeds: {login:?}");
    let session = set_cookie(&login, "stella_session");
    assert!(has_secure(session), "{session}");
    assert!(
        session.to_ascii_lowercase().contains("httponly"),
        "{session}"
    );

    // The session works over TLS.
    let pair = session.split(';').next().expect("pair");
    let dash = https(server.addr, &c, &get("/", pair))
        .await
        .expect("GET /");
    assert_eq!(dash.status, 200, "{dash:?}");
    server.stop().await;
}

#[tokio::test]
async fn plain_http_router_keeps_cookies_without_secure_and_sends_no_hsts() {
    use tower::ServiceExt as _;
    let root = tempfile::tempdir().expect("tmp");
    let state = empty_state(root.path());
    let req = axum::http::Request::builder()
        .uri("/login")
        .body(axum::body::Body::empty())
        .expect("request");
    let resp = appliance::server::router(state)
        .oneshot(req)
        .await
        .expect("infallible");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("strict-transport-security").is_none());
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("stella_login_csrf="))
        .expect("csrf cookie");
    assert!(!has_secure(cookie), "{cookie}");
}

// --- startup refusals -------------------------------------------------------------------

fn load_err(cert: &Path, key: &Path) -> TlsError {
    tls::load(&TlsFiles {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
    })
    .expect_err("refused")
}

#[test]
fn bad_certificate_or_key_files_are_refused_naming_the_file() {
    let pki = pki();
    let d = pki.dir.path();
    let (cert, key) = (&pki.files.cert, &pki.files.key);

    // the good pair loads
    tls::load(&pki.files).expect("good pair");

    // missing key file
    let missing = d.join("nope.pem");
    let e = load_err(cert, &missing);
    assert!(
        matches!(
            e,
            TlsError::Read {
                what: "private key",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains(&*missing.to_string_lossy()), "{e}");

    // the key of another certificate
    let other = KeyPair::generate().expect("key");
    let other_key = d.join("other-key.pem");
    std::fs::write(&other_key, other.serialize_pem()).expect("write");
    let e = load_err(cert, &other_key);
    assert!(matches!(e, TlsError::Mismatch { .. }), "{e:?}");
    assert!(e.to_string().contains("does not match"), "{e}");
    assert!(e.to_string().contains(&*other_key.to_string_lossy()), "{e}");

    // files swapped: no certificate in the key file, no key in the certificate file
    let e = load_err(key, key);
    assert!(matches!(e, TlsError::NoCertificate { .. }), "{e:?}");
    let e = load_err(cert, cert);
    assert!(matches!(e, TlsError::NoKey { .. }), "{e:?}");
    assert!(e.to_string().contains(&*cert.to_string_lossy()), "{e}");

    // not PEM at all / a broken PEM body / a certificate block that is not X.509
    let junk = d.join("junk.pem");
    std::fs::write(&junk, "hello\n").expect("write");
    assert!(matches!(
        load_err(&junk, key),
        TlsError::NoCertificate { .. }
    ));
    std::fs::write(
        &junk,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let e = load_err(&junk, key);
    assert!(
        matches!(
            e,
            TlsError::Pem {
                what: "certificate",
                ..
            }
        ),
        "{e:?}"
    );
    std::fs::write(
        &junk,
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let e = load_err(&junk, key);
    assert!(matches!(e, TlsError::BadCertificate { .. }), "{e:?}");
    std::fs::write(
        &junk,
        "-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let e = load_err(cert, &junk);
    assert!(matches!(e, TlsError::BadKey { .. }), "{e:?}");

    // oversized: refused before parsing
    let big = d.join("big.pem");
    std::fs::write(&big, vec![b'a'; (tls::MAX_PEM_BYTES + 1) as usize]).expect("write");
    assert!(matches!(load_err(&big, key), TlsError::TooLarge { .. }));
    // a directory
    assert!(matches!(load_err(d, key), TlsError::Read { .. }));
}

#[tokio::test]
async fn serve_refuses_to_start_on_bad_tls_settings() {
    let pki = pki();
    let opts = |cert: Option<PathBuf>, key: Option<PathBuf>| ServeOptions {
        // Never opened: the TLS files are checked first.
        data: pki.dir.path().join("no-data-dir"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        config: None,
        tls_cert: cert,
        tls_key: key,
    };
    let missing = pki.dir.path().join("missing-key.pem");
    let e = appliance::server::serve(opts(Some(pki.files.cert.clone()), Some(missing.clone())))
        .await
        .expect_err("refused");
    assert!(matches!(e, ServeError::Tls(TlsError::Read { .. })), "{e:?}");
    assert!(e.to_string().contains(&*missing.to_string_lossy()), "{e}");
    // only one half of the pair
    let e = appliance::server::serve(opts(Some(pki.files.cert.clone()), None))
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("--tls-key"), "{e}");
}
