//! From index records to the v3 Message JSON, with `select` and `fields` applied.

use mailroom_model::v3::{Attachment, Header, Message};
use mailroom_store::MessageRecord;
use serde_json::{Map, Value};

use crate::{error::ApiError, extract::QueryParams};

/// What `fields` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    Standard,
    IncludeHeaders,
    /// With `tracking_options` as the message was sent with them (docs/API.md §5.2).
    IncludeTrackingOptions,
    RawMime,
}

impl Fields {
    pub fn from_query(query: &QueryParams) -> Result<Self, ApiError> {
        match query.get("fields") {
            None | Some("standard") => Ok(Fields::Standard),
            Some("include_tracking_options") => Ok(Fields::IncludeTrackingOptions),
            Some("include_headers") | Some("include_basic_headers") => Ok(Fields::IncludeHeaders),
            Some("raw_mime") => Ok(Fields::RawMime),
            Some(other) => Err(ApiError::bad_request(format!(
                "'fields' must be standard, include_headers, include_tracking_options or raw_mime, not '{other}'"
            ))),
        }
    }
}

pub fn to_message(record: &MessageRecord, folders: Vec<String>, fields: Fields) -> Message {
    let attachments = record
        .attachments
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    Some(Attachment {
                        id: a["id"].as_str()?.to_owned(),
                        grant_id: record.grant_id.to_string(),
                        filename: a["filename"]
                            .as_str()
                            .map(super::attachments::safe_filename),
                        content_type: a["content_type"]
                            .as_str()
                            .unwrap_or("application/octet-stream")
                            .to_owned(),
                        size: a["size"].as_u64().unwrap_or(0),
                        content_id: a["content_id"].as_str().map(str::to_owned),
                        content_disposition: a["content_disposition"].as_str().map(str::to_owned),
                        is_inline: a["is_inline"].as_bool().unwrap_or(false),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Message {
        id: record.id.clone(),
        grant_id: record.grant_id.to_string(),
        object: "message",
        thread_id: record.thread_id.clone(),
        subject: record.subject.clone(),
        from: record.from.clone(),
        to: record.to.clone(),
        cc: record.cc.clone(),
        bcc: record.bcc.clone(),
        reply_to: record.reply_to.clone(),
        date: record.date,
        unread: record.unread,
        starred: record.starred,
        snippet: record.snippet.clone(),
        body: record.body_html.clone(),
        attachments,
        folders,
        headers: (fields == Fields::IncludeHeaders).then(|| {
            record
                .headers
                .iter()
                .map(|(name, value)| Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect()
        }),
        created_at: record.created_at,
        schedule_id: None,
        send_at: None,
        metadata: record.metadata.clone(),
        tracking_options: None,
    }
}

/// Keeps only the fields `select` names (plus `id`, `grant_id` and `object`, which the
/// SDKs need to parse anything).
pub fn apply_select(value: Value, query: &QueryParams) -> Value {
    let selected = query.list("select");
    if selected.is_empty() {
        return value;
    }
    match value {
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .into_iter()
                .filter(|(k, _)| {
                    matches!(k.as_str(), "id" | "grant_id" | "object")
                        || selected.iter().any(|s| s == k)
                })
                .collect();
            Value::Object(kept)
        }
        other => other,
    }
}

/// Blanks what `email.metadata` may not see: the body and the snippet (kept as empty
/// strings, so that clients typing them as strings do not break).
pub fn withhold_content(object: &mut Value) {
    for field in ["body", "snippet"] {
        if let Some(value) = object.get_mut(field) {
            *value = Value::String(String::new());
        }
    }
}
