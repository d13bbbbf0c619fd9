//! `POST /folders` (`display_name`), `PUT /folders/{id}` (`display_name`) and `DELETE
//! /folders/{id}` in v2's shapes, carried out on the mail server by the same mailbox
//! changes as v3's folder routes, under the same scope. The SDKs send the whole folder
//! object back (`id`, `name`, `object`, `account_id`): only `display_name` is read.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
};
use serde_json::{Map, Value, json};

use super::{
    account_auth::V2Account,
    error::V2Error,
    folders::{folder_json, not_found},
};
use crate::{error::ApiError, router::AppState};

pub async fn create_folder(
    State(state): State<AppState>,
    account: V2Account,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let name = display_name(&body)?
        .ok_or_else(|| V2Error::invalid_request("'display_name' is required"))?;
    let grant_id = &account.grant.id;
    let id = state
        .mailboxes
        .create_folder(grant_id, &name, None)
        .await
        .map_err(|e| V2Error::from_api(ApiError::from(e)))?;
    current_folder(&state, &account, &id).await.map(Json)
}

pub async fn update_folder(
    State(state): State<AppState>,
    account: V2Account,
    Path(folder_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let name = display_name(&body)?;
    current_folder(&state, &account, &folder_id).await?;
    if let Some(name) = &name {
        state
            .mailboxes
            .update_folder(&account.grant.id, &folder_id, Some(name), None)
            .await
            .map_err(|e| V2Error::from_api(ApiError::from(e)))?;
    }
    current_folder(&state, &account, &folder_id).await.map(Json)
}

pub async fn delete_folder(
    State(state): State<AppState>,
    account: V2Account,
    Path(folder_id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    current_folder(&state, &account, &folder_id).await?;
    state
        .mailboxes
        .delete_folder(&account.grant.id, &folder_id)
        .await
        .map_err(|e| V2Error::from_api(ApiError::from(e)))?;
    Ok(Json(json!({"success": true})))
}

/// The folder as the index now has it, in v2's shape.
async fn current_folder(
    state: &AppState,
    account: &V2Account,
    folder_id: &str,
) -> Result<Value, V2Error> {
    state
        .store
        .folders(&account.grant.id)
        .await?
        .iter()
        .find(|f| f.id == folder_id)
        .map(folder_json)
        .ok_or_else(|| not_found("folder", folder_id))
}

/// The body's `display_name`: absent or null is `None`, an empty one is refused.
fn display_name(body: &[u8]) -> Result<Option<String>, V2Error> {
    let object: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| V2Error::invalid_request(format!("the body must be a JSON object: {e}")))?
    };
    match object.get("display_name") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) if !name.trim().is_empty() => Ok(Some(name.clone())),
        Some(_) => Err(V2Error::invalid_request(
            "'display_name' must be a folder name, a non-empty string",
        )),
    }
}
