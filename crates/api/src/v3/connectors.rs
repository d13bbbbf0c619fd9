//! `/v3/connectors`: one connector per provider per application. IMAP connectors have
//! no settings and no scopes.

use axum::extract::{Path, State};
use mailroom_model::{
    Provider,
    v3::{Connector, ConnectorInput},
};
use mailroom_store::ConnectorRecord;

use crate::{
    auth::AppAuth,
    envelope::{Done, Item, OffsetPage},
    error::ApiError,
    extract::{JsonBody, QueryParams},
    router::AppState,
};

pub async fn create_connector(
    State(state): State<AppState>,
    auth: AppAuth,
    JsonBody(input): JsonBody<ConnectorInput>,
) -> Result<Item<Connector>, ApiError> {
    let provider = input.provider.as_deref().ok_or_else(|| {
        ApiError::invalid_payload("'provider' is required, e.g. {\"provider\": \"imap\"}")
    })?;
    let provider = parse_provider(provider)?;
    check_imap_input(&input)?;
    let record = state
        .store
        .create_connector(&auth.application_id, provider, input.name.as_deref())
        .await?
        .ok_or_else(|| {
            ApiError::conflict(format!(
                "this application already has a '{provider}' connector; there is one per provider (change it with PATCH /v3/connectors/{provider})"
            ))
        })?;
    Ok(Item::created(to_v3(record)))
}

pub async fn list_connectors(
    State(state): State<AppState>,
    auth: AppAuth,
    query: QueryParams,
) -> Result<OffsetPage<Connector>, ApiError> {
    let limit = query.bounded("limit", 10, 0, 200)?;
    let offset = query.bounded("offset", 0, 0, i64::MAX)?;
    let records = state
        .store
        .list_connectors(&auth.application_id, limit, offset)
        .await?;
    Ok(OffsetPage {
        data: records.into_iter().map(to_v3).collect(),
        limit,
        offset,
    })
}

pub async fn get_connector(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(provider): Path<String>,
) -> Result<Item<Connector>, ApiError> {
    let provider = existing_provider(&provider)?;
    let record = state
        .store
        .connector(&auth.application_id, provider)
        .await?
        .ok_or_else(|| missing(provider))?;
    Ok(Item::ok(to_v3(record)))
}

pub async fn update_connector(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(provider): Path<String>,
    JsonBody(input): JsonBody<ConnectorInput>,
) -> Result<Item<Connector>, ApiError> {
    let provider = existing_provider(&provider)?;
    if let Some(other) = input.provider.as_deref()
        && parse_provider(other)? != provider
    {
        return Err(ApiError::invalid_payload(
            "a connector's provider cannot be changed; create a connector for the other provider",
        ));
    }
    check_imap_input(&input)?;
    let record = state
        .store
        .rename_connector(&auth.application_id, provider, input.name.as_deref())
        .await?
        .ok_or_else(|| missing(provider))?;
    Ok(Item::ok(to_v3(record)))
}

pub async fn delete_connector(
    State(state): State<AppState>,
    auth: AppAuth,
    Path(provider): Path<String>,
) -> Result<Done, ApiError> {
    let provider = existing_provider(&provider)?;
    if state
        .store
        .delete_connector(&auth.application_id, provider)
        .await?
    {
        Ok(Done)
    } else {
        Err(missing(provider))
    }
}

fn parse_provider(value: &str) -> Result<Provider, ApiError> {
    value
        .parse()
        .map_err(|e: mailroom_model::provider::ProviderError| {
            ApiError::invalid_payload(e.to_string())
        })
}

/// A provider named in a path: unknown providers simply have no connector.
fn existing_provider(value: &str) -> Result<Provider, ApiError> {
    value.parse().map_err(|_| {
        ApiError::not_found(format!(
            "no connector for provider '{}'",
            value.chars().take(64).collect::<String>()
        ))
    })
}

fn missing(provider: Provider) -> ApiError {
    ApiError::not_found(format!(
        "this application has no '{provider}' connector; create one with POST /v3/connectors"
    ))
}

/// IMAP has no OAuth app behind it: no settings, no credentials, no scopes.
fn check_imap_input(input: &ConnectorInput) -> Result<(), ApiError> {
    if input.scope.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::invalid_payload(
            "IMAP connectors take no scopes: IMAP has no concept of scopes. Leave 'scope' out (granular scopes are set per grant)",
        ));
    }
    if input.settings.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::invalid_payload(
            "IMAP connectors take no settings: server settings belong to each grant",
        ));
    }
    if input.active_credential_id.is_some() {
        return Err(ApiError::invalid_payload(
            "IMAP connectors have no credentials; leave 'active_credential_id' out",
        ));
    }
    Ok(())
}

fn to_v3(record: ConnectorRecord) -> Connector {
    Connector {
        provider: record.provider.to_string(),
        name: record.name,
        settings: record.settings,
        scope: record.scope,
        active_credential_id: None,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}
