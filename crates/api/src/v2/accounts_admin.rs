//! v2's account management for the application, with its client secret as the Basic
//! user: `GET /a/{client_id}/accounts[/{id}]`, `POST …/{id}/revoke-all` (every token of
//! the account; the account stays) and `DELETE …/{id}` (the grant goes, as v3's
//! `DELETE /v3/grants/{id}`).

use axum::{
    Json,
    extract::{Path, State},
    http::request::Parts,
};
use mailroom_model::{ApplicationId, GrantId};
use mailroom_store::{GrantListQuery, GrantOrder, GrantRecord, SortField};
use serde_json::{Value, json};

use super::{account_auth::presented_token, error::V2Error, folders::not_found};
use crate::{extract::QueryParams, router::AppState, v3::connect_token::authenticate_client};

/// The application of the path, if the Basic user is its client secret.
async fn application(
    state: &AppState,
    parts: &Parts,
    client_id: &str,
) -> Result<ApplicationId, V2Error> {
    let secret = presented_token(parts).ok_or_else(V2Error::unauthorized)?;
    let id = ApplicationId::parse(client_id).map_err(|_| V2Error::unauthorized())?;
    state
        .store
        .application(&id)
        .await?
        .ok_or_else(V2Error::unauthorized)?;
    authenticate_client(state, &id, &secret)
        .await
        .map_err(|_| V2Error::unauthorized())?;
    Ok(id)
}

fn account_json(grant: &GrantRecord) -> Value {
    json!({
        "id": grant.id.as_str(),
        "account_id": grant.id.as_str(),
        "email": grant.email.as_str(),
        "provider": grant.provider.as_str(),
        "sync_state": match grant.status {
            mailroom_model::v3::GrantStatus::Valid => "running",
            _ => "invalid",
        },
        "billing_state": "paid",
        "trial": false,
    })
}

pub async fn list_accounts(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    query: QueryParams,
    parts: Parts,
) -> Result<Json<Value>, V2Error> {
    let application_id = application(&state, &parts, &client_id).await?;
    let limit = query
        .bounded("limit", 100, 1, 1000)
        .map_err(V2Error::from_api)?;
    let offset = query
        .bounded("offset", 0, 0, i64::MAX)
        .map_err(V2Error::from_api)?;
    let grants = state
        .store
        .list_grants(
            &application_id,
            &GrantListQuery {
                limit,
                offset,
                email: None,
                status: None,
                provider: None,
                ip: None,
                ids: Vec::new(),
                created_since: None,
                created_before: None,
                sort_by: SortField::CreatedAt,
                order: GrantOrder::Asc,
            },
        )
        .await?;
    Ok(Json(Value::Array(
        grants.iter().map(account_json).collect(),
    )))
}

async fn find(
    state: &AppState,
    application_id: &ApplicationId,
    account_id: &str,
) -> Result<GrantRecord, V2Error> {
    let id = GrantId::parse(account_id).map_err(|_| not_found("account", account_id))?;
    state
        .store
        .grant(application_id, &id)
        .await?
        .ok_or_else(|| not_found("account", account_id))
}

pub async fn get_account(
    State(state): State<AppState>,
    Path((client_id, account_id)): Path<(String, String)>,
    parts: Parts,
) -> Result<Json<Value>, V2Error> {
    let application_id = application(&state, &parts, &client_id).await?;
    let grant = find(&state, &application_id, &account_id).await?;
    Ok(Json(account_json(&grant)))
}

pub async fn revoke_all(
    State(state): State<AppState>,
    Path((client_id, account_id)): Path<(String, String)>,
    parts: Parts,
) -> Result<Json<Value>, V2Error> {
    let application_id = application(&state, &parts, &client_id).await?;
    let grant = find(&state, &application_id, &account_id).await?;
    state.store.revoke_all_grant_tokens(&grant.id).await?;
    Ok(Json(json!({"success": true})))
}

pub async fn delete_account(
    State(state): State<AppState>,
    Path((client_id, account_id)): Path<(String, String)>,
    parts: Parts,
) -> Result<Json<Value>, V2Error> {
    let application_id = application(&state, &parts, &client_id).await?;
    let grant = find(&state, &application_id, &account_id).await?;
    state.store.delete_grant(&application_id, &grant.id).await?;
    state.mailboxes.grant_removed(&grant.id);
    tracing::info!(grant_id = %grant.id, "account deleted through v2");
    Ok(Json(json!({"success": true})))
}
