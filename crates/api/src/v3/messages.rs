//! `GET /v3/grants/{grant_id}/messages[/{message_id}]`, answered from the local index.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use mailroom_model::v3::Message;
use mailroom_store::{MessageQuery, MessageRecord};
use serde_json::{Value, json};

use crate::clip::clip;
use crate::{
    cursor,
    envelope::CursorPage,
    envelope::Item,
    error::ApiError,
    extract::QueryParams,
    grant_access::GrantAccess,
    mailboxes::FetchFailure,
    router::AppState,
    v3::message_json::{Fields, apply_select, to_message, withhold_content},
};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
/// The most message bytes (as indexed, before base64) one `fields=raw_mime` list
/// answers with; a page over it is refused with a clear error (ask for a smaller
/// `limit`). One message alone may be as large as `max_message_bytes`.
pub const MAX_RAW_MIME_LIST_BYTES: u64 = 32 * 1024 * 1024;

/// The filters shared by messages and threads.
pub fn message_query(query: &QueryParams) -> Result<MessageQuery, ApiError> {
    let after = query.get("page_token").map(cursor::decode).transpose()?;
    Ok(MessageQuery {
        // Above the maximum a page is simply capped: the Node SDK asks for what remains
        // of its own `limit` and follows `next_cursor` for the rest.
        limit: query
            .bounded("limit", DEFAULT_LIMIT, 1, i64::MAX)?
            .min(MAX_LIMIT),
        after,
        subject: query.get("subject").map(str::to_owned),
        any_email: short_list(query, "any_email")?,
        from: short_list(query, "from")?,
        to: short_list(query, "to")?,
        cc: short_list(query, "cc")?,
        bcc: short_list(query, "bcc")?,
        folder_ids: short_list(query, "in")?,
        unread: query.bool("unread")?,
        starred: query.bool("starred")?,
        thread_id: query.get("thread_id").map(str::to_owned),
        received_before: query.int("received_before")?,
        received_after: query.int("received_after")?,
        has_attachment: query.bool("has_attachment")?,
        metadata_pairs: metadata_pairs(query)?,
        ids: None,
        ..MessageQuery::default()
    })
}

/// Values one list filter may hold: each becomes up to four bound parameters, and the
/// databases take some tens of thousands per statement.
pub const MAX_LIST_VALUES: usize = 100;

/// A list filter (repeated or comma-joined) of at most [`MAX_LIST_VALUES`] values.
fn short_list(query: &QueryParams, key: &str) -> Result<Vec<String>, ApiError> {
    let values = query.list(key);
    if values.len() > MAX_LIST_VALUES {
        return Err(ApiError::bad_request(format!(
            "query parameter '{key}' takes at most {MAX_LIST_VALUES} values, not {}",
            values.len()
        )));
    }
    Ok(values)
}

/// `metadata_pair=key:value`, repeated or comma-joined.
fn metadata_pairs(query: &QueryParams) -> Result<Vec<(String, String)>, ApiError> {
    short_list(query, "metadata_pair")?
        .iter()
        .map(|pair| {
            pair.split_once(':')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "metadata_pair takes key:value, not '{}'",
                        clip(pair, 128)
                    ))
                })
        })
        .collect()
}

/// `in` takes folder ids only: a name or keyword such as `inbox` is refused, as Nylas
/// does, rather than silently matching nothing.
pub async fn check_folder_filter(
    state: &AppState,
    access: &GrantAccess,
    filter: &MessageQuery,
) -> Result<(), ApiError> {
    if filter.folder_ids.is_empty() {
        return Ok(());
    }
    let folders = state.store.folders(&access.grant.id).await?;
    if let Some(unknown) = filter
        .folder_ids
        .iter()
        .find(|id| !folders.iter().any(|f| &f.id == *id))
    {
        return Err(ApiError::bad_request(format!(
            "'in' takes folder ids (see GET /v3/grants/{{grant_id}}/folders); '{}' is not one",
            clip(unknown, 128)
        )));
    }
    Ok(())
}

/// Narrows a query to what `search_query_native` (an IMAP SEARCH) finds, if given.
pub async fn apply_native_search(
    state: &AppState,
    access: &GrantAccess,
    query: &QueryParams,
    filter: &mut MessageQuery,
) -> Result<(), ApiError> {
    if let Some(native) = query.get("search_query_native") {
        // An IMAP SEARCH can look into bodies: more than metadata.
        access.require_content()?;
        let ids = state
            .mailboxes
            .search_native(&access.grant.id, native)
            .await
            .map_err(fetch_error)?;
        filter.ids = Some(ids);
    }
    Ok(())
}

pub async fn list_messages(
    State(state): State<AppState>,
    access: GrantAccess,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let fields = Fields::from_query(&query)?;
    let mut filter = message_query(&query)?;
    let limit = filter.limit;
    check_folder_filter(&state, &access, &filter).await?;
    apply_native_search(&state, &access, &query, &mut filter).await?;
    // One more than asked tells whether another page exists.
    filter.limit = limit + 1;
    let mut records = state
        .store
        .list_messages_with_folders(&access.grant.id, &filter, fields == Fields::IncludeHeaders)
        .await?;
    let more = records.len() as i64 > limit;
    records.truncate(limit as usize);
    let next_cursor = match (more, records.last()) {
        (true, Some((last, _))) => Some(cursor::encode(last.date, &last.id)),
        _ => None,
    };
    // The full header list is stored with the body: read the bodies not read yet, over
    // one session.
    if fields == Fields::IncludeHeaders {
        let missing: Vec<String> = records
            .iter()
            .filter(|(r, _)| r.body_html.is_none())
            .map(|(r, _)| r.id.clone())
            .collect();
        if !missing.is_empty() {
            state
                .mailboxes
                .load_bodies(&access.grant.id, &missing)
                .await
                .map_err(fetch_error)?;
            let mut complete = Vec::with_capacity(records.len());
            for (record, folders) in records {
                let record = if missing.contains(&record.id) {
                    find(&state, &access, &record.id).await?
                } else {
                    record
                };
                complete.push((record, folders));
            }
            records = complete;
        }
    }
    if fields == Fields::RawMime {
        access.require_content()?;
        let ids: Vec<String> = records.iter().map(|(r, _)| r.id.clone()).collect();
        let data: Vec<Value> = state
            .mailboxes
            .fetch_raw_messages(&access.grant.id, &ids, MAX_RAW_MIME_LIST_BYTES)
            .await
            .map_err(fetch_error)?
            .into_iter()
            .map(|(id, raw)| raw_mime_object(&access, &id, &raw))
            .collect();
        return Ok(CursorPage { data, next_cursor }.into_response());
    }
    let tracking = if fields == Fields::IncludeTrackingOptions {
        let headers: Vec<&str> = records
            .iter()
            .filter_map(|(record, _)| record.message_id_header.as_deref())
            .collect();
        state
            .store
            .tracking_options_by_header(&access.grant.id, &headers)
            .await?
    } else {
        Default::default()
    };
    let messages = records.into_iter().map(|(record, folders)| {
        let mut message = to_message(&record, folders, fields);
        if let Some(header) = record.message_id_header.as_deref() {
            message.tracking_options = tracking.get(header).cloned();
        }
        message
    });
    if access.may_read_content() && query.list("select").is_empty() {
        // Nothing to take out: written straight from the structs.
        let data: Vec<Message> = messages.collect();
        return Ok(CursorPage { data, next_cursor }.into_response());
    }
    let data: Vec<Value> = messages
        .map(|message| {
            let mut json = serde_json::to_value(message).unwrap_or(Value::Null);
            if !access.may_read_content() {
                withhold_content(&mut json);
            }
            apply_select(json, &query)
        })
        .collect();
    Ok(CursorPage { data, next_cursor }.into_response())
}

pub async fn get_message(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, message_id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let fields = Fields::from_query(&query)?;
    let record = find(&state, &access, &message_id).await?;
    if fields == Fields::RawMime {
        access.require_content()?;
        let data = raw_mime_json(&state, &access, &record).await?;
        return Ok(Item::ok(data).into_response());
    }
    // Metadata alone never sees the body, but the full header list comes with it.
    let record = if access.may_read_content() || fields == Fields::IncludeHeaders {
        with_body(&state, &access, record).await?
    } else {
        record
    };
    let folders = state
        .store
        .message_folders(&access.grant.id, std::slice::from_ref(&record.id))
        .await?
        .remove(&record.id)
        .unwrap_or_default();
    let mut message = to_message(&record, folders, fields);
    if fields == Fields::IncludeTrackingOptions {
        message.tracking_options = tracking_options_of(&state, &access, &record).await?;
    }
    let mut json = serde_json::to_value(message).unwrap_or(Value::Null);
    if !access.may_read_content() {
        withhold_content(&mut json);
    }
    let data = apply_select(json, &query);
    Ok(Item::ok(data).into_response())
}

/// The tracking a message was sent with, found by its Message-ID.
async fn tracking_options_of(
    state: &AppState,
    access: &GrantAccess,
    record: &MessageRecord,
) -> Result<Option<Value>, ApiError> {
    let Some(header) = record.message_id_header.as_deref() else {
        return Ok(None);
    };
    Ok(state
        .store
        .tracking_options(&access.grant.id, header)
        .await?)
}

/// `fields=raw_mime`: the whole message as base64url, with only the ids beside it.
async fn raw_mime_json(
    state: &AppState,
    access: &GrantAccess,
    record: &MessageRecord,
) -> Result<Value, ApiError> {
    let raw = state
        .mailboxes
        .fetch_raw_message(&access.grant.id, &record.id)
        .await
        .map_err(fetch_error)?;
    Ok(raw_mime_object(access, &record.id, &raw))
}

fn raw_mime_object(access: &GrantAccess, id: &str, raw: &[u8]) -> Value {
    json!({
        "id": id, "grant_id": access.grant.id.as_str(), "object": "message",
        "raw_mime": URL_SAFE_NO_PAD.encode(raw),
    })
}

pub async fn find(
    state: &AppState,
    access: &GrantAccess,
    message_id: &str,
) -> Result<MessageRecord, ApiError> {
    state
        .store
        .message(&access.grant.id, message_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("no message with id '{}'", clip(message_id, 128)))
        })
}

/// The record with its body, reading it from the server if the index lacks it.
pub async fn with_body(
    state: &AppState,
    access: &GrantAccess,
    record: MessageRecord,
) -> Result<MessageRecord, ApiError> {
    if record.body_html.is_some() {
        return Ok(record);
    }
    state
        .mailboxes
        .fetch_raw_message(&access.grant.id, &record.id)
        .await
        .map_err(fetch_error)?;
    find(state, access, &record.id).await
}

pub fn fetch_error(failure: FetchFailure) -> ApiError {
    match failure {
        FetchFailure::Gone => ApiError::not_found("the message is no longer on the mail server"),
        FetchFailure::Provider(reason) => ApiError::new(
            axum::http::StatusCode::GATEWAY_TIMEOUT,
            "api.provider_error",
            format!("the IMAP server could not be read: {reason}"),
        ),
        FetchFailure::TooLarge(reason) => ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "api.invalid_request_error",
            reason,
        ),
        FetchFailure::Invalid(reason) => ApiError::bad_request(reason),
        FetchFailure::Database(e) => e.into(),
    }
}
