//! `GET /kits`: the active kit, the upload form and the import history.
//! `POST /kits`: streams an uploaded `.ouk` (and its `.minisig`) to a temporary
//! directory, never holding the kit in memory, hands the paths to
//! [`Console::import_kit`](crate::Console::import_kit) and shows the numbered
//! verification report. `POST /kits/activate`: activates a verified kit.

use askama::Template;
use axum::extract::multipart::Field;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Multipart, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::{Chrome, html};
use crate::auth::Operator;
use crate::console::{ImportReport, ImportRow, KitInfo, KitUpload};
use crate::error::WebError;
use crate::fmt;
use crate::state::AppState;

/// Largest accepted signature file (a minisign signature is about 300 bytes).
pub(crate) const MAX_SIGNATURE_BYTES: u64 = 16 * 1024;
// Multipart framing and the small fields around the files.
const MULTIPART_SLACK: u64 = 64 * 1024;
const MAX_FILE_NAME_CHARS: usize = 200;

/// Kit facts, formatted.
pub(crate) struct KitLine {
    pub(crate) sequence: u64,
    pub(crate) kit_id: String,
    pub(crate) created: String,
    pub(crate) expires: String,
    pub(crate) site: String,
    pub(crate) advisories: u64,
    pub(crate) ecosystems: usize,
}

impl From<&KitInfo> for KitLine {
    fn from(k: &KitInfo) -> Self {
        KitLine {
            sequence: k.sequence,
            kit_id: k.kit_id.clone(),
            created: fmt::date_time(k.created),
            expires: fmt::date_time(k.expires),
            site: k.site.clone().unwrap_or_else(|| "any".into()),
            advisories: k.advisory_counts.iter().map(|c| c.advisories).sum(),
            ecosystems: k.advisory_counts.len(),
        }
    }
}

/// One import history row, formatted.
pub(crate) struct HistoryLine {
    pub(crate) at: String,
    pub(crate) actor: String,
    pub(crate) file: String,
    pub(crate) sequence: String,
    pub(crate) status: &'static str,
    pub(crate) reason: String,
}

impl From<&ImportRow> for HistoryLine {
    fn from(r: &ImportRow) -> Self {
        HistoryLine {
            at: fmt::date_time(r.at),
            actor: r.actor.clone(),
            file: r.file_name.clone(),
            sequence: r.sequence.map(|s| format!("#{s}")).unwrap_or_default(),
            status: r.status.as_str(),
            reason: r.reason.clone(),
        }
    }
}

/// The kits page.
#[derive(Template)]
#[template(path = "kits.html")]
pub(crate) struct KitsPage {
    chrome: Chrome,
    active: Option<KitLine>,
    max_upload: String,
    notice: Option<String>,
    history: Vec<HistoryLine>,
}

/// Query string of `GET /kits`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ShowParams {
    activated: Option<u64>,
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1024 && v.is_multiple_of(1024) && u + 1 < UNITS.len() {
        v /= 1024;
        u += 1;
    }
    format!("{v} {}", UNITS[u])
}

/// `GET /kits`.
pub(crate) async fn show(
    State(st): State<AppState>,
    op: Operator,
    params: Result<Query<ShowParams>, QueryRejection>,
) -> Result<Html<String>, WebError> {
    let p = params.ok().map(|Query(p)| p).unwrap_or_default();
    let (dash, imports) = st.call(|c| Ok((c.dashboard()?, c.imports()?))).await?;
    html(&KitsPage {
        chrome: Chrome::new(&op, "kits"),
        active: dash.kit.as_ref().map(KitLine::from),
        max_upload: human_bytes(st.opts.max_upload),
        notice: p
            .activated
            .map(|s| format!("Kit #{s} is now active. New scans use its feeds.")),
        history: imports.iter().map(HistoryLine::from).collect(),
    })
}

/// The verification report.
#[derive(Template)]
#[template(path = "import_report.html")]
pub(crate) struct ReportPage {
    chrome: Chrome,
    file_name: String,
    size: String,
    report: ImportReport,
    kit: Option<KitLine>,
    accepted: bool,
    /// The console activated the kit as part of the import (the appliance's importer
    /// verifies and activates in one atomic step), so there is nothing left to confirm.
    activated: bool,
}

/// Streams one multipart field into `path`, refusing more than `limit` bytes.
async fn stream_to_file(
    field: &mut Field<'_>,
    path: &std::path::Path,
    limit: u64,
    cap_for_error: u64,
) -> Result<u64, WebError> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| WebError::internal(format_args!("create {}: {e}", path.display())))?;
    let mut size: u64 = 0;
    while let Some(chunk) = field.chunk().await.map_err(|e| {
        WebError::BadRequest(format!("the upload was interrupted or malformed: {e}"))
    })? {
        size += chunk.len() as u64;
        if size > limit {
            return Err(WebError::TooLarge {
                limit: cap_for_error,
            });
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| WebError::internal(format_args!("write {}: {e}", path.display())))?;
    }
    // Why: the console may read the file from another thread right after we return.
    file.sync_all()
        .await
        .map_err(|e| WebError::internal(format_args!("sync {}: {e}", path.display())))?;
    Ok(size)
}

/// `POST /kits` (multipart: `csrf`, then `kit`, optionally `signature`).
pub(crate) async fn upload(
    State(st): State<AppState>,
    op: Operator,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    let max = st.opts.max_upload;
    // Refuse early when the browser announces an oversized body.
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max.saturating_add(MAX_SIGNATURE_BYTES + MULTIPART_SLACK)) {
        return Err(WebError::TooLarge { limit: max });
    }

    let dir = {
        let base = st.opts.upload_dir.clone();
        tokio::task::spawn_blocking(move || {
            tempfile::Builder::new()
                .prefix("stella-upload-")
                .tempdir_in(base)
        })
        .await
        .map_err(WebError::internal)?
        .map_err(|e| WebError::internal(format_args!("upload directory: {e}")))?
    };
    let kit_path = dir.path().join("upload.ouk");
    let sig_path = dir.path().join("upload.ouk.minisig");
    let mut csrf_ok = false;
    let mut kit: Option<(String, u64)> = None;
    let mut signature = false;

    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| WebError::BadRequest(format!("the upload is malformed: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        // Why: the CSRF field comes first in the form, so a forged request is refused
        // before a single byte of the kit reaches the disk.
        if name == "csrf" {
            let v = field
                .text()
                .await
                .map_err(|e| WebError::BadRequest(format!("the upload is malformed: {e}")))?;
            op.check_csrf(&v)?;
            csrf_ok = true;
            continue;
        }
        if !csrf_ok {
            return Err(WebError::Csrf);
        }
        match name.as_str() {
            "kit" => {
                let original: String = field
                    .file_name()
                    .unwrap_or("kit.ouk")
                    .chars()
                    .take(MAX_FILE_NAME_CHARS)
                    .collect();
                let size = stream_to_file(&mut field, &kit_path, max, max).await?;
                if size > 0 {
                    kit = Some((original, size));
                }
            }
            "signature" => {
                let size = stream_to_file(
                    &mut field,
                    &sig_path,
                    MAX_SIGNATURE_BYTES,
                    MAX_SIGNATURE_BYTES,
                )
                .await?;
                signature = size > 0;
            }
            _ => {} // unknown fields are skipped by the next `next_field`
        }
    }
    if !csrf_ok {
        return Err(WebError::Csrf);
    }
    let Some((original_name, size)) = kit else {
        return Err(WebError::BadRequest(
            "Choose a kit file (.ouk) to upload.".into(),
        ));
    };
    let upload = KitUpload {
        kit: kit_path,
        signature: signature.then_some(sig_path),
        original_name: original_name.clone(),
        size,
    };
    let actor = op.0.user.clone();
    // The temporary directory moves into the blocking call and is deleted when it
    // returns, as the trait documents.
    let report = st
        .call(move |c| {
            let r = c.import_kit(&upload, &actor);
            drop(dir);
            r
        })
        .await?;
    let accepted = report.accepted() && report.import_id.is_some();
    let activated = accepted && report.kit.as_ref().is_some_and(|k| k.activated.is_some());
    let page = ReportPage {
        chrome: Chrome::new(&op, "kits"),
        file_name: original_name,
        size: human_bytes_approx(size),
        kit: report.kit.as_ref().map(KitLine::from),
        report,
        accepted,
        activated,
    };
    // Refusals are a normal outcome of the request (the report explains them): 200.
    Ok(html(&page)?.into_response())
}

fn human_bytes_approx(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

/// The activation form.
#[derive(Debug, Deserialize)]
pub(crate) struct ActivateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    import_id: String,
}

/// `POST /kits/activate`.
pub(crate) async fn activate(
    State(st): State<AppState>,
    op: Operator,
    Form(form): Form<ActivateForm>,
) -> Result<Response, WebError> {
    op.check_csrf(&form.csrf)?;
    if form.import_id.is_empty() {
        return Err(WebError::BadRequest("No import to activate.".into()));
    }
    let (id, actor) = (form.import_id, op.0.user.clone());
    let kit = st.call(move |c| c.activate_kit(&id, &actor)).await?;
    Ok(Redirect::to(&format!("/kits?activated={}", kit.sequence)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_read_well() {
        assert_eq!(human_bytes(4 << 30), "4 GiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
        assert_eq!(human_bytes(1536), "1536 bytes");
        assert_eq!(human_bytes_approx(1536), "1.5 KiB");
        assert_eq!(human_bytes_approx(3 << 20), "3.0 MiB");
    }
}
