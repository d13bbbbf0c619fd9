//! `/files` in v2's shapes: `GET /files` lists the attachments of the account's mail
//! (newest message first, with the filters `filename`, `content_type` and `message_id`,
//! paging and views), `GET /files/{id}[/download]` shows one or its bytes, `POST
//! /files` keeps uploaded files (multipart/form-data, as the v2 SDKs send them, part
//! `file`) for a draft or a send of the same account to attach by id, and `DELETE
//! /files/{id}` drops an upload.
//!
//! An attachment's id is `<message id>-<part index>`, as in v3. What a message carries
//! is known from its body; a list reads the bodies the index still lacks from the mail
//! server, a bounded number per request.

use axum::{
    Json,
    extract::{FromRequest, Multipart, Path, Request, State, multipart::MultipartError},
    http::StatusCode,
    response::Response,
};
use mailroom_store::{MessageQuery, MessageRecord, UploadQuota, UploadRecord, UploadRefused};
use serde_json::{Value, json};

use super::{
    account_auth::V2Account,
    error::V2Error,
    folders::not_found,
    listing::{Paging, View},
};
use crate::{
    extract::QueryParams,
    grant_routes::{READ, READ_CONTENT},
    mailboxes::FetchFailure,
    router::AppState,
    v3::{
        attachments::{attachment_response, safe_filename},
        message_json::{Fields, to_message},
        messages::fetch_error,
    },
};

/// Messages read from the index per step of a list.
const STEP: i64 = 200;
/// Bodies one list request may read from the mail server; each is kept in the index, so
/// the next request goes further.
const MAX_BODY_READS: usize = 25;

pub async fn list_files(
    State(state): State<AppState>,
    account: V2Account,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
    let paging = Paging::from_query(&query)?;
    let wanted = Wanted {
        filename: query.get("filename").map(str::to_owned),
        content_type: query.get("content_type").map(str::to_owned),
        message_id: query.get("message_id").map(str::to_owned),
    };
    let (offset, limit) = match paging.view {
        View::Count => (0, None),
        _ => (paging.offset, Some(paging.limit)),
    };
    let files = walk_files(&state, &account, &wanted, offset, limit).await?;
    Ok(Json(match paging.view {
        View::Count => json!({"count": files.len()}),
        View::Ids => files.into_iter().map(|f| f["id"].clone()).collect(),
        View::Objects | View::Expanded => Value::Array(files),
    }))
}

pub async fn get_file(
    State(state): State<AppState>,
    account: V2Account,
    Path(file_id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    if let Some(upload) = state.store.upload(&account.grant.id, &file_id).await? {
        return Ok(Json(upload_json(&upload)));
    }
    account.require(READ)?;
    let (record, _) = attachment_message(&state, &account, &file_id).await?;
    let mut reads = 0;
    message_files(&state, &account, record, &mut reads)
        .await?
        .into_iter()
        .find(|f| f["id"] == file_id.as_str())
        .map(Json)
        .ok_or_else(|| not_found("file", &file_id))
}

pub async fn download_file(
    State(state): State<AppState>,
    account: V2Account,
    Path(file_id): Path<String>,
) -> Result<Response, V2Error> {
    let grant_id = &account.grant.id;
    if let Some((filename, content_type, bytes)) =
        state.store.uploaded_file(grant_id, &file_id).await?
    {
        return Ok(attachment_response(bytes, &content_type, Some(&filename)));
    }
    account.require(READ_CONTENT)?;
    let (record, index) = attachment_message(&state, &account, &file_id).await?;
    let raw = state
        .mailboxes
        .fetch_raw_message(grant_id, &record.id)
        .await
        .map_err(|e| V2Error::from_api(fetch_error(e)))?;
    let (info, bytes) = mailroom_mime::attachment_content(&raw, index)
        .ok_or_else(|| not_found("file", &file_id))?;
    Ok(attachment_response(
        bytes,
        &info.content_type,
        info.filename.as_deref(),
    ))
}

/// Keeps each part of a multipart/form-data body as an upload of the account, and
/// answers the files made, in order.
pub async fn upload_files(
    State(state): State<AppState>,
    account: V2Account,
    request: Request,
) -> Result<Json<Value>, V2Error> {
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|_| {
        V2Error::invalid_request(
            "POST /files takes a multipart/form-data body with the file in a part named 'file'",
        )
    })?;
    let mut made = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let filename = field
            .file_name()
            .or(field.name())
            .map(safe_filename)
            .unwrap_or_else(|| "file".to_owned());
        let content_type = field
            .content_type()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let content = field.bytes().await.map_err(unreadable)?;
        let stored = state
            .store
            .store_upload(
                &account.grant.id,
                &filename,
                &content_type,
                &content,
                &UploadQuota::default(),
            )
            .await?;
        match stored {
            Ok(upload) => made.push(upload_json(&upload)),
            Err(UploadRefused::OverQuota(reason)) => {
                return Err(V2Error::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "api_error",
                    reason,
                ));
            }
        }
    }
    if made.is_empty() {
        return Err(V2Error::invalid_request(
            "the multipart/form-data body holds no file; send it in a part named 'file'",
        ));
    }
    Ok(Json(Value::Array(made)))
}

pub async fn delete_file(
    State(state): State<AppState>,
    account: V2Account,
    Path(file_id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    if state
        .store
        .delete_upload(&account.grant.id, &file_id)
        .await?
    {
        return Ok(Json(json!({"success": true})));
    }
    Err(not_found("file", &file_id))
}

/// What a list asks for.
struct Wanted {
    filename: Option<String>,
    content_type: Option<String>,
    message_id: Option<String>,
}

impl Wanted {
    fn admits(&self, file: &Value) -> bool {
        let matches = |key: &str, wanted: &Option<String>, exact: bool| match wanted {
            None => true,
            Some(wanted) => file[key].as_str().is_some_and(|value| {
                if exact {
                    value == wanted
                } else {
                    value.eq_ignore_ascii_case(wanted)
                }
            }),
        };
        matches("filename", &self.filename, true)
            && matches("content_type", &self.content_type, false)
    }
}

/// Files from `offset` that `wanted` admits, at most `limit` (`None`: all, for a count),
/// from the messages with attachments newest first (or the one message named).
async fn walk_files(
    state: &AppState,
    account: &V2Account,
    wanted: &Wanted,
    offset: i64,
    limit: Option<i64>,
) -> Result<Vec<Value>, V2Error> {
    let grant_id = &account.grant.id;
    let mut reads = 0;
    let mut skipped = 0;
    let mut taken = Vec::new();
    let mut query = MessageQuery {
        has_attachment: Some(true),
        limit: STEP,
        ..MessageQuery::default()
    };
    loop {
        let (page, full) = match &wanted.message_id {
            Some(id) => {
                let one = state.store.message(grant_id, id).await?;
                (one.into_iter().collect::<Vec<_>>(), false)
            }
            None => {
                let page: Vec<MessageRecord> = state
                    .store
                    .list_messages_with_folders(grant_id, &query, false)
                    .await?
                    .into_iter()
                    .map(|(record, _)| record)
                    .collect();
                let full = page.len() as i64 == STEP;
                query.after = page.last().map(|m| (m.date, m.id.clone()));
                (page, full)
            }
        };
        for record in page {
            for file in message_files(state, account, record, &mut reads).await? {
                if !wanted.admits(&file) {
                    continue;
                }
                if skipped < offset {
                    skipped += 1;
                    continue;
                }
                if limit.is_some_and(|limit| taken.len() as i64 >= limit) {
                    return Ok(taken);
                }
                taken.push(file);
            }
        }
        if !full {
            return Ok(taken);
        }
    }
}

/// The attachments of a message as v2's files, its body read from the mail server
/// first if the index lacks it (counted in `reads`); none if it has left the server.
async fn message_files(
    state: &AppState,
    account: &V2Account,
    record: MessageRecord,
    reads: &mut usize,
) -> Result<Vec<Value>, V2Error> {
    let grant_id = &account.grant.id;
    let record = if record.body_html.is_some() {
        record
    } else {
        if *reads >= MAX_BODY_READS {
            return Err(still_reading());
        }
        *reads += 1;
        match state
            .mailboxes
            .fetch_raw_message(grant_id, &record.id)
            .await
        {
            Ok(_) => {}
            Err(FetchFailure::Gone) => return Ok(Vec::new()),
            Err(e) => return Err(V2Error::from_api(fetch_error(e))),
        }
        match state.store.message(grant_id, &record.id).await? {
            Some(record) => record,
            None => return Ok(Vec::new()),
        }
    };
    let message = to_message(&record, Vec::new(), Fields::Standard);
    Ok(message
        .attachments
        .into_iter()
        .map(|a| {
            json!({
                "id": a.id,
                "object": "file",
                "account_id": record.grant_id.as_str(),
                "content_type": a.content_type,
                "filename": a.filename,
                "size": a.size,
                "content_id": a.content_id,
                "content_disposition": if a.is_inline { "inline" } else { "attachment" },
                "message_ids": [record.id],
            })
        })
        .collect())
}

/// The message an attachment id names, and the attachment's part index.
async fn attachment_message(
    state: &AppState,
    account: &V2Account,
    file_id: &str,
) -> Result<(MessageRecord, usize), V2Error> {
    let (message_id, index) = file_id
        .rsplit_once('-')
        .and_then(|(message_id, index)| Some((message_id, index.parse::<usize>().ok()?)))
        .ok_or_else(|| not_found("file", file_id))?;
    let record = state
        .store
        .message(&account.grant.id, message_id)
        .await?
        .ok_or_else(|| not_found("file", file_id))?;
    Ok((record, index))
}

fn upload_json(upload: &UploadRecord) -> Value {
    json!({
        "id": upload.id,
        "object": "file",
        "account_id": upload.grant_id.as_str(),
        "content_type": upload.content_type,
        "filename": upload.filename,
        "size": upload.size,
        "content_id": null,
        "content_disposition": "attachment",
        "message_ids": [],
    })
}

/// More message bodies to read than one request reads.
fn still_reading() -> V2Error {
    V2Error::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "api_error",
        format!(
            "the attachments of more messages than one request reads ({MAX_BODY_READS}) are not known yet; \
             those read are kept, so asking again goes further"
        ),
    )
}

fn unreadable(e: MultipartError) -> V2Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        V2Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!(
                "the upload is larger than the limit of {} bytes",
                crate::router::MAX_MAIL_BODY_BYTES
            ),
        )
    } else {
        V2Error::invalid_request(format!("the multipart/form-data body cannot be read: {e}"))
    }
}
