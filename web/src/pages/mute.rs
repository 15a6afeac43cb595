//! `GET/POST /scans/{id}/mute`: mute one finding with a reason, an optional expiry and
//! a scope. Validation errors are shown beside the fields (HTTP 422).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{Chrome, html};
use crate::auth::Operator;
use crate::console::{FindingRow, MuteRequest, MuteScope};
use crate::error::WebError;
use crate::fmt;
use crate::state::AppState;

/// Longest accepted mute reason, in characters.
pub(crate) const MAX_REASON_CHARS: usize = 1000;

/// Which finding: from the "Mute" link on the scan page.
#[derive(Debug, Deserialize)]
pub(crate) struct Which {
    #[serde(default)]
    advisory: String,
    #[serde(default)]
    purl: String,
}

/// The form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct MuteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    advisory: String,
    #[serde(default)]
    purl: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    scope: String,
}

/// The mute form page.
#[derive(Template)]
#[template(path = "mute.html")]
pub(crate) struct MutePage {
    chrome: Chrome,
    scan_href: String,
    action: String,
    scan_name: String,
    advisory: String,
    summary: String,
    severity: &'static str,
    package: String,
    version: String,
    purl: String,
    reason: String,
    expires: String,
    scope: &'static str,
    today: String,
    reason_error: Option<String>,
    expires_error: Option<String>,
    form_error: Option<String>,
}

async fn find(
    st: &AppState,
    scan_id: &str,
    advisory: &str,
    purl: &str,
) -> Result<(String, FindingRow), WebError> {
    let id = scan_id.to_owned();
    let detail = st
        .call(move |c| c.scan(&id))
        .await?
        .ok_or_else(|| WebError::NotFound(format!("scan {scan_id}")))?;
    let name = detail.scan.name.clone();
    detail
        .findings
        .into_iter()
        .find(|f| f.finding.id == advisory && f.purl() == purl)
        .map(|f| (name, f))
        .ok_or_else(|| WebError::NotFound(format!("finding {advisory} in scan {scan_id}")))
}

fn page(chrome: Chrome, scan_id: &str, scan_name: String, row: FindingRow) -> MutePage {
    let base = format!("/scans/{}", fmt::seg(scan_id));
    let purl = row.purl().to_owned();
    let f = row.finding;
    MutePage {
        chrome,
        action: format!("{base}/mute"),
        scan_href: base,
        scan_name,
        advisory: f.id,
        summary: f.summary.unwrap_or_default(),
        severity: f.severity.as_str(),
        package: f.package.name,
        version: f.package.version,
        purl,
        reason: String::new(),
        expires: String::new(),
        scope: MuteScope::Package.as_str(),
        today: fmt::date(OffsetDateTime::now_utc().date()),
        reason_error: None,
        expires_error: None,
        form_error: None,
    }
}

/// `GET /scans/{id}/mute?advisory=…&purl=…`.
pub(crate) async fn form(
    State(st): State<AppState>,
    op: Operator,
    Path(scan_id): Path<String>,
    Query(w): Query<Which>,
) -> Result<Response, WebError> {
    let (name, f) = find(&st, &scan_id, &w.advisory, &w.purl).await?;
    Ok(html(&page(Chrome::new(&op, "scans"), &scan_id, name, f))?.into_response())
}

/// `POST /scans/{id}/mute`.
pub(crate) async fn submit(
    State(st): State<AppState>,
    op: Operator,
    Path(scan_id): Path<String>,
    Form(form): Form<MuteForm>,
) -> Result<Response, WebError> {
    op.check_csrf(&form.csrf)?;
    let (name, f) = find(&st, &scan_id, &form.advisory, &form.purl).await?;

    let reason = form.reason.trim().to_owned();
    let reason_error = if reason.is_empty() {
        Some("A reason is required: say why this finding does not apply.".to_owned())
    } else if reason.chars().count() > MAX_REASON_CHARS {
        Some(format!(
            "Keep the reason under {MAX_REASON_CHARS} characters."
        ))
    } else {
        None
    };
    let today = OffsetDateTime::now_utc().date();
    let (expires, expires_error) = match form.expires.trim() {
        "" => (None, None),
        s => match fmt::parse_date(s) {
            None => (None, Some("Use a date like 2026-12-31.".to_owned())),
            Some(d) if d < today => (None, Some("The expiry date is in the past.".to_owned())),
            Some(d) => (Some(d), None),
        },
    };
    let scope = match form.scope.as_str() {
        "everywhere" => MuteScope::Everywhere,
        _ => MuteScope::Package,
    };

    if reason_error.is_some() || expires_error.is_some() {
        let mut p = page(Chrome::new(&op, "scans"), &scan_id, name, f);
        p.reason = form.reason;
        p.expires = form.expires;
        p.scope = scope.as_str();
        p.reason_error = reason_error;
        p.expires_error = expires_error;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html(&p)?).into_response());
    }

    let request = MuteRequest {
        scan_id: scan_id.clone(),
        advisory: f.finding.id.clone(),
        purl: f.purl().to_owned(),
        scope,
        reason,
        expires,
    };
    let actor = op.0.user.clone();
    match st.call(move |c| c.mute(&request, &actor)).await {
        Ok(_) => Ok(
            Redirect::to(&format!("/scans/{}?muted=1#findings", fmt::seg(&scan_id)))
                .into_response(),
        ),
        Err(WebError::BadRequest(msg)) => {
            let mut p = page(Chrome::new(&op, "scans"), &scan_id, name, f);
            p.reason = form.reason;
            p.expires = form.expires;
            p.scope = scope.as_str();
            p.form_error = Some(msg);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html(&p)?).into_response())
        }
        Err(e) => Err(e),
    }
}
