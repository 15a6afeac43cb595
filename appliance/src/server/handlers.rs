//! The HTTP handlers of CONTRACT.md's API table.

use std::collections::BTreeSet;
use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use importer::datadir::rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::auth::{self, Client, Operator};
use super::error::{ApiError, ApiResult};
use super::state::{ActiveKit, AppState, LoadedPolicy};
use super::timing::Timings;
use crate::evidence::{
    ApplianceFacts, BySeverity, KitFacts, PolicyFacts, ScanPredicate, Statement, Summary,
};
use crate::policy::rego::{Decision, RegoFinding, Report as RegoReport, ScanFacts};
use crate::policy::{FindingFacts, Level, MuteRule, Policy};
use crate::quota::{quota_headers, utc_day};
use crate::store::{
    KitRef, NewPolicy, NewScan, PageRequest, QuotaStatus, ScanFilter, ScanId, ScanRecord,
    SeverityCounts, Sha256Digest, Verdict,
};
use scanner::findings::{canonical_json_string, digest_of_canonical};
use scanner::sbom::{SbomError, SbomLimits};

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

/// `GET /readyz`: 200 once a kit is active.
pub async fn readyz(State(st): State<AppState>) -> Response {
    match st.kit() {
        Some(k) => Json(json!({
            "status": "ready",
            "kit": {"id": k.id, "sequence": k.sequence, "created_at": rfc3339(k.created_at)},
        }))
        .into_response(),
        None => ApiError::no_kit().into_response(),
    }
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

fn sbom_error(e: &SbomError) -> ApiError {
    match e {
        SbomError::TooLarge { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("{e}"))
        }
        _ => ApiError::bad_request("invalid_sbom", format!("{e}")),
    }
}

fn valid_image_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `POST /api/v1/scan`.
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
    if let Some(n) = &q.name
        && (n.is_empty() || n.len() > 512 || n.chars().any(char::is_control))
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`name` must be 1-512 printable characters",
        ));
    }
    if let Some(d) = &q.image_digest
        && !valid_image_digest(d)
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`image_digest` must be sha256:<64 hex digits>",
        ));
    }
    let kit = st.kit().ok_or_else(ApiError::no_kit)?;
    let cap = st.config.max_sbom_bytes;
    let bytes = match read_body(body, &headers, cap, "the SBOM").await {
        Ok(b) => b,
        Err(e) => {
            st.metrics.sbom_rejected();
            return Err(e);
        }
    };
    timings.mark("body");
    let st2 = st.clone();
    blocking(move || run_scan(&st2, &kit, client, q, &bytes, now, timings)).await
}

fn run_scan(
    st: &AppState,
    kit: &ActiveKit,
    client: Client,
    q: ScanQuery,
    bytes: &[u8],
    now: OffsetDateTime,
    mut timings: Timings,
) -> ApiResult<Response> {
    // 1. Parse first: a refused SBOM costs no quota.
    let sbom = scanner::sbom::parse(
        bytes,
        &SbomLimits::default().max_bytes(st.config.max_sbom_bytes),
    )
    .map_err(|e| {
        st.metrics.sbom_rejected();
        sbom_error(&e)
    })?;
    timings.mark("parse");
    // 2. Take one unit of quota (exact under concurrency, persisted).
    let day = utc_day(now);
    let decision = st
        .store
        .quota_try_consume(&client.quota_key, day, client.limit)?;
    if !decision.allowed {
        st.metrics.quota_refused();
        let status = decision.status();
        let err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exhausted",
            format!(
                "the daily quota of {} scans for this token is spent; it resets at {} (00:00 UTC)",
                status.limit,
                rfc3339(status.resets_at)
            ),
        )
        .with_field("limit", status.limit)
        .with_field("used", status.used)
        .with_field("resets_at", rfc3339(status.resets_at));
        return Ok(with_quota_headers(err.into_response(), &status, true));
    }
    timings.mark("quota");
    // 3. From here a failure is ours: give the unit back.
    match scan_accepted(st, kit, &client, q, bytes, sbom, now, &mut timings) {
        Ok(mut resp) => {
            resp.headers_mut()
                .insert(HeaderName::from_static("server-timing"), timings.header());
            Ok(with_quota_headers(resp, &decision.status(), false))
        }
        Err(e) => {
            st.metrics.scan_error();
            if let Err(re) = st.store.quota_refund(&client.quota_key, day, client.limit) {
                tracing::error!(error = %re, "quota refund failed");
            }
            Err(e)
        }
    }
}

/// Applies the policy to `findings` in place; returns (muted count, unmuted severity
/// counts, verdict, policy warnings). `now` judges mute expiry (replay passes the scan's
/// own time). `scan` is the `input.scan` of the policy's Rego rules, which run only when
/// the policy has a module, on the findings no YAML rule mutes (see
/// [`crate::policy::rego`]); their deny messages and errors are the returned warnings.
pub fn apply_policy(
    policy: &Policy,
    findings: &mut [scanner::findings::Finding],
    now: OffsetDateTime,
    scan: &ScanFacts,
) -> (u32, BySeverity, Verdict, Vec<String>) {
    let mut muted = 0u32;
    let mut by = BySeverity::default();
    let mut fail = false;
    // YAML rules first: they win over Rego, and what they mute is not evaluated.
    let mut open = Vec::with_capacity(findings.len());
    for (i, f) in findings.iter_mut().enumerate() {
        let facts = FindingFacts {
            id: &f.id,
            aliases: &f.aliases,
            purl: f.package.purl.as_deref().unwrap_or(""),
            layer: f.layer.as_deref(),
            path: f.path.as_deref(),
        };
        if let Some(rule) = policy.mute_for(&facts, now) {
            f.muted = true;
            f.mute_reason = Some(rule.reason.clone());
            muted += 1;
            continue;
        }
        open.push(i);
    }
    let decisions = match &policy.rego {
        Some(module) if !open.is_empty() => {
            let inputs: Vec<RegoFinding<'_>> = open
                .iter()
                .map(|&i| RegoFinding::of(&findings[i]))
                .collect();
            module.evaluate(scan, &inputs)
        }
        _ => Vec::new(),
    };
    let mut decisions = decisions.into_iter();
    let mut report = RegoReport::default();
    for &i in &open {
        let f = &mut findings[i];
        if let Some(d) = decisions.next() {
            if let Decision::Mute(reason) = d {
                f.muted = true;
                f.mute_reason = Some(reason);
                muted += 1;
                continue;
            }
            fail |= report.record(&f.id, &f.package.name, &d);
        }
        let level = Level::parse(f.severity.as_str());
        match level {
            Level::Critical => by.critical += 1,
            Level::High => by.high += 1,
            Level::Medium => by.medium += 1,
            Level::Low => by.low += 1,
            Level::Unknown => by.unknown += 1,
        }
        fail |= policy.fail_on.fails(level);
    }
    let verdict = if fail { Verdict::Fail } else { Verdict::Pass };
    (muted, by, verdict, report.into_warnings())
}

#[allow(clippy::too_many_arguments)]
fn scan_accepted(
    st: &AppState,
    kit: &ActiveKit,
    client: &Client,
    q: ScanQuery,
    bytes: &[u8],
    sbom: scanner::sbom::Sbom,
    now: OffsetDateTime,
    timings: &mut Timings,
) -> ApiResult<Response> {
    let mut out = kit.scanner.scan(&sbom);
    timings.mark("match");
    let lp = st.policy();
    let scan_facts = ScanFacts {
        sbom_name: sbom.name.clone(),
        components: u64::try_from(out.components).unwrap_or(u64::MAX),
        kit_sequence: kit.sequence,
        kit_age_days: kit.age_days(now),
    };
    let (muted, by, verdict, policy_warnings) =
        apply_policy(&lp.policy, &mut out.findings, now, &scan_facts);
    timings.mark("policy");
    let mut warnings = out.warnings;
    warnings.extend(policy_warnings);
    let age = kit.age_days(now);
    let stale = lp
        .policy
        .max_feed_age_days
        .is_some_and(|max| age > i64::from(max));
    if stale {
        warnings.push(format!(
            "stale feed: the active kit was created {age} days ago, more than the policy's max_feed_age_days; import a newer kit"
        ));
    }
    if now >= kit.expires_at {
        warnings.push(format!(
            "the active kit expired at {}; import a newer kit",
            rfc3339(kit.expires_at)
        ));
    }
    // One serialisation serves the digest, the stored row and the answer.
    let findings_json = canonical_json_string(&out.findings);
    let fdigest = digest_of_canonical(findings_json.as_bytes());
    let findings_raw = RawValue::from_string(findings_json.clone()).map_err(ApiError::internal)?;
    timings.mark("json");
    let sbom_digest = st.store.put_sbom(bytes)?;
    let layers: Vec<Sha256Digest> = sbom
        .layers
        .iter()
        .filter_map(|l| l.parse().ok())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .take(crate::store::MAX_LAYERS_PER_CALL)
        .collect();
    if !layers.is_empty() {
        st.store.layers_register(&layers)?;
    }
    timings.mark("store");
    let name = q
        .name
        .or(sbom.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "sbom".to_owned());
    let name: String = name.chars().take(512).collect();
    let image_digest = q
        .image_digest
        .or(sbom.image_digest.clone())
        .filter(|d| valid_image_digest(d));
    let total = u32::try_from(out.findings.len()).unwrap_or(u32::MAX);
    let summary = Summary {
        components: u32::try_from(out.components).unwrap_or(u32::MAX),
        findings: total,
        muted,
        by_severity: by,
        fail_on: lp.policy.fail_on.as_str().to_owned(),
        stale_feed: stale,
    };
    let kit_out = KitOut {
        id: kit.id.clone(),
        sequence: kit.sequence,
        created_at: rfc3339(kit.created_at),
    };
    let predicate = ScanPredicate {
        verdict: verdict.as_str().to_owned(),
        summary: summary.clone(),
        findings_digest: fdigest.clone(),
        warnings: warnings.clone(),
        policy: PolicyFacts {
            version: lp.version.version,
            sha256: lp.version.sha256.hex(),
        },
        kit: KitFacts {
            id: kit.id.clone(),
            sequence: kit.sequence,
            manifest_sha256: kit.manifest_sha256.clone(),
            created_at: kit_out.created_at.clone(),
        },
        appliance: ApplianceFacts {
            id: st.appliance_id.clone(),
            key_id: st.public.id().to_string(),
        },
        engine_version: kit.scanner.version().to_owned(),
        sbom_format: sbom.format.to_string(),
        requested_by: client.claims.sub.clone(),
        scanned_at: rfc3339(now),
        signed_at: rfc3339(OffsetDateTime::now_utc()),
    };
    let statement = Statement::new(
        &name,
        &sbom_digest.hex(),
        image_digest.as_deref().map(|d| (name.as_str(), d)),
        predicate,
    );
    let envelope = statement.sign(&st.key).map_err(ApiError::internal)?;
    timings.mark("sign");
    let id = st.store.insert_scan(&NewScan {
        created_at: now,
        subject: client.claims.sub.clone(),
        sbom_sha256: sbom_digest,
        name: name.clone(),
        image_digest: image_digest.clone(),
        format: sbom.format.to_string(),
        verdict,
        summary: SeverityCounts {
            critical: by.critical,
            high: by.high,
            medium: by.medium,
            low: by.low,
            unknown: by.unknown,
        },
        findings_json,
        findings_digest: fdigest.parse()?,
        policy_digest: lp.version.sha256,
        kit: Some(KitRef {
            id: kit.id.clone(),
            sequence: kit.sequence,
        }),
        evidence_json: Some(envelope),
        duration: timings.total(),
    })?;
    timings.mark("insert");
    if st.config.audit_scans {
        st.audit(
            "scan",
            json!({
                "scan_id": id.to_string(),
                "subject": client.claims.sub,
                "jti": client.claims.jti,
                "sbom_sha256": sbom_digest.to_string(),
                "verdict": verdict.as_str(),
                "findings_digest": fdigest,
                "policy_version": lp.version.version,
                "kit_id": kit.id,
                "kit_sequence": kit.sequence,
            }),
        )?;
    }
    timings.mark("audit");
    st.metrics
        .scan_done(verdict == Verdict::Pass, timings.total());
    tracing::info!(scan_id = %id, subject = %client.claims.sub, verdict = verdict.as_str(), findings = total, "scan");
    let resp = ScanResponse {
        scan_id: id.to_string(),
        verdict,
        summary,
        findings: findings_raw,
        warnings,
        kit: kit_out,
        findings_digest: fdigest,
        sbom_sha256: sbom_digest.to_string(),
        name,
        image_digest,
        policy_version: lp.version.version,
        created_at: rfc3339(now),
        evidence_url: format!("/api/v1/scans/{id}/evidence"),
    };
    let resp = Json(resp).into_response();
    // The parsed SBOM and the findings are tens of thousands of small allocations: free
    // them on the matching pool after the answer has gone, not before.
    drop_later((sbom, out.findings));
    timings.mark("response");
    Ok(resp)
}

/// Drops `v` on rayon's pool instead of on the request's path.
fn drop_later<T: Send + 'static>(v: T) {
    rayon::spawn(move || drop(v));
}

/// A client (own scans only) or an operator (all scans).
enum Reader {
    Client(String),
    Operator,
}

fn reader(st: &AppState, headers: &HeaderMap, now: OffsetDateTime) -> ApiResult<Reader> {
    let is_bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    if is_bearer {
        Ok(Reader::Client(auth::client(st, headers, now)?.claims.sub))
    } else {
        auth::operator(st, headers, now).map(|_| Reader::Operator)
    }
}

fn load_scan(st: &AppState, id: &str, who: &Reader) -> ApiResult<ScanRecord> {
    let not_found = || ApiError::not_found(format!("no scan {id:?}"));
    let id: ScanId = id.parse().map_err(|_| not_found())?;
    let rec = st.store.get_scan(&id)?.ok_or_else(not_found)?;
    if let Reader::Client(sub) = who
        && *sub != rec.scan.subject
    {
        // Same answer as a missing scan: ids of other clients' scans are not disclosed.
        return Err(not_found());
    }
    Ok(rec)
}

/// `GET /api/v1/scans/{id}`.
pub async fn get_scan(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    blocking(move || {
        let now = OffsetDateTime::now_utc();
        let who = reader(&st, &headers, now)?;
        let rec = load_scan(&st, &id, &who)?;
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
    headers: HeaderMap,
) -> ApiResult<Response> {
    blocking(move || {
        let now = OffsetDateTime::now_utc();
        let who = reader(&st, &headers, now)?;
        let rec = load_scan(&st, &id, &who)?;
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
    headers: HeaderMap,
) -> ApiResult<Response> {
    blocking(move || {
        let now = OffsetDateTime::now_utc();
        let who = reader(&st, &headers, now)?;
        let rec = load_scan(&st, &id, &who)?;
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
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    blocking(move || {
        auth::operator(&st, &headers, OffsetDateTime::now_utc())?;
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

async fn operator_of(st: &AppState, headers: &HeaderMap) -> ApiResult<Operator> {
    let st = st.clone();
    let headers = headers.clone();
    blocking(move || auth::operator(&st, &headers, OffsetDateTime::now_utc())).await
}

/// `POST /api/v1/token/offline` (operator): the appliance-signed token of a client.
pub async fn token_offline(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let op = operator_of(&st, &headers).await?;
    let req: TokenRequest = read_json(body, &headers).await?;
    let kit = st.kit().ok_or_else(ApiError::no_kit)?;
    let c = kit
        .tokens
        .clients
        .iter()
        .find(|c| c.id == req.client)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "the active kit has no token for client {:?}",
                req.client
            ))
        })?;
    let expires = OffsetDateTime::from_unix_timestamp(c.exp).map_err(ApiError::internal)?;
    let (st2, event) = (
        st.clone(),
        json!({"actor": op.username, "client": c.id, "jti": c.jti, "kit_id": kit.id}),
    );
    blocking(move || st2.audit("token.issued", event)).await?;
    Ok(Json(json!({
        "client": c.id,
        "token": c.token,
        "expires_at": rfc3339(expires),
        "tier": c.tier,
        "max_scans_per_day": c.max_scans_per_day,
    }))
    .into_response())
}

// ----- operator: policy -----

/// Stores `policy` as a new version, makes it current and audits the change.
fn save_policy(
    st: &AppState,
    mut policy: Policy,
    author: &str,
    comment: &str,
    audit_kind: &str,
    audit_extra: Value,
) -> ApiResult<LoadedPolicy> {
    policy.assign_ids();
    policy
        .validate()
        .map_err(|e| ApiError::bad_request("invalid_policy", e.to_string()))?;
    let yaml = policy.to_yaml().map_err(ApiError::internal)?;
    let version = st.store.put_policy(
        &NewPolicy {
            yaml,
            author: author.to_owned(),
            comment: comment.to_owned(),
        },
        OffsetDateTime::now_utc(),
    )?;
    let mut event = json!({
        "actor": author,
        "version": version.version,
        "sha256": version.sha256.to_string(),
    });
    if let (Some(o), Value::Object(extra)) = (event.as_object_mut(), audit_extra) {
        o.extend(extra);
    }
    st.audit(audit_kind, event)?;
    let lp = LoadedPolicy { version, policy };
    st.set_policy(lp.clone());
    Ok(lp)
}

/// `GET /api/v1/policy` (operator): the YAML in force.
pub async fn get_policy(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    operator_of(&st, &headers).await?;
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
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let op = operator_of(&st, &headers).await?;
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
    let _w = st.policy_write.lock().await;
    let st2 = st.clone();
    let lp = blocking(move || {
        save_policy(
            &st2,
            policy,
            &op.username,
            "replaced through the API",
            "policy.update",
            json!({}),
        )
    })
    .await?;
    Ok(Json(json!({"version": lp.version.version, "sha256": lp.version.sha256})).into_response())
}

#[derive(Serialize)]
struct RuleOut<'a> {
    #[serde(flatten)]
    rule: &'a MuteRule,
    active: bool,
}

/// `GET /api/v1/policy/mute` (operator).
pub async fn list_mutes(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    operator_of(&st, &headers).await?;
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
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let op = operator_of(&st, &headers).await?;
    let req: MuteRequest = read_json(body, &headers).await?;
    let now = OffsetDateTime::now_utc();
    let _w = st.policy_write.lock().await;
    let mut policy = st.policy().policy.clone();
    policy.mutes.push(MuteRule {
        id: String::new(),
        advisory: req.advisory,
        purl: req.purl,
        layer: req.layer,
        path: req.path,
        reason: req.reason,
        author: op.username.clone(),
        created_at: Some(now),
        expires_at: req.expires_at,
    });
    let st2 = st.clone();
    let lp = blocking(move || {
        let rule = policy.mutes.last().cloned();
        save_policy(
            &st2,
            policy,
            &op.username,
            "mute rule added",
            "policy.mute",
            json!({"rule": rule}),
        )
    })
    .await?;
    let rule = lp.policy.mutes.last().cloned();
    Ok((
        StatusCode::CREATED,
        Json(json!({"policy_version": lp.version.version, "rule": rule})),
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
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    delete_mute(st, q.id, headers).await
}

/// `DELETE /api/v1/policy/mute/{id}` (operator).
pub async fn delete_mute_path(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    delete_mute(st, id, headers).await
}

async fn delete_mute(st: AppState, id: String, headers: HeaderMap) -> ApiResult<Response> {
    let op = operator_of(&st, &headers).await?;
    let _w = st.policy_write.lock().await;
    let mut policy = st.policy().policy.clone();
    let before = policy.mutes.len();
    policy.mutes.retain(|r| r.id != id);
    if policy.mutes.len() == before {
        return Err(ApiError::not_found(format!("no mute rule {id:?}")));
    }
    let st2 = st.clone();
    let id2 = id.clone();
    let lp = blocking(move || {
        save_policy(
            &st2,
            policy,
            &op.username,
            "mute rule removed",
            "policy.unmute",
            json!({"rule_id": id2}),
        )
    })
    .await?;
    Ok(Json(json!({"policy_version": lp.version.version, "deleted": id})).into_response())
}

/// Fallback: JSON 404.
pub async fn not_found() -> Response {
    ApiError::not_found("no such endpoint").into_response()
}
