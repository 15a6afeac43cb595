//! Who is asking: client tokens (`Authorization: Bearer`) and operators (console
//! session cookie or HTTP Basic).
//!
//! Client tokens are accepted only when signed by **this appliance's** key (the importer
//! re-signs the vendor's tokens), with `iss` = the appliance id, `aud` = the site when
//! the appliance has one, inside `nbf`/`exp`, and with a `jti` the active kit does not
//! revoke. `signing::jwt::verify` refuses `alg: none`, HMAC algorithms and any key but
//! the one in the trust root, so a vendor-signed (not re-signed) token fails too.
//!
//! Quota key: `<sub>:<jti>` (each issued token has its own daily counter, as the seeds'
//! "per token" quota says); a token without `jti` counts under `<sub>` alone. A `jti`
//! that is not made of quota-key characters is replaced by its sha256 prefix.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use signing::jwt::{self, Claims, Validation};
use time::OffsetDateTime;

use super::error::{ApiError, ApiResult};
use super::state::AppState;
use crate::store::QuotaKey;

/// Name of the console's session cookie (owned by the `web` crate; same value).
pub const SESSION_COOKIE: &str = "stella_session";

/// An authenticated client.
#[derive(Debug, Clone)]
pub struct Client {
    /// The verified claims.
    pub claims: Claims,
    /// Where its quota is counted.
    pub quota_key: QuotaKey,
    /// Scans per UTC day.
    pub limit: u32,
}

/// An authenticated operator.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The operator's user name.
    pub username: String,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// The quota key of a token (see the module docs).
pub fn quota_key(claims: &Claims) -> Result<QuotaKey, crate::store::StoreError> {
    match &claims.jti {
        None => QuotaKey::new(claims.sub.clone()),
        Some(j) => QuotaKey::new(format!("{}:{j}", claims.sub)).or_else(|_| {
            let h = crate::store::Sha256Digest::of(j.as_bytes()).hex();
            QuotaKey::new(format!("{}:{}", claims.sub, &h[..32]))
        }),
    }
}

/// Checks the bearer token of a client request.
pub fn client(state: &AppState, headers: &HeaderMap, now: OffsetDateTime) -> ApiResult<Client> {
    let r = client_inner(state, headers, now);
    if r.is_err() {
        state.metrics.auth_failed();
    }
    r
}

fn client_inner(state: &AppState, headers: &HeaderMap, now: OffsetDateTime) -> ApiResult<Client> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::unauthorized(
            "missing client token: send `Authorization: Bearer <token>` (`stella-appliance token --client ID` prints it)",
        )
    })?;
    let v = Validation {
        now: now.unix_timestamp(),
        leeway_secs: state.config.token_leeway_secs,
        issuer: Some(state.appliance_id.clone()),
        audience: state.site.clone(),
    };
    let claims = jwt::verify(token, &state.token_trust, &v).map_err(|e| {
        ApiError::unauthorized(format!(
            "client token refused: {e} (only tokens re-signed by this appliance are accepted)"
        ))
    })?;
    if let Some(kit) = state.kit()
        && let Some(j) = &claims.jti
        && kit.revoked.contains(j)
    {
        return Err(ApiError::unauthorized(format!(
            "client token refused: token id {j:?} is revoked by the active kit"
        )));
    }
    let quota_key = quota_key(&claims).map_err(|e| {
        ApiError::unauthorized(format!("client token refused: unusable subject: {e}"))
    })?;
    let limit = claims
        .max_scans_per_day
        .unwrap_or(crate::quota::FREE_SCANS_PER_DAY);
    Ok(Client {
        claims,
        quota_key,
        limit,
    })
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

/// Checks operator credentials: the console session cookie, or HTTP Basic with an
/// operator's user name and password (argon2, with the store's login backoff).
/// Blocking: call it from `spawn_blocking`.
pub fn operator(state: &AppState, headers: &HeaderMap, now: OffsetDateTime) -> ApiResult<Operator> {
    if let Some(token) = cookie(headers, SESSION_COOKIE)
        && let Some(s) = state.store.get_session(token, now)?
    {
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
    if user.is_empty() || user.len() > 128 || pass.len() > 1024 {
        return Err(ApiError::operator_required("operator credentials refused"));
    }
    if let Some(wait) = state.store.login_backoff(user, now)? {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "login_backoff",
            format!(
                "too many failed logins for {user:?}: wait {} s",
                wait.as_secs().max(1)
            ),
        )
        .with_header(header::RETRY_AFTER, &wait.as_secs().max(1).to_string()));
    }
    if state.store.verify_operator_password(user, pass)? {
        state.store.record_login_success(user)?;
        Ok(Operator {
            username: user.to_owned(),
        })
    } else {
        state.store.record_login_failure(user, now)?;
        Err(ApiError::operator_required("operator credentials refused"))
    }
}
