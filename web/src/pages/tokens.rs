//! `GET /tokens`: clients of the active kit, their expiry, today's usage and the
//! re-signed token to hand to the CI team.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::dashboard::EXPIRY_WARNING;
use super::{Chrome, html};
use crate::auth::Operator;
use crate::console::RevokeTarget;
use crate::error::WebError;
use crate::fmt;
use crate::state::AppState;

/// One client, formatted.
pub(crate) struct ClientLine {
    pub(crate) client: String,
    pub(crate) tier: String,
    pub(crate) used: u32,
    pub(crate) limit: u32,
    pub(crate) usage_status: &'static str,
    pub(crate) expires: String,
    pub(crate) expires_in: String,
    pub(crate) expiry_status: &'static str,
    pub(crate) token: String,
    /// DOM id of the token's textarea (for the copy button).
    pub(crate) dom_id: String,
    /// The token id, when the token has one (its revoke button).
    pub(crate) token_id: String,
    /// "revoked by X on D: reason", when the client is revoked here.
    pub(crate) revoked: Option<String>,
    /// The current token is revoked.
    pub(crate) token_revoked: bool,
}

/// The tokens page.
#[derive(Template)]
#[template(path = "tokens.html")]
pub(crate) struct TokensPage {
    chrome: Chrome,
    kit_sequence: Option<u64>,
    clients: Vec<ClientLine>,
}

/// `GET /tokens`.
pub(crate) async fn show(
    State(st): State<AppState>,
    op: Operator,
) -> Result<Html<String>, WebError> {
    let v = st.call(|c| c.tokens()).await?;
    let now = v.now;
    let clients = v
        .clients
        .iter()
        .enumerate()
        .map(|(i, c)| ClientLine {
            client: c.client_id.clone(),
            tier: c.tier.clone(),
            used: c.used_today,
            limit: c.max_scans_per_day,
            usage_status: if c.used_today >= c.max_scans_per_day {
                "bad"
            } else {
                "ok"
            },
            expires: fmt::date_time(c.expires),
            expires_in: fmt::relative(now, c.expires),
            expiry_status: if c.expires <= now {
                "bad"
            } else if c.expires - now <= EXPIRY_WARNING {
                "warn"
            } else {
                "ok"
            },
            token: c.token.clone(),
            dom_id: format!("token-{i}"),
            token_id: c.token_id.clone().unwrap_or_default(),
            revoked: c.revoked.as_ref().map(|r| {
                format!(
                    "revoked by {} on {}: {}",
                    r.by,
                    fmt::date_time(r.at),
                    r.reason
                )
            }),
            token_revoked: c.token_revoked,
        })
        .collect();
    html(&TokensPage {
        chrome: Chrome::new(&op, "tokens"),
        kit_sequence: v.kit_sequence,
        clients,
    })
}

/// The revoke and lift forms.
#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    reason: String,
}

fn target_of(form: &RevokeForm) -> Result<RevokeTarget, WebError> {
    RevokeTarget::parse(&form.target)
        .ok_or_else(|| WebError::BadRequest("revoke a `client` or a `token`".into()))
}

/// `POST /tokens/revoke`: revokes a client or a token, then back to the list.
pub(crate) async fn revoke(
    State(st): State<AppState>,
    op: Operator,
    Form(form): Form<RevokeForm>,
) -> Result<Response, WebError> {
    op.check_csrf(&form.csrf)?;
    let target = target_of(&form)?;
    if form.reason.trim().is_empty() {
        return Err(WebError::BadRequest(
            "a revocation needs a reason (it goes into the audit log)".into(),
        ));
    }
    let actor = op.0.user.clone();
    st.call(move |c| c.revoke(target, &form.id, &form.reason, &actor))
        .await?;
    Ok(Redirect::to("/tokens").into_response())
}

/// `POST /tokens/lift`: lifts a revocation, then back to the list.
pub(crate) async fn lift(
    State(st): State<AppState>,
    op: Operator,
    Form(form): Form<RevokeForm>,
) -> Result<Response, WebError> {
    op.check_csrf(&form.csrf)?;
    let target = target_of(&form)?;
    let actor = op.0.user.clone();
    st.call(move |c| c.lift_revocation(target, &form.id, &actor))
        .await?;
    Ok(Redirect::to("/tokens").into_response())
}
