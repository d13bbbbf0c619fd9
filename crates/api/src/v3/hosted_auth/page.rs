//! The pages of hosted sign-in and the redirects that end it: never cached, never framed,
//! no script, a CSRF cookie per flow, and a form that may submit only to mailroom (and
//! follow the redirect to the application).

use askama::Template;
use axum::{
    http::{
        HeaderMap, HeaderValue, StatusCode,
        header::{
            CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, RETRY_AFTER,
            SET_COOKIE,
        },
    },
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use mailroom_model::TransportSecurity;
use mailroom_store::AuthFlowRecord;
use rand::RngCore;

/// The CSRF cookie is named after its flow, so that two sign-in tabs do not collide.
const CSRF_COOKIE_PREFIX: &str = "mailroom_csrf_";

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    nonce: &'a str,
    app_name: &'a str,
    flow: &'a str,
    csrf: &'a str,
    error: Option<String>,
    fields: FormFields,
    security_options: &'static [(&'static str, &'static str)],
}

#[derive(Template)]
#[template(path = "auth_error.html")]
struct ErrorPage<'a> {
    nonce: &'a str,
    message: &'a str,
}

const SECURITY_OPTIONS: &[(&str, &str)] = &[
    ("ssl", "SSL/TLS"),
    ("starttls", "STARTTLS"),
    ("none", "None (unencrypted)"),
];

/// The visible fields of the page (never the passwords).
pub struct FormFields {
    pub email: String,
    pub imap_host: String,
    pub imap_port: String,
    pub imap_security: String,
    pub smtp_host: String,
    pub smtp_port: String,
    pub smtp_security: String,
    pub smtp_username: String,
    pub smtp_required: bool,
    pub advanced_open: bool,
}

impl FormFields {
    pub fn empty(email: &str, smtp_required: bool) -> Self {
        FormFields {
            email: email.to_owned(),
            imap_host: String::new(),
            imap_port: String::new(),
            imap_security: TransportSecurity::Ssl.as_str().to_owned(),
            smtp_host: String::new(),
            smtp_port: String::new(),
            smtp_security: TransportSecurity::Ssl.as_str().to_owned(),
            smtp_username: String::new(),
            smtp_required,
            // The SMTP credentials it insists on are among the advanced settings.
            advanced_open: smtp_required,
        }
    }

    pub fn opened(mut self) -> Self {
        self.advanced_open = true;
        self
    }
}

/// The sign-in page of `flow`, with its CSRF cookie.
pub fn sign_in_page(
    app_name: &str,
    flow: &AuthFlowRecord,
    csrf: &str,
    fields: FormFields,
    error: Option<String>,
) -> Response {
    let nonce = nonce();
    let page = SignInPage {
        nonce: &nonce,
        app_name,
        flow: &flow.id,
        csrf,
        error,
        fields,
        security_options: SECURITY_OPTIONS,
    };
    let response = html(
        StatusCode::OK,
        page.render(),
        &nonce,
        Some(&flow.redirect_uri),
    );
    with_csrf_cookie(response, &flow.id, csrf)
}

pub fn error_page(status: StatusCode, message: &str) -> Response {
    let nonce = nonce();
    html(
        status,
        ErrorPage {
            nonce: &nonce,
            message,
        }
        .render(),
        &nonce,
        None,
    )
}

/// 429 on an error page, with `Retry-After`.
pub fn throttled_page(retry_after_secs: u64) -> Response {
    let mut response = error_page(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Too many sign-in attempts. Try again in {retry_after_secs} seconds."),
    );
    if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// An HTML page that is never cached, cannot be framed, runs no script, and may submit
/// its form only to mailroom (and follow the redirect to the application).
fn html(
    status: StatusCode,
    body: Result<String, askama::Error>,
    nonce: &str,
    redirect_uri: Option<&str>,
) -> Response {
    let Ok(body) = body else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the page could not be rendered",
        )
            .into_response();
    };
    // The form's redirect must be allowed too: the application's origin, or for an app
    // scheme (`com.example.app:/oauth`, which has no origin) the scheme.
    let redirect_origin = redirect_uri
        .and_then(|uri| url::Url::parse(uri).ok())
        .map(|url| match url.origin() {
            origin @ url::Origin::Tuple(..) => format!(" {}", origin.ascii_serialization()),
            url::Origin::Opaque(_) => format!(" {}:", url.scheme()),
        })
        .unwrap_or_default();
    let policy = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self'; \
         form-action 'self'{redirect_origin}; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(CONTENT_SECURITY_POLICY, value);
    }
    response
}

fn with_csrf_cookie(mut response: Response, flow_id: &str, csrf: &str) -> Response {
    let cookie = format!(
        "{CSRF_COOKIE_PREFIX}{flow_id}={csrf}; Path=/v3/connect; HttpOnly; SameSite=Strict; \
         Max-Age=1800"
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// The CSRF token the browser holds for `flow_id`.
pub fn csrf_cookie(headers: &HeaderMap, flow_id: &str) -> Option<String> {
    cookie_value(headers, &format!("{CSRF_COOKIE_PREFIX}{flow_id}"))
}

/// The value of the cookie `name`, if the browser sent it.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .map(|(_, value)| value.to_owned())
}

/// The end of a failed flow (docs/API.md §2.3): `error_type` beside the OAuth fields.
pub fn error_redirect(flow: &AuthFlowRecord, error_type: &str, description: &str) -> Response {
    let code = match error_type {
        "auth_limit_reached" => "45003",
        _ => "45004",
    };
    let mut params = vec![
        ("error_type", error_type),
        ("error", error_type),
        ("error_code", code),
        ("error_description", description),
    ];
    params.extend(flow.state.as_deref().map(|state| ("state", state)));
    redirect_with(&flow.redirect_uri, &params)
}

/// A 303 to `uri` with these query parameters appended to any it has.
pub fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(uri) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not a valid URL.",
        );
    };
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in params {
            query.append_pair(key, value);
        }
    }
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn nonce() -> String {
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
