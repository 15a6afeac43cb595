//! Static assets, embedded in the binary (the sealed site has no CDN and no fonts to
//! fetch). URLs carry a content hash so they can be cached for a year and still change
//! on upgrade.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../static/console.css"),
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/console.js"),
    },
    Asset {
        name: "logo.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../static/logo.svg"),
    },
];

/// URLs of the assets, for templates.
#[derive(Debug)]
pub(crate) struct Urls {
    pub(crate) css: String,
    pub(crate) js: String,
    pub(crate) logo: String,
    version: String,
}

static URLS: LazyLock<Urls> = LazyLock::new(|| {
    let mut h = Sha256::new();
    for a in ASSETS {
        h.update(a.name.as_bytes());
        h.update((a.bytes.len() as u64).to_le_bytes());
        h.update(a.bytes);
    }
    let version: String = hex::encode(h.finalize()).chars().take(12).collect();
    Urls {
        css: format!("/static/{version}/console.css"),
        js: format!("/static/{version}/console.js"),
        logo: format!("/static/{version}/logo.svg"),
        version,
    }
});

/// The asset URLs (computed once).
pub(crate) fn urls() -> &'static Urls {
    &URLS
}

/// `GET /static/{version}/{name}`.
pub(crate) async fn serve(Path((version, name)): Path<(String, String)>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    // Only the current version may be cached forever; an old URL (from a page rendered
    // before an upgrade) still gets the current file, but uncached.
    let cache = if version == urls().version {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        asset.bytes,
    )
        .into_response()
}
