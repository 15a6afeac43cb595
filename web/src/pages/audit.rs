//! `GET /audit`: the audit log, newest first, with the hash-chain verification result.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;

use super::{Chrome, html};
use crate::auth::Operator;
use crate::console::ChainStatus;
use crate::error::WebError;
use crate::fmt;
use crate::state::AppState;

const MAX_PAGE: u32 = 1_000_000;

/// One record, formatted.
pub(crate) struct EntryLine {
    pub(crate) seq: u64,
    pub(crate) at: String,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) detail: String,
    pub(crate) ok: bool,
    pub(crate) hash: String,
}

/// The audit page.
#[derive(Template)]
#[template(path = "audit.html")]
pub(crate) struct AuditPage {
    chrome: Chrome,
    chain: ChainStatus,
    entries: Vec<EntryLine>,
    total: u64,
    page: u32,
    pages: u32,
    prev: Option<String>,
    next: Option<String>,
}

/// Query string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    page: Option<String>,
}

/// `GET /audit`.
pub(crate) async fn show(
    State(st): State<AppState>,
    op: Operator,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Html<String>, WebError> {
    let page = params
        .ok()
        .and_then(|Query(p)| p.page)
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_PAGE);
    let v = st.call(move |c| c.audit(page)).await?;
    let pages = u32::try_from(v.total.div_ceil(u64::from(v.per_page.max(1))))
        .unwrap_or(u32::MAX)
        .max(1);
    html(&AuditPage {
        chrome: Chrome::new(&op, "audit"),
        chain: v.chain,
        entries: v
            .entries
            .iter()
            .map(|e| EntryLine {
                seq: e.seq,
                at: fmt::date_time(e.at),
                actor: e.actor.clone(),
                action: e.action.clone(),
                detail: e.detail.clone(),
                ok: e.ok,
                hash: fmt::short_digest(&e.hash),
            })
            .collect(),
        total: v.total,
        page,
        pages,
        prev: (page > 1).then(|| format!("/audit?page={}", page - 1)),
        next: (page < pages).then(|| format!("/audit?page={}", page + 1)),
    })
}
