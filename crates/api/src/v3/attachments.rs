//! `GET /v3/grants/{grant_id}/attachments/{id}[/download]?message_id=…`.

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use crate::clip::clip;
use crate::{
    envelope::Item,
    error::ApiError,
    extract::QueryParams,
    grant_access::GrantAccess,
    router::AppState,
    v3::{
        message_json::{Fields, to_message},
        messages::{fetch_error, find, with_body},
    },
};

/// Attachment ids are `<message id>-<part index>`.
fn part_index(attachment_id: &str, message_id: &str) -> Option<usize> {
    attachment_id
        .strip_prefix(message_id)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

fn message_id_param(query: &QueryParams) -> Result<String, ApiError> {
    query
        .get("message_id")
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("query parameter 'message_id' is required"))
}

fn not_found(attachment_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no attachment with id '{}' in that message",
        clip(attachment_id, 128)
    ))
}

pub async fn get_attachment(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, attachment_id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Item<Value>, ApiError> {
    let message_id = message_id_param(&query)?;
    let record = find(&state, &access, &message_id).await?;
    let record = with_body(&state, &access, record).await?;
    let message = to_message(&record, Vec::new(), Fields::Standard);
    let attachment = message
        .attachments
        .into_iter()
        .find(|a| a.id == attachment_id)
        .ok_or_else(|| not_found(&attachment_id))?;
    Ok(Item::ok(
        serde_json::to_value(attachment).unwrap_or(Value::Null),
    ))
}

pub async fn download_attachment(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, attachment_id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let message_id = message_id_param(&query)?;
    let record = find(&state, &access, &message_id).await?;
    let index = part_index(&attachment_id, &record.id).ok_or_else(|| not_found(&attachment_id))?;
    let raw = state
        .mailboxes
        .fetch_raw_message(&access.grant.id, &record.id)
        .await
        .map_err(fetch_error)?;
    let (info, bytes) =
        mailroom_mime::attachment_content(&raw, index).ok_or_else(|| not_found(&attachment_id))?;
    Ok(attachment_response(
        bytes,
        &info.content_type,
        info.filename.as_deref(),
    ))
}

/// An attachment's bytes as a download: its type, and a disposition with its name.
pub(crate) fn attachment_response(
    bytes: Vec<u8>,
    content_type: &str,
    filename: Option<&str>,
) -> Response {
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    let filename = filename.map(safe_filename);
    headers.insert(
        header::CONTENT_DISPOSITION,
        content_disposition(filename.as_deref().unwrap_or("attachment")),
    );
    // The content is the sender's: a browser must neither guess its type nor run it
    // as a page of this origin, and no shared cache may keep it.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// A filename a client can save under without leaving its folder: the last path
/// component, no control characters, no leading dots; "attachment" if nothing is left.
pub(crate) fn safe_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "attachment".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// `attachment` with the name twice (RFC 6266 §4.3): an ASCII fallback, and the exact
/// name percent-encoded as UTF-8 (RFC 8187).
fn content_disposition(filename: &str) -> HeaderValue {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in filename.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_lose_their_paths_and_leading_dots() {
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(safe_filename(".."), "attachment");
        assert_eq!(safe_filename(".bashrc"), "bashrc");
        assert_eq!(safe_filename("report\r\n.pdf"), "report.pdf");
        assert_eq!(safe_filename("Rapport été.pdf"), "Rapport été.pdf");
    }

    #[test]
    fn content_disposition_is_an_attachment_with_an_ascii_fallback() {
        assert_eq!(
            content_disposition("été \"x\".pdf"),
            "attachment; filename=\"_t_ _x_.pdf\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22.pdf"
        );
    }
}
