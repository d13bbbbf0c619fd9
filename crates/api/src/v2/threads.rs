//! `GET /threads[/{id}]` in v2's shape, with the messages' filters (`unread` and
//! `starred` describe the thread, any of its messages), paging and views.

use axum::{
    Json,
    extract::{Path, State},
};
use mailroom_model::v3::Thread;
use mailroom_store::{FolderRecord, ListedThread, MessageQuery};
use serde_json::{Value, json};

use super::{
    account_auth::V2Account,
    error::V2Error,
    folders::{folder_json, not_found},
    listing::{MAX_LIMIT, Paging, View},
};
use crate::{extract::QueryParams, router::AppState, v3::grant_routes::READ};

pub async fn list_threads(
    State(state): State<AppState>,
    account: V2Account,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
    account.require(READ)?;
    let paging = Paging::from_query(&query)?;
    let folders = state.store.folders(&account.grant.id).await?;
    let mut filter = super::messages::message_filter(&query, &folders)?;
    filter.thread_unread = filter.unread.take();
    filter.thread_starred = filter.starred.take();
    let limit = match paging.view {
        View::Count => None,
        _ => Some(paging.limit),
    };
    let offset = if paging.view == View::Count {
        0
    } else {
        paging.offset
    };
    let threads = walk_threads(&state, &account, &filter, offset, limit).await?;
    Ok(Json(match paging.view {
        View::Count => json!({"count": threads.len()}),
        View::Ids => Value::Array(
            threads
                .into_iter()
                .map(|(id, _, _)| Value::String(id))
                .collect(),
        ),
        View::Objects => Value::Array(
            threads
                .into_iter()
                .filter_map(|(id, _, page)| {
                    let thread = crate::v3::threads::build_thread(&account.grant.id, &id, page?);
                    Some(thread_json(&account, thread, &folders))
                })
                .collect(),
        ),
    }))
}

pub async fn get_thread(
    State(state): State<AppState>,
    account: V2Account,
    Path(thread_id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    account.require(READ)?;
    let mut pages = state
        .store
        .thread_pages(&account.grant.id, std::slice::from_ref(&thread_id))
        .await?;
    let page = pages
        .remove(&thread_id)
        .ok_or_else(|| not_found("thread", &thread_id))?;
    let folders = state.store.folders(&account.grant.id).await?;
    let thread = crate::v3::threads::build_thread(&account.grant.id, &thread_id, page);
    Ok(Json(thread_json(&account, thread, &folders)))
}

/// Threads newest first from `offset`, at most `limit` (`None`: all, for a count),
/// walked over the index's pages.
async fn walk_threads(
    state: &AppState,
    account: &V2Account,
    filter: &MessageQuery,
    offset: i64,
    limit: Option<i64>,
) -> Result<Vec<ListedThread>, V2Error> {
    let mut query = filter.clone();
    let mut skipped = 0;
    let mut taken = Vec::new();
    loop {
        query.limit = MAX_LIMIT;
        let page = state
            .store
            .list_thread_pages(&account.grant.id, &query)
            .await?;
        let last = page.last().map(|(id, latest, _)| (*latest, id.clone()));
        let full = page.len() as i64 == MAX_LIMIT;
        for thread in page {
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if limit.is_some_and(|limit| taken.len() as i64 >= limit) {
                return Ok(taken);
            }
            taken.push(thread);
        }
        match last {
            Some(after) if full => query.after = Some(after),
            _ => return Ok(taken),
        }
    }
}

/// A thread as v2 showed it.
fn thread_json(account: &V2Account, thread: Thread, folders: &[FolderRecord]) -> Value {
    let thread_folders: Vec<Value> = thread
        .folders
        .iter()
        .filter_map(|id| folders.iter().find(|f| &f.id == id))
        .map(folder_json)
        .collect();
    let snippet = if account.may_read_content() {
        Value::String(thread.snippet)
    } else {
        Value::String(String::new())
    };
    json!({
        "id": thread.id,
        "object": "thread",
        "account_id": thread.grant_id,
        "subject": thread.subject,
        "unread": thread.unread,
        "starred": thread.starred,
        "first_message_timestamp": thread.earliest_message_date,
        "last_message_timestamp": thread.latest_message_sent_date,
        "last_message_received_timestamp": thread.latest_message_received_date,
        "participants": thread.participants,
        "snippet": snippet,
        "message_ids": thread.message_ids,
        "draft_ids": thread.draft_ids,
        "folders": thread_folders,
        "has_attachments": thread.has_attachments,
        "version": 0,
    })
}
