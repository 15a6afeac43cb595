//! The scan workflow, and reading scans back.
//!
//! [`scan`] runs, in order: parse the SBOM (a refused SBOM costs no quota) → take one unit
//! of the client's daily quota (exact under concurrency, persisted) → match against the
//! active kit → apply the policy (YAML mutes, then Rego) → sign the in-toto verdict →
//! store SBOM, layers and scan → audit. A failure after the quota was taken gives the
//! unit back. The result is a domain value ([`Scanned`]); the API shapes it into JSON.

use std::collections::BTreeSet;

use bundles::model::{Finding, SeverityCounts, Verdict, digest_of_canonical, findings_json};
use importer::datadir::rfc3339;
use serde_json::json;
use time::OffsetDateTime;

use super::clients::Client;
use super::timing::Timings;
use super::{ServiceError, ServiceResult};
use crate::evidence::{ApplianceFacts, KitFacts, PolicyFacts, ScanPredicate, Statement, Summary};
use crate::policy::Undecided;
use crate::policy::rego::{Decision, RegoFinding, Report as RegoReport, ScanFacts};
use crate::policy::{FindingFacts, Policy};
use crate::quota::utc_day;
use crate::state::{ActiveKit, AppState};
use crate::store::{KitRef, NewScan, QuotaStatus, ScanId, ScanRecord, Sha256Digest};
use scanner::sbom::{SbomError, SbomLimits};

/// Longest scan name: bytes in a request, characters kept of an SBOM's own name.
pub const MAX_NAME_CHARS: usize = 512;

/// What the client says about the scan besides the SBOM.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// What is scanned (defaults to the SBOM's own name).
    pub name: Option<String>,
    /// Image digest `sha256:<hex>` (defaults to the one the SBOM names).
    pub image_digest: Option<String>,
}

impl ScanRequest {
    /// Checks the fields: a name of 1–512 printable characters, an image digest of the
    /// form `sha256:<64 hex digits>`.
    pub fn validate(&self) -> ServiceResult<()> {
        if let Some(n) = &self.name
            && (n.is_empty() || n.len() > MAX_NAME_CHARS || n.chars().any(char::is_control))
        {
            return Err(ServiceError::invalid(
                "invalid_query",
                "`name` must be 1-512 printable characters",
            ));
        }
        if let Some(d) = &self.image_digest
            && !valid_image_digest(d)
        {
            return Err(ServiceError::invalid(
                "invalid_query",
                "`image_digest` must be sha256:<64 hex digits>",
            ));
        }
        Ok(())
    }
}

/// A finished scan, as stored.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// Scan id.
    pub id: ScanId,
    /// The verdict.
    pub verdict: Verdict,
    /// Counts (also in the signed predicate).
    pub summary: Summary,
    /// The findings' canonical JSON (muted ones included), as hashed and stored.
    pub findings_json: String,
    /// `sha256:` of [`Scanned::findings_json`].
    pub findings_digest: String,
    /// Engine, policy and freshness warnings.
    pub warnings: Vec<String>,
    /// The kit used.
    pub kit: KitFacts,
    /// `sha256:` of the SBOM bytes.
    pub sbom_sha256: Sha256Digest,
    /// What was scanned.
    pub name: String,
    /// Image digest, if any.
    pub image_digest: Option<String>,
    /// Policy version used.
    pub policy_version: u64,
    /// When the scan ran.
    pub created_at: OffsetDateTime,
    /// The client's quota after this scan (set once the scan is counted).
    pub quota: Option<QuotaStatus>,
}

/// Why [`scan`] produced no scan: a [`ServiceError`], or the client's quota is spent
/// (the API answers 429 with the quota headers).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The daily quota is used up.
    #[error(
        "the daily quota of {} scans for this token is spent; it resets at {} (00:00 UTC)",
        .0.limit,
        rfc3339(.0.resets_at)
    )]
    QuotaExhausted(QuotaStatus),
    /// Anything else.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<crate::store::StoreError> for ScanError {
    fn from(e: crate::store::StoreError) -> Self {
        ScanError::Service(e.into())
    }
}

fn valid_image_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn sbom_error(e: &SbomError) -> ServiceError {
    match e {
        SbomError::TooLarge { .. } => ServiceError::TooLarge {
            message: e.to_string(),
        },
        _ => ServiceError::invalid("invalid_sbom", e.to_string()),
    }
}

/// Runs one scan of `sbom` for `client` (module docs). Blocking.
pub fn scan(
    st: &AppState,
    kit: &ActiveKit,
    client: &Client,
    request: ScanRequest,
    sbom: &[u8],
    now: OffsetDateTime,
    timings: &mut Timings,
) -> Result<Scanned, ScanError> {
    request.validate()?;
    // 1. Parse first: a refused SBOM costs no quota.
    let parsed = scanner::sbom::parse(
        sbom,
        &SbomLimits::default().max_bytes(st.config.max_sbom_bytes),
    )
    .map_err(|e| {
        st.metrics.sbom_rejected();
        sbom_error(&e)
    })?;
    timings.mark("parse");
    // 2. Take one unit of quota.
    let day = utc_day(now);
    let decision = st
        .store
        .quota_try_consume(&client.quota_key, day, client.limit)?;
    if !decision.allowed {
        st.metrics.quota_refused();
        return Err(ScanError::QuotaExhausted(decision.status()));
    }
    timings.mark("quota");
    // 3. From here a failure is ours: give the unit back.
    match accepted(st, kit, client, request, sbom, parsed, now, timings) {
        Ok(mut done) => {
            done.quota = Some(decision.status());
            Ok(done)
        }
        Err(e) => {
            st.metrics.scan_error();
            if let Err(re) = st.store.quota_refund(&client.quota_key, day, client.limit) {
                tracing::error!(error = %re, "quota refund failed");
            }
            Err(e.into())
        }
    }
}

/// What a policy made of a scan's findings.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyOutcome {
    /// Findings muted (by a YAML rule or by Rego).
    pub muted: u32,
    /// Unmuted findings per severity (undecided ones included).
    pub by_severity: SeverityCounts,
    /// Unmuted findings the engine could not decide.
    pub undecided: u32,
    /// The verdict.
    pub verdict: Verdict,
    /// Rego deny messages and errors.
    pub warnings: Vec<String>,
}

/// Applies the policy to `findings` in place (see [`PolicyOutcome`]). An unmuted
/// undecided finding counts for the verdict at its severity unless the policy says
/// `undecided: ignore`. `now` judges mute expiry (replay passes the scan's
/// own time). `scan` is the `input.scan` of the policy's Rego rules, which run only when
/// the policy has a module, on the findings no YAML rule mutes (see
/// [`crate::policy::rego`]); their deny messages and errors are the returned warnings.
pub fn apply_policy(
    policy: &Policy,
    findings: &mut [Finding],
    now: OffsetDateTime,
    scan: &ScanFacts,
) -> PolicyOutcome {
    let mut muted = 0u32;
    let mut undecided = 0u32;
    let mut by = SeverityCounts::default();
    let mut fail = false;
    // YAML rules first: they win over Rego, and what they mute is not evaluated.
    let mut open = Vec::with_capacity(findings.len());
    for (i, f) in findings.iter_mut().enumerate() {
        if let Some(rule) = policy.mute_for(&FindingFacts::of(f), now) {
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
        by.add(f.severity);
        if f.undecided {
            undecided += 1;
            if policy.undecided == Undecided::Ignore {
                continue;
            }
        }
        fail |= policy.fail_on.fails(f.severity);
    }
    PolicyOutcome {
        muted,
        by_severity: by,
        undecided,
        verdict: if fail { Verdict::Fail } else { Verdict::Pass },
        warnings: report.into_warnings(),
    }
}

#[allow(clippy::too_many_arguments)]
fn accepted(
    st: &AppState,
    kit: &ActiveKit,
    client: &Client,
    request: ScanRequest,
    bytes: &[u8],
    sbom: scanner::sbom::Sbom,
    now: OffsetDateTime,
    timings: &mut Timings,
) -> ServiceResult<Scanned> {
    let mut out = kit.scanner.scan(&sbom);
    timings.mark("match");
    let lp = st.policy();
    let scan_facts = ScanFacts {
        sbom_name: sbom.name.clone(),
        components: u64::try_from(out.components).unwrap_or(u64::MAX),
        kit_sequence: kit.sequence,
        kit_age_days: kit.age_days(now),
    };
    let PolicyOutcome {
        muted,
        by_severity: by,
        undecided,
        verdict,
        warnings: policy_warnings,
    } = apply_policy(&lp.policy, &mut out.findings, now, &scan_facts);
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
    let findings_json = findings_json(&out.findings);
    let fdigest = digest_of_canonical(findings_json.as_bytes());
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
    let name = request
        .name
        .or(sbom.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "sbom".to_owned());
    let name: String = name.chars().take(MAX_NAME_CHARS).collect();
    let image_digest = request
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
        undecided,
        undecided_ignored: undecided > 0 && lp.policy.undecided == Undecided::Ignore,
    };
    let kit_facts = KitFacts {
        id: kit.id.clone(),
        sequence: kit.sequence,
        manifest_sha256: kit.manifest_sha256.clone(),
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
        kit: kit_facts.clone(),
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
    let envelope = statement.sign(&st.key).map_err(ServiceError::internal)?;
    timings.mark("sign");
    let id = st.store.insert_scan(&NewScan {
        created_at: now,
        subject: client.claims.sub.clone(),
        sbom_sha256: sbom_digest,
        name: name.clone(),
        image_digest: image_digest.clone(),
        format: sbom.format.to_string(),
        verdict,
        summary: by,
        findings_json: findings_json.clone(),
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
    // The parsed SBOM and the findings are tens of thousands of small allocations: free
    // them on the matching pool, not on the request's path.
    rayon::spawn(move || drop((sbom, out.findings)));
    Ok(Scanned {
        id,
        verdict,
        summary,
        findings_json,
        findings_digest: fdigest,
        warnings,
        kit: kit_facts,
        sbom_sha256: sbom_digest,
        name,
        image_digest,
        policy_version: lp.version.version,
        created_at: now,
        quota: None,
    })
}

/// Who reads a stored scan.
#[derive(Debug, Clone)]
pub enum Reader {
    /// A client: its own scans only.
    Client(String),
    /// An operator: every scan.
    Operator,
}

/// A stored scan as `who` may see it. Another client's scan is "not found", exactly like
/// a missing one: ids of other clients' scans are not disclosed.
pub fn find(st: &AppState, id: &str, who: &Reader) -> ServiceResult<ScanRecord> {
    let not_found = || ServiceError::NotFound(format!("no scan {id:?}"));
    let id: ScanId = id.parse().map_err(|_| not_found())?;
    let rec = st.store.get_scan(&id)?.ok_or_else(not_found)?;
    if let Reader::Client(sub) = who
        && *sub != rec.scan.subject
    {
        return Err(not_found());
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bundles::model::{FindingPackage, Severity};

    fn finding(id: &str, severity: Severity, undecided: bool) -> Finding {
        Finding {
            aliases: Vec::new(),
            cvss: None,
            fixed_versions: Vec::new(),
            id: id.into(),
            layer: None,
            mute_reason: None,
            muted: false,
            package: FindingPackage {
                ecosystem: "crates.io".into(),
                name: "time".into(),
                purl: Some("pkg:cargo/time@0.1.45".into()),
                version: "0.1.45".into(),
            },
            path: None,
            references: Vec::new(),
            severity,
            summary: None,
            undecided,
        }
    }

    fn outcome(yaml: &str, findings: &mut [Finding]) -> PolicyOutcome {
        let policy = Policy::from_yaml(yaml).expect("policy");
        apply_policy(
            &policy,
            findings,
            OffsetDateTime::UNIX_EPOCH,
            &ScanFacts::default(),
        )
    }

    #[test]
    fn an_undecided_finding_fails_the_verdict_unless_the_policy_ignores_it() {
        let mut fs = [
            finding("GHSA-high", Severity::High, true),
            finding("GHSA-low", Severity::Low, false),
        ];
        let o = outcome("fail_on: high\n", &mut fs);
        assert_eq!((o.verdict, o.undecided), (Verdict::Fail, 1));
        assert_eq!(o.by_severity.get(Severity::High), 1);

        let o = outcome("fail_on: high\nundecided: ignore\n", &mut fs);
        assert_eq!((o.verdict, o.undecided), (Verdict::Pass, 1));
        assert_eq!(o.by_severity.get(Severity::High), 1, "still reported");

        // below the threshold it does not fail either way; muted it is not counted
        let o = outcome("fail_on: critical\n", &mut fs);
        assert_eq!(o.verdict, Verdict::Pass);
        let o = outcome(
            "fail_on: high\nmutes:\n  - advisory: GHSA-high\n    reason: checked by hand\n",
            &mut fs,
        );
        assert_eq!((o.verdict, o.undecided, o.muted), (Verdict::Pass, 0, 1));
    }
}
