//! Hosted sign-in through Google, Microsoft or Yahoo (`provider=` on the link): the
//! browser goes to the provider's authorization page with mailroom's own client (the
//! application's connector), a `state` bound to the flow and to this browser (a cookie),
//! PKCE (RFC 7636, S256) and a nonce for the ID token; the provider returns it to
//! `GET /v3/connect/callback`, where mailroom trades the code, learns who signed in,
//! proves the token on the mailbox's IMAP and SMTP servers and creates or
//! re-authenticates the grant. The application then gets mailroom's own `code`, as
//! after the IMAP page; the provider's refusals reach it as `error` and
//! `error_description` (docs/API.md §2.3).

use axum::{
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header::SET_COOKIE},
    response::Response,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use mailroom_model::{OAuthProvider, Provider};
use mailroom_net::{TokenGrant, WebhookUrl, request_token, webhook_get};
use mailroom_store::{AuthFlowRecord, GrantScope, NewAuthFlow, generate_secret, hash_secret};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{
    DATABASE_TROUBLE,
    link::{LinkTarget, SignInRequest},
    page::{error_page, redirect_with},
};
use crate::clip::clip;
use crate::{
    connect_grant::ConnectError,
    oauth_mailbox::{
        OAuthConnectError, OAuthGrantRequest, ProviderClient, connect_oauth_grant, identify,
    },
    router::AppState,
    v3::client_info::ClientInfo,
};

/// The cookie that binds a provider flow to the browser that started it. `Lax`, since
/// the provider's redirect back is a cross-site navigation (a `Strict` cookie would not
/// come with it).
const FLOW_COOKIE_PREFIX: &str = "mailroom_oauth_";

/// Where providers send the browser back, under this server's URL.
pub const CALLBACK_PATH: &str = "/v3/connect/callback";

/// The most of a tenant's OpenID configuration read.
const MAX_CONFIGURATION_BYTES: usize = 64 * 1024;

/// Starts a flow through the provider: the redirect to its authorization page, or the
/// application's error for a link it cannot serve. `Err` is shown on an error page.
pub(super) async fn start_provider_flow(
    state: &AppState,
    headers: &HeaderMap,
    target: &LinkTarget,
    request: &SignInRequest,
    provider: OAuthProvider,
) -> Result<Response, String> {
    let refuse = |error: &str, description: &str| {
        let mut params = vec![
            ("error", error),
            ("error_code", "400"),
            ("error_description", description),
        ];
        params.extend(target.state.as_deref().map(|state| ("state", state)));
        Ok(redirect_with(&target.redirect_uri, &params))
    };
    let client = ProviderClient::load(state, &target.application_id, provider)
        .await
        .map_err(|_| DATABASE_TROUBLE)?;
    let Some(client) = client else {
        return refuse(
            "invalid_request",
            &format!(
                "the application has no {provider} connector with a client_id and client_secret; create one with POST /v3/connectors"
            ),
        );
    };
    let callback = callback_url(state, headers)
        .ok_or("This server does not know its own address (no Host header and no public_url).")?;
    if let Some(refusal) = tenant_refusal(state, &client).await {
        return refuse("invalid_request", &refusal);
    }
    let provider_state = generate_secret("pst_");
    let (flow, csrf) = state
        .store
        .create_auth_flow(NewAuthFlow {
            application_id: &target.application_id,
            redirect_uri: &target.redirect_uri,
            state: target.state.as_deref(),
            scope: &request.scope,
            access_type: request.access_type,
            login_hint: request.login_hint.as_deref(),
            smtp_required: true,
            code_challenge: request.code_challenge.as_deref(),
            code_challenge_method: request.code_challenge_method.as_deref(),
            provider: Provider::from(provider),
            provider_state: Some(&provider_state),
            provider_redirect_uri: Some(&callback),
            response_type: request.response_type,
        })
        .await
        .map_err(|_| DATABASE_TROUBLE)?;
    let verifier = state.store.provider_code_verifier(&flow.id);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let nonce = nonce_for(&provider_state);
    let scope = client.scope.join(" ");
    let mut params: Vec<(&str, &str)> = vec![
        ("client_id", &client.client_id),
        ("redirect_uri", &callback),
        ("response_type", "code"),
        ("scope", &scope),
        ("state", &provider_state),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("nonce", &nonce),
    ];
    match provider {
        // A refresh token, and (with consent asked) a new one at every sign-in.
        OAuthProvider::Google => {
            params.push(("access_type", "offline"));
            params.push(("include_granted_scopes", "true"));
            params.push(("prompt", request.prompt.unwrap_or("consent")));
        }
        OAuthProvider::Microsoft => {
            params.push(("response_mode", "query"));
            params.extend(request.prompt.map(|p| ("prompt", p)));
        }
        OAuthProvider::Yahoo => params.extend(request.prompt.map(|p| ("prompt", p))),
    }
    params.extend(
        request
            .login_hint
            .as_deref()
            .map(|hint| ("login_hint", hint)),
    );
    let mut response = redirect_with(&client.endpoints.authorization, &params);
    let cookie = format!(
        "{FLOW_COOKIE_PREFIX}{}={csrf}; Path=/v3/connect; HttpOnly; SameSite=Lax; Max-Age=1800{}",
        flow.id,
        if callback.starts_with("https:") {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    Ok(response)
}

/// Why Microsoft would refuse the connector's tenant, if it would: its authorization
/// page shows an unknown tenant to the user only, so it is asked here first.
async fn tenant_refusal(state: &AppState, client: &ProviderClient) -> Option<String> {
    let url = WebhookUrl::parse(client.endpoints.tenant_configuration.as_deref()?).ok()?;
    let reply = webhook_get(
        &state.policy,
        &url,
        state.policy.timeout(),
        MAX_CONFIGURATION_BYTES,
    )
    .await
    .ok()?;
    if (400..500).contains(&reply.status) {
        #[derive(Deserialize)]
        struct Refusal {
            #[serde(default)]
            error_description: Option<String>,
        }
        let description = serde_json::from_slice::<Refusal>(&reply.body)
            .ok()
            .and_then(|r| r.error_description)
            .unwrap_or_else(|| format!("HTTP {}", reply.status));
        return Some(format!(
            "Microsoft does not know the connector's tenant: {}",
            clip(&description, 300)
        ));
    }
    None
}

/// The callback URL: under `public_url` when configured, else under the `Host` this
/// request came to (the provider accepts only the exact URL registered with it, so a
/// forged `Host` gets nowhere).
fn callback_url(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if let Some(public) = &state.public_url {
        return Some(format!("{}{CALLBACK_PATH}", public.trim_end_matches('/')));
    }
    let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        return None;
    }
    Some(format!("http://{host}{CALLBACK_PATH}"))
}

/// The nonce the ID token must carry, derived from the flow's provider `state`.
fn nonce_for(provider_state: &str) -> String {
    hash_secret(&format!("nonce {provider_state}"))
}

/// What the provider appends (RFC 6749, sections 4.1.2 and 4.1.2.1).
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

pub async fn provider_callback(
    State(state): State<AppState>,
    client_info: ClientInfo,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return super::malformed(&rejection.body_text()),
    };
    if let Err(throttled) = state.sign_in.open_page(client_info.ip.as_deref()) {
        return super::page::throttled_page(throttled.retry_after_secs());
    }
    let expired = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired or was already used. Start again from the application.",
        )
    };
    let Some(provider_state) = query.state.as_deref().filter(|s| s.len() <= 256) else {
        return expired();
    };
    let flow = match state
        .store
        .auth_flow_by_provider_state(provider_state)
        .await
    {
        Ok(Some(flow)) => flow,
        Ok(None) => return expired(),
        Err(_) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, DATABASE_TROUBLE),
    };
    let cookie = super::page::cookie_value(&headers, &format!("{FLOW_COOKIE_PREFIX}{}", flow.id));
    if !cookie.is_some_and(|csrf| flow.csrf_matches(&csrf)) {
        return error_page(
            StatusCode::FORBIDDEN,
            "This sign-in was started in another browser. Start again from the application.",
        );
    }
    let Some(provider) = flow.provider.oauth() else {
        return expired();
    };
    // The flow ends here whatever the outcome: a code works once.
    let fail = |error: &str, description: &str| {
        let flow = flow.clone();
        let (error, description) = (error.to_owned(), description.to_owned());
        let store = state.store.clone();
        async move {
            let _ = store.finish_auth_flow(&flow.id).await;
            provider_error_redirect(&flow, &error, &description)
        }
    };
    if let Some(error) = &query.error {
        let description = query
            .error_description
            .as_deref()
            .unwrap_or("the sign-in was refused at the provider");
        return fail(&oauth_error_name(error), description).await;
    }
    let Some(code) = query
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 4096)
    else {
        return fail(
            "invalid_request",
            "the provider returned neither a code nor an error",
        )
        .await;
    };
    match finish(&state, &flow, provider, code, provider_state, &client_info).await {
        Ok(code) => super::hand_back::hand_back(&state, &flow, &code).await,
        Err(Finish::Page(status, message)) => error_page(status, &message),
        Err(Finish::Redirect(error, description)) => fail(error, &description).await,
    }
}

/// How a callback that did not connect ends.
enum Finish {
    /// Shown to the user (the database failed, or the flow had already ended).
    Page(StatusCode, String),
    /// Sent to the application.
    Redirect(&'static str, String),
}

/// Trades the code, connects the grant, and issues mailroom's code for it.
async fn finish(
    state: &AppState,
    flow: &AuthFlowRecord,
    provider: OAuthProvider,
    code: &str,
    provider_state: &str,
    client_info: &ClientInfo,
) -> Result<String, Finish> {
    let database = || Finish::Page(StatusCode::INTERNAL_SERVER_ERROR, DATABASE_TROUBLE.into());
    let client = ProviderClient::load(state, &flow.application_id, provider)
        .await
        .map_err(|_| database())?
        .ok_or_else(|| {
            Finish::Redirect(
                "invalid_request",
                format!("the application's {provider} connector was removed during the sign-in"),
            )
        })?;
    let endpoint = client.token_endpoint().map_err(oauth_failure)?;
    let verifier = state.store.provider_code_verifier(&flow.id);
    let redirect_uri = flow.provider_redirect_uri.as_deref().unwrap_or_default();
    let answer = request_token(
        &state.policy,
        &endpoint,
        TokenGrant::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier: &verifier,
        },
        state.policy.timeout(),
    )
    .await
    .map_err(|e| oauth_failure(OAuthConnectError::Token(e)))?;
    let nonce = nonce_for(provider_state);
    let email = identify(state, &client, &answer, Some(&nonce), None)
        .await
        .map_err(oauth_failure)?;
    let connected = connect_oauth_grant(
        state,
        OAuthGrantRequest {
            application_id: &flow.application_id,
            client: &client,
            answer,
            refresh_token: None,
            email,
            scope: if flow.scope.is_empty() {
                GrantScope::Unchanged
            } else {
                GrantScope::AtMost(&flow.scope)
            },
            name: None,
            state: flow.state.as_deref(),
            client_info,
        },
    )
    .await
    .map_err(oauth_failure)?;
    match state
        .store
        .issue_authorization_code(flow, &connected.grant.id)
        .await
    {
        Ok(Some(code)) => Ok(code),
        Ok(None) => Err(Finish::Page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired or was already used.".into(),
        )),
        Err(_) => Err(database()),
    }
}

fn oauth_failure(e: OAuthConnectError) -> Finish {
    tracing::info!(error = ?e, "OAuth sign-in failed");
    match e {
        OAuthConnectError::Connect(connect) => connect_failure(*connect),
        OAuthConnectError::NoConnector(provider) => Finish::Redirect(
            "invalid_request",
            format!("the application has no usable {provider} connector"),
        ),
        OAuthConnectError::Token(e) => Finish::Redirect("oauth_failed", e.to_string()),
        OAuthConnectError::Identity(message) => Finish::Redirect("oauth_failed", message),
        OAuthConnectError::NoRefreshToken => Finish::Redirect(
            "oauth_failed",
            "the provider gave no refresh token, so the mailbox could not stay connected".into(),
        ),
    }
}

fn connect_failure(e: ConnectError) -> Finish {
    match e {
        ConnectError::Store(_) => {
            Finish::Page(StatusCode::INTERNAL_SERVER_ERROR, DATABASE_TROUBLE.into())
        }
        ConnectError::Check { failure, servers } => {
            let error = failure.to_api_error(&servers);
            Finish::Redirect("provider_not_responding", error.message)
        }
        ConnectError::TooManyGrants { .. } => Finish::Redirect(
            "access_denied",
            "the application cannot connect more mailboxes on this server".into(),
        ),
        ConnectError::ServersDiffer { .. } => Finish::Redirect(
            "invalid_request",
            "this mailbox is already connected to the application through other mail servers"
                .into(),
        ),
        _ => Finish::Redirect("oauth_failed", "the mailbox could not be connected".into()),
    }
}

/// An OAuth error name from the provider, kept only if it looks like one (RFC 6749,
/// section 4.1.2.1: `error` is from a small set of ASCII names).
fn oauth_error_name(error: &str) -> String {
    let clean = error.len() <= 64
        && !error.is_empty()
        && error
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit());
    if clean {
        error.to_owned()
    } else {
        "oauth_failed".into()
    }
}

/// The end of a flow the provider or the sign-in refused, as docs/API.md §2.3 shapes it.
fn provider_error_redirect(flow: &AuthFlowRecord, error: &str, description: &str) -> Response {
    let description: String = description.chars().take(500).collect();
    let mut params = vec![
        ("error", error),
        ("error_code", "45002"),
        ("error_description", description.as_str()),
    ];
    params.extend(flow.state.as_deref().map(|state| ("state", state)));
    redirect_with(&flow.redirect_uri, &params)
}
