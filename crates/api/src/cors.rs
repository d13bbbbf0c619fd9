//! Cross-origin calls from browser applications (the Fetch standard's CORS protocol),
//! for the few routes a single-page application calls itself after a PKCE sign-in:
//! `/v3/connect/token`, `/v3/connect/tokeninfo`, `/v3/connect/revoke` and
//! `/v3/grants/me/…` with a grant's access token. Nothing else is opened to browsers.
//!
//! An origin is allowed when it is the origin of one of the application's redirect URIs
//! registered for the `js` platform. A preflight carries no credentials, so it is
//! answered for an origin some application registered; the call itself is answered
//! with CORS headers only when the application it names (its `client_id`, or the
//! application of the token it presents) registered that origin. No cookies are read on
//! these routes, so no credentials mode is offered.

use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{
        HeaderMap, HeaderValue, Method, StatusCode,
        header::{
            ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
            ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
            ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION, CONTENT_TYPE, ORIGIN, VARY,
        },
    },
    middleware::Next,
    response::{IntoResponse, Response},
};
use mailroom_model::ApplicationId;

use crate::{http_limits::MAX_UNAUTHENTICATED_BODY_BYTES, router::AppState};

/// The request headers a browser application may send.
const ALLOWED_HEADERS: &str = "authorization, content-type, accept, x-nylas-api-wrapper";
/// The methods of the routes opened to browsers.
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// How long a browser may keep a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

/// Whether browsers may call this path from another origin.
pub fn open_to_browsers(path: &str) -> bool {
    matches!(
        path,
        "/v3/connect/token" | "/v3/connect/tokeninfo" | "/v3/connect/revoke" | "/v3/grants/me"
    ) || path.starts_with("/v3/grants/me/")
}

pub async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(origin) = request
        .headers()
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(request).await;
    };
    if !open_to_browsers(request.uri().path()) {
        return next.run(request).await;
    }
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        return answer_preflight(&state, &origin).await;
    }
    let (request, application) = match calling_application(&state, request).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let allowed = match &application {
        Some(application) => js_origins(&state, Some(application))
            .await
            .contains(&origin),
        None => false,
    };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.append(VARY, HeaderValue::from_static("Origin"));
    if allowed && let Ok(value) = HeaderValue::from_str(&origin) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-request-id"),
        );
    }
    response
}

async fn answer_preflight(state: &AppState, origin: &str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(VARY, HeaderValue::from_static("Origin"));
    let known = js_origins(state, None)
        .await
        .iter()
        .any(|known| known == origin);
    match HeaderValue::from_str(origin) {
        Ok(value) if known => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
            headers.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOWED_METHODS),
            );
            headers.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            headers.insert(
                ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(PREFLIGHT_MAX_AGE),
            );
        }
        // Without the headers the browser refuses the call; the status says why to a
        // person reading the network log.
        _ => *response.status_mut() = StatusCode::FORBIDDEN,
    }
    response
}

/// The origins of the `js` redirect URIs of `application`, or of every application.
async fn js_origins(state: &AppState, application: Option<&ApplicationId>) -> Vec<String> {
    match state.store.js_redirect_urls(application).await {
        Ok(urls) => urls
            .iter()
            .filter_map(|url| url::Url::parse(url).ok())
            .map(|url| url.origin().ascii_serialization())
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the redirect URIs for a cross-origin call");
            Vec::new()
        }
    }
}

/// The application a browser's call names: by the access token it presents (Bearer, or
/// `access_token`/`token` in the query or a form), or by the `client_id` of its body.
/// The body is read (these routes' bodies are small) and put back.
async fn calling_application(
    state: &AppState,
    request: Request,
) -> Result<(Request, Option<ApplicationId>), Response> {
    if let Some(token) = presented_token(request.headers(), request.uri().query()) {
        let application = match state.store.access_token(&token).await {
            Ok(found) => found.map(|t| t.application_id),
            Err(_) => None,
        };
        return Ok((request, application));
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_UNAUTHENTICATED_BODY_BYTES)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
    let fields = body_fields(&parts.headers, &bytes);
    let token = fields
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone());
    let application = match token {
        Some(token) => match state.store.access_token(&token).await {
            Ok(found) => found.map(|t| t.application_id),
            Err(_) => None,
        },
        None => fields
            .iter()
            .find(|(k, _)| k == "client_id")
            .and_then(|(_, v)| ApplicationId::parse(v).ok()),
    };
    Ok((Request::from_parts(parts, Body::from(bytes)), application))
}

fn presented_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    bearer.or_else(|| {
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "access_token" || k == "token")
            .map(|(_, v)| v.into_owned())
    })
}

/// The top-level string fields of a JSON object or a form.
fn body_fields(headers: &HeaderMap, body: &[u8]) -> Vec<(String, String)> {
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        return url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(fields)) => fields
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_browser_routes_are_opened() {
        for open in [
            "/v3/connect/token",
            "/v3/connect/tokeninfo",
            "/v3/connect/revoke",
            "/v3/grants/me",
            "/v3/grants/me/messages",
        ] {
            assert!(open_to_browsers(open), "{open}");
        }
        for closed in [
            "/v3/connect/auth",
            "/v3/connect/custom",
            "/v3/grants",
            "/v3/grants/meadow/messages",
            "/v3/webhooks",
            "/messages",
            "/oauth/token",
        ] {
            assert!(!open_to_browsers(closed), "{closed}");
        }
    }

    #[test]
    fn a_body_names_its_fields_as_json_or_as_a_form() {
        let mut headers = HeaderMap::new();
        let json = br#"{"client_id":"abc","code":"c","n":1}"#;
        assert_eq!(
            body_fields(&headers, json),
            [
                ("client_id".to_owned(), "abc".to_owned()),
                ("code".to_owned(), "c".to_owned())
            ]
        );
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert_eq!(
            body_fields(&headers, b"token=t1&x=y"),
            [
                ("token".to_owned(), "t1".to_owned()),
                ("x".to_owned(), "y".to_owned())
            ]
        );
        assert!(body_fields(&HeaderMap::new(), b"[1,2]").is_empty());
    }
}
