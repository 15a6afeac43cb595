//! The HTTP handlers of CONTRACT.md's API table.

use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use importer::datadir::rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::auth::{self, Operator, Peer};
use super::error::{ApiError, ApiResult};
use crate::evidence::{Statement, Summary};
use crate::policy::{MuteRule, Policy};
use crate::quota::{quota_headers, utc_day};
use crate::service::policy::{Actor, PolicyChange};
use crate::service::scan::{Reader, ScanError, ScanRequest, Scanned};
use crate::service::timing::Timings;
use crate::service::{self, Via};
use crate::state::AppState;
use crate::store::{
    PageRequest, QuotaStatus, RevocationKind, ScanFilter, ScanId, Sha256Digest, Verdict,
};

/// Largest JSON body of the small endpoints (layers, mutes, tokens).
const MAX_JSON_BODY: usize = 1024 * 1024;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// Reads a body of at most `limit` bytes; over the limit → 413.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize, what: &str) -> ApiResult<Bytes> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("{what} is larger than the {limit}-byte limit"),
        )
        .with_field("limit", limit)
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b),
        Err(e) => {
            let inner = e.into_inner();
            if inner
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(too_large())
            } else {
                Err(ApiError::bad_request(
                    "bad_body",
                    format!("reading the request body: {inner}"),
                ))
            }
        }
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    body: Body,
    headers: &HeaderMap,
) -> ApiResult<T> {
    let bytes = read_body(body, headers, MAX_JSON_BODY, "the JSON body").await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("request body: {e}")))
}

fn with_quota_headers(mut resp: Response, status: &QuotaStatus, refused: bool) -> Response {
    let h = quota_headers(status);
    for (k, v) in h.pairs(refused) {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_str(v)) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

// ----- health -----

/// `GET /healthz`.
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: 200 once a kit is active and the data disk has `min_free_bytes` free;
/// otherwise 503 saying which.
pub async fn readyz(State(st): State<AppState>) -> Response {
    let Some(k) = st.kit() else {
        return ApiError::no_kit().into_response();
    };
    let free = st.data.free_bytes();
    if let Ok(free) = free
        && free < st.config.min_free_bytes
    {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "insufficient_storage",
            format!(
                "insufficient storage: {free} bytes free on {}, below min_free_bytes ({}); scans cannot be stored",
                st.data.root().display(),
                st.config.min_free_bytes
            ),
        )
        .with_field("free_bytes", free)
        .into_response();
    }
    Json(json!({
        "status": "ready",
        "kit": {"id": k.id, "sequence": k.sequence, "created_at": rfc3339(k.created_at)},
        "free_bytes": free.ok(),
    }))
    .into_response()
}

/// `GET /metrics`.
pub async fn metrics(State(st): State<AppState>) -> Response {
    let text = st.metrics.render(st.gauges(OffsetDateTime::now_utc()));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

// ----- quota -----

/// `GET /api/v1/quota`.
pub async fn quota(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let now = OffsetDateTime::now_utc();
    let c = auth::client(&st, &headers, now)?;
    let s = st.store.quota_status(&c.quota_key, utc_day(now), c.limit)?;
    let body = json!({
        "limit": s.limit,
        "used": s.used,
        "remaining": s.remaining,
        "resets_at": rfc3339(s.resets_at),
        "client": c.claims.sub,
    });
    Ok(with_quota_headers(Json(body).into_response(), &s, false))
}

// ----- scans -----

/// Query of `POST /api/v1/scan`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanQuery {
    /// What is scanned (defaults to the SBOM's own name).
    pub name: Option<String>,
    /// Image digest `sha256:<hex>` (defaults to the one the SBOM names).
    pub image_digest: Option<String>,
}

/// The kit facts of a scan answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KitOut {
    /// Kit id.
    pub id: String,
    /// Kit sequence.
    pub sequence: u64,
    /// Kit creation time.
    pub created_at: String,
}

/// The answer of `POST /api/v1/scan` and `GET /api/v1/scans/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct ScanResponse {
    /// Scan id.
    pub scan_id: String,
    /// `pass` or `fail`.
    pub verdict: Verdict,
    /// Counts.
    pub summary: Summary,
    /// Findings, muted included (their canonical JSON, passed through as is).
    pub findings: Box<RawValue>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// Kit used.
    pub kit: KitOut,
    /// `sha256:` of the canonical findings JSON.
    pub findings_digest: String,
    /// `sha256:` of the SBOM bytes.
    pub sbom_sha256: String,
    /// What was scanned.
    pub name: String,
    /// Image digest, if any.
    pub image_digest: Option<String>,
    /// Policy version used.
    pub policy_version: u64,
    /// When the scan ran.
    pub created_at: String,
    /// Where the signed evidence is.
    pub evidence_url: String,
}

impl ScanResponse {
    fn of(s: Scanned) -> ApiResult<Self> {
        Ok(ScanResponse {
            evidence_url: format!("/api/v1/scans/{}/evidence", s.id),
            scan_id: s.id.to_string(),
            verdict: s.verdict,
            summary: s.summary,
            findings: RawValue::from_string(s.findings_json).map_err(ApiError::internal)?,
            warnings: s.warnings,
            kit: KitOut {
                id: s.kit.id,
                sequence: s.kit.sequence,
                created_at: s.kit.created_at,
            },
            findings_digest: s.findings_digest,
            sbom_sha256: s.sbom_sha256.to_string(),
            name: s.name,
            image_digest: s.image_digest,
            policy_version: s.policy_version,
            created_at: rfc3339(s.created_at),
        })
    }
}

/// Memory charged per body byte admitted: the body itself, and the parsed SBOM and
/// findings built from it. Measured (`tests/bench/upload_rss.sh`, docs/PERFORMANCE.md):
/// one 47 MB SBOM in flight peaks ~135–150 MB above idle, so 2 let a 512 MiB budget
/// reach 686–705 MB; 3 keeps the peak near the budget.
const BODY_MEMORY_FACTOR: u64 = 3;

/// Admits a scan's body against the global in-flight budget (`max_inflight_body_bytes`),
/// charging its `Content-Length` (or the SBOM cap when the length is not announced)
/// until the scan is done; beyond the budget the answer is 503 with `Retry-After`, so
/// concurrent large uploads cannot exhaust the machine's memory.
fn admit_body(
    st: &AppState,
    headers: &HeaderMap,
    cap: usize,
) -> ApiResult<tokio::sync::OwnedSemaphorePermit> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let len = announced.unwrap_or(cap as u64).min(cap as u64);
    let kib = (len.saturating_mul(BODY_MEMORY_FACTOR) / 1024).max(1);
    let permits = u32::try_from(kib).unwrap_or(u32::MAX);
    st.body_budget
        .clone()
        .try_acquire_many_owned(permits)
        .map_err(|_| {
            st.metrics.busy_refused();
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the appliance is scanning as much as its memory budget allows (max_inflight_body_bytes); retry in a second",
            )
            .with_header(header::RETRY_AFTER, "1")
        })
}

/// `POST /api/v1/scan`: the scan workflow of [`service::scan::scan`].
pub async fn scan(
    State(st): State<AppState>,
    query: Result<Query<ScanQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let mut timings = Timings::new(Instant::now());
    let now = OffsetDateTime::now_utc();
    let client = auth::client(&st, &headers, now)?;
    timings.mark("auth");
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let request = ScanRequest {
        name: q.name,
        image_digest: q.image_digest,
    };
    // Before the body is read: a bad query costs no upload.
    request.validate()?;
    let kit = st.kit().ok_or_else(ApiError::no_kit)?;
    let cap = st.config.max_sbom_bytes;
    let _admitted = admit_body(&st, &headers, cap)?;
    let bytes = match read_body(body, &headers, cap, "the SBOM").await {
        Ok(b) => b,
        Err(e) => {
            st.metrics.sbom_rejected();
            return Err(e);
        }
    };
    timings.mark("body");
    let st2 = st.clone();
    blocking(move || {
        let _admitted = _admitted;
        match service::scan::scan(&st2, &kit, &client, request, &bytes, now, &mut timings) {
            Ok(done) => {
                let quota = done.quota;
                let mut resp = Json(ScanResponse::of(done)?).into_response();
                timings.mark("response");
                if let Ok(v) = HeaderValue::from_str(&timings.header_text()) {
                    resp.headers_mut()
                        .insert(HeaderName::from_static("server-timing"), v);
                }
                Ok(match quota {
                    Some(q) => with_quota_headers(resp, &q, false),
                    None => resp,
                })
            }
            Err(ScanError::QuotaExhausted(status)) => {
                let err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "quota_exhausted",
                    ScanError::QuotaExhausted(status).to_string(),
                )
                .with_field("limit", status.limit)
                .with_field("used", status.used)
                .with_field("resets_at", rfc3339(status.resets_at));
                Ok(with_quota_headers(err.into_response(), &status, true))
            }
            Err(ScanError::Service(e)) => Err(e.into()),
        }
    })
    .await
}

/// The reader of a `GET` of scans: a client (bearer) or an operator.
fn reader(
    st: &AppState,
    headers: &HeaderMap,
    peer: Peer,
    now: OffsetDateTime,
) -> ApiResult<Reader> {
    if auth::has_bearer(headers) {
        Ok(Reader::Client(auth::client(st, headers, now)?.claims.sub))
    } else {
        auth::operator(st, &Method::GET, headers, peer, now).map(|_| Reader::Operator)
    }
}

/// `GET /api/v1/scans/{id}`.
pub async fn get_scan(
    State(st): State<AppState>,
    Path(id): Path<String>,
    peer: Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    blocking(move || {
        let now = OffsetDateTime::now_utc();
        let who = reader(&st, &headers, peer, now)?;
        let rec = service::scan::find(&st, &id, &who)?;
        let s = &rec.scan;
        let envelope = s
            .evidence_json
            .as_deref()
            .ok_or_else(|| ApiError::internal(format!("scan {id} has no evidence")))?;
        let p = Statement::from_envelope_unverified(envelope)
            .map_err(ApiError::internal)?
            .predicate;
        // Stored as canonical JSON by the scan: passed through, not re-parsed.
        let findings =
            RawValue::from_string(s.findings_json.clone()).map_err(ApiError::internal)?;
        let resp = ScanResponse {
            scan_id: rec.id.to_string(),
            verdict: s.verdict,
            summary: p.summary,
            findings,
            warnings: p.warnings,
            kit: KitOut {
                id: p.kit.id,
                sequence: p.kit.sequence,
                created_at: p.kit.created_at,
            },
            findings_digest: s.findings_digest.to_string(),
            sbom_sha256: s.sbom_sha256.to_string(),
            name: s.name.clone(),
            image_digest: s.image_digest.clone(),
            policy_version: p.policy.version,
            created_at: rfc3339(s.created_at),
            evidence_url: format!("/api/v1/scans/{}/evidence", rec.id),
        };
        Ok(Json(resp).into_response())
    })
    .await
}

/// `GET /api/v1/scans/{id}/evidence`: the DSSE envelope as stored.
pub async fn get_evidence(
    State(st): State<AppState>,
    Path(id): Path<String>,
    peer: Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    blocking(move || {
        let now = OffsetDateTime::now_utc();
        let who = reader(&st, &headers, peer, now)?;
        let rec = service::scan::find(&st, &id, &who)?;
        let env = rec
            .scan
            .evidence_json
            .ok_or_else(|| ApiError::not_found(format!("scan {id} has no evidence")))?;
        Ok(([(header::CONTENT_TYPE, "application/json")], env).into_response())
    })
    .await
}

/// `GET /api/v1/scans/{id}/bundle`: the evidence bundle (`.tar.zst`), same access rule as
/// `/evidence`.
pub async fn get_bundle(
    State(st): State<AppState>,
    Path(id): Path<String>,
    peer: Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    blocking(move || {
        let now = OffsetDateTime::now_utc();
        let who = reader(&st, &headers, peer, now)?;
        let rec = service::scan::find(&st, &id, &who)?;
        let b = crate::evidence::bundle::build(&*st.store, &st.data, &rec.id)
            .map_err(|e| match e {
                // Missing inputs are a fact about this scan, not a server fault.
                crate::evidence::bundle::BundleError::NoEvidence(_)
                | crate::evidence::bundle::BundleError::KitPruned { .. }
                | crate::evidence::bundle::BundleError::SbomMissing { .. }
                | crate::evidence::bundle::BundleError::PolicyMissing { .. } => {
                    ApiError::new(StatusCode::GONE, "bundle_unavailable", e.to_string())
                }
                other => ApiError::internal(other),
            })?
            .ok_or_else(|| ApiError::not_found(format!("no scan {id:?}")))?;
        let disposition =
            HeaderValue::from_str(&format!("attachment; filename=\"{}\"", b.file_name))
                .map_err(ApiError::internal)?;
        Ok((
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/zstd"),
                ),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            b.bytes,
        )
            .into_response())
    })
    .await
}

/// Query of `GET /api/v1/scans`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Continue after this scan id (`next_cursor` of the previous page).
    pub page: Option<String>,
    /// Same as `page`.
    pub cursor: Option<String>,
    /// Rows per page (1-200, default 50).
    pub limit: Option<u32>,
    /// `pass` or `fail`.
    pub verdict: Option<String>,
    /// Substring of the name or image digest.
    pub q: Option<String>,
    /// Only this client.
    pub subject: Option<String>,
}

/// `GET /api/v1/scans` (operator).
pub async fn list_scans(
    State(st): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
    peer: Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    blocking(move || {
        auth::operator(&st, &Method::GET, &headers, peer, OffsetDateTime::now_utc())?;
        let cursor = match q.page.or(q.cursor).filter(|s| !s.is_empty()) {
            Some(c) => Some(
                c.parse::<ScanId>()
                    .map_err(|e| ApiError::bad_request("invalid_query", format!("page: {e}")))?,
            ),
            None => None,
        };
        let verdict = match q.verdict.as_deref() {
            None | Some("") => None,
            Some("pass") => Some(Verdict::Pass),
            Some("fail") => Some(Verdict::Fail),
            Some(v) => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("verdict must be pass or fail, not {v:?}"),
                ));
            }
        };
        let filter = ScanFilter {
            text: q.q.filter(|s| !s.is_empty()),
            verdict,
            subject: q.subject.filter(|s| !s.is_empty()),
            ..ScanFilter::default()
        };
        let limit = q.limit.unwrap_or(50).clamp(1, PageRequest::MAX_LIMIT);
        let page = st
            .store
            .list_scans(&filter, PageRequest { limit, cursor })?;
        Ok(Json(page).into_response())
    })
    .await
}

// ----- layers -----

/// Body of `POST /api/v1/layers/missing`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayersRequest {
    /// Layer digests `sha256:<hex>`.
    pub layers: Vec<String>,
}

/// `POST /api/v1/layers/missing`.
pub async fn layers_missing(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    auth::client(&st, &headers, OffsetDateTime::now_utc())?;
    let req: LayersRequest = read_json(body, &headers).await?;
    if req.layers.len() > crate::store::MAX_LAYERS_PER_CALL {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_layers",
            format!(
                "{} layers in one request, more than the limit of {}",
                req.layers.len(),
                crate::store::MAX_LAYERS_PER_CALL
            ),
        ));
    }
    let digests = req
        .layers
        .iter()
        .map(|l| {
            l.parse::<Sha256Digest>()
                .map_err(|e| ApiError::bad_request("invalid_digest", e.to_string()))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    // sled lookups of a few dozen keys take microseconds: no thread hop.
    let missing = st.store.layers_missing(&digests)?;
    Ok(Json(json!({ "missing": missing })).into_response())
}

// ----- operator: tokens -----

/// Body of `POST /api/v1/token/offline`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Client id.
    pub client: String,
}

async fn operator_of(
    st: &AppState,
    method: &Method,
    headers: &HeaderMap,
    peer: Peer,
) -> ApiResult<Operator> {
    let (st, method, headers) = (st.clone(), method.clone(), headers.clone());
    blocking(move || auth::operator(&st, &method, &headers, peer, OffsetDateTime::now_utc())).await
}

/// `POST /api/v1/token/offline` (operator): the appliance-signed token of a client.
pub async fn token_offline(
    State(st): State<AppState>,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let op = operator_of(&st, &method, &headers, peer).await?;
    let req: TokenRequest = read_json(body, &headers).await?;
    let c = blocking(move || {
        let now = OffsetDateTime::now_utc();
        Ok(service::clients::issue_token(
            &st,
            &op.username,
            Via::Api,
            &req.client,
            now,
        )?)
    })
    .await?;
    let expires = OffsetDateTime::from_unix_timestamp(c.exp).map_err(ApiError::internal)?;
    Ok(Json(json!({
        "client": c.id,
        "token": c.token,
        "expires_at": rfc3339(expires),
        "tier": c.tier,
        "max_scans_per_day": c.max_scans_per_day,
    }))
    .into_response())
}

// ----- operator: clients and revocations -----

/// `GET /api/v1/clients` (operator): the active kit's clients with their limit, today's
/// use, current token and whether they are revoked, and every local revocation.
pub async fn list_clients(
    State(st): State<AppState>,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    operator_of(&st, &method, &headers, peer).await?;
    blocking(move || {
        let now = OffsetDateTime::now_utc();
        let revoked = st.local_revocations.read().clone();
        let kit = st.kit();
        let clients: Vec<_> = kit
            .iter()
            .flat_map(|k| k.tokens.clients.iter().map(move |c| (k, c)))
            .map(|(k, c)| {
                let token_revoked = c.jti.as_ref().is_some_and(|j| {
                    k.revoked.contains(j) || revoked.contains(&(RevocationKind::Token, j.clone()))
                });
                json!({
                    "client": c.id,
                    "tier": c.tier,
                    "max_scans_per_day": c.max_scans_per_day,
                    "used_today": service::clients::used_today(&st, c, now),
                    "token": {
                        "jti": c.jti,
                        "expires_at": OffsetDateTime::from_unix_timestamp(c.exp).map(rfc3339).ok(),
                        "revoked": token_revoked,
                    },
                    "revoked": revoked.contains(&(RevocationKind::Client, c.id.clone())),
                })
            })
            .collect();
        let revocations = st.store.revocations()?;
        Ok(Json(json!({
            "kit": kit.map(|k| json!({"id": k.id, "sequence": k.sequence})),
            "clients": clients,
            "revocations": revocations,
        }))
        .into_response())
    })
    .await
}

/// Body of `POST /api/v1/revocations`: exactly one of `client` or `token`, and a reason.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// A client id: every token of it.
    pub client: Option<String>,
    /// A token id (`jti`).
    pub token: Option<String>,
    /// Why (recorded in the audit log).
    pub reason: String,
}

/// `POST /api/v1/revocations` (operator): revokes a client or a token on this appliance;
/// 201 when new, 200 when it already was.
pub async fn revoke(
    State(st): State<AppState>,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let op = operator_of(&st, &method, &headers, peer).await?;
    let req: RevokeRequest = read_json(body, &headers).await?;
    let (kind, id) = match (req.client, req.token) {
        (Some(c), None) => (RevocationKind::Client, c),
        (None, Some(t)) => (RevocationKind::Token, t),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_revocation",
                "name exactly one of `client` or `token`",
            ));
        }
    };
    let (id2, reason) = (id.clone(), req.reason);
    let added = blocking(move || {
        Ok(service::clients::revoke(
            &st,
            &op.username,
            Via::Api,
            kind,
            &id2,
            &reason,
        )?)
    })
    .await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({"kind": kind, "id": id, "revoked": true})),
    )
        .into_response())
}

/// `DELETE /api/v1/revocations/{kind}/{id}` (operator): lifts a local revocation.
pub async fn lift_revocation(
    State(st): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let op = operator_of(&st, &method, &headers, peer).await?;
    let kind = RevocationKind::parse(&kind).ok_or_else(|| {
        ApiError::bad_request("invalid_revocation", "the kind is `client` or `token`")
    })?;
    let id2 = id.clone();
    blocking(move || {
        Ok(service::clients::lift(
            &st,
            &op.username,
            Via::Api,
            kind,
            &id2,
        )?)
    })
    .await?;
    Ok(Json(json!({"kind": kind, "id": id, "revoked": false})).into_response())
}

// ----- operator: policy -----

/// Runs one policy change of `op` through [`service::policy::change`].
async fn change_policy(
    st: &AppState,
    op: Operator,
    change: PolicyChange,
) -> ApiResult<service::policy::Changed> {
    let st = st.clone();
    blocking(move || {
        let actor = Actor {
            username: &op.username,
            via: Via::Api,
        };
        Ok(service::policy::change(&st, actor, change)?)
    })
    .await
}

/// `GET /api/v1/policy` (operator): the YAML in force.
pub async fn get_policy(
    State(st): State<AppState>,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    operator_of(&st, &method, &headers, peer).await?;
    let lp = st.policy();
    let mut resp = (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        lp.version.yaml.clone(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&lp.version.version.to_string()) {
        resp.headers_mut().insert("x-policy-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", lp.version.sha256)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

/// `PUT /api/v1/policy` (operator): replaces the policy with a YAML document.
pub async fn put_policy(
    State(st): State<AppState>,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let op = operator_of(&st, &method, &headers, peer).await?;
    let bytes = read_body(
        body,
        &headers,
        crate::policy::MAX_POLICY_BYTES,
        "the policy",
    )
    .await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::bad_request("invalid_policy", "the policy is not UTF-8 text"))?;
    let policy = Policy::from_yaml(text)
        .map_err(|e| ApiError::bad_request("invalid_policy", e.to_string()))?;
    let change = PolicyChange::Replace {
        policy: Box::new(policy),
        text: Some(text.to_owned()),
    };
    let done = change_policy(&st, op, change).await?;
    let v = &done.policy.version;
    Ok(Json(json!({"version": v.version, "sha256": v.sha256})).into_response())
}

#[derive(Serialize)]
struct RuleOut<'a> {
    #[serde(flatten)]
    rule: &'a MuteRule,
    active: bool,
}

/// `GET /api/v1/policy/mute` (operator).
pub async fn list_mutes(
    State(st): State<AppState>,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    operator_of(&st, &method, &headers, peer).await?;
    let lp = st.policy();
    let now = OffsetDateTime::now_utc();
    let mutes: Vec<_> = lp
        .policy
        .mutes
        .iter()
        .map(|r| RuleOut {
            rule: r,
            active: r.active(now),
        })
        .collect();
    Ok(Json(json!({"policy_version": lp.version.version, "mutes": mutes})).into_response())
}

/// Body of `POST /api/v1/policy/mute`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuteRequest {
    /// Advisory id or alias.
    pub advisory: Option<String>,
    /// purl pattern.
    pub purl: Option<String>,
    /// Layer digest.
    pub layer: Option<String>,
    /// Path pattern.
    pub path: Option<String>,
    /// Why.
    pub reason: String,
    /// Expiry (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// `POST /api/v1/policy/mute` (operator): adds a rule; answers 201 with it.
pub async fn add_mute(
    State(st): State<AppState>,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let op = operator_of(&st, &method, &headers, peer).await?;
    let req: MuteRequest = read_json(body, &headers).await?;
    let rule = MuteRule {
        id: String::new(),
        advisory: req.advisory,
        purl: req.purl,
        layer: req.layer,
        path: req.path,
        reason: req.reason,
        author: String::new(),
        created_at: None,
        expires_at: req.expires_at,
    };
    let done = change_policy(
        &st,
        op,
        PolicyChange::Mute {
            rule,
            scan_id: None,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"policy_version": done.policy.version.version, "rule": done.rule})),
    )
        .into_response())
}

/// Query of `DELETE /api/v1/policy/mute`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteMuteQuery {
    /// Rule id.
    pub id: String,
}

/// `DELETE /api/v1/policy/mute?id=ID` (operator).
pub async fn delete_mute_query(
    State(st): State<AppState>,
    query: Result<Query<DeleteMuteQuery>, QueryRejection>,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    delete_mute(st, q.id, method, peer, headers).await
}

/// `DELETE /api/v1/policy/mute/{id}` (operator).
pub async fn delete_mute_path(
    State(st): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    delete_mute(st, id, method, peer, headers).await
}

async fn delete_mute(
    st: AppState,
    id: String,
    method: Method,
    peer: Peer,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let op = operator_of(&st, &method, &headers, peer).await?;
    let done = change_policy(&st, op, PolicyChange::Unmute { id: id.clone() }).await?;
    Ok(Json(json!({"policy_version": done.policy.version.version, "deleted": id})).into_response())
}

/// Fallback: JSON 404.
pub async fn not_found() -> Response {
    ApiError::not_found("no such endpoint").into_response()
}
