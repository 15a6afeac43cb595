//! `GET/POST /policy`: view and edit the policy YAML, validation errors shown inline
//! against the offending lines; `GET /policy/versions/{n}`: a past version.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Chrome, html};
use crate::auth::Operator;
use crate::console::{PolicyError, PolicySave, PolicyVersion};
use crate::error::WebError;
use crate::fmt;
use crate::state::AppState;

/// Largest policy accepted, in bytes.
pub(crate) const MAX_POLICY_BYTES: usize = 256 * 1024;

/// One history entry, formatted.
pub(crate) struct HistoryLine {
    pub(crate) version: u32,
    pub(crate) author: String,
    pub(crate) created: String,
    pub(crate) digest: String,
    pub(crate) href: String,
}

impl From<&PolicyVersion> for HistoryLine {
    fn from(v: &PolicyVersion) -> Self {
        HistoryLine {
            version: v.version,
            author: v.author.clone(),
            created: fmt::date_time(v.created),
            digest: fmt::short_digest(&v.digest),
            href: format!("/policy/versions/{}", v.version),
        }
    }
}

/// A numbered source line with the errors that point at it.
pub(crate) struct SourceLine {
    pub(crate) no: u32,
    pub(crate) text: String,
    pub(crate) errors: Vec<String>,
}

/// Numbers the lines of `text` and attaches each error to its line. Errors with line 0
/// or beyond the end are returned separately (shown above the listing).
pub(crate) fn annotate(text: &str, errors: &[PolicyError]) -> (Vec<SourceLine>, Vec<String>) {
    let mut lines: Vec<SourceLine> = text
        .lines()
        .enumerate()
        .map(|(i, l)| SourceLine {
            no: u32::try_from(i + 1).unwrap_or(u32::MAX),
            text: l.to_owned(),
            errors: Vec::new(),
        })
        .collect();
    let mut general = Vec::new();
    for e in errors {
        match usize::try_from(e.line)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| lines.get_mut(i))
        {
            Some(l) => l.errors.push(e.msg.clone()),
            None if e.line == 0 => general.push(e.msg.clone()),
            None => general.push(format!("line {}: {}", e.line, e.msg)),
        }
    }
    (lines, general)
}

/// The policy editor.
#[derive(Template)]
#[template(path = "policy.html")]
pub(crate) struct PolicyPage {
    chrome: Chrome,
    yaml: String,
    version: u32,
    notice: Option<String>,
    error_count: usize,
    general_errors: Vec<String>,
    /// Only the lines that carry errors, with a line of context each side.
    annotated: Vec<SourceLine>,
    history: Vec<HistoryLine>,
}

/// Query string of `GET /policy`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ShowParams {
    saved: Option<u32>,
}

/// `GET /policy`.
pub(crate) async fn show(
    State(st): State<AppState>,
    op: Operator,
    params: Result<Query<ShowParams>, QueryRejection>,
) -> Result<Html<String>, WebError> {
    let p = params.ok().map(|Query(p)| p).unwrap_or_default();
    let view = st.call(|c| c.policy()).await?;
    html(&PolicyPage {
        chrome: Chrome::new(&op, "policy"),
        yaml: view.yaml,
        version: view.version,
        notice: p.saved.map(|v| format!("Saved as version {v}.")),
        error_count: 0,
        general_errors: Vec::new(),
        annotated: Vec::new(),
        history: view.history.iter().map(HistoryLine::from).collect(),
    })
}

/// The editor's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct PolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    yaml: String,
}

/// `POST /policy`.
pub(crate) async fn save(
    State(st): State<AppState>,
    op: Operator,
    Form(form): Form<PolicyForm>,
) -> Result<Response, WebError> {
    op.check_csrf(&form.csrf)?;
    // Browsers submit textareas with CRLF line ends; store what the operator sees.
    let yaml = form.yaml.replace("\r\n", "\n");
    let errors = if yaml.len() > MAX_POLICY_BYTES {
        vec![PolicyError {
            line: 0,
            msg: format!("The policy is larger than {MAX_POLICY_BYTES} bytes."),
        }]
    } else if yaml.trim().is_empty() {
        vec![PolicyError {
            line: 0,
            msg: "The policy is empty.".into(),
        }]
    } else {
        let (y, author) = (yaml.clone(), op.0.user.clone());
        match st.call(move |c| c.save_policy(&y, &author)).await? {
            PolicySave::Saved { version } => {
                return Ok(Redirect::to(&format!("/policy?saved={version}")).into_response());
            }
            PolicySave::Rejected(errors) => errors,
        }
    };
    let view = st.call(|c| c.policy()).await?;
    let (lines, general_errors) = annotate(&yaml, &errors);
    // Show each error line with one line of context either side, not the whole file.
    let keep: Vec<bool> = (0..lines.len())
        .map(|i| {
            (i.saturating_sub(1)..=(i + 1).min(lines.len().saturating_sub(1)))
                .any(|j| lines.get(j).is_some_and(|l| !l.errors.is_empty()))
        })
        .collect();
    let annotated = lines
        .into_iter()
        .zip(keep)
        .filter_map(|(l, k)| k.then_some(l))
        .collect();
    let page = PolicyPage {
        chrome: Chrome::new(&op, "policy"),
        yaml,
        version: view.version,
        notice: None,
        error_count: errors.len(),
        general_errors,
        annotated,
        history: view.history.iter().map(HistoryLine::from).collect(),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, html(&page)?).into_response())
}

/// A past version, read-only.
#[derive(Template)]
#[template(path = "policy_version.html")]
pub(crate) struct PolicyVersionPage {
    chrome: Chrome,
    meta: HistoryLine,
    lines: Vec<SourceLine>,
}

/// `GET /policy/versions/{version}`.
pub(crate) async fn version(
    State(st): State<AppState>,
    op: Operator,
    Path(version): Path<String>,
) -> Result<Html<String>, WebError> {
    let n: u32 = version
        .parse()
        .map_err(|_| WebError::NotFound(format!("policy version {version}")))?;
    let v = st
        .call(move |c| c.policy_version(n))
        .await?
        .ok_or_else(|| WebError::NotFound(format!("policy version {n}")))?;
    html(&PolicyVersionPage {
        chrome: Chrome::new(&op, "policy"),
        meta: HistoryLine::from(&v.meta),
        lines: annotate(&v.yaml, &[]).0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_attach_to_their_lines() {
        let errs = [
            PolicyError {
                line: 2,
                msg: "bad".into(),
            },
            PolicyError {
                line: 0,
                msg: "general".into(),
            },
            PolicyError {
                line: 9,
                msg: "past end".into(),
            },
        ];
        let (lines, general) = annotate("a: 1\nb: x\nc: 3", &errs);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].errors, ["bad"]);
        assert!(lines[0].errors.is_empty());
        assert_eq!(general, ["general", "line 9: past end"]);
    }
}
