//! Signing in to the dashboard: an admin token typed into a form opens a session, kept
//! hashed in the store and in an HttpOnly, SameSite=Strict cookie of the `/admin` path.
//! Every form of the dashboard carries a CSRF token derived from the session.

use axum::{
    Form,
    extract::State,
    http::{
        HeaderMap, HeaderValue, StatusCode,
        header::{LOCATION, SET_COOKIE},
    },
    response::{IntoResponse, Response},
};
use mailroom_store::{ADMIN_SESSION_SECS, hash_secret};
use serde::Deserialize;

use super::overview::login_page;
use crate::{router::AppState, v3::hosted_auth::cookie_value};

const SESSION_COOKIE: &str = "mailroom_admin";
/// The longest admin token read from the form.
const MAX_TOKEN_LEN: usize = 256;

/// The session the request presents, if it is open.
pub async fn open_session(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let session = cookie_value(headers, SESSION_COOKIE)?;
    match state.store.admin_session_open(&session).await {
        Ok(true) => Some(session),
        Ok(false) => None,
        Err(e) => {
            tracing::warn!(error = %e, "could not check a dashboard session");
            None
        }
    }
}

/// The CSRF token of a session's forms: its hash under a label, which only the holder
/// of the session cookie can know.
pub fn csrf_token(session: &str) -> String {
    hash_secret(&format!("dashboard csrf {session}"))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
}

pub async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return login_page(
            StatusCode::UNAUTHORIZED,
            Some("That is not an admin token."),
        );
    }
    match state.store.open_admin_session(token).await {
        Ok(Some(session)) => {
            tracing::info!("dashboard session opened");
            let cookie = format!(
                "{SESSION_COOKIE}={session}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={ADMIN_SESSION_SECS}"
            );
            see_other("/admin", Some(&cookie))
        }
        Ok(None) => login_page(
            StatusCode::UNAUTHORIZED,
            Some("That admin token is unknown or revoked."),
        ),
        Err(e) => {
            tracing::error!(error = %e, "could not open a dashboard session");
            login_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("mailroom could not read its database. Try again shortly."),
            )
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(session) = open_session(&state, &headers).await
        && form.csrf == csrf_token(&session)
        && let Err(e) = state.store.close_admin_session(&session).await
    {
        tracing::warn!(error = %e, "could not close a dashboard session");
    }
    let cleared = format!("{SESSION_COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0");
    see_other("/admin", Some(&cleared))
}

pub fn see_other(location: &str, cookie: Option<&str>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(LOCATION, value);
    }
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert(SET_COOKIE, value);
    }
    response
}
