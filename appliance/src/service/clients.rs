//! Client tokens: who may scan, and where their quota is counted.
//!
//! A client token is accepted only when
//!
//! 1. it is signed by **this appliance's** key (the importer re-signs the vendor's
//!    tokens), with `iss` = the appliance id, `aud` = the site when the appliance has one,
//!    inside `nbf`/`exp` — `signing::jwt::verify` refuses `alg: none`, HMAC algorithms and
//!    any key but the one in the trust root, so a vendor-signed (not re-signed) token
//!    fails too;
//! 2. its client (`sub`) is a client of the **active kit**: a client the newest kit no
//!    longer lists is refused, whatever tokens it still holds;
//! 3. neither its `jti` is revoked (by the active kit, or locally) nor its client is
//!    revoked locally ([`revoke`]: an operator's decision on this appliance, audited, in
//!    force until an operator lifts it — a kit's own revocations add to it).
//!
//! The daily quota is counted **per client** (the `sub`), at the limit of the client's
//! newest token — the one the active kit carries — so a client holding this month's and
//! last month's tokens shares one counter and does not get twice the quota.

use signing::jwt::{self, Claims, Validation};
use time::OffsetDateTime;

use super::{ServiceError, ServiceResult};
use crate::state::AppState;
use crate::store::{QuotaKey, Revocation, RevocationKind};

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

/// The quota key of a client: its id (see the module docs).
pub fn quota_key(client: &str) -> Result<QuotaKey, crate::store::StoreError> {
    QuotaKey::new(client.to_owned())
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
    let refused = |why: String| ServiceError::Unauthorized(format!("client token refused: {why}"));
    let revoked = state.local_revocations.read().clone();
    if let Some(j) = &claims.jti
        && revoked.contains(&(RevocationKind::Token, j.clone()))
    {
        return Err(refused(format!(
            "token id {j:?} is revoked on this appliance"
        )));
    }
    if revoked.contains(&(RevocationKind::Client, claims.sub.clone())) {
        return Err(refused(format!(
            "client {:?} is revoked on this appliance",
            claims.sub
        )));
    }
    let mut limit = claims
        .max_scans_per_day
        .unwrap_or(crate::quota::FREE_SCANS_PER_DAY);
    if let Some(kit) = state.kit() {
        if let Some(j) = &claims.jti
            && kit.revoked.contains(j)
        {
            return Err(refused(format!(
                "token id {j:?} is revoked by the active kit"
            )));
        }
        let Some(current) = kit.tokens.clients.iter().find(|c| c.id == claims.sub) else {
            return Err(refused(format!(
                "client {:?} is not a client of the active kit ({}, sequence {}); ask the kit producer to issue it a token",
                claims.sub, kit.id, kit.sequence
            )));
        };
        limit = current.max_scans_per_day;
    }
    let quota_key =
        quota_key(&claims.sub).map_err(|e| refused(format!("unusable subject: {e}")))?;
    Ok(Client {
        claims,
        quota_key,
        limit,
    })
}

/// Today's use of a client as the scan endpoint counts it (the console's quota tiles),
/// 0 when the counter cannot be read.
pub fn used_today(
    state: &AppState,
    client: &importer::import::ResignedClient,
    now: OffsetDateTime,
) -> u32 {
    let Ok(key) = quota_key(&client.id) else {
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

/// Revokes a client (every token of it) or one token on this appliance, audited as
/// `revocation.add`; in force until [`lift`]. `false` when it was already revoked.
pub fn revoke(
    st: &AppState,
    actor: &str,
    via: super::Via,
    kind: RevocationKind,
    id: &str,
    reason: &str,
) -> ServiceResult<bool> {
    if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "invalid_revocation",
            format!("a {} id is 1-256 printable characters", kind.as_str()),
        ));
    }
    if reason.trim().is_empty() {
        return Err(ServiceError::invalid(
            "invalid_revocation",
            "a revocation needs a reason (it goes into the audit log)",
        ));
    }
    let r = Revocation {
        kind,
        id: id.to_owned(),
        actor: actor.to_owned(),
        reason: reason.to_owned(),
        created_at: OffsetDateTime::now_utc(),
    };
    let _w = st.revocation_write.lock();
    let added = st.store.revoke(&r)?;
    if added {
        st.audit(
            "revocation.add",
            serde_json::json!({"actor": actor, "kind": kind.as_str(), "id": id, "reason": reason, "via": via.as_str()}),
        )?;
    }
    reload_revocations(st)?;
    Ok(added)
}

/// Lifts a local revocation, audited as `revocation.lift`; not found when there is none.
pub fn lift(
    st: &AppState,
    actor: &str,
    via: super::Via,
    kind: RevocationKind,
    id: &str,
) -> ServiceResult<()> {
    let _w = st.revocation_write.lock();
    if !st.store.lift_revocation(kind, id)? {
        return Err(ServiceError::NotFound(format!(
            "no local revocation of {} {id:?}",
            kind.as_str()
        )));
    }
    st.audit(
        "revocation.lift",
        serde_json::json!({"actor": actor, "kind": kind.as_str(), "id": id, "via": via.as_str()}),
    )?;
    reload_revocations(st)
}

fn reload_revocations(st: &AppState) -> ServiceResult<()> {
    let set = st
        .store
        .revocations()?
        .into_iter()
        .map(|r| (r.kind, r.id))
        .collect();
    *st.local_revocations.write() = std::sync::Arc::new(set);
    Ok(())
}
