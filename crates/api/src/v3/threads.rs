//! `GET /v3/grants/{grant_id}/threads[/{thread_id}]`: threads assembled from the
//! indexed messages that share a thread id.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};

use mailroom_model::{GrantId, v3::Thread};
use mailroom_store::{ThreadMember, ThreadPage};
use serde_json::Value;

use crate::clip::clip;
use crate::{
    cursor,
    envelope::CursorPage,
    envelope::Item,
    error::ApiError,
    extract::QueryParams,
    grant_access::GrantAccess,
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
    let mut threads = state
        .store
        .list_thread_pages(&access.grant.id, &filter)
        .await?;
    let more = threads.len() as i64 > limit;
    threads.truncate(limit as usize);
    let next_cursor = match (more, threads.last()) {
        (true, Some((id, latest, _))) => Some(cursor::encode(*latest, id)),
        _ => None,
    };
    // A thread with no located message left since it was listed is left out.
    let objects: Vec<Thread> = threads
        .into_iter()
        .filter_map(|(id, _, page)| Some(build_thread(&access.grant.id, &id, page?)))
        .collect();
    if access.may_read_content() && query.list("select").is_empty() {
        // Nothing to take out: written straight from the structs.
        return Ok(CursorPage {
            data: objects,
            next_cursor,
        }
        .into_response());
    }
    let data: Vec<Value> = objects
        .into_iter()
        .map(|thread| apply_select(visible(&access, to_value(thread)), &query))
        .collect();
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
            ApiError::not_found(format!("no thread with id '{}'", clip(&thread_id, 128)))
        })?;
    let data = apply_select(visible(&access, thread), &query);
    Ok(Item::ok(data).into_response())
}

fn to_value(thread: Thread) -> Value {
    serde_json::to_value(thread).unwrap_or(Value::Null)
}

/// The object of the grant's thread; `None` for a thread with no located message.
pub(crate) async fn thread_object(
    state: &AppState,
    grant_id: &GrantId,
    thread_id: &str,
) -> Result<Option<Value>, ApiError> {
    let mut pages = state
        .store
        .thread_pages(grant_id, &[thread_id.to_owned()])
        .await?;
    Ok(pages
        .remove(thread_id)
        .map(|page| to_value(build_thread(grant_id, thread_id, page))))
}

/// `page`: the thread's kept row (its folders, the union of its messages', its
/// participants, flags and dates), its located messages, oldest first, the subject of the
/// earliest, and its latest message whole with that message's folders.
pub(crate) fn build_thread(grant_id: &GrantId, thread_id: &str, page: ThreadPage) -> Thread {
    let ThreadPage {
        row,
        members,
        first_subject,
        latest,
        latest_folders,
    } = page;
    // The thread's subject is its first message's.
    let subject = first_subject.or_else(|| latest.subject.clone());
    let (drafts, messages): (Vec<ThreadMember>, Vec<ThreadMember>) =
        members.into_iter().partition(|m| m.draft);
    let message_ids: Vec<String> = messages.into_iter().map(|m| m.id).collect();
    let draft_ids: Vec<String> = drafts.into_iter().map(|m| m.id).collect();
    let mut latest_message = to_message(&latest, latest_folders, Fields::Standard);
    if latest.draft {
        latest_message.object = "draft";
    }
    Thread {
        has_drafts: !draft_ids.is_empty(),
        draft_ids,
        earliest_message_date: row.earliest_date,
        folders: row.folders,
        grant_id: grant_id.to_string(),
        has_attachments: row.has_attachments,
        id: thread_id.to_owned(),
        latest_message_received_date: latest.date,
        // Mail with no `Date:` header anywhere in the thread: when it was received.
        latest_message_sent_date: row.latest_sent_date.unwrap_or(latest.date),
        message_ids,
        object: "thread",
        participants: row.participants,
        snippet: latest.snippet,
        starred: row.starred,
        subject,
        unread: row.unread,
        latest_draft_or_message: latest_message,
    }
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
