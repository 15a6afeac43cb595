//! `/v2/…`: a read-only OCI distribution registry serving the OCI artifacts of the active
//! kit (the Trivy DB, the Java DB) byte for byte, so stock clients on the sealed network —
//! `trivy --db-repository`, `oras`, `skopeo` — pull them from the appliance.
//!
//! The artifacts live in the active kit as OCI image layouts
//! (`content/oci/<name>/{oci-layout,index.json,blobs/sha256/…}`, docs/ouk-format.md §7).
//! Their digests were verified at import; the repository name comes from the
//! `io.stella.repository` annotation the kit builder writes (`aquasecurity/trivy-db`), the
//! tag from `org.opencontainers.image.ref.name`. Only `GET` and `HEAD` exist: nothing can
//! be pushed, and no authentication is asked for (the content is public feed data).
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

/// Where the registry finds the active kit.
pub trait KitDirSource: Send + Sync {
    /// The active kit directory, if a kit is active.
    fn active_kit_dir(&self) -> Option<PathBuf>;
}

/// The active kit behind a data directory's `current` symlink.
#[derive(Debug, Clone)]
pub struct CurrentLink(pub PathBuf);

impl KitDirSource for CurrentLink {
    fn active_kit_dir(&self) -> Option<PathBuf> {
        self.0.canonicalize().ok()
    }
}

/// Largest `index.json` read.
const MAX_INDEX_BYTES: u64 = 4 << 20;
/// Largest manifest served from memory.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// The `/v2/` routes.
pub fn router(source: Arc<dyn KitDirSource>) -> Router {
    Router::new()
        .route("/v2/", get(base).head(base))
        .route("/v2", get(base).head(base))
        .route("/v2/{*rest}", get(dispatch).head(dispatch))
        .with_state(source)
}

fn oci_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    r
}

async fn base() -> Response {
    let mut r = (StatusCode::OK, axum::Json(serde_json::json!({}))).into_response();
    r.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    r
}

#[derive(Debug, Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

/// One OCI layout of the active kit.
struct Layout {
    dir: PathBuf,
    repository: String,
    manifests: Vec<Descriptor>,
}

/// The layouts of kit directory `kit`, read once per kit: an activated kit directory never
/// changes (a new kit is a new directory), so `index.json` is not re-read per request.
fn layouts(kit: &Path) -> Arc<Vec<Layout>> {
    static CACHE: std::sync::Mutex<Option<(PathBuf, Arc<Vec<Layout>>)>> =
        std::sync::Mutex::new(None);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((dir, l)) = &*cache
        && dir == kit
    {
        return Arc::clone(l);
    }
    let l = Arc::new(read_layouts(kit));
    *cache = Some((kit.to_path_buf(), Arc::clone(&l)));
    l
}

fn read_layouts(kit: &Path) -> Vec<Layout> {
    let root = kit.join("content").join("oci");
    let Ok(rd) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let dir = e.path();
        let Ok(f) = std::fs::File::open(dir.join("index.json")) else {
            continue;
        };
        let mut bytes = Vec::new();
        if std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_INDEX_BYTES), &mut bytes)
            .is_err()
        {
            continue;
        }
        let Ok(idx) = serde_json::from_slice::<Index>(&bytes) else {
            continue;
        };
        let name = e.file_name().to_string_lossy().into_owned();
        // An empty annotation (kits built before stella-kit named dir-source layouts) would
        // serve the artifact as "" — a name no client can ask for: fall back to the kit name.
        let repository = idx
            .manifests
            .iter()
            .find_map(|d| {
                d.annotations
                    .get("io.stella.repository")
                    .filter(|r| !r.is_empty())
                    .cloned()
            })
            .unwrap_or(name);
        out.push(Layout {
            dir,
            repository,
            manifests: idx.manifests,
        });
    }
    out.sort_by(|a, b| a.repository.cmp(&b.repository));
    out
}

fn valid_digest(d: &str) -> Option<&str> {
    let hex = d.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(hex)
}

async fn dispatch(
    State(source): State<Arc<dyn KitDirSource>>,
    method: Method,
    UrlPath(rest): UrlPath<String>,
) -> Response {
    let Some(kit) = source.active_kit_dir() else {
        return oci_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "no kit is active on this appliance",
        );
    };
    let head = method == Method::HEAD;
    if rest == "_catalog" {
        let repos: Vec<String> = layouts(&kit).iter().map(|l| l.repository.clone()).collect();
        return axum::Json(serde_json::json!({ "repositories": repos })).into_response();
    }
    let (repo, kind, reference) = if let Some((repo, r)) = rest.rsplit_once("/manifests/") {
        (repo, "manifests", r)
    } else if let Some((repo, r)) = rest.rsplit_once("/blobs/") {
        (repo, "blobs", r)
    } else if let Some(repo) = rest.strip_suffix("/tags/list") {
        (repo, "tags", "")
    } else {
        return oci_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "unknown registry path",
        );
    };
    let all = layouts(&kit);
    let Some(layout) = all.iter().find(|l| l.repository == repo) else {
        return oci_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            &format!("repository {repo} is not in the active kit"),
        );
    };
    match kind {
        "tags" => {
            let mut tags: Vec<String> = layout
                .manifests
                .iter()
                .filter_map(|d| {
                    d.annotations
                        .get("org.opencontainers.image.ref.name")
                        .cloned()
                })
                .collect();
            tags.sort();
            tags.dedup();
            axum::Json(serde_json::json!({"name": repo, "tags": tags})).into_response()
        }
        "manifests" => {
            let desc = if reference.starts_with("sha256:") {
                layout.manifests.iter().find(|d| d.digest == reference)
            } else {
                layout.manifests.iter().find(|d| {
                    d.annotations
                        .get("org.opencontainers.image.ref.name")
                        .map(String::as_str)
                        == Some(reference)
                })
            };
            let Some(desc) = desc.cloned() else {
                return oci_error(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    &format!("manifest {reference} is not in the active kit"),
                );
            };
            let Some(hex) = valid_digest(&desc.digest) else {
                return oci_error(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    "unsupported digest",
                );
            };
            if desc.size > MAX_MANIFEST_BYTES {
                return oci_error(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    "manifest too large",
                );
            }
            let path = layout.dir.join("blobs/sha256").join(hex);
            let bytes = match tokio::fs::read(&path).await {
                Ok(b) => b,
                Err(_) => {
                    return oci_error(
                        StatusCode::NOT_FOUND,
                        "MANIFEST_UNKNOWN",
                        "manifest blob missing",
                    );
                }
            };
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&desc.media_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&desc.digest) {
                h.insert("Docker-Content-Digest", v.clone());
                h.insert(header::ETAG, v);
            }
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            h.insert(
                "Docker-Distribution-API-Version",
                HeaderValue::from_static("registry/2.0"),
            );
            if head {
                return (StatusCode::OK, h).into_response();
            }
            (StatusCode::OK, h, bytes).into_response()
        }
        _ => {
            let Some(hex) = valid_digest(reference) else {
                return oci_error(
                    StatusCode::BAD_REQUEST,
                    "DIGEST_INVALID",
                    "only sha256 digests are served",
                );
            };
            let path = layout.dir.join("blobs/sha256").join(hex);
            let file = match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(_) => {
                    return oci_error(
                        StatusCode::NOT_FOUND,
                        "BLOB_UNKNOWN",
                        &format!("blob {reference} is not in the active kit"),
                    );
                }
            };
            let len = match file.metadata().await {
                Ok(m) => m.len(),
                Err(_) => {
                    return oci_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unreadable");
                }
            };
            let mut h = HeaderMap::new();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            if let Ok(v) = HeaderValue::from_str(reference) {
                h.insert("Docker-Content-Digest", v.clone());
                h.insert(header::ETAG, v);
            }
            h.insert(
                "Docker-Distribution-API-Version",
                HeaderValue::from_static("registry/2.0"),
            );
            if head {
                return (StatusCode::OK, h).into_response();
            }
            let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
            (StatusCode::OK, h, Body::from_stream(stream)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(kit: &Path, name: &str, repository: Option<&str>) {
        let dir = kit.join("content/oci").join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let annotations = match repository {
            Some(r) => serde_json::json!({"io.stella.repository": r}),
            None => serde_json::json!({}),
        };
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", "a".repeat(64)), "size": 2,
            "annotations": annotations,
        }]});
        std::fs::write(dir.join("index.json"), index.to_string()).expect("index");
    }

    #[test]
    fn repository_is_the_annotation_else_the_kit_name() {
        let kit = tempfile::tempdir().expect("tmp");
        layout(kit.path(), "trivy-db", Some("aquasecurity/trivy-db"));
        layout(kit.path(), "java-db", None);
        layout(kit.path(), "old-kit", Some(""));
        let names: Vec<String> = read_layouts(kit.path())
            .iter()
            .map(|l| l.repository.clone())
            .collect();
        assert_eq!(names, ["aquasecurity/trivy-db", "java-db", "old-kit"]);
    }
}
