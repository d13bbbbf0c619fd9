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
use crate::{extract::QueryParams, router::AppState};

pub async fn list_threads(
    State(state): State<AppState>,
    account: V2Account,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
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
        view @ (View::Objects | View::Expanded) => {
            let mut values = Vec::with_capacity(threads.len());
            for (id, _, page) in threads {
                let Some(page) = page else { continue };
                let thread = crate::v3::threads::build_thread(&account.grant.id, &id, page);
                let mut value = thread_json(&account, thread, &folders);
                if view == View::Expanded {
                    expand(&state, &account, &mut value, &folders).await?;
                }
                values.push(value);
            }
            Value::Array(values)
        }
    }))
}

pub async fn get_thread(
    State(state): State<AppState>,
    account: V2Account,
    Path(thread_id): Path<String>,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
    let folders = state.store.folders(&account.grant.id).await?;
    let mut value = thread_value(&state, &account, &thread_id, &folders)
        .await?
        .ok_or_else(|| not_found("thread", &thread_id))?;
    if query.get("view") == Some("expanded") {
        expand(&state, &account, &mut value, &folders).await?;
    }
    Ok(Json(value))
}

/// The thread in v2's shape, or `None` when the account has no such thread.
pub(super) async fn thread_value(
    state: &AppState,
    account: &V2Account,
    thread_id: &str,
    folders: &[FolderRecord],
) -> Result<Option<Value>, V2Error> {
    let mut pages = state
        .store
        .thread_pages(&account.grant.id, &[thread_id.to_owned()])
        .await?;
    Ok(pages.remove(thread_id).map(|page| {
        let thread = crate::v3::threads::build_thread(&account.grant.id, thread_id, page);
        thread_json(account, thread, folders)
    }))
}

/// `view=expanded`: the thread's messages and drafts as objects, without their bodies.
async fn expand(
    state: &AppState,
    account: &V2Account,
    value: &mut Value,
    folders: &[FolderRecord],
) -> Result<(), V2Error> {
    for (ids_key, key) in [("message_ids", "messages"), ("draft_ids", "drafts")] {
        let ids: Vec<String> = value[ids_key]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut folder_ids = state.store.message_folders(&account.grant.id, &ids).await?;
        let mut objects = Vec::with_capacity(ids.len());
        for id in &ids {
            let Some(record) = state.store.message(&account.grant.id, id).await? else {
                continue;
            };
            let mut object = super::messages::message_json(
                account,
                &record,
                &folder_ids.remove(id).unwrap_or_default(),
                folders,
            );
            if let Some(object) = object.as_object_mut() {
                object.remove("body");
            }
            objects.push(object);
        }
        value[key] = Value::Array(objects);
    }
    Ok(())
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
pub(super) fn thread_json(account: &V2Account, thread: Thread, folders: &[FolderRecord]) -> Value {
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
