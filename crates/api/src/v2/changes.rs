//! v2's changes to mail: `PUT /messages/{id}` (`unread`, `starred`, `folder_id`) and
//! `POST /send` (v2's JSON, or raw MIME as `message/rfc822`), carried out by the same
//! mailbox changes and composition as v3's, under the same scopes.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, header::CONTENT_TYPE},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    account_auth::V2Account, compose::V2Compose, error::V2Error, folders::not_found,
    messages::message_json,
};
use crate::{
    error::ApiError,
    grant_access::GrantAccess,
    mailboxes::{MessageUpdate, OutgoingMail},
    router::AppState,
    v3::outgoing_mail::{Purpose, compose, compose_error, reply_context},
};

/// The most a raw message sent as `message/rfc822` may weigh (the router's mail bound).
const MAX_RAW_BYTES: usize = crate::router::MAX_MAIL_BODY_BYTES;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    #[serde(default)]
    unread: Option<bool>,
    #[serde(default)]
    starred: Option<bool>,
    #[serde(default)]
    folder_id: Option<String>,
}

pub async fn update_message(
    State(state): State<AppState>,
    account: V2Account,
    Path(message_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let request: UpdateRequest = serde_json::from_slice(&body).map_err(|e| {
        V2Error::invalid_request(format!("the body takes unread, starred and folder_id: {e}"))
    })?;
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
    state
        .mailboxes
        .update_messages(
            grant_id,
            std::slice::from_ref(&record.id),
            &MessageUpdate {
                unread: request.unread,
                starred: request.starred,
                // v2's folder accounts hold a message in one folder: it moves there.
                folders: request.folder_id.map(|f| vec![f]),
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
    let folder_ids = state
        .store
        .message_folders(grant_id, std::slice::from_ref(&id))
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(Json(message_json(account, &record, &folder_ids, &folders)))
}
