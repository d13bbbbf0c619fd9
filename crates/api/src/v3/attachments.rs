//! `GET /v3/grants/{grant_id}/attachments/{id}[/download]?message_id=…`.

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use crate::{
    envelope::Item,
    error::ApiError,
    extract::QueryParams,
    grant_access::GrantAccess,
    router::AppState,
    v3::{
        message_json::{Fields, to_message},
        messages::{fetch_error, find, with_body},
    },
};

/// Attachment ids are `<message id>-<part index>`.
fn part_index(attachment_id: &str, message_id: &str) -> Option<usize> {
    attachment_id
        .strip_prefix(message_id)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

fn message_id_param(query: &QueryParams) -> Result<String, ApiError> {
    query
        .get("message_id")
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("query parameter 'message_id' is required"))
}

fn not_found(attachment_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no attachment with id '{}' in that message",
        attachment_id.chars().take(128).collect::<String>()
    ))
}

pub async fn get_attachment(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, attachment_id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Item<Value>, ApiError> {
    let message_id = message_id_param(&query)?;
    let record = find(&state, &access, &message_id).await?;
    let record = with_body(&state, &access, record).await?;
    let message = to_message(&record, Vec::new(), Fields::Standard);
    let attachment = message
        .attachments
        .into_iter()
        .find(|a| a.id == attachment_id)
        .ok_or_else(|| not_found(&attachment_id))?;
    Ok(Item::ok(
        serde_json::to_value(attachment).unwrap_or(Value::Null),
    ))
}

pub async fn download_attachment(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, attachment_id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let message_id = message_id_param(&query)?;
    let record = find(&state, &access, &message_id).await?;
    let index = part_index(&attachment_id, &record.id).ok_or_else(|| not_found(&attachment_id))?;
    let raw = state
        .mailboxes
        .fetch_raw_message(&access.grant.id, &record.id)
        .await
        .map_err(fetch_error)?;
    let (info, bytes) =
        mailroom_mime::attachment_content(&raw, index).ok_or_else(|| not_found(&attachment_id))?;
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&info.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    let filename = info
        .filename
        .unwrap_or_else(|| "attachment".to_owned())
        .replace(['"', '\\', '\r', '\n'], "_");
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        filename
            .chars()
            .filter(|c| c.is_ascii() && !c.is_control())
            .collect::<String>()
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
