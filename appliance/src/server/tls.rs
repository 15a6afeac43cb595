//! Optional TLS for `stella-appliance serve`, with a certificate the site provides.
//!
//! Configured by `[tls] cert = "…"`, `key = "…"` in the serve TOML, `STELLA_TLS_CERT` /
//! `STELLA_TLS_KEY`, or `--tls-cert` / `--tls-key` (both or neither). The certificate file
//! is a PEM chain (end-entity first, then intermediates); the key file one PEM private key
//! (PKCS#8, PKCS#1 RSA or SEC1 EC). [`load`] checks everything before the service opens
//! its store or binds, so a bad file stops startup with one line naming it.
//!
//! Protocols: TLS 1.3 and 1.2 only, the `ring` provider's cipher suites (all AEAD, forward
//! secret), ALPN `http/1.1` (the server speaks HTTP/1.1 only). Client certificates are not
//! requested: clients authenticate with their token, operators with their login.
//!
//! [`TlsListener`] is an [`axum::serve::Listener`]: a task accepts TCP connections and
//! runs each handshake in its own task, under [`HANDSHAKE_TIMEOUT`] and at most
//! [`MAX_PENDING_HANDSHAKES`] at once, and hands only finished handshakes to axum. So a
//! client that fails, or never finishes, its handshake costs one bounded task and never
//! stops or slows the accept loop for the others (slowloris), and axum's graceful
//! shutdown works exactly as on the plain listener.
//!
//! ```no_run
//! # async fn demo(state: appliance::server::AppState) -> Result<(), Box<dyn std::error::Error>> {
//! use appliance::server::tls::{self, TlsFiles};
//! let files = TlsFiles { cert: "/etc/stella/tls/cert.pem".into(), key: "/etc/stella/tls/key.pem".into() };
//! let config = tls::load(&files)?;
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
//! appliance::server::serve_tls_on(listener, state, config, std::future::pending()).await?;
//! # Ok(()) }
//! ```

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use zeroize::Zeroizing;

/// Largest certificate or key file read (a long chain is a few tens of KiB).
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;
/// Time a client has to finish its TLS handshake before the connection is dropped (or
/// the serve config's `header_timeout_secs` when that is shorter: a client that has not
/// finished its handshake has not sent its headers either).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further connections wait in the kernel's backlog.
/// Bounds the memory a flood of half-open handshakes can take.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// Finished handshakes waiting for axum to take them (it takes them as fast as it can).
const READY_QUEUE: usize = 64;

/// The site's certificate chain and private key (both PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, end-entity certificate first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC) of the end-entity certificate.
    pub key: PathBuf,
}

/// Why the TLS certificate or key cannot be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read (missing, unreadable, a directory…).
    #[error("TLS {what} {}: {source}", path.display())]
    Read {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than [`MAX_PEM_BYTES`].
    #[error("TLS {what} {}: larger than {MAX_PEM_BYTES} bytes, not a PEM file", path.display())]
    TooLarge {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A file is not valid PEM.
    #[error("TLS {what} {}: invalid PEM: {msg}", path.display())]
    Pem {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        msg: String,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error("TLS certificate {}: no PEM CERTIFICATE block found", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key block.
    #[error(
        "TLS private key {}: no PEM private key found (expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The private key is of a kind or curve the TLS stack cannot sign with, or corrupt.
    #[error("TLS private key {}: unusable: {msg}", path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        msg: String,
    },
    /// The end-entity certificate could not be parsed.
    #[error("TLS certificate {}: not a valid X.509 certificate: {msg}", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        msg: String,
    },
    /// The private key does not belong to the end-entity certificate.
    #[error(
        "TLS private key {} does not match the certificate {} (its public key differs)",
        key.display(),
        cert.display()
    )]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The TLS stack refused the configuration for another reason.
    #[error("TLS certificate {} / key {}: {msg}", cert.display(), key.display())]
    Config {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        msg: String,
    },
}

/// Reads a whole PEM file, refusing anything larger than [`MAX_PEM_BYTES`]. The buffer
/// is wiped when dropped (it may hold the private key).
fn read_pem(what: &'static str, path: &Path) -> Result<Zeroizing<Vec<u8>>, TlsError> {
    let read = |source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(read)?;
    if buf.len() as u64 > MAX_PEM_BYTES {
        return Err(TlsError::TooLarge {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(buf)
}

/// Warns when the private key is readable by group or others: anyone who can read it can
/// impersonate the appliance. A warning, not a refusal: the file's owner decides.
#[cfg(unix)]
fn warn_if_key_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            key = %path.display(),
            mode = format_args!("{:o}", meta.permissions().mode() & 0o777),
            "the TLS private key is readable by group or others; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_key_readable_by_others(_: &Path) {}

/// Reads and checks the certificate chain and key, and builds the TLS server
/// configuration (TLS 1.3 + 1.2, `ring`, ALPN `http/1.1`, no client certificates).
///
/// # Errors
/// A missing, unreadable, oversized or invalid file, a key of an unsupported kind, or a
/// key that does not belong to the end-entity certificate — each naming the file.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_pem = read_pem("certificate", &files.cert)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what: "certificate",
            path: files.cert.clone(),
            msg: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key_pem = read_pem("private key", &files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: files.key.clone(),
        },
        e => TlsError::Pem {
            what: "private key",
            path: files.key.clone(),
            msg: e.to_string(),
        },
    })?;
    warn_if_key_readable_by_others(&files.key);

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Checked step by step (rustls' `with_single_cert` does the same checks) so that each
    // failure names the right file.
    let signing_key = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| TlsError::BadKey {
            path: files.key.clone(),
            msg: e.to_string(),
        })?;
    match CertifiedKey::new(certs.clone(), signing_key).keys_match() {
        // `Unknown`: the key cannot report its public half; rustls accepts that too.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(TlsError::Mismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            });
        }
        Err(e) => {
            return Err(TlsError::BadCertificate {
                path: files.cert.clone(),
                msg: e.to_string(),
            });
        }
    }
    let config_err = |e: rustls::Error| TlsError::Config {
        cert: files.cert.clone(),
        key: files.key.clone(),
        msg: e.to_string(),
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(config_err)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(config_err)?;
    // axum is built without HTTP/2 here: offer only what the server speaks.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS-accepting [`axum::serve::Listener`] over a bound TCP listener (see the module
/// docs for how handshakes are isolated and bounded).
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp` with `config` (from [`load`]); each handshake must end
    /// within `handshake_timeout`. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// The listener's local address cannot be read.
    pub fn new(
        tcp: TcpListener,
        config: Arc<ServerConfig>,
        handshake_timeout: Duration,
    ) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let accept_task = tokio::spawn(accept_loop(
            tcp,
            TlsAcceptor::from(config),
            handshake_timeout,
            tx,
        ));
        Ok(Self {
            ready,
            local,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // axum drops the listener when shutdown starts: stop accepting (handshakes still
        // in flight end by themselves within the handshake timeout).
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept task ended (it only does when aborted): no more connections;
            // axum's shutdown future still ends the server.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let pending = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    loop {
        // Take a slot before accepting, so a flood waits in the backlog, not in memory.
        let Ok(slot) = Arc::clone(&pending).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok(c) => c,
            Err(e) => {
                accept_error(e).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await;
            drop(slot);
            match handshake {
                Ok(Ok(tls)) => {
                    // Fails only when the server is shutting down: the connection drops.
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// Same policy as axum's plain listener: per-connection errors are ignored; anything
/// else (e.g. out of file descriptors) is logged and retried after a pause instead of
/// spinning.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
