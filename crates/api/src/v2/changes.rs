//! v2's changes to mail: `PUT /messages/{id}` (`unread`, `starred`, `folder_id` or the
//! older `folder`; the read-only fields of the message shown are accepted and ignored) and
//! `POST /send` (v2's JSON, or raw MIME as `message/rfc822`), carried out by the same
//! mailbox changes and composition as v3's, under the same scopes.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, header::CONTENT_TYPE},
};
use serde_json::{Map, Value, json};

use super::{
    account_auth::V2Account, compose::V2Compose, error::V2Error, folders::not_found,
    messages::message_json,
};
use crate::clip::clip;
use crate::{
    error::ApiError,
    grant_access::GrantAccess,
    mailboxes::{MessageUpdate, OutgoingMail},
    router::AppState,
    v3::outgoing_mail::{Purpose, compose, compose_error, reply_context},
};

/// The most a raw message sent as `message/rfc822` may weigh (the router's mail bound).
const MAX_RAW_BYTES: usize = crate::router::MAX_MAIL_BODY_BYTES;

/// Fields a v2 message shows but `PUT` cannot change. The Python SDK's `Message.save()`
/// sends the whole object back, read-only fields and all: those are left alone, as
/// `compose::READ_ONLY` does for drafts.
const MESSAGE_READ_ONLY: &[&str] = &[
    "id",
    "object",
    "account_id",
    "thread_id",
    "subject",
    "from",
    "to",
    "cc",
    "bcc",
    "reply_to",
    "date",
    "snippet",
    "body",
    "files",
    "events",
    "headers",
    "job_status_id",
];

/// What a `PUT /messages/{id}` changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UpdateRequest {
    unread: Option<bool>,
    starred: Option<bool>,
    folder_id: Option<String>,
}

impl UpdateRequest {
    /// `unread`, `starred` and the folder, as `folder_id` or as v2's older `folder`
    /// (the Python SDK's `update_folder` sends `{"folder": id}`; `save()` sends the
    /// folder object shown, whose `id` is taken). `metadata` may only be null; another
    /// field is refused unless it is one the message shows.
    pub fn parse(body: &[u8]) -> Result<Self, V2Error> {
        let refuse = |why: String| V2Error::invalid_request(why);
        let mut fields: Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
            refuse(format!(
                "the body is a JSON object of unread, starred and folder_id: {e}"
            ))
        })?;
        let flag = |fields: &mut Map<String, Value>, key: &str| match fields.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(refuse(format!("'{key}' must be true or false"))),
        };
        let unread = flag(&mut fields, "unread")?;
        let starred = flag(&mut fields, "starred")?;
        let folder_id = match fields.remove("folder_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id),
            Some(_) => return Err(refuse("'folder_id' must be a folder's id".into())),
        };
        let folder = match fields.remove("folder") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id),
            Some(Value::Object(folder)) => match folder.get("id") {
                Some(Value::String(id)) => Some(id.clone()),
                _ => return Err(refuse("'folder' names no folder's id".into())),
            },
            Some(_) => return Err(refuse("'folder' must be a folder's id".into())),
        };
        if fields.get("metadata").is_some_and(|m| !m.is_null()) {
            return Err(refuse("metadata is not supported by this server".into()));
        }
        fields.remove("metadata");
        if let Some(unknown) = fields
            .keys()
            .find(|k| !MESSAGE_READ_ONLY.contains(&k.as_str()))
        {
            return Err(refuse(format!(
                "only unread, starred and folder_id can be changed, not '{}'",
                clip(unknown, 64)
            )));
        }
        Ok(Self {
            unread,
            starred,
            folder_id: folder_id.or(folder),
        })
    }
}

pub async fn update_message(
    State(state): State<AppState>,
    account: V2Account,
    Path(message_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let request = UpdateRequest::parse(&body)?;
    let grant_id = &account.grant.id;
    let record = state
        .store
        .message(grant_id, &message_id)
        .await?
        .ok_or_else(|| not_found("message", &message_id))?;
    let folders = state.store.folders(grant_id).await?;
    if let Some(folder) = &request.folder_id
        && !folders.iter().any(|f| &f.id == folder)
    {
        return Err(not_found("folder", folder));
    }
    // A save that sends back the folder the message is in moves nothing.
    let folder_ids = state
        .store
        .message_folders(grant_id, std::slice::from_ref(&record.id))
        .await?
        .remove(&record.id)
        .unwrap_or_default();
    let move_to = request
        .folder_id
        .filter(|f| folder_ids.len() != 1 || &folder_ids[0] != f);
    state
        .mailboxes
        .update_messages(
            grant_id,
            std::slice::from_ref(&record.id),
            &MessageUpdate {
                unread: request.unread,
                starred: request.starred,
                // v2's folder accounts hold a message in one folder: it moves there.
                folders: move_to.map(|f| vec![f]),
            },
        )
        .await
        .map_err(|e| V2Error::from_api(ApiError::from(e)))?;
    let record = state
        .store
        .message(grant_id, &record.id)
        .await?
        .ok_or_else(|| not_found("message", &message_id))?;
    let folder_ids = state
        .store
        .message_folders(grant_id, std::slice::from_ref(&record.id))
        .await?
        .remove(&record.id)
        .unwrap_or_default();
    Ok(Json(message_json(&account, &record, &folder_ids, &folders)))
}

pub async fn send(
    State(state): State<AppState>,
    account: V2Account,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let access = GrantAccess {
        grant: account.grant.clone(),
        scope: account.scope.clone().unwrap_or_default(),
    };
    let raw = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("message/rfc822"));
    let api = V2Error::from_api;
    let (mail, answering) = if raw {
        if body.len() > MAX_RAW_BYTES {
            return Err(V2Error::invalid_request("the message is too large"));
        }
        let envelope = mailroom_mime::raw_envelope(&body).map_err(|e| api(compose_error(e)))?;
        let mail = OutgoingMail {
            message: body.to_vec(),
            envelope_from: account.grant.email.as_str().to_owned(),
            recipients: envelope.recipients,
        };
        (mail, None)
    } else {
        let request = V2Compose::parse(&body)?;
        if let Some(draft_id) = &request.draft_id {
            let id = super::drafts::send_draft(&state, &account, draft_id, request.version).await?;
            return sent(&state, &account, Some(id), None).await;
        }
        let attachments = super::uploads::attachments(&state, &account, request.file_ids()).await?;
        let compose_request = request.compose_request()?;
        let reply = reply_context(
            &state,
            &access,
            compose_request.reply_to_message_id.as_deref(),
        )
        .await
        .map_err(api)?;
        let composed = compose(
            &access,
            &compose_request,
            &attachments,
            &reply,
            Purpose::Send,
            None,
        )
        .map_err(api)?;
        let mail = OutgoingMail {
            message: composed.built.bytes.clone(),
            envelope_from: composed.envelope_from.clone(),
            recipients: composed.recipients.clone(),
        };
        (mail, composed.answering)
    };
    let receipt = state
        .mailboxes
        .send(&account.grant.id, &mail, answering.as_deref())
        .await
        .map_err(|e| api(ApiError::from(e)))?;
    sent(
        &state,
        &account,
        receipt.message_id,
        receipt.sent_copy_error,
    )
    .await
}

/// The answer to a send: the sent message as filed in Sent.
async fn sent(
    state: &AppState,
    account: &V2Account,
    id: Option<String>,
    sent_copy_error: Option<String>,
) -> Result<Json<Value>, V2Error> {
    let grant_id = &account.grant.id;
    let Some(id) = id else {
        // Sent, but not filed in Sent: nothing in the index to show.
        return Ok(Json(json!({
            "object": "message",
            "account_id": grant_id.as_str(),
            "sent_copy_error": sent_copy_error,
        })));
    };
    let record = state
        .store
        .message(grant_id, &id)
        .await?
        .ok_or_else(|| not_found("message", &id))?;
    let folders = state.store.folders(grant_id).await?;
    let mut folder_ids = state
        .store
        .message_folders(grant_id, std::slice::from_ref(&id))
        .await?
        .remove(&id)
        .unwrap_or_default();
    // v2 shows one folder: for a message just sent, Sent, even when it also arrived in
    // the sender's own Inbox (mail to oneself is one message in both).
    folder_ids.sort_by_key(|folder_id| {
        folders
            .iter()
            .find(|f| &f.id == folder_id)
            .and_then(super::folders::role)
            != Some("sent")
    });
    Ok(Json(message_json(account, &record, &folder_ids, &folders)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_takes_the_flags_and_the_folder_under_either_name() {
        let parse = |body: &str| UpdateRequest::parse(body.as_bytes());
        assert_eq!(
            parse(r#"{"unread":false,"starred":true,"folder_id":"f1"}"#).unwrap(),
            UpdateRequest {
                unread: Some(false),
                starred: Some(true),
                folder_id: Some("f1".into()),
            }
        );
        assert_eq!(
            parse(r#"{"folder":"f2"}"#).unwrap().folder_id.as_deref(),
            Some("f2")
        );
        // What the Python SDK's save() sends: the whole message, its folder as shown.
        let saved = r#"{"subject":"Hi","from":[{"email":"a@example.test"}],"to":[],"cc":[],
            "bcc":[],"reply_to":[],"date":1,"snippet":"","body":"","files":[],"events":[],
            "thread_id":"t","unread":true,"starred":false,
            "folder":{"id":"f3","object":"folder","name":"inbox","display_name":"INBOX"}}"#;
        assert_eq!(
            parse(saved).unwrap(),
            UpdateRequest {
                unread: Some(true),
                starred: Some(false),
                folder_id: Some("f3".into()),
            }
        );
        assert_eq!(
            parse(r#"{"folder_id":"f4","folder":"f5"}"#)
                .unwrap()
                .folder_id
                .as_deref(),
            Some("f4")
        );
        assert_eq!(
            parse(r#"{"metadata":null}"#).unwrap(),
            UpdateRequest::default()
        );
        for refused in [
            r#"{"labels":[]}"#,
            r#"{"label_ids":["l"]}"#,
            r#"{"metadata":{"k":"v"}}"#,
            r#"{"unread":"no"}"#,
            r#"{"folder":{"name":"inbox"}}"#,
            r#"[]"#,
        ] {
            assert!(parse(refused).is_err(), "{refused}");
        }
    }
}
