//! Client tokens: who may scan, and where their quota is counted.
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

use signing::jwt::{self, Claims, Validation};
use time::OffsetDateTime;

use super::{ServiceError, ServiceResult};
use crate::state::AppState;
use crate::store::QuotaKey;

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

/// Verifies a client's bearer token (`None`: the request had none). A refusal counts in
/// the `auth_failed` metric.
pub fn authenticate(
    state: &AppState,
    token: Option<&str>,
    now: OffsetDateTime,
) -> ServiceResult<Client> {
    let r = verify(state, token, now);
    if r.is_err() {
        state.metrics.auth_failed();
    }
    r
}

fn verify(state: &AppState, token: Option<&str>, now: OffsetDateTime) -> ServiceResult<Client> {
    let token = token.ok_or_else(|| {
        ServiceError::Unauthorized(
            "missing client token: send `Authorization: Bearer <token>` (`stella-appliance token --client ID` prints it)".into(),
        )
    })?;
    let v = Validation {
        now: now.unix_timestamp(),
        leeway_secs: state.config.token_leeway_secs,
        issuer: Some(state.appliance_id.clone()),
        audience: state.site.clone(),
    };
    let claims = jwt::verify(token, &state.token_trust, &v).map_err(|e| {
        ServiceError::Unauthorized(format!(
            "client token refused: {e} (only tokens re-signed by this appliance are accepted)"
        ))
    })?;
    if let Some(kit) = state.kit()
        && let Some(j) = &claims.jti
        && kit.revoked.contains(j)
    {
        return Err(ServiceError::Unauthorized(format!(
            "client token refused: token id {j:?} is revoked by the active kit"
        )));
    }
    let quota_key = quota_key(&claims).map_err(|e| {
        ServiceError::Unauthorized(format!("client token refused: unusable subject: {e}"))
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

/// Today's use of a client's token as the scan endpoint counts it (the console's quota
/// tiles), 0 when the counter cannot be read.
pub fn used_today(
    state: &AppState,
    client: &importer::import::ResignedClient,
    now: OffsetDateTime,
) -> u32 {
    let claims = Claims {
        sub: client.id.clone(),
        jti: client.jti.clone(),
        ..Claims::default()
    };
    let Ok(key) = quota_key(&claims) else {
        return 0;
    };
    state
        .store
        .quota_status(&key, crate::quota::utc_day(now), client.max_scans_per_day)
        .map_or(0, |s| s.used)
}

/// The appliance-signed token of `client` in a kit's tokens: refused when the kit has no
/// such client (the message lists those it has) or the token has expired. Shared by
/// `POST /api/v1/token/offline` and `stella-appliance token`.
pub fn token_of<'a>(
    tokens: &'a importer::import::TokensFile,
    client: &str,
    now: OffsetDateTime,
) -> ServiceResult<&'a importer::import::ResignedClient> {
    let Some(c) = tokens.clients.iter().find(|c| c.id == client) else {
        let known: Vec<&str> = tokens.clients.iter().map(|c| c.id.as_str()).collect();
        return Err(ServiceError::NotFound(format!(
            "the active kit has no token for client {client:?} (clients: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    };
    if c.exp <= now.unix_timestamp() {
        return Err(ServiceError::Conflict(format!(
            "the token of client {client} has expired: import a newer kit"
        )));
    }
    Ok(c)
}

/// [`token_of`] in the active kit, for an operator, audited as `token.issued`.
pub fn issue_token(
    st: &AppState,
    actor: &str,
    via: super::Via,
    client: &str,
    now: OffsetDateTime,
) -> ServiceResult<importer::import::ResignedClient> {
    let kit = st.kit().ok_or(ServiceError::NoKit)?;
    let c = token_of(&kit.tokens, client, now)?.clone();
    st.audit(
        "token.issued",
        serde_json::json!({
            "actor": actor, "client": c.id, "jti": c.jti, "kit_id": kit.id, "via": via.as_str(),
        }),
    )?;
    Ok(c)
}
