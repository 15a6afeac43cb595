//! Login, logout, the session extractor and CSRF checks.
//!
//! Sessions and password checks live behind [`Console`](crate::Console) (argon2 and the
//! backoff are the appliance's job). This module owns the cookies: the session cookie
//! is `HttpOnly` (no script can read it), `SameSite=Strict` (no cross-site request
//! carries it) and `Secure` under TLS. Every form also carries a CSRF token: the
//! session's own token once logged in, and a double-submit cookie on the login form.

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::assets;
use crate::console::{LoginOutcome, Session};
use crate::error::WebError;
use crate::pages::html;
use crate::state::AppState;

/// Name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "stella_session";
/// Name of the login form's double-submit CSRF cookie.
pub(crate) const LOGIN_CSRF_COOKIE: &str = "stella_login_csrf";

// Why: bound the work an anonymous client can cause (argon2 cost grows with input only
// mildly, but nobody needs a 1 MB password).
const MAX_USER_LEN: usize = 128;
const MAX_PASSWORD_LEN: usize = 1024;

/// A logged-in operator. As an extractor it redirects (303) to `/login` when there is
/// no valid session.
pub(crate) struct Operator(pub(crate) Session);

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/login").into_response());
        };
        match state.call(move |c| c.session(&token)).await {
            Ok(Some(s)) => Ok(Operator(s)),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

impl Operator {
    /// Checks a submitted CSRF token against the session's, in constant time.
    pub(crate) fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        tokens_match(&self.0.csrf, submitted)
            .then_some(())
            .ok_or(WebError::Csrf)
    }
}

fn tokens_match(expected: &str, submitted: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
}

/// The first value of the named cookie in the request.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

fn set_cookie(name: &str, value: String, path: &str, secure: bool, remove: bool) -> HeaderValue {
    let mut c = Cookie::build((name.to_owned(), value))
        .path(path.to_owned())
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .build();
    if remove {
        c.make_removal();
    }
    // Cookie names and values here are ASCII (hex tokens), so this cannot fail; fall back
    // to an expired cookie rather than panic.
    HeaderValue::from_str(&c.to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("stella_invalid=; Max-Age=0"))
}

fn random_token() -> Result<String, WebError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| WebError::internal(format_args!("getrandom: {e}")))?;
    Ok(hex::encode(b))
}

/// The client's address, when the server was started with connect info.
fn client_ip(parts_ext: &axum::http::Extensions) -> Option<IpAddr> {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
}

/// The login page.
#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    assets: &'static assets::Urls,
    csrf: String,
    user: String,
    error: Option<String>,
}

/// `GET /login`.
pub(crate) async fn login_page(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    // Already logged in: go to the dashboard.
    if let Some(token) = cookie_value(&headers, SESSION_COOKIE)
        && st.call(move |c| c.session(&token)).await?.is_some()
    {
        return Ok(Redirect::to("/").into_response());
    }
    login_form(&st, StatusCode::OK, String::new(), None)
}

fn login_form(
    st: &AppState,
    status: StatusCode,
    user: String,
    error: Option<String>,
) -> Result<Response, WebError> {
    let csrf = random_token()?;
    let cookie = set_cookie(
        LOGIN_CSRF_COOKIE,
        csrf.clone(),
        "/login",
        st.opts.secure_cookies,
        false,
    );
    let page = LoginPage {
        assets: assets::urls(),
        csrf,
        user,
        error,
    };
    let mut resp = (status, html(&page)?).into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// The login form's fields.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /login`.
pub(crate) async fn login(
    State(st): State<AppState>,
    parts: LoginParts,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let expected = cookie_value(&parts.headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !tokens_match(&expected, &form.csrf) {
        return Err(WebError::Csrf);
    }
    let user = form.user.trim().to_owned();
    if user.is_empty() || form.password.is_empty() {
        return login_form(
            &st,
            StatusCode::BAD_REQUEST,
            user,
            Some("Enter your user name and password.".into()),
        );
    }
    if user.len() > MAX_USER_LEN || form.password.len() > MAX_PASSWORD_LEN {
        return login_form(
            &st,
            StatusCode::BAD_REQUEST,
            String::new(),
            Some("User name or password is too long.".into()),
        );
    }
    let ip = parts.ip;
    let (u, p) = (user.clone(), form.password);
    let outcome = st.call(move |c| c.verify_login(&u, &p, ip)).await?;
    match outcome {
        LoginOutcome::Success(session) => {
            let mut resp = Redirect::to("/").into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(
                    SESSION_COOKIE,
                    session.token,
                    "/",
                    st.opts.secure_cookies,
                    false,
                ),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(
                    LOGIN_CSRF_COOKIE,
                    String::new(),
                    "/login",
                    st.opts.secure_cookies,
                    true,
                ),
            );
            Ok(resp)
        }
        LoginOutcome::Throttled { retry_after_secs } => {
            let mut resp = login_form(
                &st,
                StatusCode::TOO_MANY_REQUESTS,
                user,
                Some(format!(
                    "Too many failed sign-in attempts. Try again in {retry_after_secs} seconds."
                )),
            )?;
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Ok(resp)
        }
        // `LoginOutcome` is non-exhaustive: anything new is a refusal too.
        _ => login_form(
            &st,
            StatusCode::UNAUTHORIZED,
            user,
            Some("Wrong user name or password.".into()),
        ),
    }
}

/// Headers and client address of a login request (the body is the form).
pub(crate) struct LoginParts {
    headers: HeaderMap,
    ip: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for LoginParts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(LoginParts {
            headers: parts.headers.clone(),
            ip: client_ip(&parts.extensions),
        })
    }
}

/// The logout form.
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`.
pub(crate) async fn logout(
    State(st): State<AppState>,
    op: Operator,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    op.check_csrf(&form.csrf)?;
    let token = op.0.token.clone();
    st.call(move |c| c.end_session(&token)).await?;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            String::new(),
            "/",
            st.opts.secure_cookies,
            true,
        ),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_compare_exactly_and_never_match_empty() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "ab"));
        assert!(!tokens_match("", ""));
    }

    #[test]
    fn cookies_are_parsed_from_every_cookie_header() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("stella_session=xyz"),
        );
        assert_eq!(cookie_value(&h, "b").as_deref(), Some("2"));
        assert_eq!(cookie_value(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie_value(&h, "c"), None);
    }

    #[test]
    fn session_cookie_has_the_required_flags() {
        let v = set_cookie(SESSION_COOKIE, "t".into(), "/", true, false);
        let s = v.to_str().expect("ascii");
        for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(s.contains(flag), "{s} lacks {flag}");
        }
        let v = set_cookie(SESSION_COOKIE, "t".into(), "/", false, false);
        assert!(!v.to_str().expect("ascii").contains("Secure"));
    }
}
