//! `stella-appliance serve`: the HTTP API of CONTRACT.md on axum + tokio.
//!
//! Sealed: the service only accepts connections; nothing in it (or its dependency tree)
//! opens one. [`router`] builds the whole app from an [`AppState`] (testable without a
//! socket through `tower::ServiceExt::oneshot`); [`serve`] binds, serves and shuts down
//! gracefully on Ctrl-C or SIGTERM.
//!
//! Plain HTTP by default. With a site certificate (`[tls]` in the config,
//! `STELLA_TLS_CERT`/`STELLA_TLS_KEY`, or `serve --tls-cert/--tls-key`) the same app is
//! served over TLS 1.2/1.3 only ([`tls`], rustls with `ring`; a server stack, still no
//! client); then console cookies are `Secure` and every response carries
//! `Strict-Transport-Security`. A bad certificate or key stops startup with one line
//! naming the file, before the store is opened. Tests drive both paths on loopback with
//! [`serve_on`] / [`serve_tls_on`].
//!
//! | route | auth |
//! | --- | --- |
//! | `GET /healthz`, `GET /readyz`, `GET /metrics` | none |
//! | `GET /api/v1/quota`, `POST /api/v1/scan`, `POST /api/v1/layers/missing` | client token |
//! | `GET /api/v1/scans/{id}`, `GET /api/v1/scans/{id}/evidence`, `GET /api/v1/scans/{id}/bundle` | client token (own scans) or operator |
//! | `GET /api/v1/scans`, `POST /api/v1/token/offline`, `GET/PUT /api/v1/policy`, `GET/POST/DELETE /api/v1/policy/mute`, `GET /api/v1/clients`, `POST /api/v1/revocations`, `DELETE /api/v1/revocations/{kind}/{id}` | operator (session cookie — with `X-CSRF-Token` on changes — or HTTP Basic) |
//! | `/v2/…` | none (read-only OCI registry, [`crate::registry`]) |
//! | `/`, `/login`, `/scans`, `/kits`, … | operator session (the web console, [`crate::console`]) |
//!
//! Connections (see [`serve_on`]): a request's headers must arrive within
//! `header_timeout_secs` (which also closes idle keep-alive connections), and
//! connections are capped in all and per client address. Layers (outermost first):
//! tracing, request timeout (408), concurrency limit (excess requests wait), then the
//! handlers, which bound every body themselves (413 with a JSON error) and admit scan
//! bodies against a global memory budget (503 with `Retry-After` beyond it).

pub mod auth;
pub mod error;
pub mod handlers;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};

pub use crate::config::{Config, LogFormat};
pub use crate::state::{ActiveKit, AppState, StateError};
pub use error::{ApiError, ApiResult};

/// What `stella-appliance serve` passes in.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The data directory.
    pub data: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// Optional TOML config (`STELLA_*` environment variables override it).
    pub config: Option<PathBuf>,
    /// `--tls-cert`: overrides `[tls] cert` / `STELLA_TLS_CERT`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key`: overrides `[tls] key` / `STELLA_TLS_KEY`.
    pub tls_key: Option<PathBuf>,
}

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Configuration or state could not be loaded.
    #[error("{0}")]
    State(#[from] StateError),
    /// The listen address could not be bound, or serving failed.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A background task panicked.
    #[error("startup task failed: {0}")]
    Join(String),
    /// The TLS certificate or key cannot be used (the message names the file).
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
}

/// How the app is reached: decides the console's `Secure` cookies and HSTS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transport {
    /// Plain HTTP (the default): no `Secure` cookies (browsers would drop them), no HSTS.
    #[default]
    Http,
    /// TLS terminated by this service: `Secure` cookies and `Strict-Transport-Security`.
    Https,
}

/// `Strict-Transport-Security` sent over TLS: one year, this host only (the site's other
/// hosts are not ours to pin to HTTPS).
pub const HSTS: &str = "max-age=31536000";

/// The whole application for plain HTTP: API routes, the `/v2/` registry, the console,
/// and the service layers.
pub fn router(state: AppState) -> Router {
    router_for(state, Transport::Http)
}

/// The whole application as served over `transport` (see [`Transport`]).
pub fn router_for(state: AppState, transport: Transport) -> Router {
    use handlers as h;
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let limit = state.config.max_concurrent_requests;
    let api = Router::new()
        .route("/healthz", get(h::healthz))
        .route("/readyz", get(h::readyz))
        .route("/metrics", get(h::metrics))
        .route("/api/v1/quota", get(h::quota))
        .route("/api/v1/scan", post(h::scan))
        .route("/api/v1/scans", get(h::list_scans))
        .route("/api/v1/scans/{id}", get(h::get_scan))
        .route("/api/v1/scans/{id}/evidence", get(h::get_evidence))
        .route("/api/v1/scans/{id}/bundle", get(h::get_bundle))
        .route("/api/v1/layers/missing", post(h::layers_missing))
        .route("/api/v1/token/offline", post(h::token_offline))
        .route("/api/v1/clients", get(h::list_clients))
        .route("/api/v1/revocations", post(h::revoke))
        .route(
            "/api/v1/revocations/{kind}/{id}",
            delete(h::lift_revocation),
        )
        .route("/api/v1/policy", get(h::get_policy).put(h::put_policy))
        .route(
            "/api/v1/policy/mute",
            get(h::list_mutes)
                .post(h::add_mute)
                .delete(h::delete_mute_query),
        )
        .route("/api/v1/policy/mute/{id}", delete(h::delete_mute_path))
        .fallback(h::not_found)
        .with_state(state.clone());
    let registry = crate::registry::router(Arc::new(crate::registry::CurrentLink(
        state.data.current_link(),
    )));
    // The web console at `/`. Merged after the API's timeout layer: the console sets its
    // own (pages: request_timeout_secs; the kit upload, which streams gigabytes and is
    // verified in the request: upload_timeout_secs).
    let secure = transport == Transport::Https;
    let console = crate::console::router(&state, crate::console::serve_web_options(&state, secure));
    let app = api
        .merge(registry)
        .layer(tower::limit::ConcurrencyLimitLayer::new(limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .merge(console)
        .layer(tower_http::trace::TraceLayer::new_for_http());
    if secure {
        // Host-wide by nature (RFC 6797), so on every response, the console's included.
        app.layer(
            tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                axum::http::header::STRICT_TRANSPORT_SECURITY,
                axum::http::HeaderValue::from_static(HSTS),
            ),
        )
    } else {
        app
    }
}

/// Installs the global `tracing` subscriber (binaries only; `RUST_LOG` filters, default
/// `info`). Returns `false` if one was already installed.
pub fn install_tracing(format: LogFormat) -> bool {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal: a log file or journald must not get escape codes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => b.json().try_init().is_ok(),
        LogFormat::Text => b.try_init().is_ok(),
    }
}

/// Loads the configuration (file + `STELLA_*` environment + the `--tls-*` flags).
pub fn load_config(opts: &ServeOptions) -> Result<Config, StateError> {
    let mut config = Config::load(opts.config.as_deref())?;
    if let Some(cert) = &opts.tls_cert {
        config.tls.cert = Some(cert.clone());
    }
    if let Some(key) = &opts.tls_key {
        config.tls.key = Some(key.clone());
    }
    // Again: a flag may have completed (or half-completed) the TLS pair.
    config.validate()?;
    Ok(config)
}

/// Serves until Ctrl-C or SIGTERM, then drains in-flight requests and returns.
pub async fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    let config = load_config(&opts)?;
    // Checked before the store is opened or the port bound: a bad certificate refuses
    // startup instead of leaving a half-started service.
    let tls = match config.tls.files().map_err(StateError::from)? {
        Some(files) => Some(tls::load(&files)?),
        None => None,
    };
    let data = opts.data.clone();
    let state = tokio::task::spawn_blocking(move || AppState::open(&data, config))
        .await
        .map_err(|e| ServeError::Join(e.to_string()))??;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(opts.listen);
    match tls {
        Some(tls) => serve_tls_on(listener, state, tls, shutdown_signal()).await,
        None => serve_on(listener, state, shutdown_signal()).await,
    }
    .map_err(|source| ServeError::Listen { addr, source })
}

/// Serves `state` on an already bound listener until `shutdown` completes (tests bind
/// `127.0.0.1:0` and pass their own signal). Also polls `DIR/current` so a kit imported
/// or rolled back by the CLI while the service runs is picked up.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_listener(listener, state, Transport::Http, shutdown).await
}

/// [`serve_on`] over TLS with `tls` (from [`tls::load`]): same app, same graceful
/// shutdown, plus `Secure` console cookies and HSTS. A client whose handshake fails or
/// stalls is dropped without disturbing the others (see [`tls::TlsListener`]).
pub async fn serve_tls_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handshake_timeout =
        tls::HANDSHAKE_TIMEOUT.min(Duration::from_secs(state.config.header_timeout_secs));
    let listener = tls::TlsListener::new(listener, tls, handshake_timeout)?;
    serve_listener(listener, state, Transport::Https, shutdown).await
}

async fn serve_listener<L>(
    listener: L,
    state: AppState,
    transport: Transport,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let addr = listener.local_addr()?;
    // Start the matching pool now, not on the first large scan.
    let pool = rayon::current_num_threads();
    let poll_state = state.clone();
    let poll = tokio::spawn(async move {
        let every = Duration::from_secs(poll_state.config.kit_poll_secs);
        loop {
            tokio::time::sleep(every).await;
            let s = poll_state.clone();
            match tokio::task::spawn_blocking(move || s.reload_kit_if_changed()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "reloading the active kit"),
                Err(e) => tracing::error!(error = %e, "kit reload task"),
            }
        }
    });
    tracing::info!(%addr, ?transport, pool, kit = ?state.kit().map(|k| k.id.clone()), "serving");
    let app = router_for(state.clone(), transport);
    accept_loop(listener, app, &state.config, shutdown).await;
    poll.abort();
    // Wait for the poller to drop its state clone, so the store (and its sled lock) is
    // released when this function returns.
    let _ = poll.await;
    if let Err(e) = state.store.flush() {
        tracing::error!(error = %e, "flushing the store at shutdown");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Open connections, in all and per client address, with a guard per connection.
#[derive(Default)]
struct Connections {
    per_address: parking_lot::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
    total: std::sync::atomic::AtomicUsize,
}

/// Releases one connection's slots when the connection ends.
struct ConnectionSlot {
    conns: Arc<Connections>,
    ip: std::net::IpAddr,
}

impl Connections {
    /// Takes a slot for a new connection from `ip`, or says which limit it would exceed.
    fn admit(
        self: &Arc<Self>,
        ip: std::net::IpAddr,
        config: &Config,
    ) -> Result<ConnectionSlot, &'static str> {
        use std::sync::atomic::Ordering;
        let mut map = self.per_address.lock();
        let n = map.entry(ip).or_insert(0);
        if *n >= config.max_connections_per_address {
            return Err("max_connections_per_address");
        }
        if self.total.fetch_add(1, Ordering::AcqRel) >= config.max_connections {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err("max_connections");
        }
        *n += 1;
        Ok(ConnectionSlot {
            conns: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.conns
            .total
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        let mut map = self.conns.per_address.lock();
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Accepts connections until `shutdown`, then lets the open ones finish their requests.
///
/// hyper's HTTP/1 server with a timer: a request's headers must arrive within
/// `header_timeout_secs`, which also closes an idle keep-alive connection (the timer runs
/// whenever the connection waits for a request head); bodies are bounded by the request
/// timeouts of the routes. A connection beyond `max_connections` or
/// `max_connections_per_address` is closed at once. Every handler sees the peer address
/// (`ConnectInfo<SocketAddr>`: per-address login backoff, audit records).
async fn accept_loop<L>(
    mut listener: L,
    app: Router,
    config: &Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let (signal_tx, signal_rx) = tokio::sync::watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(signal_rx);
    });
    let (close_tx, close_rx) = tokio::sync::watch::channel(());
    let conns = Arc::new(Connections::default());
    let header_timeout = Duration::from_secs(config.header_timeout_secs);
    loop {
        let (io, peer) = tokio::select! {
            conn = listener.accept() => conn,
            () = signal_tx.closed() => break,
        };
        let slot = match conns.admit(peer.ip(), config) {
            Ok(slot) => slot,
            Err(limit) => {
                tracing::warn!(%peer, limit, "connection refused: too many open connections");
                drop(io);
                continue;
            }
        };
        let svc =
            app.clone()
                .map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req.map(axum::body::Body::new)
                });
        let hyper_svc = hyper_util::service::TowerToHyperService::new(svc);
        let (signal_tx, close_rx) = (signal_tx.clone(), close_rx.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder
                .serve_connection(TokioIo::new(io), hyper_svc)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            let mut closing = std::pin::pin!(signal_tx.closed());
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(%peer, error = %e, "connection ended");
                        }
                        break;
                    }
                    () = &mut closing => conn.as_mut().graceful_shutdown(),
                }
            }
            drop(close_rx);
        });
    }
    drop(close_rx);
    drop(listener);
    close_tx.closed().await;
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}
