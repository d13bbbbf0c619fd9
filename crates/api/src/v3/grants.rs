//! `/v3/grants`: list, read, update (re-validating new settings) and delete grants.

use axum::extract::{Path, State};
use mailroom_model::{
    GrantId, GrantSecret, Provider, Scope, SettingsFields,
    mail_settings::SettingsInput,
    v3::{Grant, GrantStatus, SyncProgress, UpdateGrantRequest},
};
use mailroom_store::{GrantListQuery, GrantOrder, GrantRecord, GrantUpdate, SortField};

use crate::clip::clip;
use crate::{
    auth::{AppAuth, Caller},
    envelope::{Done, Item, OffsetPage},
    error::ApiError,
    extract::{JsonBody, QueryParams},
    grant_access::resolve_grant,
    provider_check::verify_mailbox,
    router::AppState,
    server_origin::DomainServers,
};

pub async fn list_grants(
    State(state): State<AppState>,
    auth: AppAuth,
    query: QueryParams,
) -> Result<OffsetPage<Grant>, ApiError> {
    let limit = query.bounded("limit", 10, 0, 200)?;
    let offset = query.bounded("offset", 0, 0, i64::MAX)?;
    let status = match query.get("grant_status") {
        None => None,
        Some(value) => Some(GrantStatus::parse(value).ok_or_else(|| {
            ApiError::bad_request("query parameter 'grant_status' must be 'valid' or 'invalid'")
        })?),
    };
    let sort_by = match query.get("sort_by") {
        None | Some("created_at") => SortField::CreatedAt,
        Some("updated_at") => SortField::UpdatedAt,
        Some(_) => {
            return Err(ApiError::bad_request(
                "query parameter 'sort_by' must be 'created_at' or 'updated_at'",
            ));
        }
    };
    let order = match query
        .get("order_by")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("desc") => GrantOrder::Desc,
        Some("asc") => GrantOrder::Asc,
        Some(_) => {
            return Err(ApiError::bad_request(
                "query parameter 'order_by' must be 'asc' or 'desc'",
            ));
        }
    };
    let mut ids = Vec::new();
    for id in query
        .list("account_id")
        .into_iter()
        .chain(query.list("account_ids"))
    {
        ids.push(GrantId::parse(&id).map_err(|e| ApiError::bad_request(e.to_string()))?);
    }
    // Providers mailroom cannot connect simply have no grants.
    let provider = match query.get("provider") {
        None => None,
        Some(value) => match value.parse::<Provider>() {
            Ok(provider) => Some(provider),
            Err(_) => {
                return Ok(OffsetPage {
                    data: Vec::new(),
                    limit,
                    offset,
                });
            }
        },
    };
    let list_query = GrantListQuery {
        limit,
        offset,
        email: query.get("email").map(str::to_owned),
        status,
        provider,
        ip: query.get("ip").map(str::to_owned),
        ids,
        created_since: query.int("since")?,
        created_before: query.int("before")?,
        sort_by,
        order,
    };
    let grants = state
        .store
        .list_grants(&auth.application_id, &list_query)
        .await?;
    let mut data = Vec::with_capacity(grants.len());
    for grant in grants {
        data.push(grant_json(&state, grant).await?);
    }
    Ok(OffsetPage {
        data,
        limit,
        offset,
    })
}

/// Also for an access token, on its own grant (`GET /v3/grants/me`).
pub async fn get_grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(grant_id): Path<String>,
) -> Result<Item<Grant>, ApiError> {
    let grant = resolve_grant(&state, &caller, &grant_id).await?;
    Ok(Item::ok(grant_json(&state, grant).await?))
}

pub async fn update_grant(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(grant_id): Path<String>,
    JsonBody(request): JsonBody<UpdateGrantRequest>,
) -> Result<Item<Grant>, ApiError> {
    let grant = find_grant(&state, &auth, &grant_id).await?;
    let scope = request
        .scope
        .as_deref()
        .map(Scope::parse_list)
        .transpose()
        .map_err(|e| ApiError::invalid_payload(e.to_string()))?;

    // A stored password goes only to the server it was given for: a new server or
    // username needs its password in the same request (`SettingsError::PasswordRequired`).
    let resolved = match &request.settings {
        Some(settings) => {
            let fields = SettingsFields::from_json(settings)
                .map_err(|e| ApiError::invalid_payload(e.to_string()))?;
            let Some(previous_credentials) = state
                .store
                .grant_secret(&grant.id)
                .await?
                .passwords()
                .cloned()
            else {
                return Err(ApiError::invalid_payload(format!(
                    "a {} grant signs in with OAuth tokens; its settings cannot be changed. Re-authenticate it through the hosted sign-in or custom auth with a new refresh token",
                    grant.provider
                )));
            };
            let resolved = SettingsInput {
                fields: &fields,
                previous: Some((&grant.settings, &previous_credentials)),
            }
            .resolve()
            .map_err(|e| ApiError::invalid_payload(e.to_string()))?;
            if resolved.email != grant.email {
                return Err(ApiError::invalid_payload(format!(
                    "these settings are for '{}', but the grant is for '{}'; a grant's email cannot change",
                    resolved.email, grant.email
                )));
            }
            verify_mailbox(&state.policy, &resolved.servers, &resolved.credentials)
                .await
                .map_err(|failure| failure.to_api_error(&resolved.servers))?;
            Some(resolved)
        }
        None => None,
    };
    let new_servers = resolved
        .as_ref()
        .filter(|r| !r.servers.same_servers(&grant.settings))
        .map(|r| &r.servers);
    let email_verified = match new_servers {
        Some(servers) => Some(
            DomainServers::look_up(&state, &grant.email)
                .await
                .vouch(&state, servers)
                .await,
        ),
        None => None,
    };
    if new_servers.is_some() {
        // The sync of the old mailbox stops before its index is emptied, so that nothing
        // of it is written back afterwards.
        state.mailboxes.grant_removed(&grant.id);
    }

    let secret = resolved
        .as_ref()
        .map(|r| GrantSecret::Password(r.credentials.clone()));
    let updated = state
        .store
        .update_grant(
            &auth.application_id,
            &grant.id,
            GrantUpdate {
                settings: resolved.as_ref().map(|r| &r.servers),
                credentials: secret.as_ref(),
                scope: scope.as_deref(),
                name: request.name.as_deref(),
                // Credentials that were just proven make the grant valid again.
                status: resolved.as_ref().map(|_| GrantStatus::Valid),
                email_verified,
            },
        )
        .await?
        .ok_or_else(|| grant_not_found(&grant_id))?;
    if resolved.is_some() {
        state.mailboxes.grant_connected(&updated.id);
    }
    Ok(Item::ok(to_v3(updated)))
}

pub async fn delete_grant(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(grant_id): Path<String>,
) -> Result<Done, ApiError> {
    let grant = find_grant(&state, &auth, &grant_id).await?;
    state
        .store
        .delete_grant(&auth.application_id, &grant.id)
        .await?;
    state.mailboxes.grant_removed(&grant.id);
    tracing::info!(grant_id = %grant.id, "grant deleted");
    Ok(Done)
}

/// A grant of the calling application, by the id in the path.
async fn find_grant(
    state: &AppState,
    auth: &AppAuth,
    raw_id: &str,
) -> Result<GrantRecord, ApiError> {
    resolve_grant(
        state,
        &Caller::Application(auth.application_id.clone()),
        raw_id,
    )
    .await
}

fn grant_not_found(raw_id: &str) -> ApiError {
    ApiError::not_found(format!("no grant with id '{}'", clip(raw_id, 128)))
}

/// The grant object with its sync progress.
pub(crate) async fn grant_json(state: &AppState, grant: GrantRecord) -> Result<Grant, ApiError> {
    let status = state.store.sync_status(&grant.id).await?;
    let mut json = to_v3(grant);
    if let Some(status) = status {
        json.sync_state = status.state.map(|s| s.as_str().to_owned());
        json.sync_progress = Some(SyncProgress {
            folders_total: status.folders_total,
            folders_done: status.folders_done,
            messages_synced: status.messages_synced,
            messages_total: status.messages_total.max(status.messages_synced),
            bodies_synced: status.bodies_synced,
        });
    }
    Ok(json)
}

pub(crate) fn to_v3(grant: GrantRecord) -> Grant {
    Grant {
        id: grant.id.to_string(),
        provider: grant.provider.to_string(),
        grant_status: grant.status,
        email: grant.email.to_string(),
        name: grant.name,
        scope: grant.scope.iter().map(|s| s.as_str().to_owned()).collect(),
        settings: grant.settings,
        state: grant.state,
        ip: grant.ip,
        user_agent: grant.user_agent,
        provider_user_id: None,
        account_id: None,
        credential_id: None,
        created_at: grant.created_at,
        updated_at: grant.updated_at,
        sync_state: None,
        sync_progress: None,
    }
}
