//! Hosted authentication: `GET /v3/connect/auth` serves mailroom's own sign-in page for
//! an IMAP mailbox, `POST /v3/connect/auth` takes its form. On success the grant is
//! created (or the existing one for that email re-authenticated, on the servers it has)
//! and the browser goes back to the application's `redirect_uri` with a one-time `code`;
//! the outcomes of docs/API.md §2.3 otherwise: a wrong password shows the page
//! again, the third ends the flow with `error_type=auth_limit_reached`, a silent server
//! with `error_type=provider_not_responding`.
//!
//! The page signs in only to servers of the email's domain unless the application allows
//! others (`allow_custom_servers`); see README, "Security model".
//!
//! Until `redirect_uri` is known to be registered for the application, nothing is ever
//! redirected: problems are shown on an error page.

mod form;
mod hand_back;
mod link;
mod page;
mod provider_flow;

pub(crate) use link::AuthQuery as SignInQuery;
pub(crate) use page::{cookie_value, nonce};
pub use provider_flow::provider_callback;

use axum::{
    Form,
    extract::{
        Query, State,
        rejection::{FormRejection, QueryRejection},
    },
    http::{HeaderMap, StatusCode},
    response::Response,
};
use mailroom_model::{
    EmailAddress, MailServerSettings, OAuthProvider, Provider, SettingsFields,
    mail_settings::SettingsInput,
};
use mailroom_store::{GrantScope, NewAuthFlow};

use self::{
    form::{SignInForm, fill_servers},
    link::{AuthQuery, LinkTarget, SignInRequest, read_link},
    page::{FormFields, csrf_cookie, error_page, error_redirect, redirect_with, throttled_page},
};
use crate::clip::clip;
use crate::{
    connect_grant::{ConnectError, ConnectRequest, SignInOrigin, connect_grant},
    oauth_mailbox::ProviderClient,
    provider_check::CheckFailure,
    router::AppState,
    server_origin::DomainServers,
    v3::client_info::ClientInfo,
};

/// Wrong passwords allowed in one flow; the last one ends it.
const MAX_ATTEMPTS: i64 = 3;

const DATABASE_TROUBLE: &str = "mailroom could not read or write its database; try again later.";

/// The page for a request whose query or form cannot be read (axum's own answer would
/// be plain text, with 415 or 422): a 400, like every other refusal of these pages.
pub(crate) fn malformed(why: &str) -> Response {
    let why: String = why.chars().take(300).collect();
    error_page(
        StatusCode::BAD_REQUEST,
        &format!("This sign-in request is malformed: {why}"),
    )
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    query: Result<Query<AuthQuery>, QueryRejection>,
) -> Response {
    // A link the page cannot read is answered with the page's own error, in HTML.
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return malformed(&rejection.body_text()),
    };
    open_sign_in(&state, &client, &headers, &query).await
}

/// The sign-in link's answer: the page, the provider's sign-in, or an error; for v3's
/// link and v2's `/oauth/authorize` alike.
pub(crate) async fn open_sign_in(
    state: &AppState,
    client: &ClientInfo,
    headers: &HeaderMap,
    query: &AuthQuery,
) -> Response {
    if let Err(throttled) = state.sign_in.open_page(client.ip.as_deref()) {
        return throttled_page(throttled.retry_after_secs());
    }
    match start_flow(state, headers, query).await {
        Ok(response) => response,
        Err(message) => error_page(StatusCode::BAD_REQUEST, &message),
    }
}

/// Checks the link and opens a flow. `Err` is shown on an error page: the redirect URI
/// is not (yet) known to be safe to send the browser to.
async fn start_flow(
    state: &AppState,
    headers: &HeaderMap,
    query: &AuthQuery,
) -> Result<Response, String> {
    let (target, request) = read_link(query)?;
    let application = state
        .store
        .application(&target.application_id)
        .await
        .map_err(|_| DATABASE_TROUBLE)?
        .ok_or("The client_id is not an application of this server.")?;
    let registered = state
        .store
        .list_callback_uris(&target.application_id)
        .await
        .map_err(|_| DATABASE_TROUBLE)?;
    if !registered.iter().any(|uri| uri.url == target.redirect_uri) {
        return Err(format!(
            "The redirect_uri '{}' is not registered for this application.",
            clip(&target.redirect_uri, 200)
        ));
    }
    let refuse = |error: &str, description: &str| {
        let mut params = vec![
            ("error", error),
            ("error_code", "400"),
            ("error_description", description),
        ];
        params.extend(target.state.as_deref().map(|state| ("state", state)));
        Ok(redirect_with(&target.redirect_uri, &params))
    };
    let request = match request {
        Ok(request) => request,
        Err(refusal) => return refuse(refusal.error, &refusal.description),
    };
    if let Some(provider) = request.provider.oauth() {
        return provider_flow::start_provider_flow(state, headers, &target, &request, provider)
            .await;
    }
    // An address of Gmail, Outlook.com or Yahoo goes to its provider's sign-in when the
    // application can do that.
    if let Some(provider) = hinted_oauth_provider(state, request.login_hint.as_deref()).await
        && ProviderClient::load(state, &target.application_id, provider)
            .await
            .map_err(|_| DATABASE_TROUBLE)?
            .is_some()
    {
        return provider_flow::start_provider_flow(state, headers, &target, &request, provider)
            .await;
    }
    let connector = state
        .store
        .connector(&target.application_id, Provider::Imap)
        .await
        .map_err(|_| DATABASE_TROUBLE)?;
    if connector.is_none() {
        let others: Vec<String> = state
            .store
            .list_connectors(&target.application_id, 10, 0)
            .await
            .map_err(|_| DATABASE_TROUBLE)?
            .into_iter()
            .map(|c| c.provider.to_string())
            .collect();
        let description = if others.is_empty() {
            "the application has no IMAP connector; create one with POST /v3/connectors".to_owned()
        } else {
            format!(
                "the application has no IMAP connector; it signs in {} mailboxes: name one with provider={}",
                others.join(", "),
                others.join("|provider=")
            )
        };
        return refuse("invalid_request", &description);
    }
    let (flow, csrf) = state
        .store
        .create_auth_flow(NewAuthFlow {
            application_id: &target.application_id,
            redirect_uri: &target.redirect_uri,
            state: target.state.as_deref(),
            scope: &request.scope,
            access_type: request.access_type,
            login_hint: request.login_hint.as_deref(),
            smtp_required: request.smtp_required,
            code_challenge: request.code_challenge.as_deref(),
            code_challenge_method: request.code_challenge_method.as_deref(),
            provider: Provider::Imap,
            provider_state: None,
            provider_redirect_uri: None,
            response_type: request.response_type,
        })
        .await
        .map_err(|_| DATABASE_TROUBLE)?;
    let hint = request.login_hint.as_deref().unwrap_or_default();
    let fields = prefilled(state, hint, request.smtp_required).await;
    Ok(page::sign_in_page(
        &application.name,
        &flow,
        &csrf,
        fields,
        None,
    ))
}

/// The OAuth provider of a login hint's domain, if mailroom knows one.
async fn hinted_oauth_provider(
    state: &AppState,
    login_hint: Option<&str>,
) -> Option<OAuthProvider> {
    let email = EmailAddress::parse(login_hint?).ok()?;
    DomainServers::look_up(state, &email).await.oauth_provider()
}

/// The page's fields for a login hint: the servers mailroom would use for that address.
async fn prefilled(state: &AppState, login_hint: &str, smtp_required: bool) -> FormFields {
    let mut fields = FormFields::empty(login_hint, smtp_required);
    let Ok(email) = EmailAddress::parse(login_hint) else {
        return fields;
    };
    let (imap, smtp) = DomainServers::look_up(state, &email)
        .await
        .suggestion(state)
        .await;
    fields.imap_host = imap.host;
    fields.imap_port = imap.port.to_string();
    fields.imap_security = imap.security.as_str().to_owned();
    fields.smtp_host = smtp.host;
    fields.smtp_port = smtp.port.to_string();
    fields.smtp_security = smtp.security.as_str().to_owned();
    fields
}

pub async fn sign_in_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Form(form) = match form {
        Ok(form) => form,
        Err(rejection) => return malformed(&rejection.body_text()),
    };
    let flow = match state.store.auth_flow(&form.flow).await {
        // A flow through a provider takes no password on this page.
        Ok(Some(flow)) if flow.provider == Provider::Imap => flow,
        Ok(Some(_)) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in page has expired or was already used.",
            );
        }
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in page has expired or was already used.",
            );
        }
        Err(_) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, DATABASE_TROUBLE),
    };
    let cookie_csrf = csrf_cookie(&headers, &flow.id);
    if !flow.csrf_matches(&form.csrf) || cookie_csrf.as_deref() != Some(form.csrf.as_str()) {
        return error_page(
            StatusCode::FORBIDDEN,
            "The form did not come from this sign-in page (its security token does not match).",
        );
    }
    let application = match state.store.application(&flow.application_id).await {
        Ok(Some(application)) => application,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in page has expired or was already used.",
            );
        }
        Err(_) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, DATABASE_TROUBLE),
    };
    let app_name = application.name.as_str();
    let again = |fields: FormFields, message: String| {
        page::sign_in_page(app_name, &flow, &form.csrf, fields, Some(message))
    };
    let typed = form.fields(flow.smtp_required);

    let mut fields = match form.settings(flow.smtp_required) {
        Ok(fields) => fields,
        Err(message) => return again(typed.opened(), message),
    };
    let (suggested, domain) = match EmailAddress::parse(form.email.trim()) {
        Ok(email) => {
            let mut domain = DomainServers::look_up(&state, &email).await;
            if let Some(provider) = domain.oauth_provider() {
                match oauth_instead(&state, &headers, &flow, &email, provider).await {
                    OAuthRoute::Password => {}
                    OAuthRoute::Go(response) => return response,
                    OAuthRoute::Refuse(message) => return again(typed.opened(), message),
                }
            }
            let (imap, smtp) = domain.suggestion(&state).await;
            let suggested = suggested_servers(&fields, &imap, &smtp);
            fill_servers(&mut fields, &imap, &smtp);
            (suggested, Some(domain))
        }
        Err(_) => (None, None),
    };

    // Google and Yahoo take app passwords only: said when a password is refused.
    let password_hint = match domain.as_ref().and_then(DomainServers::oauth_provider) {
        Some(OAuthProvider::Google) => Some(
            " Gmail accepts an app password here (Google Account, Security, App passwords), \
             not your Google password.",
        ),
        Some(OAuthProvider::Yahoo) => Some(
            " Yahoo Mail accepts an app password here (Account security, Generate app \
             password), not your Yahoo password.",
        ),
        _ => None,
    };
    let connected = connect_grant(
        &state,
        ConnectRequest {
            application_id: &flow.application_id,
            provider: Provider::Imap,
            fields,
            suggested,
            domain,
            origin: SignInOrigin::HostedPage {
                allow_custom_servers: application.allow_custom_servers,
            },
            scope: if flow.scope.is_empty() {
                GrantScope::Unchanged
            } else {
                GrantScope::AtMost(&flow.scope)
            },
            name: None,
            state: flow.state.as_deref(),
            client: &client,
        },
    )
    .await;
    let grant = match connected {
        Ok(connected) => connected.grant,
        Err(ConnectError::Settings(e)) => {
            return again(typed.opened(), format!("Please check the form: {e}."));
        }
        Err(ConnectError::ServersDiffer { .. }) => {
            return again(
                typed.opened(),
                format!(
                    "This mailbox is already connected to {app_name} through other mail \
                     servers. Sign in with the servers it uses, or ask {app_name} to move it."
                ),
            );
        }
        Err(ConnectError::ForeignServers) => {
            return again(
                typed.opened(),
                "These mail servers do not belong to your email address's domain, and \
                 mailroom signs in only to your domain's own servers. Check the server \
                 settings, or leave them empty."
                    .into(),
            );
        }
        Err(ConnectError::Throttled(throttled)) => {
            return throttled_page(throttled.retry_after_secs());
        }
        Err(ConnectError::AttemptsExhausted) => {
            let _ = state.store.finish_auth_flow(&flow.id).await;
            return error_redirect(
                &flow,
                "auth_limit_reached",
                "Too many wrong passwords were tried for this email address; try again later.",
            );
        }
        Err(ConnectError::Check { failure, servers }) => {
            return check_failed(
                &state,
                &flow,
                failure,
                &servers,
                password_hint,
                |message, open| again(if open { typed.opened() } else { typed }, message),
            )
            .await;
        }
        Err(ConnectError::TooManyGrants { .. }) => {
            return error_page(
                StatusCode::FORBIDDEN,
                &format!("{app_name} cannot connect more mailboxes on this server."),
            );
        }
        Err(ConnectError::Store(_)) => {
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, DATABASE_TROUBLE);
        }
    };
    match state.store.issue_authorization_code(&flow, &grant.id).await {
        Ok(Some(code)) => hand_back::hand_back(&state, &flow, &code).await,
        Ok(None) => error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in page has expired or was already used.",
        ),
        Err(_) => error_page(StatusCode::INTERNAL_SERVER_ERROR, DATABASE_TROUBLE),
    }
}

/// What becomes of a typed address whose provider signs in with OAuth.
enum OAuthRoute {
    /// Try the password (an app password may work).
    Password,
    /// The provider's sign-in, in place of the page.
    Go(Response),
    /// Say why the page cannot sign it in.
    Refuse(String),
}

async fn oauth_instead(
    state: &AppState,
    headers: &HeaderMap,
    flow: &mailroom_store::AuthFlowRecord,
    email: &EmailAddress,
    provider: OAuthProvider,
) -> OAuthRoute {
    let client = match ProviderClient::load(state, &flow.application_id, provider).await {
        Ok(client) => client,
        Err(_) => {
            return OAuthRoute::Go(error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                DATABASE_TROUBLE,
            ));
        }
    };
    let company = match provider {
        OAuthProvider::Google => "Google",
        OAuthProvider::Microsoft => "Microsoft",
        OAuthProvider::Yahoo => "Yahoo",
    };
    if client.is_none() {
        // Microsoft refuses passwords for IMAP and SMTP altogether.
        return if provider == OAuthProvider::Microsoft {
            OAuthRoute::Refuse(format!(
                "Outlook.com, Hotmail and Microsoft 365 mailboxes sign in with {company} only, \
                 and this application has not set up {company} sign-in. Ask its makers to add it."
            ))
        } else {
            OAuthRoute::Password
        };
    }
    let _ = state.store.finish_auth_flow(&flow.id).await;
    let target = LinkTarget {
        application_id: flow.application_id.clone(),
        redirect_uri: flow.redirect_uri.clone(),
        state: flow.state.clone(),
    };
    let request = SignInRequest {
        scope: flow.scope.clone(),
        access_type: if flow.access_type == "offline" {
            "offline"
        } else {
            "online"
        },
        login_hint: Some(email.to_string()),
        smtp_required: flow.smtp_required,
        code_challenge: flow.code_challenge.clone(),
        code_challenge_method: flow.code_challenge_method.clone(),
        provider: provider.into(),
        prompt: None,
        response_type: if flow.response_type == "token" {
            "token"
        } else {
            "code"
        },
    };
    match provider_flow::start_provider_flow(state, headers, &target, &request, provider).await {
        Ok(response) => OAuthRoute::Go(response),
        Err(message) => OAuthRoute::Go(error_page(StatusCode::BAD_REQUEST, &message)),
    }
}

/// The page after a server refused or could not be used. The page says which server and
/// whether it refused the password, nothing more: what a connection attempt learnt about
/// a host (its address, whether a port is open) stays in the log.
async fn check_failed(
    state: &AppState,
    flow: &mailroom_store::AuthFlowRecord,
    failure: CheckFailure,
    servers: &MailServerSettings,
    password_hint: Option<&str>,
    again: impl FnOnce(String, bool) -> Response,
) -> Response {
    let role = failure.role();
    let endpoint = match role {
        crate::provider_check::ServerRole::Imap => servers.imap(),
        crate::provider_check::ServerRole::Smtp => servers.smtp(),
    };
    match failure {
        CheckFailure::Authentication { .. } => {
            let attempts = state
                .store
                .count_flow_attempt(&flow.id)
                .await
                .unwrap_or(MAX_ATTEMPTS);
            if attempts >= MAX_ATTEMPTS {
                let _ = state.store.finish_auth_flow(&flow.id).await;
                return error_redirect(
                    flow,
                    "auth_limit_reached",
                    "The email address and password were refused three times.",
                );
            }
            again(
                format!(
                    "Your mail server refused that email address and password. Check them and try again.{}",
                    password_hint.unwrap_or_default()
                ),
                false,
            )
        }
        // A server name that does not resolve is a typo or a wrong guess, not a silent
        // server: the user may correct it.
        CheckFailure::UnknownHost { .. } => again(
            format!(
                "The {} server name was not found. Check the server settings.",
                role.label()
            ),
            true,
        ),
        CheckFailure::Unreachable { .. } => {
            let _ = state.store.finish_auth_flow(&flow.id).await;
            error_redirect(
                flow,
                "provider_not_responding",
                &format!("The {} server did not respond.", role.label()),
            )
        }
        CheckFailure::Policy { .. } | CheckFailure::Failed { .. } => again(
            format!(
                "mailroom could not use the {} server {}:{}. Check the server settings.",
                role.label(),
                endpoint.host,
                endpoint.port
            ),
            true,
        ),
    }
}

/// The servers an untouched form stands for: the suggestion, with what the user did type.
fn suggested_servers(
    fields: &SettingsFields,
    imap: &crate::server_origin::NamedServer,
    smtp: &crate::server_origin::NamedServer,
) -> Option<MailServerSettings> {
    let mut untouched = SettingsFields {
        imap_host: None,
        smtp_host: None,
        ..fields.clone()
    };
    fill_servers(&mut untouched, imap, smtp);
    SettingsInput {
        fields: &untouched,
        previous: None,
    }
    .resolve_servers()
    .ok()
    .map(|(_, servers)| servers)
}
