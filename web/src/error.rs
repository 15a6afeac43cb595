//! [`WebError`]: what a handler can fail with, and how that looks in the browser.
//!
//! 4xx errors explain themselves to the operator; 5xx errors are logged with their cause
//! and shown only as "internal error", so no path, SQL or stack detail leaks to a browser.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::assets;
use crate::console::ConsoleError;

/// A handler failure, rendered as an HTML error page with the right status code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// 400: the request is malformed; the message is shown.
    #[error("{0}")]
    BadRequest(String),
    /// 403: missing or wrong CSRF token.
    #[error("the form's security token is missing or out of date; reload the page and try again")]
    Csrf,
    /// 404: the named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// 409: conflicts with the current state; the message is shown.
    #[error("{0}")]
    Conflict(String),
    /// 413: an upload exceeded the configured cap.
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// 500: hidden from the browser, logged.
    #[error("internal error: {0}")]
    Internal(String),
}

impl WebError {
    /// Wraps any internal failure (logged, not shown).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        WebError::Internal(e.to_string())
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ConsoleError> for WebError {
    fn from(e: ConsoleError) -> Self {
        match e {
            ConsoleError::NotFound { what } => WebError::NotFound(what),
            ConsoleError::Invalid(m) => WebError::BadRequest(m),
            ConsoleError::Conflict(m) => WebError::Conflict(m),
            ConsoleError::Internal(e) => WebError::Internal(e.to_string()),
        }
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    assets: &'a assets::Urls,
    status: u16,
    title: &'a str,
    message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            // Why: internals (paths, SQL, OS errors) are for the log, not the browser.
            tracing::error!(error = %self, "web console request failed");
            "Something went wrong inside the appliance. The details are in the server log."
                .to_owned()
        } else {
            self.to_string()
        };
        let page = ErrorPage {
            assets: assets::urls(),
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message,
        };
        let body = page.render().unwrap_or_else(|_| status.to_string());
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        resp
    }
}
