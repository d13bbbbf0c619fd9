//! `POST /v3/connect/custom`: create (or re-authenticate) an IMAP grant from settings
//! and a password. Nothing is stored until both the IMAP and the SMTP server accept
//! the credentials.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use mailroom_model::{
    EmailAddress, Provider, Scope,
    mail_settings::SettingsInput,
    v3::{CustomAuthRequest, Grant},
};
use mailroom_store::{GrantUpsert, GrantWrite};

use crate::{
    auth::AppAuth,
    envelope::Item,
    error::ApiError,
    extract::JsonBody,
    provider_check::verify_mailbox,
    router::AppState,
    v3::{client_info::ClientInfo, grants::to_v3},
};

/// The longest `state` kept, as for the hosted flow.
const MAX_STATE_LEN: usize = 256;

pub async fn custom_auth(
    State(state): State<AppState>,
    auth: AppAuth,
    client: ClientInfo,
    JsonBody(request): JsonBody<CustomAuthRequest>,
) -> Result<Response, ApiError> {
    let provider: Provider =
        request
            .provider
            .parse()
            .map_err(|e: mailroom_model::provider::ProviderError| {
                ApiError::invalid_payload(e.to_string())
            })?;
    if state
        .store
        .connector(&auth.application_id, provider)
        .await?
        .is_none()
    {
        return Err(ApiError::bad_request(format!(
            "this application has no '{provider}' connector; create one first with POST /v3/connectors {{\"provider\": \"{provider}\"}}"
        )));
    }
    let scope = request
        .scope
        .as_deref()
        .map(Scope::parse_list)
        .transpose()
        .map_err(|e| ApiError::invalid_payload(e.to_string()))?;
    if request
        .state
        .as_ref()
        .is_some_and(|s| s.len() > MAX_STATE_LEN)
    {
        return Err(ApiError::invalid_payload(format!(
            "'state' may be at most {MAX_STATE_LEN} characters"
        )));
    }

    // An existing grant for this email is re-authenticated; its settings fill gaps.
    let existing = match claimed_email(&request) {
        Some(email) => {
            state
                .store
                .grant_by_email(&auth.application_id, &email)
                .await?
        }
        None => None,
    };
    let previous_credentials = match &existing {
        Some(grant) => Some(state.store.grant_credentials(&grant.id).await?),
        None => None,
    };
    let resolved = SettingsInput {
        settings: &request.settings,
        previous: existing
            .as_ref()
            .zip(previous_credentials.as_ref())
            .map(|(grant, credentials)| (&grant.settings, credentials)),
    }
    .resolve()
    .map_err(|e| ApiError::invalid_payload(e.to_string()))?;

    verify_mailbox(&state.policy, &resolved.servers, &resolved.credentials)
        .await
        .map_err(|failure| failure.to_api_error(&resolved.servers))?;

    let (grant, outcome) = state
        .store
        .upsert_grant(GrantWrite {
            application_id: &auth.application_id,
            provider,
            email: &resolved.email,
            name: request.name.as_deref(),
            scope: scope.as_deref(),
            settings: &resolved.servers,
            credentials: &resolved.credentials,
            state: request.state.as_deref(),
            ip: client.ip.as_deref(),
            user_agent: client.user_agent.as_deref(),
        })
        .await?;
    tracing::info!(grant_id = %grant.id, email = %grant.email, ?outcome, "grant authenticated");
    state.mailboxes.grant_connected(&grant.id);
    let body: Grant = to_v3(grant);
    Ok(match outcome {
        GrantUpsert::Created => Item::created(body).into_response(),
        GrantUpsert::Reauthenticated => Item::ok(body).into_response(),
    })
}

/// The email a request is for, if it names one plainly.
fn claimed_email(request: &CustomAuthRequest) -> Option<EmailAddress> {
    ["email", "imap_username"]
        .iter()
        .filter_map(|key| request.settings.get(*key)?.as_str())
        .find_map(|value| EmailAddress::parse(value).ok())
}
