//! `GET /v3/grants/{grant_id}/threads[/{thread_id}]`: threads assembled from the
//! indexed messages that share a thread id.

use axum::{
    Json,
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use std::collections::HashMap;

use mailroom_model::{GrantId, v3::EmailName};
use mailroom_store::MessageRecord;
use serde_json::{Value, json};

use crate::{
    cursor,
    envelope::CursorPage,
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
    let ids: Vec<String> = threads.iter().map(|(id, _)| id.clone()).collect();
    let data: Vec<Value> = thread_objects(&state, &access.grant.id, &ids)
        .await?
        .into_iter()
        .map(|thread| apply_select(visible(&access, thread), &query))
        .collect();
    let next_cursor = match (more, threads.last()) {
        (true, Some((id, latest))) => Some(cursor::encode(*latest, id)),
        _ => None,
    };
    Ok(CursorPage { data, next_cursor }.into_response())
}

pub async fn get_thread(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, thread_id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let thread = thread_object(&state, &access.grant.id, &thread_id)
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

/// The thread object; `None` for a thread with no located message.
pub(crate) async fn thread_object(
    state: &AppState,
    grant_id: &GrantId,
    thread_id: &str,
) -> Result<Option<Value>, ApiError> {
    Ok(thread_objects(state, grant_id, &[thread_id.to_owned()])
        .await?
        .into_iter()
        .next())
}

/// The objects of these threads, in their order, in a few queries whatever their number:
/// their messages without bodies, the latest message of each whole, and the folders.
/// A thread with no located message is left out.
async fn thread_objects(
    state: &AppState,
    grant_id: &GrantId,
    thread_ids: &[String],
) -> Result<Vec<Value>, ApiError> {
    let members = state.store.thread_members(grant_id, thread_ids).await?;
    let mut by_thread: HashMap<&str, Vec<&MessageRecord>> = HashMap::new();
    for message in &members {
        by_thread
            .entry(message.thread_id.as_str())
            .or_default()
            .push(message);
    }
    let latest_ids: Vec<String> = by_thread
        .values()
        .filter_map(|messages| messages.iter().max_by_key(|m| (m.date, m.id.clone())))
        .map(|m| m.id.clone())
        .collect();
    let latest: HashMap<String, MessageRecord> = state
        .store
        .messages_by_ids(grant_id, &latest_ids)
        .await?
        .into_iter()
        .map(|m| (m.thread_id.clone(), m))
        .collect();
    let mut latest_folders = state.store.message_folders(grant_id, &latest_ids).await?;
    let mut thread_folders = state.store.thread_folder_ids(grant_id, thread_ids).await?;
    Ok(thread_ids
        .iter()
        .filter_map(|id| {
            let messages = by_thread.get(id.as_str())?;
            let latest = latest.get(id)?;
            let folders = thread_folders.remove(id).unwrap_or_default();
            let latest_in = latest_folders.remove(&latest.id).unwrap_or_default();
            Some(build_thread(
                grant_id, id, messages, latest, folders, latest_in,
            ))
        })
        .collect())
}

/// `folders`: the thread's (the union of its messages'); `latest_folders`: its latest
/// message's.
fn build_thread(
    grant_id: &GrantId,
    thread_id: &str,
    messages: &[&MessageRecord],
    latest: &MessageRecord,
    folders: Vec<String>,
    latest_folders: Vec<String>,
) -> Value {
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
    let mut latest_message = to_message(latest, latest_folders, Fields::Standard);
    if latest.draft {
        latest_message.object = "draft";
    }
    let earliest = messages.iter().map(|m| m.date).min().unwrap_or(latest.date);
    let first_subject = messages.iter().find_map(|m| m.subject.clone());
    json!({
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
    })
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
