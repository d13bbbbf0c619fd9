//! v2's delta feed: `POST /delta/latest_cursor`, `GET /delta` and `GET /delta/longpoll`
//! over the grant's change log (`mailroom_store::ChangeRecord`), the same changes its
//! webhooks report. Each delta carries the object as it is when read; a created or
//! modified object that is gone by then is left out (its deletion follows in the
//! feed). Only the object types the token may read are shown; the cursor moves past
//! the others all the same.

use std::time::Duration;

use axum::{
    Json,
    extract::{Path, State},
};
use mailroom_store::{ChangeCursor, ChangeKind, ChangeRecord, FolderRecord};
use serde_json::{Value, json};

use super::{account_auth::V2Account, error::V2Error, folders::folder_json};
use crate::clip::clip;
use crate::{
    extract::QueryParams,
    grant_routes::{READ, READ_CALENDAR, READ_CONTACTS, READ_FOLDERS},
    router::AppState,
};

/// Changes read per answer.
const PAGE: i64 = 100;
/// How long a long poll may wait, at most and unless asked.
const MAX_LONGPOLL_SECS: i64 = 300;
const DEFAULT_LONGPOLL_SECS: i64 = 120;
/// How often a waiting long poll looks at the log again.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// The object types of v2's feed, as named in `include_types` and `exclude_types`.
const TYPES: &[&str] = &[
    "message", "draft", "thread", "folder", "label", "contact", "event", "file",
];

pub async fn latest_cursor(
    State(state): State<AppState>,
    account: V2Account,
) -> Result<Json<Value>, V2Error> {
    readable_types(&account)?;
    let cursor = state.store.latest_change_cursor(&account.grant.id).await?;
    Ok(Json(json!({"cursor": cursor.encode()})))
}

pub async fn deltas(
    State(state): State<AppState>,
    account: V2Account,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
    let request = DeltaRequest::from_query(&account, &query)?;
    let page = read_page(&state, &account, &request, request.cursor).await?;
    Ok(Json(page.into_json(request.cursor)))
}

pub async fn longpoll(
    State(state): State<AppState>,
    account: V2Account,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
    let request = DeltaRequest::from_query(&account, &query)?;
    let timeout = query
        .bounded("timeout", DEFAULT_LONGPOLL_SECS, 0, i64::MAX)
        .map_err(V2Error::from_api)?
        .min(MAX_LONGPOLL_SECS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout.unsigned_abs());
    let mut from = request.cursor;
    loop {
        let page = read_page(&state, &account, &request, from).await?;
        // Changes of types left out only move the cursor on: keep waiting for one shown.
        if !page.deltas.is_empty() || tokio::time::Instant::now() >= deadline {
            return Ok(Json(page.into_json(request.cursor)));
        }
        from = page.end;
        if page.full {
            continue;
        }
        tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + POLL_EVERY)).await;
    }
}

/// `GET /delta/{anything}` other than the routes above: v2's streaming form is not
/// offered; say so rather than answer an empty feed.
pub async fn unsupported(_account: V2Account, Path(kind): Path<String>) -> V2Error {
    V2Error::new(
        axum::http::StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!(
            "/delta/{} is not offered: read the feed with /delta or /delta/longpoll",
            clip(&kind, 32)
        ),
    )
}

struct DeltaRequest {
    cursor: ChangeCursor,
    /// The types shown: asked for and readable with the token.
    shown: Vec<&'static str>,
    expanded: bool,
}

impl DeltaRequest {
    fn from_query(account: &V2Account, query: &QueryParams) -> Result<Self, V2Error> {
        let readable = readable_types(account)?;
        let cursor = query
            .get("cursor")
            .ok_or_else(|| V2Error::invalid_request("the query parameter 'cursor' is required"))?;
        let cursor = ChangeCursor::decode(cursor).ok_or_else(|| {
            V2Error::invalid_request(
                "this cursor was not made by this server: take one from /delta/latest_cursor",
            )
        })?;
        let included = type_list(query, &["include_types"])?;
        let excluded = type_list(query, &["exclude_types", "excluded_types"])?;
        if !included.is_empty() && !excluded.is_empty() {
            return Err(V2Error::invalid_request(
                "give include_types or exclude_types, not both",
            ));
        }
        let shown = readable
            .into_iter()
            .filter(|t| included.is_empty() || included.contains(t))
            .filter(|t| !excluded.contains(t))
            .collect();
        let expanded = match query.get("view") {
            None => false,
            Some("expanded") => true,
            Some(other) => {
                return Err(V2Error::invalid_request(format!(
                    "view takes 'expanded', not '{}'",
                    clip(other, 32)
                )));
            }
        };
        Ok(Self {
            cursor,
            shown,
            expanded,
        })
    }
}

/// The types named by any of `keys`, checked against v2's.
fn type_list(query: &QueryParams, keys: &[&str]) -> Result<Vec<&'static str>, V2Error> {
    let mut types = Vec::new();
    for key in keys {
        for name in query.list(key) {
            let known = TYPES.iter().find(|t| **t == name).ok_or_else(|| {
                V2Error::invalid_request(format!(
                    "'{}' is not a type of the delta feed (one of {})",
                    clip(&name, 32),
                    TYPES.join(", ")
                ))
            })?;
            types.push(*known);
        }
    }
    Ok(types)
}

/// The types this token may read; the 403 of its most useful scope when none.
fn readable_types(account: &V2Account) -> Result<Vec<&'static str>, V2Error> {
    let mut types = Vec::new();
    if account.require(READ).is_ok() {
        types.extend(["message", "draft", "thread", "file"]);
    }
    if account.require(READ_FOLDERS).is_ok() {
        types.extend(["folder", "label"]);
    }
    if account.require(READ_CONTACTS).is_ok() {
        types.push("contact");
    }
    if account.require(READ_CALENDAR).is_ok() {
        types.push("event");
    }
    if types.is_empty() {
        account.require(READ)?;
    }
    Ok(types)
}

struct Page {
    deltas: Vec<Value>,
    /// Where the next read starts: past every change read, shown or not.
    end: ChangeCursor,
    /// Whether the log may hold more right away.
    full: bool,
}

impl Page {
    fn into_json(self, start: ChangeCursor) -> Value {
        json!({
            "cursor_start": start.encode(),
            "cursor_end": self.end.encode(),
            "deltas": self.deltas,
        })
    }
}

async fn read_page(
    state: &AppState,
    account: &V2Account,
    request: &DeltaRequest,
    from: ChangeCursor,
) -> Result<Page, V2Error> {
    let changes = state
        .store
        .changes_since(&account.grant.id, from, PAGE)
        .await?;
    let end = changes.last().map_or(from, |c| c.cursor);
    let full = changes.len() as i64 == PAGE;
    let folders = if changes.is_empty() {
        Vec::new()
    } else {
        state.store.folders(&account.grant.id).await?
    };
    let mut deltas = Vec::new();
    for change in &changes {
        if let Some(delta) = delta_json(state, account, request, change, &folders).await? {
            deltas.push(delta);
        }
    }
    Ok(Page { deltas, end, full })
}

/// One change as a v2 delta, or `None` when it is not shown.
async fn delta_json(
    state: &AppState,
    account: &V2Account,
    request: &DeltaRequest,
    change: &ChangeRecord,
    folders: &[FolderRecord],
) -> Result<Option<Value>, V2Error> {
    let grant_id = &account.grant.id;
    let (object, attributes) = match change.object_type.as_str() {
        "message" => {
            let record = match change.kind {
                ChangeKind::Delete => None,
                _ => match state.store.message(grant_id, &change.object_id).await? {
                    Some(record) => Some(record),
                    None => return Ok(None),
                },
            };
            let object = if record.as_ref().is_some_and(|r| r.draft) {
                "draft"
            } else {
                "message"
            };
            let attributes = match record {
                Some(record) => {
                    let folder_ids = state
                        .store
                        .message_folders(grant_id, std::slice::from_ref(&record.id))
                        .await?
                        .remove(&record.id)
                        .unwrap_or_default();
                    let mut value =
                        super::messages::message_json(account, &record, &folder_ids, folders);
                    if request.expanded {
                        super::messages::expand(&mut value, &record);
                    }
                    Some(value)
                }
                None => None,
            };
            (object, attributes)
        }
        "thread" => {
            let attributes = match change.kind {
                ChangeKind::Delete => None,
                _ => match super::threads::thread_value(state, account, &change.object_id, folders)
                    .await?
                {
                    Some(value) => Some(value),
                    None => return Ok(None),
                },
            };
            ("thread", attributes)
        }
        "folder" => {
            let attributes = match change.kind {
                ChangeKind::Delete => None,
                _ => match folders.iter().find(|f| f.id == change.object_id) {
                    Some(folder) => Some(folder_json(folder)),
                    None => return Ok(None),
                },
            };
            ("folder", attributes)
        }
        "contact" => {
            let attributes = match change.kind {
                ChangeKind::Delete => None,
                _ if !super::contacts::contacts_exist(account) => return Ok(None),
                _ => match state.store.contact(grant_id, &change.object_id).await? {
                    Some(contact) => Some(super::contacts::contact_json(&contact)),
                    None => return Ok(None),
                },
            };
            ("contact", attributes)
        }
        "event" => {
            let attributes = match change.kind {
                ChangeKind::Delete => None,
                _ if !account.may_read_content() => return Ok(None),
                _ => match state.store.event(grant_id, &change.object_id).await? {
                    Some(event) => Some(super::calendars::event_json(
                        &event,
                        &crate::v3::calendars::calendar_id(&account.grant),
                    )),
                    None => return Ok(None),
                },
            };
            ("event", attributes)
        }
        _ => return Ok(None),
    };
    if !request.shown.contains(&object) {
        return Ok(None);
    }
    let mut delta = json!({
        "id": change.object_id,
        "cursor": change.cursor.encode(),
        "event": change.kind.as_str(),
        "object": object,
    });
    if let Some(attributes) = attributes {
        delta["attributes"] = attributes;
    }
    Ok(Some(delta))
}
