//! `GET /tokens`: clients of the active kit, their expiry, today's usage and the
//! re-signed token to hand to the CI team.

use askama::Template;
use axum::extract::State;
use axum::response::Html;

use super::dashboard::EXPIRY_WARNING;
use super::{Chrome, html};
use crate::auth::Operator;
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
        })
        .collect();
    html(&TokensPage {
        chrome: Chrome::new(&op, "tokens"),
        kit_sequence: v.kit_sequence,
        clients,
    })
}
