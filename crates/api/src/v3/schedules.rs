//! `GET /v3/grants/{grant_id}/messages/schedules[/{schedule_id}]` and `DELETE …/{id}`:
//! sends waiting for their `send_at`, and what became of them.

use axum::{
    Json,
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use mailroom_store::{ScheduleStatus, ScheduledSend};
use serde_json::{Value, json};

use crate::clip::clip;
use crate::{
    envelope::Item, error::ApiError, grant_access::GrantAccess, request_id::current_request_id,
    router::AppState,
};

fn schedule_json(send: &ScheduledSend) -> Value {
    let description = match send.status {
        ScheduleStatus::Pending => "schedule send awaiting send at time".to_owned(),
        ScheduleStatus::Sending => "being sent".to_owned(),
        ScheduleStatus::Sent => "sent".to_owned(),
        ScheduleStatus::Cancelled => "cancelled".to_owned(),
        ScheduleStatus::Failed => send
            .error
            .clone()
            .unwrap_or_else(|| "the send failed".to_owned()),
    };
    json!({
        "schedule_id": send.id,
        "status": {"code": send.status.as_str(), "description": description},
        "close_time": send.close_time,
        "send_at": send.send_at,
        "message_id": send.sent_message_id,
    })
}

async fn find(state: &AppState, access: &GrantAccess, id: &str) -> Result<ScheduledSend, ApiError> {
    state
        .store
        .scheduled_send(&access.grant.id, id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("no scheduled message with id '{}'", clip(id, 128)))
        })
}

pub async fn list_schedules(
    State(state): State<AppState>,
    access: GrantAccess,
) -> Result<Response, ApiError> {
    let data: Vec<Value> = state
        .store
        .scheduled_sends(&access.grant.id)
        .await?
        .iter()
        .map(schedule_json)
        .collect();
    Ok(Item::ok(data).into_response())
}

pub async fn get_schedule(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, schedule_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let send = find(&state, &access, &schedule_id).await?;
    Ok(
        Json(json!({"request_id": current_request_id(), "data": schedule_json(&send)}))
            .into_response(),
    )
}

pub async fn cancel_schedule(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, schedule_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let send = find(&state, &access, &schedule_id).await?;
    if !state
        .store
        .cancel_scheduled_send(&access.grant.id, &send.id)
        .await?
    {
        return Err(ApiError::bad_request(format!(
            "the scheduled message is {} and can no longer be cancelled",
            send.status.as_str()
        )));
    }
    state.mailboxes.schedule_changed();
    Ok(Json(json!({
        "request_id": current_request_id(),
        "data": {"message": "Scheduled message was cancelled."},
    }))
    .into_response())
}
