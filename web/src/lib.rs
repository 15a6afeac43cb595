//! The Stella Ops Offline web console: server-rendered HTML (askama templates, axum
//! handlers) that works with JavaScript turned off, with every asset embedded in the
//! binary because the sealed site has no internet.
//!
//! The crate knows nothing about storage, kits or scanning. It talks to the appliance
//! through the [`Console`] trait, which `stella-appliance` implements; [`router`] turns
//! an implementation into an [`axum::Router`] that the appliance mounts at `/`.
//!
//! ```
//! use std::sync::Arc;
//! fn console_app(console: Arc<dyn web::Console>) -> axum::Router {
//!     web::router(console, web::WebOptions::default())
//! }
//! ```
//!
//! The tests' in-memory implementation (`tests/support/fake.rs`) is the reference for
//! what the pages expect of an implementation.
//!
//! To see the client's address (used by the login backoff), serve with
//! `app.into_make_service_with_connect_info::<std::net::SocketAddr>()`.
//!
//! Security: every page needs an operator session (cookie `HttpOnly`, `SameSite=Strict`,
//! `Secure` when [`WebOptions::secure_cookies`]); every form carries a CSRF token; every
//! response carries a strict `Content-Security-Policy` (`default-src 'self'`, so no inline
//! script or style anywhere), `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and
//! `X-Content-Type-Options: nosniff`; askama escapes everything it renders.
#![forbid(unsafe_code)]

mod assets;
mod auth;
pub mod console;
mod error;
mod fmt;
mod pages;
mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler as _;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

pub use console::*;
pub use error::WebError;

use state::AppState;

/// Largest urlencoded form body accepted (the policy editor is the biggest form).
pub const MAX_FORM_BYTES: usize = 512 * 1024;

/// The `Content-Security-Policy` sent with every response. No inline script or style:
/// templates never use `style=` attributes or inline `<script>`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self'; \
     style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'; object-src 'none'";

/// How the console is served.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// Mark cookies `Secure` (set when serving over TLS; browsers then never send them
    /// over plain HTTP).
    pub secure_cookies: bool,
    /// Largest kit upload in bytes; larger uploads get HTTP 413 and are never held in
    /// memory (they stream to a temporary file).
    pub max_upload: u64,
    /// Where uploads are streamed to. Put it on the same file system as the appliance's
    /// staging area so that accepting a kit is a rename, not a copy.
    pub upload_dir: PathBuf,
    /// Time limit of every page and form (a slow client gets 408 and its connection back).
    pub request_timeout: Duration,
    /// Time limit of the kit upload (gigabytes from a USB stick take minutes).
    pub upload_timeout: Duration,
}

impl Default for WebOptions {
    /// Safe defaults: `Secure` cookies, a 4 GiB upload cap, the system temp directory,
    /// 30 s per page, an hour per kit upload.
    fn default() -> Self {
        WebOptions {
            secure_cookies: true,
            max_upload: 4 << 30,
            upload_dir: std::env::temp_dir(),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(3600),
        }
    }
}

/// Builds the console's router, to be mounted at `/`.
///
/// The router has no fallback of its own so the appliance can `merge` it with its API
/// and registry routes.
pub fn router(console: Arc<dyn Console>, opts: WebOptions) -> Router {
    let timeout = |d| TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, d);
    let (page_limit, upload_limit) = (timeout(opts.request_timeout), timeout(opts.upload_timeout));
    let state = AppState::new(console, opts);
    Router::new()
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/", get(pages::dashboard::show))
        .route("/scans", get(pages::scans::list))
        .route("/scans/{id}", get(pages::scans::detail))
        .route("/scans/{id}/evidence", get(pages::scans::evidence))
        .route("/scans/{id}/bundle", get(pages::scans::bundle))
        .route(
            "/scans/{id}/mute",
            get(pages::mute::form).post(pages::mute::submit),
        )
        .route(
            "/policy",
            get(pages::policy::show).post(pages::policy::save),
        )
        .route("/policy/versions/{version}", get(pages::policy::version))
        .route("/kits/activate", post(pages::kits::activate))
        .route("/tokens", get(pages::tokens::show))
        .route("/tokens/revoke", post(pages::tokens::revoke))
        .route("/tokens/lift", post(pages::tokens::lift))
        .route("/audit", get(pages::audit::show))
        .route("/static/{version}/{name}", get(assets::serve))
        // Every route above gets the page time limit; the kit upload below its own.
        .route_layer(page_limit)
        .route(
            "/kits",
            get(pages::kits::show.layer(page_limit))
                .post(pages::kits::upload.layer(upload_limit))
                // Why: the upload handler enforces `max_upload` itself while streaming.
                .layer(DefaultBodyLimit::disable()),
        )
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(header_layer(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header_layer(header::REFERRER_POLICY, "no-referrer"))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Pages show tokens and findings: keep them out of shared and disk caches.
        // Static assets set their own long-lived Cache-Control first.
        .layer(header_layer(header::CACHE_CONTROL, "no-store"))
        .with_state(state)
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}
