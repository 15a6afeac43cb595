//! The API's one error type: a status, a stable machine-readable code and a sentence.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// An HTTP error answer: `{"error":"<code>","message":"<sentence>", ...extra}`.
///
/// 4xx messages are shown to the client as they are; 5xx messages are logged and replaced
/// by a generic sentence so internals (paths, SQL) never leak.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`unauthorized`, `quota_exhausted`, ...).
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
    /// Extra JSON fields of the body (e.g. `resets_at`).
    pub extra: Map<String, Value>,
    /// Extra headers (e.g. `Retry-After`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
            headers: Vec::new(),
        }
    }

    /// 400 with code `bad_request`-like `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: the client token is missing or not acceptable.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
        e.headers.push((
            axum::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"stella-appliance\""),
        ));
        e
    }

    /// 401 for operator endpoints (asks for Basic credentials or a console session).
    pub fn operator_required(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "operator_required", message);
        e.headers.push((
            axum::http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"stella-appliance operator\""),
        ));
        e
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 503: no kit is active, so nothing can be scanned.
    pub fn no_kit() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_active_kit",
            "no Offline Update Kit is active: import one with `stella-appliance import --data DIR kit.ouk`",
        )
    }

    /// 500; `detail` is logged, never sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the appliance log has the details",
        )
    }

    /// Adds a JSON field to the body.
    pub fn with_field(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }

    /// Adds a header (ignored if the value is not a valid header value).
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), Value::from(self.code));
        body.insert("message".into(), Value::from(self.message));
        body.extend(self.extra);
        let mut resp = (self.status, axum::Json(Value::Object(body))).into_response();
        for (k, v) in self.headers {
            resp.headers_mut().append(k, v);
        }
        resp
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        // One mapping of store errors: the service layer's.
        crate::service::ServiceError::from(e).into()
    }
}

impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as E;
        match e {
            E::Invalid { code, message } => Self::bad_request(code, message),
            E::TooLarge { message } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
            }
            E::Unauthorized(m) => Self::unauthorized(m),
            E::NotFound(m) => Self::not_found(m),
            E::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            E::NoKit => Self::no_kit(),
            E::InsufficientStorage(m) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "insufficient_storage",
                format!("insufficient storage: {m}"),
            )
            .with_header(axum::http::header::RETRY_AFTER, "60"),
            E::Internal(m) => Self::internal(m),
        }
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
