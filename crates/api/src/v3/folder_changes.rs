//! `POST /v3/grants/{grant_id}/folders`, `PUT …/folders/{folder_id}` (rename, move under
//! another parent) and `DELETE …/folders/{folder_id}`. Inbox and special-use folders are
//! refused rename and deletion with a clear error.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use crate::clip::clip;
use crate::{
    envelope::Item, error::ApiError, extract::JsonBody, grant_access::GrantAccess,
    request_id::current_request_id, router::AppState, v3::folders::to_v3,
};

/// An optional string field; `Some(None)` when sent as `null`.
fn nullable_text(body: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, ApiError> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(text)) => Ok(Some(Some(text.clone()))),
        Some(_) => Err(ApiError::invalid_payload(format!(
            "'{key}' must be a string"
        ))),
    }
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::invalid_payload(
            "the request body must be a JSON object",
        )),
    }
}

async fn folder_json(
    state: &AppState,
    access: &GrantAccess,
    folder_id: &str,
) -> Result<Value, ApiError> {
    let folder = state
        .store
        .folders_with_counts(&access.grant.id)
        .await?
        .into_iter()
        .find(|f| f.folder.id == folder_id)
        .ok_or_else(|| ApiError::not_found("the folder is no longer on the mail server"))?;
    Ok(serde_json::to_value(to_v3(&folder)).unwrap_or(Value::Null))
}

pub async fn create_folder(
    State(state): State<AppState>,
    access: GrantAccess,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let body = object(body)?;
    let name = match nullable_text(&body, "name")? {
        Some(Some(name)) if !name.trim().is_empty() => name,
        _ => return Err(ApiError::invalid_payload("'name' is required")),
    };
    let parent_id = nullable_text(&body, "parent_id")?.flatten();
    let id = state
        .mailboxes
        .create_folder(&access.grant.id, &name, parent_id.as_deref())
        .await?;
    let data = folder_json(&state, &access, &id).await?;
    Ok((
        StatusCode::OK,
        Json(json!({"request_id": current_request_id(), "data": data})),
    )
        .into_response())
}

pub async fn update_folder(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, folder_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let body = object(body)?;
    let name = match nullable_text(&body, "name")? {
        Some(Some(name)) => Some(name),
        Some(None) => return Err(ApiError::invalid_payload("'name' cannot be null")),
        None => None,
    };
    let parent_id = nullable_text(&body, "parent_id")?;
    folder_json(&state, &access, &folder_id)
        .await
        .map_err(|_| {
            ApiError::not_found(format!("no folder with id '{}'", clip(&folder_id, 128)))
        })?;
    state
        .mailboxes
        .update_folder(
            &access.grant.id,
            &folder_id,
            name.as_deref(),
            parent_id.as_ref().map(|p| p.as_deref()),
        )
        .await?;
    let data = folder_json(&state, &access, &folder_id).await?;
    Ok(Item::ok(data).into_response())
}

pub async fn delete_folder(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, folder_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    folder_json(&state, &access, &folder_id)
        .await
        .map_err(|_| {
            ApiError::not_found(format!("no folder with id '{}'", clip(&folder_id, 128)))
        })?;
    state
        .mailboxes
        .delete_folder(&access.grant.id, &folder_id)
        .await?;
    Ok(Json(json!({"request_id": current_request_id()})).into_response())
}
