//! `GET /v3/grants/{grant_id}/threads[/{thread_id}]`: threads assembled from the
//! indexed messages that share a thread id.

use axum::{
    Json,
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use mailroom_model::{GrantId, v3::EmailName};
use mailroom_store::MessageRecord;
use serde_json::{Value, json};

use crate::{
    cursor,
    error::ApiError,
    extract::QueryParams,
    grant_access::GrantAccess,
    request_id::current_request_id,
    router::AppState,
    v3::{
        message_json::{Fields, apply_select, to_message, withhold_content},
        messages::{apply_native_search, check_folder_filter, message_query},
    },
};

pub async fn list_threads(
    State(state): State<AppState>,
    access: GrantAccess,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let mut filter = message_query(&query)?;
    // unread and starred describe the thread (any of its messages), like its JSON does.
    filter.thread_unread = filter.unread.take();
    filter.thread_starred = filter.starred.take();
    filter.latest_after = query.int("latest_message_after")?;
    filter.latest_before = query.int("latest_message_before")?;
    check_folder_filter(&state, &access, &filter).await?;
    apply_native_search(&state, &access, &query, &mut filter).await?;
    let limit = filter.limit;
    filter.limit = limit + 1;
    let mut threads = state.store.list_threads(&access.grant.id, &filter).await?;
    let more = threads.len() as i64 > limit;
    threads.truncate(limit as usize);
    let mut data = Vec::with_capacity(threads.len());
    for (thread_id, _) in &threads {
        let messages = state
            .store
            .thread_messages(&access.grant.id, thread_id)
            .await?;
        if let Some(thread) = build_thread(&state, &access.grant.id, thread_id, &messages).await? {
            data.push(apply_select(visible(&access, thread), &query));
        }
    }
    let mut body = json!({"request_id": current_request_id(), "data": data});
    if let (true, Some((id, latest))) = (more, threads.last()) {
        body["next_cursor"] = Value::String(cursor::encode(*latest, id));
    }
    Ok(Json(body).into_response())
}

pub async fn get_thread(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, thread_id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let messages = state
        .store
        .thread_messages(&access.grant.id, &thread_id)
        .await?;
    let thread = build_thread(&state, &access.grant.id, &thread_id, &messages)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no thread with id '{}'",
                thread_id.chars().take(128).collect::<String>()
            ))
        })?;
    let data = apply_select(visible(&access, thread), &query);
    Ok(Json(json!({"request_id": current_request_id(), "data": data})).into_response())
}

/// The thread object; `None` for a thread with no indexed message.
pub(crate) async fn build_thread(
    state: &AppState,
    grant_id: &GrantId,
    thread_id: &str,
    messages: &[MessageRecord],
) -> Result<Option<Value>, ApiError> {
    let Some(latest) = messages.iter().max_by_key(|m| (m.date, m.id.clone())) else {
        return Ok(None);
    };
    let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
    let message_ids: Vec<&str> = messages
        .iter()
        .filter(|m| !m.draft)
        .map(|m| m.id.as_str())
        .collect();
    let draft_ids: Vec<&str> = messages
        .iter()
        .filter(|m| m.draft)
        .map(|m| m.id.as_str())
        .collect();
    let mut folders_by_message = state.store.message_folders(grant_id, &ids).await?;
    let mut folders: Vec<String> = Vec::new();
    for id in &ids {
        for folder in folders_by_message.get(id).into_iter().flatten() {
            if !folders.contains(folder) {
                folders.push(folder.clone());
            }
        }
    }
    let mut participants: Vec<EmailName> = Vec::new();
    for message in messages {
        for person in message
            .from
            .iter()
            .chain(&message.to)
            .chain(&message.cc)
            .chain(&message.bcc)
        {
            if !participants
                .iter()
                .any(|p| p.email.eq_ignore_ascii_case(&person.email))
            {
                participants.push(person.clone());
            }
        }
    }
    let latest_folders = folders_by_message.remove(&latest.id).unwrap_or_default();
    let mut latest_message = to_message(latest, latest_folders, Fields::Standard);
    if latest.draft {
        latest_message.object = "draft";
    }
    let earliest = messages.iter().map(|m| m.date).min().unwrap_or(latest.date);
    let first_subject = messages.iter().find_map(|m| m.subject.clone());
    Ok(Some(json!({
        "id": thread_id,
        "grant_id": grant_id.as_str(),
        "object": "thread",
        "subject": first_subject,
        "snippet": latest.snippet,
        "participants": participants,
        "message_ids": message_ids,
        "draft_ids": draft_ids,
        "folders": folders,
        "has_attachments": messages.iter().any(|m| m.has_attachments),
        "has_drafts": !draft_ids.is_empty(),
        "starred": messages.iter().any(|m| m.starred),
        "unread": messages.iter().any(|m| m.unread),
        "earliest_message_date": earliest,
        "latest_message_received_date": latest.date,
        "latest_message_sent_date": latest.date,
        "latest_draft_or_message": latest_message,
    })))
}

/// A thread as the grant's scopes let it be seen: metadata alone gets no snippet and no
/// body of the latest message.
pub(crate) fn visible(access: &GrantAccess, mut thread: Value) -> Value {
    if !access.may_read_content() {
        withhold_content(&mut thread);
        if let Some(latest) = thread.get_mut("latest_draft_or_message") {
            withhold_content(latest);
        }
    }
    thread
}
