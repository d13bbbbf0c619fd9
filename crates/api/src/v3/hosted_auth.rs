//! Hosted authentication: `GET /v3/connect/auth` serves mailroom's own sign-in page for
//! an IMAP mailbox, `POST /v3/connect/auth` takes its form. On success the grant is
//! created (or the existing one for that email re-authenticated) and the browser goes
//! back to the application's `redirect_uri` with a one-time `code`; the outcomes of
//! API.md §2.3 and seed 000 otherwise: a wrong password shows the page again, the third
//! ends the flow with `error_type=auth_limit_reached`, a silent server with
//! `error_type=provider_not_responding`.
//!
//! Until `redirect_uri` is known to be registered for the application, nothing is ever
//! redirected: problems are shown on an error page.

use askama::Template;
use axum::{
    Form,
    extract::{Query, State},
    http::{
        HeaderMap, HeaderValue, StatusCode,
        header::{
            CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE,
        },
    },
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use mailroom_model::{
    ApplicationId, EmailAddress, Provider, Scope, TransportSecurity, mail_settings::SettingsInput,
};
use mailroom_net::{DiscoveredTls, fetch_autoconfig};
use mailroom_store::{AuthFlowRecord, GrantWrite, NewAuthFlow};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    provider_check::{CheckFailure, verify_mailbox},
    router::AppState,
    v3::client_info::ClientInfo,
};

/// Wrong passwords allowed in one flow; the last one ends it.
const MAX_ATTEMPTS: i64 = 3;
const MAX_STATE_LEN: usize = 256;
/// The CSRF cookie is named after its flow, so that two sign-in tabs do not collide.
const CSRF_COOKIE_PREFIX: &str = "mailroom_csrf_";
/// The longest the page waits for a domain's autoconfiguration document.
const AUTOCONFIG_WAIT: std::time::Duration = std::time::Duration::from_secs(4);

/// The query of `GET /v3/connect/auth` (API.md §2.2).
#[derive(Debug, Deserialize)]
pub struct AuthQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    provider: Option<String>,
    login_hint: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    access_type: Option<String>,
    options: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    flow: String,
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    imap_host: String,
    #[serde(default)]
    imap_port: String,
    #[serde(default)]
    imap_security: String,
    #[serde(default)]
    smtp_host: String,
    #[serde(default)]
    smtp_port: String,
    #[serde(default)]
    smtp_security: String,
    #[serde(default)]
    smtp_username: String,
    #[serde(default)]
    smtp_password: String,
}

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

pub async fn sign_in_page(
    State(state): State<AppState>,
    Query(query): Query<AuthQuery>,
) -> Response {
    match start_flow(&state, &query).await {
        Ok(Started::Page(page)) => page,
        Ok(Started::Redirect(response)) => response,
        Err(message) => error_page(StatusCode::BAD_REQUEST, &message),
    }
}

enum Started {
    Page(Response),
    Redirect(Response),
}

/// Checks the request and opens a flow. `Err` is shown on an error page: the redirect
/// URI is not (yet) known to be safe to send the browser to.
async fn start_flow(state: &AppState, query: &AuthQuery) -> Result<Started, String> {
    let client_id = query
        .client_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or("The link has no client_id.")?;
    let application_id = ApplicationId::parse(client_id)
        .map_err(|_| "The client_id is not an application of this server.")?;
    let application = state
        .store
        .application(&application_id)
        .await
        .map_err(|_| "mailroom could not read its database; try again later.")?
        .ok_or("The client_id is not an application of this server.")?;
    let redirect_uri = query
        .redirect_uri
        .as_deref()
        .filter(|r| !r.is_empty())
        .ok_or("The link has no redirect_uri.")?;
    let registered = state
        .store
        .list_callback_uris(&application_id)
        .await
        .map_err(|_| "mailroom could not read its database; try again later.")?;
    if !registered.iter().any(|uri| uri.url == redirect_uri) {
        return Err(format!(
            "The redirect_uri '{}' is not registered for this application.",
            redirect_uri.chars().take(200).collect::<String>()
        ));
    }
    let redirect_state = query.state.as_deref();
    let refuse = |error: &str, description: &str| {
        let mut params = vec![
            ("error", error),
            ("error_code", "400"),
            ("error_description", description),
        ];
        params.extend(redirect_state.map(|state| ("state", state)));
        Ok(Started::Redirect(redirect_with(redirect_uri, &params)))
    };
    if redirect_state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(format!(
            "The state parameter is longer than {MAX_STATE_LEN} characters."
        ));
    }
    if query.response_type.as_deref() != Some("code") {
        return refuse("unsupported_response_type", "response_type must be 'code'");
    }
    if let Some(provider) = query.provider.as_deref().filter(|p| !p.is_empty())
        && provider.parse::<Provider>().is_err()
    {
        return refuse(
            "invalid_request",
            &format!("mailroom signs in IMAP mailboxes only, not '{provider}'"),
        );
    }
    let scope_names: Vec<&str> = query
        .scope
        .as_deref()
        .unwrap_or_default()
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .collect();
    let scope = match Scope::parse_list(&scope_names) {
        Ok(scope) => scope,
        Err(e) => return refuse("invalid_scope", &e.to_string()),
    };
    let access_type = match query.access_type.as_deref().unwrap_or("online") {
        "online" => "online",
        "offline" => "offline",
        _ => {
            return refuse(
                "invalid_request",
                "access_type must be 'online' or 'offline'",
            );
        }
    };
    let method = query
        .code_challenge_method
        .as_deref()
        .map(str::to_ascii_lowercase);
    if query.code_challenge.is_some() && !matches!(method.as_deref(), None | Some("plain" | "s256"))
    {
        return refuse(
            "invalid_request",
            "code_challenge_method must be 'plain' or 'S256'",
        );
    }
    let connector = state
        .store
        .connector(&application_id, Provider::Imap)
        .await
        .map_err(|_| "mailroom could not read its database; try again later.")?;
    if connector.is_none() {
        return refuse(
            "invalid_request",
            "the application has no IMAP connector; create one with POST /v3/connectors",
        );
    }
    let smtp_required = query
        .options
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .any(|o| o.trim() == "smtp_required");
    let login_hint = query
        .login_hint
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty());
    let (flow, csrf) = state
        .store
        .create_auth_flow(NewAuthFlow {
            application_id: &application_id,
            redirect_uri,
            state: redirect_state,
            scope: &scope,
            access_type,
            login_hint,
            smtp_required,
            code_challenge: query.code_challenge.as_deref(),
            code_challenge_method: query.code_challenge.as_ref().and(method.as_deref()),
        })
        .await
        .map_err(|_| "mailroom could not write its database; try again later.")?;
    let mut fields = FormFields::prefilled(state, login_hint.unwrap_or_default()).await;
    fields.smtp_required = smtp_required;
    // The SMTP credentials it insists on are among the advanced settings.
    fields.advanced_open = smtp_required;
    let page = render_sign_in(&application.name, &flow, &csrf, fields, None);
    Ok(Started::Page(with_csrf_cookie(page, &flow.id, &csrf)))
}

pub async fn sign_in_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let flow = match state.store.auth_flow(&form.flow).await {
        Ok(Some(flow)) => flow,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in page has expired or was already used.",
            );
        }
        Err(_) => {
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "mailroom could not read its database; try again later.",
            );
        }
    };
    let cookie_csrf = csrf_cookie(&headers, &flow.id);
    if !flow.csrf_matches(&form.csrf) || cookie_csrf.as_deref() != Some(form.csrf.as_str()) {
        return error_page(
            StatusCode::FORBIDDEN,
            "The form did not come from this sign-in page (its security token does not match).",
        );
    }
    let app_name = match state.store.application(&flow.application_id).await {
        Ok(Some(app)) => app.name,
        _ => "The application".to_owned(),
    };
    let fields = FormFields::from_form(&form, flow.smtp_required);
    let again = |fields: FormFields, message: String| {
        with_csrf_cookie(
            render_sign_in(&app_name, &flow, &form.csrf, fields, Some(message)),
            &flow.id,
            &form.csrf,
        )
    };

    let mut settings = match form_settings(&form, &flow) {
        Ok(settings) => settings,
        Err(message) => return again(fields.opened(), message),
    };
    add_default_hosts(&state, &mut settings, form.email.trim()).await;
    let existing = match EmailAddress::parse(form.email.trim()) {
        Ok(email) => state
            .store
            .grant_by_email(&flow.application_id, &email)
            .await
            .ok()
            .flatten(),
        Err(_) => None,
    };
    let resolved = match (SettingsInput {
        settings: &settings,
        previous: None,
    })
    .resolve()
    {
        Ok(resolved) => resolved,
        Err(e) => return again(fields.opened(), format!("Please check the form: {e}.")),
    };
    match verify_mailbox(&state.policy, &resolved.servers, &resolved.credentials).await {
        Ok(()) => {}
        Err(CheckFailure::Authentication { .. }) => {
            let attempts = match state.store.record_failed_attempt(&flow.id).await {
                Ok(attempts) => attempts,
                Err(_) => MAX_ATTEMPTS,
            };
            if attempts >= MAX_ATTEMPTS {
                let _ = state.store.finish_auth_flow(&flow.id).await;
                return error_redirect(
                    &flow,
                    "auth_limit_reached",
                    "The email address and password were refused three times.",
                );
            }
            return again(
                fields,
                "Your mail server refused that email address and password. Check them and try again."
                    .into(),
            );
        }
        // A server name that does not resolve is a typo or a wrong guess, not a silent
        // server: the user may correct it.
        Err(CheckFailure::UnknownHost { role, reason }) => {
            return again(
                fields.opened(),
                format!(
                    "The {} server name was not found ({reason}). Check the server settings.",
                    role.label()
                ),
            );
        }
        Err(CheckFailure::Unreachable { role, reason }) => {
            tracing::info!(?role, %reason, "hosted sign-in: provider not responding");
            let _ = state.store.finish_auth_flow(&flow.id).await;
            return error_redirect(
                &flow,
                "provider_not_responding",
                &format!("The {} server did not respond.", role.label()),
            );
        }
        Err(failure) => {
            let message = failure.to_api_error(&resolved.servers).message;
            return again(
                fields.opened(),
                format!("The mail server settings did not work: {message}."),
            );
        }
    }

    let grant = state
        .store
        .upsert_grant(GrantWrite {
            application_id: &flow.application_id,
            provider: Provider::Imap,
            email: &resolved.email,
            name: None,
            scope: Some(&flow.scope)
                .filter(|s| !s.is_empty() || existing.is_none())
                .map(|s| s.as_slice()),
            settings: &resolved.servers,
            credentials: &resolved.credentials,
            state: flow.state.as_deref(),
            ip: client.ip.as_deref(),
            user_agent: client.user_agent.as_deref(),
        })
        .await;
    let grant = match grant {
        Ok((grant, outcome)) => {
            tracing::info!(grant_id = %grant.id, ?outcome, "hosted sign-in: grant authenticated");
            grant
        }
        Err(_) => {
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "mailroom could not save the grant; try again later.",
            );
        }
    };
    state.mailboxes.grant_connected(&grant.id);
    match state.store.issue_authorization_code(&flow, &grant.id).await {
        Ok(code) => {
            let mut params = vec![("code", code.as_str())];
            params.extend(flow.state.as_deref().map(|state| ("state", state)));
            redirect_with(&flow.redirect_uri, &params)
        }
        Err(_) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "mailroom could not finish the sign-in; try again later.",
        ),
    }
}

/// What the form and the flow say, as custom-auth settings (empty fields left out).
fn form_settings(form: &SignInForm, flow: &AuthFlowRecord) -> Result<Map<String, Value>, String> {
    let email = form.email.trim();
    if email.is_empty() || form.password.is_empty() {
        return Err("Enter your email address and password.".into());
    }
    if flow.smtp_required && (form.smtp_username.trim().is_empty() || form.smtp_password.is_empty())
    {
        return Err("This application needs your SMTP username and password too.".into());
    }
    let mut settings = Map::new();
    let mut put = |key: &str, value: &str| {
        if !value.trim().is_empty() {
            settings.insert(key.to_owned(), Value::String(value.trim().to_owned()));
        }
    };
    put("email", email);
    put("imap_username", email);
    put("imap_host", &form.imap_host);
    put("imap_security", &form.imap_security);
    put("smtp_host", &form.smtp_host);
    put("smtp_security", &form.smtp_security);
    put("smtp_username", &form.smtp_username);
    settings.insert("imap_password".into(), Value::String(form.password.clone()));
    if !form.smtp_password.is_empty() {
        settings.insert(
            "smtp_password".into(),
            Value::String(form.smtp_password.clone()),
        );
    }
    for (key, value) in [
        ("imap_port", &form.imap_port),
        ("smtp_port", &form.smtp_port),
    ] {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let port: u16 = value.parse().map_err(|_| {
            format!(
                "The {} must be a number from 1 to 65535.",
                key.replace('_', " ")
            )
        })?;
        settings.insert(key.to_owned(), Value::from(port));
    }
    Ok(settings)
}

/// For a domain mailroom does not know, where the form left a server empty: what the
/// domain announces in DNS (SRV, RFC 6186), else in its autoconfiguration document, else
/// the usual names (`imap.<domain>`, `smtp.<domain>`, implicit TLS). A filled-in server
/// sets its port and security too.
async fn add_default_hosts(state: &AppState, settings: &mut Map<String, Value>, email: &str) {
    let Ok(address) = EmailAddress::parse(email) else {
        return;
    };
    let domain = address.domain().to_owned();
    if mailroom_model::known_providers::lookup(&domain).is_some() {
        return;
    }
    let missing: Vec<&str> = ["imap", "smtp"]
        .into_iter()
        .filter(|server| !settings.contains_key(&format!("{server}_host")))
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut found = state.discovery.discover(&domain).await;
    if (found.imap.is_none() || found.smtp.is_none())
        && let Ok(Some(documented)) = tokio::time::timeout(
            AUTOCONFIG_WAIT,
            fetch_autoconfig(&state.policy, &domain, email),
        )
        .await
    {
        found.imap = found.imap.or(documented.imap);
        found.smtp = found.smtp.or(documented.smtp);
    }
    for (server, discovered, guess_port) in [("imap", found.imap, 993), ("smtp", found.smtp, 465)] {
        if !missing.contains(&server) {
            continue;
        }
        let (host, port, security) = match discovered {
            Some(found) => (
                found.host,
                found.port,
                match found.tls {
                    DiscoveredTls::Implicit => TransportSecurity::Ssl,
                    DiscoveredTls::StartTls => TransportSecurity::Starttls,
                },
            ),
            None => (
                format!("{server}.{domain}"),
                guess_port,
                TransportSecurity::Ssl,
            ),
        };
        settings.insert(format!("{server}_host"), Value::String(host));
        settings.insert(format!("{server}_port"), Value::from(port));
        settings.insert(
            format!("{server}_security"),
            Value::String(security.as_str().to_owned()),
        );
    }
}

/// The visible fields of the page.
struct FormFields {
    email: String,
    imap_host: String,
    imap_port: String,
    imap_security: String,
    smtp_host: String,
    smtp_port: String,
    smtp_security: String,
    smtp_username: String,
    smtp_required: bool,
    advanced_open: bool,
}

impl FormFields {
    /// Prefilled from the login hint: the settings mailroom would use for that address
    /// (known providers, else the domain's usual host names).
    async fn prefilled(state: &AppState, login_hint: &str) -> Self {
        let mut fields = FormFields {
            email: login_hint.to_owned(),
            imap_host: String::new(),
            imap_port: String::new(),
            imap_security: TransportSecurity::Ssl.as_str().to_owned(),
            smtp_host: String::new(),
            smtp_port: String::new(),
            smtp_security: TransportSecurity::Ssl.as_str().to_owned(),
            smtp_username: String::new(),
            smtp_required: false,
            advanced_open: false,
        };
        let mut hint = Map::new();
        hint.insert("imap_username".into(), Value::String(login_hint.to_owned()));
        hint.insert("imap_password".into(), Value::String("-".into()));
        add_default_hosts(state, &mut hint, login_hint).await;
        if let Ok(resolved) = (SettingsInput {
            settings: &hint,
            previous: None,
        })
        .resolve()
        {
            let servers = resolved.servers;
            fields.imap_host = servers.imap_host;
            fields.imap_port = servers.imap_port.to_string();
            fields.imap_security = servers.imap_security.as_str().to_owned();
            fields.smtp_host = servers.smtp_host;
            fields.smtp_port = servers.smtp_port.to_string();
            fields.smtp_security = servers.smtp_security.as_str().to_owned();
        }
        fields
    }

    /// What the user typed, to show again (never the passwords).
    fn from_form(form: &SignInForm, smtp_required: bool) -> Self {
        FormFields {
            email: form.email.trim().to_owned(),
            imap_host: form.imap_host.trim().to_owned(),
            imap_port: form.imap_port.trim().to_owned(),
            imap_security: form.imap_security.clone(),
            smtp_host: form.smtp_host.trim().to_owned(),
            smtp_port: form.smtp_port.trim().to_owned(),
            smtp_security: form.smtp_security.clone(),
            smtp_username: form.smtp_username.trim().to_owned(),
            smtp_required,
            advanced_open: smtp_required,
        }
    }

    fn opened(mut self) -> Self {
        self.advanced_open = true;
        self
    }
}

fn render_sign_in(
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
    html(
        StatusCode::OK,
        page.render(),
        &nonce,
        Some(&flow.redirect_uri),
    )
}

fn error_page(status: StatusCode, message: &str) -> Response {
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

fn csrf_cookie(headers: &HeaderMap, flow_id: &str) -> Option<String> {
    let name = format!("{CSRF_COOKIE_PREFIX}{flow_id}");
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .map(|(_, value)| value.to_owned())
}

/// The end of a failed flow, as seed 000 says: `error_type` beside the OAuth fields.
fn error_redirect(flow: &AuthFlowRecord, error_type: &str, description: &str) -> Response {
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
fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Response {
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

fn nonce() -> String {
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
