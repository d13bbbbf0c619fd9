//! `POST /v3/grants/{grant_id}/messages/send` in its three forms (JSON, multipart with
//! attachment parts, raw MIME with `?type=mime`): sent over SMTP now, or scheduled when
//! `send_at` lies in the future (answered 202, kept across restarts).

use axum::{
    Json,
    extract::{Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use mailroom_model::{time::unix_now, v3::ComposeRequest};
use mailroom_store::{NewScheduledSend, Scheduling};
use serde_json::{Value, json};

use crate::{
    error::ApiError,
    extract::QueryParams,
    grant_access::GrantAccess,
    idempotency::{IdempotencyKey, at_most_once},
    mailboxes::OutgoingMail,
    request_id::current_request_id,
    router::AppState,
    v3::{
        compose_body::{ComposeInput, read_compose},
        message_json::{Fields, to_message},
        outgoing_mail::{
            ComposedMail, Purpose, compose, compose_error, outgoing_attachments, reply_context,
        },
        template_renders::apply_send_template,
        tracked_sends::{prepare_tracking, record_tracking, send_tracked},
    },
};

/// A `send_at` this close to now is sent at once.
const SCHEDULE_AFTER_SECS: i64 = 5;
/// How far ahead a send may be scheduled.
const SCHEDULE_LIMIT_SECS: i64 = 2 * 365 * 86_400;

pub async fn send_message(
    State(state): State<AppState>,
    access: GrantAccess,
    query: QueryParams,
    key: IdempotencyKey,
    request: Request,
) -> Result<Response, ApiError> {
    let grant_id = access.grant.id.clone();
    let sending = state.clone();
    at_most_once(&state, &grant_id, key, request, move |request| {
        send_now_or_later(sending, access, query, request)
    })
    .await
}

async fn send_now_or_later(
    state: AppState,
    access: GrantAccess,
    query: QueryParams,
    request: Request,
) -> Result<Response, ApiError> {
    let raw_mime = query
        .get("type")
        .is_some_and(|t| t.eq_ignore_ascii_case("mime"));
    match read_compose(request, raw_mime).await? {
        ComposeInput::RawMime(raw) => {
            let envelope = mailroom_mime::raw_envelope(&raw).map_err(compose_error)?;
            let mail = OutgoingMail {
                message: raw,
                envelope_from: access.grant.email.as_str().to_owned(),
                recipients: envelope.recipients,
            };
            let receipt = state.mailboxes.send(&access.grant.id, &mail, None).await?;
            let data = sent_json(&state, &access, receipt.message_id.as_deref(), None).await?;
            Ok(answer(StatusCode::OK, &access, data))
        }
        ComposeInput::Structured {
            mut request,
            attachments,
        } => {
            apply_send_template(&state, &access, &mut request).await?;
            let tracking = prepare_tracking(&state, &mut request)?;
            let reply =
                reply_context(&state, &access, request.reply_to_message_id.as_deref()).await?;
            let attachments = outgoing_attachments(attachments);
            let composed = compose(&access, &request, &attachments, &reply, Purpose::Send, None)?;
            let now = unix_now();
            if request
                .send_at
                .is_some_and(|at| at > now + SCHEDULE_LIMIT_SECS)
            {
                return Err(ApiError::invalid_payload(
                    "'send_at' may be at most two years ahead",
                ));
            }
            if let Some(tracking) = &tracking {
                record_tracking(&state, &access, tracking, &composed.built.message_id).await?;
            }
            match request.send_at {
                Some(at) if at > now + SCHEDULE_AFTER_SECS => {
                    schedule(&state, &access, &request, composed, at).await
                }
                _ => {
                    let mail = OutgoingMail {
                        message: composed.built.bytes.clone(),
                        envelope_from: composed.envelope_from.clone(),
                        recipients: composed.recipients.clone(),
                    };
                    let receipt = send_tracked(
                        &state,
                        &access,
                        &mail,
                        composed.answering.as_deref(),
                        tracking.as_ref(),
                    )
                    .await?;
                    if let Some(metadata) = &request.metadata
                        && let Some(id) = &receipt.message_id
                    {
                        state
                            .store
                            .set_message_metadata(&access.grant.id, id, metadata)
                            .await?;
                    }
                    let data = sent_json(
                        &state,
                        &access,
                        receipt.message_id.as_deref(),
                        Some((&request, &composed)),
                    )
                    .await?;
                    Ok(answer(StatusCode::OK, &access, data))
                }
            }
        }
    }
}

async fn schedule(
    state: &AppState,
    access: &GrantAccess,
    request: &ComposeRequest,
    composed: ComposedMail,
    send_at: i64,
) -> Result<Response, ApiError> {
    let message = pending_json(access, request, &composed);
    let scheduling = state
        .store
        .schedule_send(
            NewScheduledSend {
                grant_id: access.grant.id.clone(),
                send_at,
                raw_mime: composed.built.bytes,
                envelope_from: composed.envelope_from,
                recipients: composed.recipients,
                message,
            },
            &state.mailboxes.schedule_quota(),
        )
        .await?;
    let scheduled = match scheduling {
        Scheduling::Scheduled(scheduled) => scheduled,
        Scheduling::OverQuota(reason) => return Err(ApiError::bad_request(reason)),
    };
    state.mailboxes.schedule_changed();
    Ok(answer(StatusCode::ACCEPTED, access, scheduled.message))
}

fn answer(status: StatusCode, access: &GrantAccess, data: Value) -> Response {
    (
        status,
        Json(json!({
            "request_id": current_request_id(),
            "grant_id": access.grant.id.as_str(),
            "data": data,
        })),
    )
        .into_response()
}

/// The sent message as indexed in Sent, or, when it could not be filed there, as it
/// was composed.
async fn sent_json(
    state: &AppState,
    access: &GrantAccess,
    indexed_id: Option<&str>,
    composed: Option<(&ComposeRequest, &ComposedMail)>,
) -> Result<Value, ApiError> {
    if let Some(id) = indexed_id
        && let Some(record) = state.store.message(&access.grant.id, id).await?
    {
        let folders = state
            .store
            .message_folders(&access.grant.id, std::slice::from_ref(&record.id))
            .await?
            .remove(&record.id)
            .unwrap_or_default();
        return Ok(
            serde_json::to_value(to_message(&record, folders, Fields::Standard))
                .unwrap_or(Value::Null),
        );
    }
    Ok(match composed {
        Some((request, composed)) => pending_json(access, request, composed),
        None => json!({"grant_id": access.grant.id.as_str(), "object": "message"}),
    })
}

/// A Message object for a message not (yet) in the index.
pub fn pending_json(
    access: &GrantAccess,
    request: &ComposeRequest,
    composed: &ComposedMail,
) -> Value {
    let from = if request.from.is_empty() {
        json!([{"email": access.grant.email.as_str(), "name": access.grant.name}])
    } else {
        json!(request.from)
    };
    json!({
        "id": composed.built.message_id,
        "grant_id": access.grant.id.as_str(),
        "object": "message",
        "thread_id": null,
        "subject": request.subject,
        "from": from,
        "to": request.to,
        "cc": request.cc,
        "bcc": request.bcc,
        "reply_to": request.reply_to,
        "date": unix_now(),
        "unread": false,
        "starred": false,
        "snippet": "",
        "body": request.body,
        "attachments": [],
        "folders": [],
        "created_at": unix_now(),
        "schedule_id": null,
        "send_at": request.send_at,
        "metadata": request.metadata.clone().unwrap_or_else(|| json!({})),
        "tracking_options": request.tracking_options,
        "reply_to_message_id": request.reply_to_message_id,
    })
}
