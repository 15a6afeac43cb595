//! EdDSA JSON Web Tokens (RFC 7519 + RFC 8037; FORMATS.md §9).
//!
//! The offline client tokens: `tier`, `maxScansPerDay`, ~30-day `exp`, issued by the
//! kit builder and re-signed by the appliance on import ([`resign`]).
//!
//! Issuing emits `{"alg":"EdDSA","typ":"JWT","kid":"<KeyId>"}` and the claims in a fixed
//! order, base64url without padding, so the same claims and key give the same token.
//!
//! Verifying ([`verify`]) is a list of explicit checks, each with its own [`JwtError`]:
//!
//! 1. size ≤ [`MAX_TOKEN_BYTES`] ([`JwtError::TooLarge`]);
//! 2. exactly three base64url parts, a JSON object header ([`JwtError::Malformed`]);
//! 3. `alg` is `EdDSA` or `Ed25519` (RFC 9864) — nothing else, so `none`, `HS256` with
//!    the public key as HMAC secret, RSA or ECDSA tokens never reach a verifier
//!    ([`JwtError::UnsupportedAlgorithm`]); `typ`, when present, is `JWT`; no `crit`;
//! 4. the key: `kid` must name a pinned key ([`JwtError::UnknownKid`]); without `kid`
//!    every pinned key is tried;
//! 5. strict Ed25519 over `header.payload` ([`JwtError::BadSignature`]);
//! 6. claims: `sub` and `exp` present ([`JwtError::MissingClaim`]), not expired, `nbf`
//!    and `iat` not in the future, all against [`Validation::now`] with a leeway of at
//!    most [`MAX_LEEWAY_SECS`]; then issuer and audience when the validation asks.
//!
//! The library never reads the clock: the caller passes `now`.
//!
//! ```
//! use std::collections::BTreeMap;
//! use signing::jwt::{self, Claims, JwtError, Validation};
//! use signing::keys::{KeyId, KeyPair};
//! use signing::TrustRoot;
//!
//! let key = KeyPair::from_seed(KeyId([7; 8]), &[7; 32]);
//! let claims = Claims {
//!     sub: "ci-runner-1".into(),
//!     exp: 1_700_000_000 + 30 * 86_400,
//!     tier: Some("Free".into()),
//!     max_scans_per_day: Some(333),
//!     ..Claims::default()
//! };
//! let token = jwt::issue(&claims, &key)?;
//! let trust = TrustRoot::single(key.public());
//! let v = Validation { now: 1_700_000_000, leeway_secs: 60, issuer: None, audience: None };
//! assert_eq!(jwt::verify(&token, &trust, &v)?, claims);
//! let later = Validation { now: 1_800_000_000, ..v };
//! assert!(matches!(jwt::verify(&token, &trust, &later), Err(JwtError::Expired { .. })));
//! # Ok::<(), JwtError>(())
//! ```
use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::keys::{KeyId, KeyPair, PublicKey};
use crate::trust::TrustRoot;

/// Largest token accepted (bytes of the compact form).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Largest leeway honoured; larger [`Validation::leeway_secs`] values are clamped to it
/// so a misconfiguration cannot extend token lifetimes by hours.
pub const MAX_LEEWAY_SECS: u64 = 300;
/// The `alg` we emit (RFC 8037).
pub const ALG_EDDSA: &str = "EdDSA";
/// The fully specified name from RFC 9864, accepted on input.
pub const ALG_ED25519: &str = "Ed25519";

/// Why a token was refused or could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The token is larger than [`MAX_TOKEN_BYTES`].
    #[error("token of {size} bytes is larger than {limit} bytes")]
    TooLarge {
        /// The token's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a compact JWS with a JSON header and claims.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header's `alg` is not `EdDSA` / `Ed25519`.
    #[error("unsupported algorithm {0:?}: only EdDSA (Ed25519) tokens are accepted")]
    UnsupportedAlgorithm(String),
    /// The header's `typ` is present and not `JWT`.
    #[error("unsupported token type {0:?}: expected JWT")]
    UnsupportedType(String),
    /// The header has a `crit` member: it names extensions we do not implement, which
    /// RFC 7515 §4.1.11 says must make the token invalid.
    #[error("the token requires header extensions we do not implement (crit: {0})")]
    UnsupportedCritical(String),
    /// The header's `kid` names no pinned key.
    #[error("no pinned key has id {0:?}")]
    UnknownKid(String),
    /// The signature does not verify with the selected key(s).
    #[error("token signature verification failed")]
    BadSignature,
    /// `now` is at or past `exp` (plus leeway).
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The `exp` claim.
        exp: i64,
        /// The validation time.
        now: i64,
    },
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: i64,
        /// The validation time.
        now: i64,
    },
    /// `iat` is in the future (beyond the leeway).
    #[error("token issued in the future at {iat} (now {now})")]
    IssuedInFuture {
        /// The `iat` claim.
        iat: i64,
        /// The validation time.
        now: i64,
    },
    /// `iss` differs from the required issuer.
    #[error("token issuer {found:?} is not the required {expected:?}")]
    WrongIssuer {
        /// The issuer the validation requires.
        expected: String,
        /// The token's issuer.
        found: String,
    },
    /// `aud` does not contain the required audience.
    #[error("token audience {found:?} does not include {expected:?}")]
    WrongAudience {
        /// The audience the validation requires.
        expected: String,
        /// The token's audiences.
        found: Vec<String>,
    },
    /// A required claim is absent.
    #[error("token lacks the required claim {0:?}")]
    MissingClaim(&'static str),
    /// Issuing: `Claims::extra` holds a registered claim name, which would be emitted twice.
    #[error("extra claim {0:?} duplicates a registered claim")]
    DuplicateClaim(String),
}

/// The `aud` claim: a single string or an array of strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// `"aud": "x"`.
    One(String),
    /// `"aud": ["x", "y"]`.
    Many(Vec<String>),
}

impl Audience {
    /// The audiences as a slice-like list.
    pub fn as_vec(&self) -> Vec<String> {
        match self {
            Audience::One(a) => vec![a.clone()],
            Audience::Many(v) => v.clone(),
        }
    }

    /// Whether `aud` is among the audiences.
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(v) => v.iter().any(|a| a == aud),
        }
    }
}

/// The claims of a client token. Unknown claims are kept in [`Claims::extra`] so that
/// re-signing does not drop them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Subject: the client id.
    pub sub: String,
    /// Audience: the site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiry, unix seconds (required).
    pub exp: i64,
    /// Not before, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Issued at, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Token id (used for revocation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Licence tier, e.g. `"Free"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Daily scan quota (`maxScansPerDay`).
    #[serde(
        rename = "maxScansPerDay",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_scans_per_day: Option<u32>,
    /// Every other claim, in key order.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Claim names that have a field in [`Claims`].
const KNOWN_CLAIMS: [&str; 9] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "tier",
    "maxScansPerDay",
];

/// [`Claims`] with the required claims optional, so their absence gets its own error.
#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
    tier: Option<String>,
    #[serde(rename = "maxScansPerDay")]
    max_scans_per_day: Option<u32>,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

/// A JOSE header, as far as we read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The algorithm.
    pub alg: String,
    /// The token type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// The signing key's id ([`KeyId`] text for tokens we issue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Every other header member.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// What [`verify`] checks besides the signature. `now` is explicit: the library never
/// reads the clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validation {
    /// The current time, unix seconds.
    pub now: i64,
    /// Clock-skew allowance for `exp`, `nbf` and `iat`; clamped to [`MAX_LEEWAY_SECS`].
    pub leeway_secs: u64,
    /// When set, `iss` must be present and equal to it.
    pub issuer: Option<String>,
    /// When set, `aud` must be present and contain it.
    pub audience: Option<String>,
}

/// Issues a token for `claims`, signed by `key` with `kid` = the key id.
pub fn issue(claims: &Claims, key: &KeyPair) -> Result<String, JwtError> {
    if let Some(k) = claims
        .extra
        .keys()
        .find(|k| KNOWN_CLAIMS.contains(&k.as_str()))
    {
        return Err(JwtError::DuplicateClaim(k.clone()));
    }
    let header = Header {
        alg: ALG_EDDSA.into(),
        typ: Some("JWT".into()),
        kid: Some(key.id().to_string()),
        extra: BTreeMap::new(),
    };
    let h = serde_json::to_vec(&header)
        .map_err(|e| JwtError::Malformed(format!("serialising the header: {e}")))?;
    let c = serde_json::to_vec(claims)
        .map_err(|e| JwtError::Malformed(format!("serialising the claims: {e}")))?;
    let signing_input = format!("{}.{}", B64URL.encode(h), B64URL.encode(c));
    let sig = key.sign(signing_input.as_bytes());
    Ok(format!("{signing_input}.{}", B64URL.encode(sig)))
}

/// Re-issues `claims` with `iss` = `new_issuer`, signed by `key` (the appliance re-signs
/// imported vendor tokens with its own key). Every other claim, unknown ones included,
/// is kept.
pub fn resign(claims: &Claims, new_issuer: &str, key: &KeyPair) -> Result<String, JwtError> {
    let mut c = claims.clone();
    c.iss = Some(new_issuer.to_string());
    issue(&c, key)
}

/// Decodes the header without verifying anything — for diagnostics only (e.g. to say
/// which `kid` a refused token names).
pub fn decode_unverified_header(token: &str) -> Result<Header, JwtError> {
    Ok(split(token)?.header)
}

struct Parts<'a> {
    header: Header,
    signing_input: &'a str,
    payload_b64: &'a str,
    sig_b64: &'a str,
}

/// Steps 1–2: size, three parts, header JSON.
fn split(token: &str) -> Result<Parts<'_>, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TooLarge {
            size: token.len(),
            limit: MAX_TOKEN_BYTES,
        });
    }
    let mut it = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(JwtError::Malformed(
            "a compact JWT has exactly three dot-separated parts".into(),
        ));
    };
    let hbytes = B64URL
        .decode(h)
        .map_err(|e| JwtError::Malformed(format!("header base64url: {e}")))?;
    let header: Header = serde_json::from_slice(&hbytes)
        .map_err(|e| JwtError::Malformed(format!("header JSON: {e}")))?;
    Ok(Parts {
        header,
        signing_input: &token[..h.len() + 1 + p.len()],
        payload_b64: p,
        sig_b64: s,
    })
}

/// Verifies `token` against the pinned keys and `v`, returning its claims.
pub fn verify(token: &str, keys: &TrustRoot, v: &Validation) -> Result<Claims, JwtError> {
    // 1–2. size, shape, header
    let parts = split(token)?;
    let header = &parts.header;

    // 3. algorithm allow-list, before any key is touched
    if header.alg != ALG_EDDSA && header.alg != ALG_ED25519 {
        return Err(JwtError::UnsupportedAlgorithm(header.alg.clone()));
    }
    if let Some(typ) = &header.typ
        && !typ.eq_ignore_ascii_case("JWT")
    {
        return Err(JwtError::UnsupportedType(typ.clone()));
    }
    if let Some(crit) = header.extra.get("crit") {
        return Err(JwtError::UnsupportedCritical(crit.to_string()));
    }

    // 4. key selection
    let candidates: Vec<&PublicKey> = match &header.kid {
        Some(kid) => {
            let key = kid
                .parse::<KeyId>()
                .ok()
                .and_then(|id| keys.key(&id))
                .ok_or_else(|| JwtError::UnknownKid(kid.clone()))?;
            vec![key]
        }
        None => keys.keys().collect(),
    };

    // 5. signature (strict Ed25519)
    let sig = B64URL
        .decode(parts.sig_b64)
        .map_err(|e| JwtError::Malformed(format!("signature base64url: {e}")))?;
    let sig: [u8; 64] = sig.as_slice().try_into().map_err(|_| {
        JwtError::Malformed(format!(
            "an Ed25519 signature is 64 bytes, got {}",
            sig.len()
        ))
    })?;
    if !candidates
        .iter()
        .any(|k| k.verify(parts.signing_input.as_bytes(), &sig).is_ok())
    {
        return Err(JwtError::BadSignature);
    }

    // 6. claims
    let pbytes = B64URL
        .decode(parts.payload_b64)
        .map_err(|e| JwtError::Malformed(format!("claims base64url: {e}")))?;
    // Parsed straight into a struct (not via a map) so a duplicated registered claim is
    // an error rather than "last one wins", which other parsers may resolve differently.
    let raw: RawClaims = serde_json::from_slice(&pbytes)
        .map_err(|e| JwtError::Malformed(format!("claims JSON: {e}")))?;
    let claims = Claims {
        iss: raw.iss,
        sub: raw.sub.ok_or(JwtError::MissingClaim("sub"))?,
        aud: raw.aud,
        exp: raw.exp.ok_or(JwtError::MissingClaim("exp"))?,
        nbf: raw.nbf,
        iat: raw.iat,
        jti: raw.jti,
        tier: raw.tier,
        max_scans_per_day: raw.max_scans_per_day,
        extra: raw.extra,
    };
    check_claims(&claims, v)?;
    Ok(claims)
}

/// The time and identity checks of step 6.
fn check_claims(c: &Claims, v: &Validation) -> Result<(), JwtError> {
    let leeway = i64::try_from(v.leeway_secs.min(MAX_LEEWAY_SECS)).unwrap_or(0);
    let now = v.now;
    // RFC 7519 §4.1.4: valid only while now < exp.
    if now.saturating_sub(leeway) >= c.exp {
        return Err(JwtError::Expired { exp: c.exp, now });
    }
    if let Some(nbf) = c.nbf
        && nbf > now.saturating_add(leeway)
    {
        return Err(JwtError::NotYetValid { nbf, now });
    }
    if let Some(iat) = c.iat
        && iat > now.saturating_add(leeway)
    {
        return Err(JwtError::IssuedInFuture { iat, now });
    }
    if let Some(expected) = &v.issuer {
        match &c.iss {
            None => return Err(JwtError::MissingClaim("iss")),
            Some(found) if found != expected => {
                return Err(JwtError::WrongIssuer {
                    expected: expected.clone(),
                    found: found.clone(),
                });
            }
            Some(_) => {}
        }
    }
    if let Some(expected) = &v.audience {
        match &c.aud {
            None => return Err(JwtError::MissingClaim("aud")),
            Some(aud) if !aud.contains(expected) => {
                return Err(JwtError::WrongAudience {
                    expected: expected.clone(),
                    found: aud.as_vec(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn kp(n: u8) -> KeyPair {
        KeyPair::from_seed(KeyId([n; 8]), &[n; 32])
    }

    fn claims() -> Claims {
        Claims {
            iss: Some("stella-kit:test".into()),
            sub: "client-1".into(),
            aud: Some(Audience::One("site-a".into())),
            exp: NOW + 30 * 86_400,
            nbf: Some(NOW - 10),
            iat: Some(NOW - 10),
            jti: Some("jti-1".into()),
            tier: Some("Free".into()),
            max_scans_per_day: Some(333),
            extra: BTreeMap::new(),
        }
    }

    fn val() -> Validation {
        Validation {
            now: NOW,
            leeway_secs: 0,
            issuer: None,
            audience: None,
        }
    }

    /// Builds a token from raw header and claims JSON, signed by `key` (or with `sig`).
    fn raw_token(header: &str, claims: &str, key: &KeyPair) -> String {
        let input = format!(
            "{}.{}",
            B64URL.encode(header.as_bytes()),
            B64URL.encode(claims.as_bytes())
        );
        let sig = key.sign(input.as_bytes());
        format!("{input}.{}", B64URL.encode(sig))
    }

    fn err(token: &str, key: &KeyPair, v: &Validation) -> JwtError {
        verify(token, &TrustRoot::single(key.public()), v).expect_err("must be refused")
    }

    #[test]
    fn issue_is_deterministic_with_the_documented_header_and_order() {
        let k = kp(1);
        let t = issue(&claims(), &k).expect("issue");
        assert_eq!(t, issue(&claims(), &k).expect("issue"));
        let mut parts = t.split('.');
        let h = B64URL.decode(parts.next().expect("h")).expect("b64");
        assert_eq!(
            String::from_utf8(h).expect("utf8"),
            format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#, k.id())
        );
        let c = B64URL.decode(parts.next().expect("c")).expect("b64");
        let c = String::from_utf8(c).expect("utf8");
        assert!(
            c.starts_with(r#"{"iss":"stella-kit:test","sub":"client-1","aud":"site-a","exp":"#),
            "{c}"
        );
        assert!(c.ends_with(r#""tier":"Free","maxScansPerDay":333}"#), "{c}");
        assert!(!t.contains('='), "no padding");
    }

    #[test]
    fn round_trips_and_keeps_unknown_claims_through_resign() {
        let (vendor, appliance) = (kp(1), kp(2));
        let mut c = claims();
        c.extra
            .insert("features".into(), serde_json::json!(["a", "b"]));
        c.extra.insert("zz".into(), serde_json::json!({"n": 1}));
        let t = issue(&c, &vendor).expect("issue");
        let back = verify(&t, &TrustRoot::single(vendor.public()), &val()).expect("verify");
        assert_eq!(back, c);
        let re = resign(&back, "stella-appliance:site-a", &appliance).expect("resign");
        let again = verify(&re, &TrustRoot::single(appliance.public()), &val()).expect("verify");
        assert_eq!(again.iss.as_deref(), Some("stella-appliance:site-a"));
        assert_eq!(again.extra, c.extra);
        assert_eq!(again.max_scans_per_day, Some(333));
        // the vendor key no longer verifies the re-signed token (kid names the appliance)
        assert!(matches!(err(&re, &vendor, &val()), JwtError::UnknownKid(_)));
    }

    #[test]
    fn issuing_refuses_extra_claims_that_shadow_registered_ones() {
        let mut c = claims();
        c.extra.insert("exp".into(), serde_json::json!(1));
        assert!(matches!(
            issue(&c, &kp(1)),
            Err(JwtError::DuplicateClaim(n)) if n == "exp"
        ));
    }

    #[test]
    fn audience_array_is_accepted_on_input() {
        let k = kp(1);
        let t = raw_token(
            r#"{"alg":"EdDSA"}"#,
            &format!(r#"{{"sub":"c","exp":{},"aud":["x","site-a"]}}"#, NOW + 60),
            &k,
        );
        let v = Validation {
            audience: Some("site-a".into()),
            ..val()
        };
        let c = verify(&t, &TrustRoot::single(k.public()), &v).expect("verify");
        assert_eq!(
            c.aud,
            Some(Audience::Many(vec!["x".into(), "site-a".into()]))
        );
    }

    #[test]
    fn rfc9864_ed25519_alg_is_accepted_and_kid_is_optional() {
        let (a, b) = (kp(1), kp(2));
        let body = format!(r#"{{"sub":"c","exp":{}}}"#, NOW + 60);
        let t = raw_token(r#"{"alg":"Ed25519","typ":"JWT"}"#, &body, &b);
        // no kid: every pinned key is tried
        let root = TrustRoot::new(vec![a.public(), b.public()], 1).expect("root");
        assert_eq!(verify(&t, &root, &val()).expect("ok").sub, "c");
        assert!(matches!(err(&t, &a, &val()), JwtError::BadSignature));
    }

    #[test]
    fn only_eddsa_is_accepted() {
        let k = kp(1);
        let body = format!(r#"{{"sub":"c","exp":{}}}"#, NOW + 60);
        for alg in [
            "none", "HS256", "RS256", "ES256", "PS256", "eddsa", "ED25519", "",
        ] {
            let t = raw_token(&format!(r#"{{"alg":"{alg}"}}"#), &body, &k);
            assert!(
                matches!(err(&t, &k, &val()), JwtError::UnsupportedAlgorithm(ref a) if a == alg),
                "{alg}"
            );
        }
        // alg none with an empty signature part
        let none = format!(
            "{}.{}.",
            B64URL.encode(r#"{"alg":"none"}"#),
            B64URL.encode(&body)
        );
        assert!(matches!(
            err(&none, &k, &val()),
            JwtError::UnsupportedAlgorithm(_)
        ));
        // missing alg
        let t = raw_token(r#"{"typ":"JWT"}"#, &body, &k);
        assert!(matches!(err(&t, &k, &val()), JwtError::Malformed(_)));
    }

    #[test]
    fn header_typ_and_crit_are_checked() {
        let k = kp(1);
        let body = format!(r#"{{"sub":"c","exp":{}}}"#, NOW + 60);
        let t = raw_token(r#"{"alg":"EdDSA","typ":"dpop+jwt"}"#, &body, &k);
        assert!(matches!(err(&t, &k, &val()), JwtError::UnsupportedType(_)));
        let t = raw_token(r#"{"alg":"EdDSA","crit":["b64"],"b64":false}"#, &body, &k);
        assert!(matches!(
            err(&t, &k, &val()),
            JwtError::UnsupportedCritical(_)
        ));
    }

    #[test]
    fn kid_must_name_a_pinned_key() {
        let (a, b) = (kp(1), kp(2));
        let t = issue(&claims(), &b).expect("issue");
        assert!(matches!(err(&t, &a, &val()), JwtError::UnknownKid(k) if k == b.id().to_string()));
        let body = format!(r#"{{"sub":"c","exp":{}}}"#, NOW + 60);
        let t = raw_token(r#"{"alg":"EdDSA","kid":"not-a-key-id"}"#, &body, &a);
        assert!(matches!(err(&t, &a, &val()), JwtError::UnknownKid(_)));
        // b's signature labelled with a's kid: checked against a only
        let t = raw_token(
            &format!(r#"{{"alg":"EdDSA","kid":"{}"}}"#, a.id()),
            &body,
            &b,
        );
        assert!(matches!(err(&t, &a, &val()), JwtError::BadSignature));
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let k = kp(1);
        let t = issue(&claims(), &k).expect("issue");
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        let mut c = claims();
        c.max_scans_per_day = Some(100_000);
        parts[1] = B64URL.encode(serde_json::to_vec(&c).expect("json"));
        let forged = parts.join(".");
        assert!(matches!(err(&forged, &k, &val()), JwtError::BadSignature));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let k = kp(1);
        let good = issue(&claims(), &k).expect("issue");
        let (h, rest) = good.split_once('.').expect("dot");
        let (p, s) = rest.split_once('.').expect("dot");
        let cases = [
            String::new(),
            "a.b".to_string(),
            format!("{good}.x"),
            format!("!!.{p}.{s}"),
            format!("{}.{p}.{s}", B64URL.encode("not json")),
            format!("{}.{p}.{s}", B64URL.encode("[1]")),
            format!("{h}=.{p}.{s}"),
            format!("{h}.{p}.{}", &s[..s.len() - 2]),
            format!("{h}.{p}.{s}AA"),
            format!("{h}.{p}.!{}", &s[1..]),
        ];
        for t in cases {
            assert!(
                matches!(err(&t, &k, &val()), JwtError::Malformed(_)),
                "{t:?}"
            );
        }
        // signed but with claims that are not an object / wrong types
        for body in [
            "[]",
            r#"["c", 99999999999]"#,
            r#"{"sub":"c","exp":"soon"}"#,
            r#"{"sub":1,"exp":5}"#,
            r#"{"sub":"c","exp":1,"exp":99999999999}"#,
            r#"{"sub":"c","exp":99999999999,"maxScansPerDay":-1}"#,
            "nope",
        ] {
            let t = raw_token(r#"{"alg":"EdDSA"}"#, body, &k);
            assert!(
                matches!(err(&t, &k, &val()), JwtError::Malformed(_)),
                "{body}"
            );
        }
        // a duplicated alg is not "last one wins"
        let body = format!(r#"{{"sub":"c","exp":{}}}"#, NOW + 60);
        let t = raw_token(r#"{"alg":"none","alg":"EdDSA"}"#, &body, &k);
        assert!(matches!(err(&t, &k, &val()), JwtError::Malformed(_)));
        let big = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(
            err(&big, &k, &val()),
            JwtError::TooLarge { size, limit: MAX_TOKEN_BYTES } if size == MAX_TOKEN_BYTES + 1
        ));
        assert!(matches!(
            decode_unverified_header(&big),
            Err(JwtError::TooLarge { .. })
        ));
        let h = decode_unverified_header(&good).expect("header");
        assert_eq!(h.kid, Some(k.id().to_string()));
        assert_eq!(h.alg, "EdDSA");
    }

    #[test]
    fn required_claims() {
        let k = kp(1);
        let t = raw_token(r#"{"alg":"EdDSA"}"#, r#"{"sub":"c"}"#, &k);
        assert!(matches!(err(&t, &k, &val()), JwtError::MissingClaim("exp")));
        let t = raw_token(
            r#"{"alg":"EdDSA"}"#,
            &format!(r#"{{"exp":{}}}"#, NOW + 9),
            &k,
        );
        assert!(matches!(err(&t, &k, &val()), JwtError::MissingClaim("sub")));
        let t = raw_token(
            r#"{"alg":"EdDSA"}"#,
            &format!(r#"{{"sub":"c","exp":{}}}"#, NOW + 9),
            &k,
        );
        let v = Validation {
            issuer: Some("i".into()),
            ..val()
        };
        assert!(matches!(err(&t, &k, &v), JwtError::MissingClaim("iss")));
        let v = Validation {
            audience: Some("a".into()),
            ..val()
        };
        assert!(matches!(err(&t, &k, &v), JwtError::MissingClaim("aud")));
    }

    #[test]
    fn time_checks_with_clamped_leeway() {
        let k = kp(1);
        let root = TrustRoot::single(k.public());
        let mut c = claims();
        c.exp = NOW;
        let t = issue(&c, &k).expect("issue");
        // now == exp: expired (valid only while now < exp)
        assert!(matches!(
            err(&t, &k, &val()),
            JwtError::Expired { exp: NOW, now: NOW }
        ));
        let lenient = Validation {
            leeway_secs: 60,
            ..val()
        };
        assert!(verify(&t, &root, &lenient).is_ok());
        let at_limit = Validation {
            now: NOW + 60,
            ..lenient.clone()
        };
        assert!(matches!(err(&t, &k, &at_limit), JwtError::Expired { .. }));
        // a huge leeway is clamped to 300 s
        let huge = Validation {
            now: NOW + 301,
            leeway_secs: 1_000_000,
            ..val()
        };
        assert!(matches!(err(&t, &k, &huge), JwtError::Expired { .. }));
        let within = Validation {
            now: NOW + 299,
            leeway_secs: 1_000_000,
            ..val()
        };
        assert!(verify(&t, &root, &within).is_ok());

        let mut c = claims();
        c.nbf = Some(NOW + 100);
        c.iat = None;
        let t = issue(&c, &k).expect("issue");
        assert!(matches!(
            err(&t, &k, &val()),
            JwtError::NotYetValid { nbf, now: NOW } if nbf == NOW + 100
        ));
        let v = Validation {
            leeway_secs: 100,
            ..val()
        };
        assert!(verify(&t, &root, &v).is_ok());

        let mut c = claims();
        c.iat = Some(NOW + 1);
        c.nbf = None;
        let t = issue(&c, &k).expect("issue");
        assert!(matches!(
            err(&t, &k, &val()),
            JwtError::IssuedInFuture { iat, .. } if iat == NOW + 1
        ));
        // extreme values do not overflow
        let v = Validation {
            now: i64::MIN,
            leeway_secs: 300,
            ..val()
        };
        assert!(matches!(
            err(&issue(&claims(), &k).expect("issue"), &k, &v),
            JwtError::NotYetValid { .. }
        ));
        let v = Validation {
            now: i64::MAX,
            leeway_secs: 300,
            ..val()
        };
        assert!(matches!(
            err(&issue(&claims(), &k).expect("issue"), &k, &v),
            JwtError::Expired { .. }
        ));
    }

    #[test]
    fn issuer_and_audience_checks() {
        let k = kp(1);
        let root = TrustRoot::single(k.public());
        let t = issue(&claims(), &k).expect("issue");
        let v = Validation {
            issuer: Some("stella-kit:test".into()),
            audience: Some("site-a".into()),
            ..val()
        };
        assert!(verify(&t, &root, &v).is_ok());
        let wrong_iss = Validation {
            issuer: Some("someone-else".into()),
            ..v.clone()
        };
        assert!(matches!(
            err(&t, &k, &wrong_iss),
            JwtError::WrongIssuer { ref found, .. } if found == "stella-kit:test"
        ));
        let wrong_aud = Validation {
            audience: Some("site-b".into()),
            ..v
        };
        assert!(matches!(
            err(&t, &k, &wrong_aud),
            JwtError::WrongAudience { ref found, .. } if found == &vec!["site-a".to_string()]
        ));
    }
}
