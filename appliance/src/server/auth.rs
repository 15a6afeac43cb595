//! Who is asking: the HTTP side of authentication. Client tokens come as
//! `Authorization: Bearer`, operators as the console's session cookie or HTTP Basic; the
//! checks themselves are the service layer's ([`crate::service::clients`],
//! [`crate::service::operators`]), the same for the console.
//!
//! A state-changing request (anything but `GET`/`HEAD`/`OPTIONS`) authenticated by the
//! session cookie is a request a browser may have been tricked into sending, so it must
//! also carry the session's CSRF token in `X-CSRF-Token` and come from this origin
//! (`Origin`, when sent, names the `Host` it was sent to; `Sec-Fetch-Site`, when sent, is
//! `same-origin`). Basic and bearer credentials are never sent by a browser on its own.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use base64::Engine as _;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

use super::error::{ApiError, ApiResult};
use crate::service::Via;
use crate::service::clients::{self, Client};
use crate::service::operators::{self, Login};
use crate::state::AppState;

/// Name of the console's session cookie (owned by the `web` crate; same value).
pub const SESSION_COOKIE: &str = "stella_session";
/// The header carrying the session's CSRF token on cookie-authenticated changes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated operator.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The operator's user name.
    pub username: String,
}

/// The client's address, when the listener recorded it (`serve` always does; router
/// tests without a socket have none).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip()),
        ))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Whether the request carries a bearer token (a client) rather than operator credentials.
pub fn has_bearer(headers: &HeaderMap) -> bool {
    bearer(headers).is_some()
}

/// Checks the bearer token of a client request.
pub fn client(state: &AppState, headers: &HeaderMap, now: OffsetDateTime) -> ApiResult<Client> {
    Ok(clients::authenticate(state, bearer(headers), now)?)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Checks operator credentials: the console session cookie (with the CSRF rule of the
/// module docs on changes), or HTTP Basic through the one operator login
/// ([`operators::login`]: per-user and per-address backoff, audited). Blocking: call it
/// from `spawn_blocking`.
pub fn operator(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    peer: Peer,
    now: OffsetDateTime,
) -> ApiResult<Operator> {
    if let Some(token) = cookie(headers, SESSION_COOKIE)
        && let Some(s) = operators::session(state, token, now)?
    {
        if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            same_origin(headers)?;
            let sent = headers
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            if sent.is_empty() || !bool::from(sent.ct_eq(s.csrf_secret.as_bytes())) {
                return Err(csrf_refused(
                    "a change made with the console's session cookie needs the session's CSRF token in X-CSRF-Token (or use HTTP Basic)",
                ));
            }
        }
        return Ok(Operator {
            username: s.username,
        });
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim());
    let Some(b64) = basic else {
        return Err(ApiError::operator_required(
            "operator credentials required: log in to the console or use HTTP Basic with an operator account",
        ));
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::operator_required("malformed Basic credentials"))?;
    let (user, pass) = decoded
        .split_once(':')
        .ok_or_else(|| ApiError::operator_required("malformed Basic credentials"))?;
    match operators::login(state, user, pass, peer.0, Via::Api, now)? {
        Login::Ok { username } => Ok(Operator { username }),
        Login::Invalid => Err(ApiError::operator_required("operator credentials refused")),
        Login::Throttled { retry_after_secs } => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "login_backoff",
            format!("too many failed logins: wait {retry_after_secs} s"),
        )
        .with_header(header::RETRY_AFTER, &retry_after_secs.to_string())),
    }
}

fn csrf_refused(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "csrf", message)
}

/// The same-origin half of the cookie rule: a browser names the page's origin in
/// `Origin` (and `Sec-Fetch-Site`) on every state-changing request.
fn same_origin(headers: &HeaderMap) -> ApiResult<()> {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("\u{0}").to_ascii_lowercase())
    };
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && site != "same-origin"
    {
        return Err(csrf_refused(&format!(
            "cross-site request refused (Sec-Fetch-Site: {site})"
        )));
    }
    if let Some(origin) = text(header::ORIGIN) {
        let host = text(header::HOST).unwrap_or_default();
        let authority = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        if authority != Some(host.as_str()) || host.is_empty() {
            return Err(csrf_refused(&format!(
                "cross-origin request refused: Origin {origin:?} is not this appliance ({host:?})"
            )));
        }
    }
    Ok(())
}
