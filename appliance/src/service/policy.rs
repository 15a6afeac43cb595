//! The one policy write path: replace the policy, add a mute rule, remove one.
//!
//! A change is one read-modify-write of the policy in force under one lock (so two
//! operators muting at once both land), validated, stored as a new version, made current
//! and audited with one record shape whichever door it came by:
//! `{"actor", "version", "sha256", "via", …}` of kind `policy.update`, `policy.mute`
//! (with the rule) or `policy.unmute` (with the rule id).

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{ServiceError, ServiceResult, Via};
use crate::policy::{MuteRule, Policy};
use crate::state::{AppState, LoadedPolicy};
use crate::store::NewPolicy;

/// One change to the policy.
#[derive(Debug, Clone)]
pub enum PolicyChange {
    /// Replace the whole policy. With `text`, the operator's own YAML is stored as
    /// written (comments survive) unless rule ids had to be assigned.
    Replace {
        /// The parsed policy.
        policy: Box<Policy>,
        /// The YAML it was parsed from, when an operator wrote it.
        text: Option<String>,
    },
    /// Add a mute rule (its id, author and creation time are set here).
    Mute {
        /// The rule.
        rule: MuteRule,
        /// The scan it was muted from, when the console says.
        scan_id: Option<String>,
    },
    /// Remove the mute rule with this id.
    Unmute {
        /// The rule id.
        id: String,
    },
}

/// Who changes the policy.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The operator's user name.
    pub username: &'a str,
    /// The door.
    pub via: Via,
}

/// What [`change`] stored.
#[derive(Debug, Clone)]
pub struct Changed {
    /// The new policy in force.
    pub policy: LoadedPolicy,
    /// The rule added by [`PolicyChange::Mute`], as stored (with its id).
    pub rule: Option<MuteRule>,
}

/// Applies one change (module docs). Blocking: the store write and the audit fsync.
pub fn change(st: &AppState, actor: Actor<'_>, change: PolicyChange) -> ServiceResult<Changed> {
    let _w = st.policy_write.lock();
    let now = OffsetDateTime::now_utc();
    let (policy, text, kind, comment, extra) = match change {
        PolicyChange::Replace { policy, text } => {
            (*policy, text, "policy.update", "policy replaced", json!({}))
        }
        PolicyChange::Mute { mut rule, scan_id } => {
            rule.id = String::new();
            rule.author = actor.username.to_owned();
            rule.created_at = Some(now);
            let mut policy = st.policy().policy.clone();
            policy.mutes.push(rule);
            (
                policy,
                None,
                "policy.mute",
                "mute rule added",
                json!({"scan_id": scan_id}),
            )
        }
        PolicyChange::Unmute { id } => {
            let mut policy = st.policy().policy.clone();
            let before = policy.mutes.len();
            policy.mutes.retain(|r| r.id != id);
            if policy.mutes.len() == before {
                return Err(ServiceError::NotFound(format!("no mute rule {id:?}")));
            }
            (
                policy,
                None,
                "policy.unmute",
                "mute rule removed",
                json!({"rule_id": id}),
            )
        }
    };
    let lp = store(
        st,
        actor,
        policy,
        text.as_deref(),
        kind,
        comment,
        extra,
        now,
    )?;
    let rule = (kind == "policy.mute")
        .then(|| lp.policy.mutes.last().cloned())
        .flatten();
    Ok(Changed { policy: lp, rule })
}

#[allow(clippy::too_many_arguments)]
fn store(
    st: &AppState,
    actor: Actor<'_>,
    mut policy: Policy,
    text: Option<&str>,
    kind: &str,
    comment: &str,
    extra: Value,
    now: OffsetDateTime,
) -> ServiceResult<LoadedPolicy> {
    let unassigned = policy.mutes.iter().filter(|r| r.id.is_empty()).count();
    policy.assign_ids();
    policy
        .validate()
        .map_err(|e| ServiceError::invalid("invalid_policy", e.to_string()))?;
    let yaml = match text {
        Some(t) if unassigned == 0 => t.to_owned(),
        _ => policy.to_yaml().map_err(ServiceError::internal)?,
    };
    let version = st.store.put_policy(
        &NewPolicy {
            yaml,
            author: actor.username.to_owned(),
            comment: format!("{comment} ({})", actor.via.as_str()),
        },
        now,
    )?;
    let mut event = json!({
        "actor": actor.username,
        "version": version.version,
        "sha256": version.sha256.to_string(),
        "via": actor.via.as_str(),
    });
    if kind == "policy.mute" {
        extra_rule(&mut event, policy.mutes.last());
    }
    if let (Some(o), Value::Object(extra)) = (event.as_object_mut(), extra) {
        o.extend(extra.into_iter().filter(|(_, v)| !v.is_null()));
    }
    st.audit(kind, event)?;
    let lp = LoadedPolicy { version, policy };
    st.set_policy(lp.clone());
    Ok(lp)
}

fn extra_rule(event: &mut Value, rule: Option<&MuteRule>) {
    if let (Some(o), Some(r)) = (event.as_object_mut(), rule) {
        o.insert("rule".into(), json!(r));
    }
}
