//! `GET /messages[/{id}]` in v2's shape, with v2's filters (`subject`, `any_email`,
//! `to`, `from`, `cc`, `bcc`, `in` by folder id, role or name, `unread`, `starred`,
//! `received_before`, `received_after`, `thread_id`, `has_attachment`), paging and
//! views; `Accept: message/rfc822` answers a message's raw MIME.

use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, header::ACCEPT, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
};
use mailroom_store::{FolderRecord, MessageQuery, MessageRecord};
use serde_json::{Value, json};

use super::{
    account_auth::V2Account,
    error::V2Error,
    folders::{folder_json, not_found, role},
    listing::{Paging, View, walk_messages},
};
use crate::clip::clip;
use crate::{
    extract::QueryParams,
    router::AppState,
    v3::{
        message_json::{Fields, to_message, withhold_content},
        messages::{MAX_LIST_VALUES, fetch_error},
    },
};

pub async fn list_messages(
    State(state): State<AppState>,
    account: V2Account,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
    let paging = Paging::from_query(&query)?;
    let folders = state.store.folders(&account.grant.id).await?;
    let filter = message_filter(&query, &folders)?;
    let grant_id = &account.grant.id;
    Ok(Json(match paging.view {
        View::Count => {
            let all = walk_messages(&state.store, grant_id, &filter, 0, None).await?;
            json!({"count": all.len()})
        }
        View::Ids => {
            let page = walk_messages(
                &state.store,
                grant_id,
                &filter,
                paging.offset,
                Some(paging.limit),
            )
            .await?;
            Value::Array(page.into_iter().map(|(m, _)| Value::String(m.id)).collect())
        }
        view @ (View::Objects | View::Expanded) => {
            let page = walk_messages(
                &state.store,
                grant_id,
                &filter,
                paging.offset,
                Some(paging.limit),
            )
            .await?;
            let mut values = Vec::with_capacity(page.len());
            for (record, ids) in &page {
                let mut value = message_json(&account, record, ids, &folders);
                if view == View::Expanded {
                    // Lists leave the header block out; the expanded view reads it.
                    let full = state.store.message(grant_id, &record.id).await?;
                    expand(&mut value, full.as_ref().unwrap_or(record));
                }
                values.push(value);
            }
            Value::Array(values)
        }
    }))
}

pub async fn get_message(
    State(state): State<AppState>,
    account: V2Account,
    headers: HeaderMap,
    Path(message_id): Path<String>,
    query: QueryParams,
) -> Result<Response, V2Error> {
    let grant_id = &account.grant.id;
    let record = state
        .store
        .message(grant_id, &message_id)
        .await?
        .ok_or_else(|| not_found("message", &message_id))?;
    let raw = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("message/rfc822"));
    if raw {
        if !account.may_read_content() {
            account.require(crate::grant_routes::CONTENT_SCOPES)?;
        }
        let bytes = state
            .mailboxes
            .fetch_raw_message(grant_id, &record.id)
            .await
            .map_err(|e| V2Error::from_api(fetch_error(e)))?;
        let mut response = Body::from(bytes).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("message/rfc822"));
        return Ok(response);
    }
    let folder_ids = state
        .store
        .message_folders(grant_id, std::slice::from_ref(&record.id))
        .await?
        .remove(&record.id)
        .unwrap_or_default();
    let folders = state.store.folders(grant_id).await?;
    let mut value = message_json(&account, &record, &folder_ids, &folders);
    if query.get("view") == Some("expanded") {
        expand(&mut value, &record);
    }
    Ok(Json(value).into_response())
}

/// `view=expanded`: the threading headers v2 added to a message (RFC 5322 §3.6.4).
pub fn expand(value: &mut Value, record: &MessageRecord) {
    let header = |name: &str| {
        record
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| Value::String(v.clone()))
            .unwrap_or(Value::Null)
    };
    let message_id = match header("Message-Id") {
        Value::Null => record
            .message_id_header
            .as_ref()
            .map_or(Value::Null, |id| Value::String(format!("<{id}>"))),
        found => found,
    };
    value["headers"] = json!({
        "Message-Id": message_id,
        "In-Reply-To": header("In-Reply-To"),
        "References": header("References"),
    });
}

/// v2's filters as the index's query.
pub(super) fn message_filter(
    query: &QueryParams,
    folders: &[FolderRecord],
) -> Result<MessageQuery, V2Error> {
    let list = |key: &str| -> Result<Vec<String>, V2Error> {
        let values = query.list(key);
        if values.len() > MAX_LIST_VALUES {
            return Err(V2Error::invalid_request(format!(
                "'{key}' takes at most {MAX_LIST_VALUES} values"
            )));
        }
        Ok(values)
    };
    let folder_ids = match query.get("in") {
        None => Vec::new(),
        Some(wanted) => vec![folder_id(wanted, folders)?],
    };
    let int = |key: &str| query.int(key).map_err(V2Error::from_api);
    let flag = |key: &str| query.bool(key).map_err(V2Error::from_api);
    Ok(MessageQuery {
        subject: query.get("subject").map(str::to_owned),
        any_email: list("any_email")?,
        from: list("from")?,
        to: list("to")?,
        cc: list("cc")?,
        bcc: list("bcc")?,
        folder_ids,
        unread: flag("unread")?,
        starred: flag("starred")?,
        thread_id: query.get("thread_id").map(str::to_owned),
        received_before: int("received_before")?,
        received_after: int("received_after")?,
        has_attachment: flag("has_attachment")?,
        ..MessageQuery::default()
    })
}

/// v2's `in`: a folder's id, role (`inbox`, `sent`, …) or name.
fn folder_id(wanted: &str, folders: &[FolderRecord]) -> Result<String, V2Error> {
    folders
        .iter()
        .find(|f| f.id == wanted)
        .or_else(|| folders.iter().find(|f| role(f) == Some(wanted)))
        .or_else(|| folders.iter().find(|f| f.name.eq_ignore_ascii_case(wanted)))
        .map(|f| f.id.clone())
        .ok_or_else(|| {
            V2Error::invalid_request(format!(
                "'in' names no folder of this account: '{}'",
                clip(wanted, 128)
            ))
        })
}

/// A message as v2 showed it: its account, one `folder` (the first of its folders), its
/// attachments as `files`.
pub fn message_json(
    account: &V2Account,
    record: &MessageRecord,
    folder_ids: &[String],
    folders: &[FolderRecord],
) -> Value {
    let mut v3 = serde_json::to_value(to_message(record, folder_ids.to_vec(), Fields::Standard))
        .unwrap_or(Value::Null);
    if !account.may_read_content() {
        withhold_content(&mut v3);
    }
    let folder = folder_ids
        .iter()
        .find_map(|id| folders.iter().find(|f| &f.id == id))
        .map(folder_json)
        .unwrap_or(Value::Null);
    let files: Vec<Value> = v3["attachments"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|a| {
                    json!({
                        "id": a["id"],
                        "object": "file",
                        "account_id": record_grant(record),
                        "content_type": a["content_type"],
                        "filename": a["filename"],
                        "size": a["size"],
                        "content_id": a.get("content_id").cloned().unwrap_or(Value::Null),
                        "content_disposition": if a["is_inline"] == true { "inline" } else { "attachment" },
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": v3["id"],
        "object": if record.draft { "draft" } else { "message" },
        "account_id": record_grant(record),
        "thread_id": v3["thread_id"],
        "subject": v3["subject"],
        "from": v3["from"],
        "to": v3["to"],
        "cc": v3["cc"],
        "bcc": v3["bcc"],
        "reply_to": v3["reply_to"],
        "date": v3["date"],
        "unread": v3["unread"],
        "starred": v3["starred"],
        "snippet": v3["snippet"],
        "body": v3["body"],
        "files": files,
        "events": [],
        "folder": folder,
    })
}

fn record_grant(record: &MessageRecord) -> &str {
    record.grant_id.as_str()
}
