//! `PUT /v3/grants/{grant_id}/threads/{thread_id}` and `DELETE …`: the change applied to
//! every message of the thread.

use axum::{
    Json,
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use mailroom_store::MessageRecord;
use serde_json::json;

use crate::clip::clip;
use crate::{
    envelope::Item,
    error::ApiError,
    extract::{JsonBody, QueryParams},
    grant_access::GrantAccess,
    request_id::current_request_id,
    router::AppState,
    v3::{
        message_json::apply_select,
        message_updates::UpdateRequest,
        threads::{thread_object, visible},
    },
};

async fn thread_messages(
    state: &AppState,
    access: &GrantAccess,
    thread_id: &str,
) -> Result<Vec<MessageRecord>, ApiError> {
    let messages = state
        .store
        .thread_messages(&access.grant.id, thread_id)
        .await?;
    if messages.is_empty() {
        return Err(ApiError::not_found(format!(
            "no thread with id '{}'",
            clip(thread_id, 128)
        )));
    }
    Ok(messages)
}

pub async fn update_thread(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, thread_id)): Path<(String, String)>,
    query: QueryParams,
    JsonBody(request): JsonBody<UpdateRequest>,
) -> Result<Response, ApiError> {
    if request.metadata.is_some() {
        return Err(ApiError::invalid_payload(
            "threads take unread, starred and folders; metadata belongs on messages",
        ));
    }
    let messages = thread_messages(&state, &access, &thread_id).await?;
    let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
    state
        .mailboxes
        .update_messages(&access.grant.id, &ids, &request.mailbox_update())
        .await?;
    let thread = thread_object(&state, &access.grant.id, &thread_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the thread is no longer on the mail server"))?;
    let data = apply_select(visible(&access, thread), &query);
    Ok(Item::ok(data).into_response())
}

pub async fn delete_thread(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, thread_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let messages = thread_messages(&state, &access, &thread_id).await?;
    let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
    state
        .mailboxes
        .delete_messages(&access.grant.id, &ids)
        .await?;
    Ok(Json(json!({"request_id": current_request_id()})).into_response())
}
