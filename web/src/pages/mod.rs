//! One module per page: the askama struct beside its handler.

pub(crate) mod audit;
pub(crate) mod dashboard;
pub(crate) mod kits;
pub(crate) mod mute;
pub(crate) mod policy;
pub(crate) mod scans;
pub(crate) mod tokens;

use askama::Template;
use axum::response::Html;

use crate::assets;
use crate::auth::Operator;
use crate::error::WebError;

/// Renders a template into an HTML response body.
pub(crate) fn html<T: Template>(t: &T) -> Result<Html<String>, WebError> {
    t.render()
        .map(Html)
        .map_err(|e| WebError::internal(format_args!("template: {e}")))
}

/// What every logged-in page shows around its content: navigation, the operator, the
/// logout form (which needs the CSRF token).
pub(crate) struct Chrome {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) nav: &'static str,
    pub(crate) assets: &'static assets::Urls,
}

impl Chrome {
    pub(crate) fn new(op: &Operator, nav: &'static str) -> Self {
        Chrome {
            user: op.0.user.clone(),
            csrf: op.0.csrf.clone(),
            nav,
            assets: assets::urls(),
        }
    }
}

/// Drops empty query-string values (an empty filter box means "no filter").
pub(crate) fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}
