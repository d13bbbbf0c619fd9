//! `POST /v3/connect/custom` for Google, Microsoft and Yahoo: `settings.refresh_token`
//! (and optionally `settings.email`), traded at the provider with the client of the
//! application's connector, as Nylas does. The grant is then made as for the hosted
//! flow (`oauth_mailbox`).

use axum::{http::StatusCode, response::IntoResponse, response::Response};
use mailroom_model::{OAuthProvider, v3::CustomAuthRequest};
use mailroom_net::{TokenError, TokenGrant, request_token};
use mailroom_store::{GrantScope, GrantUpsert};
use serde_json::Value;

use crate::clip::clip;
use crate::{
    auth::AppAuth,
    envelope::Item,
    error::ApiError,
    oauth_mailbox::{
        OAuthConnectError, OAuthGrantRequest, ProviderClient, connect_oauth_grant, identify,
    },
    router::AppState,
    v3::{client_info::ClientInfo, custom_auth::api_error, grants::to_v3},
};

const KNOWN_KEYS: &[&str] = &["refresh_token", "email"];
/// The longest refresh token taken (Microsoft's run to about 1,500 bytes).
const MAX_REFRESH_TOKEN_LEN: usize = 8192;

pub(crate) async fn custom_oauth(
    state: &AppState,
    auth: &AppAuth,
    client_info: &ClientInfo,
    provider: OAuthProvider,
    request: &CustomAuthRequest,
    scope: GrantScope<'_>,
) -> Result<Response, ApiError> {
    if let Some(unknown) = request
        .settings
        .keys()
        .find(|k| !KNOWN_KEYS.contains(&k.as_str()))
    {
        return Err(ApiError::invalid_payload(format!(
            "a {provider} grant's settings take refresh_token (and optionally email); '{}' is not one of them",
            clip(unknown, 64)
        )));
    }
    let text = |key: &str| match request.settings.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= MAX_REFRESH_TOKEN_LEN => {
            Ok(Some(s.trim().to_owned()))
        }
        Some(_) => Err(ApiError::invalid_payload(format!(
            "settings.{key} must be a non-empty string"
        ))),
    };
    let refresh_token = text("refresh_token")?.ok_or_else(|| {
        ApiError::invalid_payload(format!(
            "a {provider} grant needs settings.refresh_token: a refresh token the user's consent gave the application's {provider} client"
        ))
    })?;
    let claimed = text("email")?;
    let client = ProviderClient::load(state, &auth.application_id, provider)
        .await?
        .ok_or_else(|| oauth_api_error(OAuthConnectError::NoConnector(provider.into())))?;
    let endpoint = client.token_endpoint().map_err(oauth_api_error)?;
    let answer = request_token(
        &state.policy,
        &endpoint,
        TokenGrant::RefreshToken(&refresh_token),
        state.policy.timeout(),
    )
    .await
    .map_err(|e| oauth_api_error(OAuthConnectError::Token(e)))?;
    let email = identify(state, &client, &answer, None, claimed.as_deref())
        .await
        .map_err(oauth_api_error)?;
    let connected = connect_oauth_grant(
        state,
        OAuthGrantRequest {
            application_id: &auth.application_id,
            client: &client,
            answer,
            refresh_token: Some(refresh_token),
            email,
            scope,
            name: request.name.as_deref(),
            state: request.state.as_deref(),
            client_info,
        },
    )
    .await
    .map_err(oauth_api_error)?;
    let body = to_v3(connected.grant);
    Ok(match connected.outcome {
        GrantUpsert::Created => Item::created(body).into_response(),
        GrantUpsert::Reauthenticated { .. } => Item::ok(body).into_response(),
    })
}

/// The API error for an OAuth sign-in that did not connect.
pub(crate) fn oauth_api_error(e: OAuthConnectError) -> ApiError {
    match e {
        OAuthConnectError::NoConnector(provider) => ApiError::bad_request(format!(
            "this application has no '{provider}' connector with a client_id and client_secret; create one first with POST /v3/connectors"
        )),
        OAuthConnectError::Token(TokenError::Refused { error, description }) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "api.authentication_error",
            format!(
                "the provider refused the token request: {error}{}",
                description.map(|d| format!(" ({d})")).unwrap_or_default()
            ),
        ),
        OAuthConnectError::Token(other) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "api.provider_error",
            format!("the provider's token endpoint could not be used: {other}"),
        ),
        OAuthConnectError::Identity(message) => ApiError::bad_request(format!(
            "mailroom could not tell which mailbox signed in: {message}"
        )),
        OAuthConnectError::NoRefreshToken => ApiError::bad_request(
            "the provider gave no refresh token, so mailroom could not keep the mailbox connected; ask for offline access (Google: access_type=offline with prompt=consent; Microsoft: the offline_access scope)",
        ),
        OAuthConnectError::Connect(e) => api_error(*e),
    }
}
