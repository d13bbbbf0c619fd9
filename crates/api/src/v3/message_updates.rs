//! `PUT /v3/grants/{grant_id}/messages/{message_id}` (read/starred state, folders,
//! metadata) and `DELETE …/messages/{message_id}` (to Trash; from Trash, for good).

use axum::{
    Json,
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clip::clip;
use crate::{
    envelope::Item,
    error::ApiError,
    extract::{JsonBody, QueryParams},
    grant_access::GrantAccess,
    mailboxes::MessageUpdate,
    request_id::current_request_id,
    router::AppState,
    v3::{
        message_json::{Fields, apply_select, to_message, withhold_content},
        messages::find,
    },
};

/// The body of `PUT …/messages/{id}` and `PUT …/threads/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MessageUpdate)]
pub struct UpdateRequest {
    #[serde(default)]
    pub unread: Option<bool>,
    #[serde(default)]
    pub starred: Option<bool>,
    #[serde(default)]
    pub folders: Option<Vec<String>>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

impl UpdateRequest {
    pub fn mailbox_update(&self) -> MessageUpdate {
        MessageUpdate {
            unread: self.unread,
            starred: self.starred,
            folders: self.folders.clone(),
        }
    }
}

/// Metadata is an object of at most 50 keys with short string values, as Nylas limits it.
pub fn check_metadata(metadata: &Value) -> Result<(), ApiError> {
    let Some(object) = metadata.as_object() else {
        return Err(ApiError::invalid_payload("'metadata' must be an object"));
    };
    if object.len() > 50 {
        return Err(ApiError::invalid_payload(
            "'metadata' holds at most 50 keys",
        ));
    }
    for (key, value) in object {
        if key.len() > 40 {
            return Err(ApiError::invalid_payload(format!(
                "metadata key '{}' is longer than 40 characters",
                clip(key, 64)
            )));
        }
        match value {
            Value::String(text) if text.len() <= 500 => {}
            _ => {
                return Err(ApiError::invalid_payload(format!(
                    "metadata value of '{key}' must be a string of at most 500 characters"
                )));
            }
        }
    }
    Ok(())
}

pub async fn update_message(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, message_id)): Path<(String, String)>,
    query: QueryParams,
    JsonBody(request): JsonBody<UpdateRequest>,
) -> Result<Response, ApiError> {
    let record = find(&state, &access, &message_id).await?;
    if let Some(metadata) = &request.metadata {
        check_metadata(metadata)?;
    }
    state
        .mailboxes
        .update_messages(
            &access.grant.id,
            std::slice::from_ref(&record.id),
            &request.mailbox_update(),
        )
        .await?;
    if let Some(metadata) = &request.metadata {
        state
            .store
            .set_message_metadata(&access.grant.id, &record.id, metadata)
            .await?;
    }
    let record = find(&state, &access, &record.id).await?;
    let folders = state
        .store
        .message_folders(&access.grant.id, std::slice::from_ref(&record.id))
        .await?
        .remove(&record.id)
        .unwrap_or_default();
    let mut json =
        serde_json::to_value(to_message(&record, folders, Fields::Standard)).unwrap_or(Value::Null);
    if !access.may_read_content() {
        withhold_content(&mut json);
    }
    let data = apply_select(json, &query);
    Ok(Item::ok(data).into_response())
}

pub async fn delete_message(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, message_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let record = find(&state, &access, &message_id).await?;
    state
        .mailboxes
        .delete_messages(&access.grant.id, std::slice::from_ref(&record.id))
        .await?;
    Ok(Json(json!({"request_id": current_request_id()})).into_response())
}
