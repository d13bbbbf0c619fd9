//! v2's native authentication: `POST /connect/authorize` proves an IMAP mailbox's
//! password on its IMAP and SMTP servers, creates or re-authenticates the grant (as the
//! hosted page does: only servers of the email's domain unless the application allows
//! others, throttled) and answers a one-time `code`; `POST /connect/token` trades it,
//! with the client secret, for the account and its access token.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use mailroom_model::{ApplicationId, Provider, Scope, SettingsFields};
use mailroom_store::GrantScope;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    account::account_json,
    error::V2Error,
    oauth::{read_body, redeem, required},
};
use crate::clip::clip;
use crate::{
    connect_grant::{ConnectError, ConnectRequest, SignInOrigin, connect_grant},
    router::AppState,
    v3::client_info::ClientInfo,
};

/// The body of `POST /connect/authorize`.
#[derive(Default, Deserialize)]
struct AuthorizeRequest {
    client_id: Option<String>,
    name: Option<String>,
    email_address: Option<String>,
    provider: Option<String>,
    #[serde(default)]
    settings: Map<String, Value>,
    /// Comma-separated, or a list.
    scopes: Option<Value>,
    /// v2 named the account to re-authenticate; mailroom finds it by its email.
    #[allow(dead_code)]
    reauth_account_id: Option<String>,
}

/// v2's IMAP settings: the password and server keys of v3's custom auth, with
/// `ssl_required`; security follows from each port.
const SETTINGS_KEYS: &[&str] = &[
    "imap_host",
    "imap_port",
    "imap_username",
    "imap_password",
    "smtp_host",
    "smtp_port",
    "smtp_username",
    "smtp_password",
    "ssl_required",
];

pub async fn authorize(
    State(state): State<AppState>,
    client_info: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let request: AuthorizeRequest = read_body(&headers, &body)?;
    let client_id = required(&request.client_id, "client_id")?;
    let unknown_client =
        || V2Error::invalid_request("client_id names no application of this server");
    let application_id = ApplicationId::parse(client_id).map_err(|_| unknown_client())?;
    let application = state
        .store
        .application(&application_id)
        .await?
        .ok_or_else(unknown_client)?;
    let provider = request.provider.as_deref().unwrap_or("imap");
    if provider != "imap" {
        return Err(V2Error::invalid_request(format!(
            "native authentication signs in IMAP mailboxes ('provider': 'imap'), not '{}'; Google, Microsoft and Yahoo mailboxes connect through the v3 connectors",
            clip(provider, 64)
        )));
    }
    let email = required(&request.email_address, "email_address")?;
    let scope = scopes(request.scopes.as_ref())?;
    let fields = settings(email, &request.settings)?;
    let connected = connect_grant(
        &state,
        ConnectRequest {
            application_id: &application_id,
            provider: Provider::Imap,
            fields,
            suggested: None,
            domain: None,
            origin: SignInOrigin::HostedPage {
                allow_custom_servers: application.allow_custom_servers,
            },
            scope: if scope.is_empty() {
                GrantScope::Unchanged
            } else {
                GrantScope::AtMost(&scope)
            },
            name: request.name.as_deref(),
            state: None,
            client: &client_info,
        },
    )
    .await
    .map_err(connect_error)?;
    let code = state
        .store
        .issue_native_code(&application_id, &connected.grant.id, &scope)
        .await?;
    Ok(Json(json!({"code": code})))
}

/// The body of `POST /connect/token`.
#[derive(Default, Deserialize)]
struct TokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
}

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let request: TokenRequest = read_body(&headers, &body)?;
    let code = required(&request.code, "code")?;
    let (grant, access_token) =
        redeem(&state, &request.client_id, &request.client_secret, code).await?;
    let mut account = account_json(&grant);
    account["access_token"] = Value::String(access_token);
    Ok(Json(account))
}

fn scopes(value: Option<&Value>) -> Result<Vec<Scope>, V2Error> {
    let names: Vec<String> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(list)) => list.split(',').map(|s| s.trim().to_owned()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .flat_map(|item| item.as_str().unwrap_or_default().split(','))
            .map(|s| s.trim().to_owned())
            .collect(),
        Some(_) => {
            return Err(V2Error::invalid_request(
                "'scopes' is a comma-separated string or a list of scopes",
            ));
        }
    };
    let names: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    Scope::parse_list(&names).map_err(|e| V2Error::invalid_request(e.to_string()))
}

/// v2's settings as the fields every sign-in resolves.
fn settings(email: &str, settings: &Map<String, Value>) -> Result<SettingsFields, V2Error> {
    if let Some(unknown) = settings
        .keys()
        .find(|k| !SETTINGS_KEYS.contains(&k.as_str()))
    {
        return Err(V2Error::invalid_request(format!(
            "settings take {}; '{}' is not one of them",
            SETTINGS_KEYS.join(", "),
            clip(unknown, 64)
        )));
    }
    let mut fields =
        SettingsFields::from_json(settings).map_err(|e| V2Error::invalid_request(e.to_string()))?;
    fields.email = Some(email.to_owned());
    Ok(fields)
}

fn connect_error(e: ConnectError) -> V2Error {
    match e {
        ConnectError::Settings(e) => V2Error::invalid_request(e.to_string()),
        ConnectError::ServersDiffer { grant_id } => V2Error::invalid_request(format!(
            "the account {grant_id} for this email is connected to other servers; signing in again never moves a mailbox"
        )),
        ConnectError::ForeignServers => V2Error::invalid_request(
            "these servers do not belong to the email's domain, and this application does not allow other servers",
        ),
        ConnectError::Throttled(_) | ConnectError::AttemptsExhausted => V2Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "api_error",
            "too many sign-in attempts; try again later",
        ),
        ConnectError::Check { failure, servers } => {
            let error = failure.to_api_error(&servers);
            V2Error::new(error.status, "api_error", error.message)
        }
        ConnectError::TooManyGrants { limit } => V2Error::new(
            StatusCode::FORBIDDEN,
            "api_error",
            format!("this application already has {limit} accounts, the most this server allows"),
        ),
        ConnectError::Store(e) => e.into(),
    }
}
