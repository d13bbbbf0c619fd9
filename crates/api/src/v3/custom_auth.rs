//! `POST /v3/connect/custom`: create (or re-authenticate) an IMAP grant from settings
//! and a password (Google, Microsoft and Yahoo grants from a refresh token:
//! `custom_oauth`). Nothing is stored until both the IMAP and the SMTP server accept
//! the credentials; an existing grant stays on the servers it has.

use axum::{
    extract::State,
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use mailroom_model::{
    Provider, Scope, SettingsFields,
    v3::{CustomAuthRequest, Grant},
};
use mailroom_store::{GrantScope, GrantUpsert};

use crate::{
    auth::AppAuth,
    connect_grant::{ConnectError, ConnectRequest, SignInOrigin, connect_grant},
    envelope::Item,
    error::ApiError,
    extract::JsonBody,
    router::AppState,
    sign_in_limits::Throttled,
    v3::{client_info::ClientInfo, custom_oauth::custom_oauth, grants::to_v3},
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
    let grant_scope = match &scope {
        Some(scope) => GrantScope::Set(scope),
        None => GrantScope::Unchanged,
    };
    if let Some(oauth) = provider.oauth() {
        return custom_oauth(&state, &auth, &client, oauth, &request, grant_scope).await;
    }
    let fields = SettingsFields::from_json(&request.settings)
        .map_err(|e| ApiError::invalid_payload(e.to_string()))?;

    let connected = connect_grant(
        &state,
        ConnectRequest {
            application_id: &auth.application_id,
            provider,
            fields,
            suggested: None,
            domain: None,
            origin: SignInOrigin::CustomAuth,
            scope: grant_scope,
            name: request.name.as_deref(),
            state: request.state.as_deref(),
            client: &client,
        },
    )
    .await;
    let connected = match connected {
        Ok(connected) => connected,
        Err(ConnectError::Throttled(throttled)) => return Ok(too_many_attempts(throttled)),
        Err(e) => return Err(api_error(e)),
    };
    let body: Grant = to_v3(connected.grant);
    Ok(match connected.outcome {
        GrantUpsert::Created => Item::created(body).into_response(),
        GrantUpsert::Reauthenticated { .. } => Item::ok(body).into_response(),
    })
}

/// The API error for a sign-in that did not connect.
pub(crate) fn api_error(e: ConnectError) -> ApiError {
    match e {
        ConnectError::Settings(e) => ApiError::invalid_payload(e.to_string()),
        ConnectError::ServersDiffer { grant_id } => ApiError::bad_request(format!(
            "the grant {grant_id} for this email is connected to other servers, and signing in \
             again never moves a mailbox; to move it, PATCH /v3/grants/{grant_id} with the new \
             settings and password"
        )),
        ConnectError::ForeignServers => ApiError::bad_request(
            "these servers do not belong to the email's domain, and this application does not \
             allow other servers",
        ),
        ConnectError::Throttled(throttled) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "api.rate_limit_error",
            throttled_message(throttled),
        ),
        ConnectError::AttemptsExhausted => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "api.rate_limit_error",
            "too many sign-in attempts for this email address; try again later",
        ),
        ConnectError::Check { failure, servers } => failure.to_api_error(&servers),
        ConnectError::TooManyGrants { limit } => ApiError::forbidden(format!(
            "this application already has {limit} grants, the most this server allows \
             (max_grants_per_application)"
        )),
        ConnectError::Store(e) => e.into(),
    }
}

fn throttled_message(throttled: Throttled) -> String {
    use crate::sign_in_limits::ThrottledBy;
    let what = match throttled.limit {
        ThrottledBy::ClientAddress => "from this address",
        ThrottledBy::Account => "for this email address",
        ThrottledBy::MailServer => "against this mail server",
    };
    format!(
        "too many sign-in attempts {what}; try again in {} seconds",
        throttled.retry_after_secs()
    )
}

/// 429 with `Retry-After`, as Nylas answers a rate limit.
fn too_many_attempts(throttled: Throttled) -> Response {
    let mut response = api_error(ConnectError::Throttled(throttled)).into_response();
    if let Ok(value) = HeaderValue::from_str(&throttled.retry_after_secs().to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}
