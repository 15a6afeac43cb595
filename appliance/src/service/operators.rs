//! Operator login, the one path for both doors: the console's login form and HTTP Basic
//! on the JSON API.
//!
//! A login attempt is refused unhashed when the user name or password is empty or
//! oversized, throttled without checking the password while the *address* or the *user*
//! is backing off (so one host cannot try many user names, and many hosts cannot try one
//! user's password quickly), then checked with argon2. Every attempt — ok, failed or
//! throttled — is one `login` audit record with the user name as typed (bounded), the
//! client address and the door (`via`).

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::{ServiceResult, Via};
use crate::state::AppState;
use crate::store::{Session, login_backoff_after};

/// Longest user name or password looked at; longer ones are refused unhashed.
pub const MAX_LOGIN_FIELD: usize = 1024;
/// Client addresses whose failures are remembered (bounded against address spraying).
const MAX_TRACKED_ADDRESSES: usize = 10_000;
/// How long a console session lasts (a working day; the cookie is a bearer credential).
pub const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// What a login attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// The password is right: this operator.
    Ok {
        /// The operator's user name.
        username: String,
    },
    /// Wrong user name or password (deliberately not saying which).
    Invalid,
    /// Too many recent failures from this address or for this user: no password was
    /// checked. Try again after this many seconds (at least 1).
    Throttled {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
}

/// Failed logins per client address: the store backs off per user, this backs off per
/// address. In memory (a restart forgets it, as it forgets nothing the store keeps).
#[derive(Debug, Default)]
pub struct AddressBackoff {
    failures: Mutex<HashMap<IpAddr, (u32, OffsetDateTime)>>,
}

impl AddressBackoff {
    /// Seconds this address must still wait, from its own failure count.
    fn wait(&self, ip: IpAddr, now: OffsetDateTime) -> Option<u64> {
        let map = self.failures.lock();
        let (count, last) = *map.get(&ip)?;
        let wait = Duration::try_from(login_backoff_after(count)?).ok()?;
        let left = last + wait - now;
        // Rounded up: less than a second left is still a wait (truncating let the attempt
        // right after the first backoff step through, and each step end a second early).
        left.is_positive().then(|| {
            left.whole_seconds().unsigned_abs() + u64::from(left.subsec_nanoseconds() != 0)
        })
    }

    fn failed(&self, ip: IpAddr, now: OffsetDateTime) {
        let mut map = self.failures.lock();
        if map.len() >= MAX_TRACKED_ADDRESSES && !map.contains_key(&ip) {
            // Forget addresses whose backoff has fully elapsed before tracking a new one.
            let horizon = Duration::try_from(crate::store::MAX_LOGIN_BACKOFF)
                .unwrap_or(Duration::minutes(15));
            map.retain(|_, (_, last)| now - *last < horizon);
            if map.len() >= MAX_TRACKED_ADDRESSES {
                return;
            }
        }
        let e = map.entry(ip).or_insert((0, now));
        e.0 = e.0.saturating_add(1);
        e.1 = now;
    }

    fn succeeded(&self, ip: IpAddr) {
        self.failures.lock().remove(&ip);
    }
}

/// One login attempt (see the module docs). Blocking (argon2, audit fsync).
pub fn login(
    st: &AppState,
    user: &str,
    password: &str,
    ip: Option<IpAddr>,
    via: Via,
    now: OffsetDateTime,
) -> ServiceResult<Login> {
    let started = std::time::Instant::now();
    // Audit records carry the user name as typed: bound it first.
    let shown: String = user.chars().take(128).collect();
    let audit = |result: &str| {
        st.audit(
            "login",
            json!({
                "actor": shown,
                "result": result,
                "ip": ip.map(|i| i.to_string()),
                "via": via.as_str(),
            }),
        )
    };
    if user.is_empty() || user.len() > MAX_LOGIN_FIELD || password.len() > MAX_LOGIN_FIELD {
        audit("failed")?;
        return Ok(Login::Invalid);
    }
    let wait = match ip.and_then(|ip| st.logins.wait(ip, now)) {
        Some(secs) => Some(secs),
        // Rounded up, as the address's wait: `Retry-After` must not end the wait early.
        None => st
            .store
            .login_backoff(user, now)?
            .map(|w| w.as_secs() + u64::from(w.subsec_nanos() != 0)),
    };
    if let Some(secs) = wait {
        audit("throttled")?;
        return Ok(Login::Throttled {
            retry_after_secs: secs.max(1),
        });
    }
    if st.store.verify_operator_password(user, password)? {
        st.store.record_login_success(user)?;
        if let Some(ip) = ip {
            st.logins.succeeded(ip);
        }
        audit("ok")?;
        Ok(Login::Ok {
            username: user.to_owned(),
        })
    } else {
        // The backoff runs from when the failure is known, after the (deliberately slow)
        // password check: counted from `now`, a check slower than the first backoff step
        // (a loaded machine) would let the next attempt straight through.
        let failed_at = now + started.elapsed();
        st.store.record_login_failure(user, failed_at)?;
        if let Some(ip) = ip {
            st.logins.failed(ip, failed_at);
        }
        audit("failed")?;
        Ok(Login::Invalid)
    }
}

/// Opens a console session for an operator who just logged in.
pub fn open_session(
    st: &AppState,
    username: &str,
    now: OffsetDateTime,
) -> ServiceResult<crate::store::NewSession> {
    Ok(st.store.create_session(username, SESSION_TTL, now)?)
}

/// The live session a cookie names, if any.
pub fn session(st: &AppState, token: &str, now: OffsetDateTime) -> ServiceResult<Option<Session>> {
    Ok(st.store.get_session(token, now)?)
}

/// Ends a session (logout), audited; unknown tokens are not an error.
pub fn end_session(st: &AppState, token: &str, via: Via, now: OffsetDateTime) -> ServiceResult<()> {
    if let Some(s) = st.store.get_session(token, now)? {
        st.store.delete_session(token)?;
        st.audit("logout", json!({"actor": s.username, "via": via.as_str()}))?;
    }
    Ok(())
}
