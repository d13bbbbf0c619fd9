//! Drafts: messages in the grant's Drafts folder, written there with APPEND.
//! `GET/POST /v3/grants/{grant_id}/drafts`, `GET/PUT/DELETE …/drafts/{draft_id}`, and
//! `POST …/drafts/{draft_id}`, which sends the draft. A draft keeps its Message-ID, and
//! so its id, when it is saved again, and the sent message keeps it too.

use axum::{
    Json,
    extract::{Path, Request, State},
    response::{IntoResponse, Response},
};
use mailroom_mime::OutgoingAttachment;
use mailroom_model::v3::{ComposeRequest, EmailName};
use mailroom_store::MessageRecord;
use serde_json::{Value, json};

use crate::clip::clip;
use crate::{
    cursor,
    envelope::{CursorPage, Item},
    error::ApiError,
    extract::QueryParams,
    grant_access::GrantAccess,
    idempotency::{IdempotencyKey, at_most_once},
    mailboxes::{MessageUpdate, OutgoingMail},
    request_id::current_request_id,
    router::AppState,
    v3::{
        compose_body::{ComposeInput, read_compose},
        message_json::{Fields, apply_select, to_message, withhold_content},
        messages::{fetch_error, find, message_query, with_body},
        outgoing_mail::{
            Purpose, ReplyContext, compose, compose_error, outgoing_attachments, reply_context,
        },
        tracked_sends::{asked_tracking, record_tracking, send_tracked, track_saved_draft},
    },
};

/// The ids of the grant's Drafts folders (by special use, else by name).
pub(crate) async fn drafts_folders(
    state: &AppState,
    access: &GrantAccess,
) -> Result<Vec<String>, ApiError> {
    let folders = state.store.folders(&access.grant.id).await?;
    let by_role: Vec<String> = folders
        .iter()
        .filter(|f| f.attributes.iter().any(|a| a == "\\Drafts"))
        .map(|f| f.id.clone())
        .collect();
    if !by_role.is_empty() {
        return Ok(by_role);
    }
    Ok(folders
        .iter()
        .filter(|f| f.imap_name.eq_ignore_ascii_case("Drafts"))
        .map(|f| f.id.clone())
        .collect())
}

/// A draft of the grant: a message located in its Drafts folder.
pub(crate) async fn find_draft(
    state: &AppState,
    access: &GrantAccess,
    draft_id: &str,
) -> Result<MessageRecord, ApiError> {
    let not_found = || ApiError::not_found(format!("no draft with id '{}'", clip(draft_id, 128)));
    let record = find(state, access, draft_id)
        .await
        .map_err(|_| not_found())?;
    let drafts = drafts_folders(state, access).await?;
    let folders = state
        .store
        .message_folders(&access.grant.id, std::slice::from_ref(&record.id))
        .await?
        .remove(&record.id)
        .unwrap_or_default();
    if !folders.iter().any(|f| drafts.contains(f)) {
        return Err(not_found());
    }
    Ok(record)
}

async fn draft_json(
    state: &AppState,
    access: &GrantAccess,
    record: &MessageRecord,
    query: &QueryParams,
) -> Result<Value, ApiError> {
    let folders = state
        .store
        .message_folders(&access.grant.id, std::slice::from_ref(&record.id))
        .await?
        .remove(&record.id)
        .unwrap_or_default();
    let mut message = to_message(record, folders, Fields::Standard);
    message.object = "draft";
    if let Some(header) = record.message_id_header.as_deref()
        && let Some(tracking) = state.store.draft_tracking(&access.grant.id, header).await?
    {
        message.tracking_options = Some(tracking.options_json());
    }
    let mut json = serde_json::to_value(message).unwrap_or(Value::Null);
    if !access.may_read_content() {
        withhold_content(&mut json);
    }
    Ok(apply_select(json, query))
}

pub async fn list_drafts(
    State(state): State<AppState>,
    access: GrantAccess,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let mut filter = message_query(&query)?;
    filter.folder_ids = drafts_folders(&state, &access).await?;
    let limit = filter.limit;
    filter.limit = limit + 1;
    let mut records = if filter.folder_ids.is_empty() {
        Vec::new()
    } else {
        state.store.list_messages(&access.grant.id, &filter).await?
    };
    let more = records.len() as i64 > limit;
    records.truncate(limit as usize);
    let mut data = Vec::with_capacity(records.len());
    for record in &records {
        data.push(draft_json(&state, &access, record, &query).await?);
    }
    let next_cursor = records
        .last()
        .filter(|_| more)
        .map(|last| cursor::encode(last.date, &last.id));
    Ok(CursorPage { data, next_cursor }.into_response())
}

pub async fn get_draft(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, draft_id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let record = find_draft(&state, &access, &draft_id).await?;
    let record = if access.may_read_content() {
        with_body(&state, &access, record).await?
    } else {
        record
    };
    let data = draft_json(&state, &access, &record, &query).await?;
    Ok(Item::ok(data).into_response())
}

async fn structured(
    request: Request,
) -> Result<(ComposeRequest, Vec<OutgoingAttachment>, bool), ApiError> {
    match read_compose(request, false).await? {
        ComposeInput::Structured {
            request,
            attachments,
        } => {
            if request.template.is_some() {
                // docs/API.md §5.10: a template fills a send; a draft is saved as given.
                return Err(ApiError::bad_request(
                    "'template' is taken by POST /v3/grants/{grant_id}/messages/send only; \
                     render it first (POST …/templates/{template_id}/render) to save a draft",
                ));
            }
            let had_files = !attachments.is_empty();
            Ok((request, outgoing_attachments(attachments), had_files))
        }
        ComposeInput::RawMime(_) => Err(ApiError::invalid_payload(
            "drafts are written as JSON or multipart, not raw MIME",
        )),
    }
}

/// Composes and saves the draft (in place of `replaces`); returns its id.
pub(crate) async fn store_draft(
    state: &AppState,
    access: &GrantAccess,
    request: &ComposeRequest,
    attachments: &[OutgoingAttachment],
    reply: &ReplyContext,
    replaces: Option<&MessageRecord>,
) -> Result<String, ApiError> {
    let message_id = replaces.and_then(|r| r.message_id_header.as_deref());
    // Checked before anything is saved; applied when the draft is sent.
    let tracking = asked_tracking(state, request)?;
    let composed = compose(
        access,
        request,
        attachments,
        reply,
        Purpose::Draft,
        message_id,
    )?;
    let id = state
        .mailboxes
        .save_draft(
            &access.grant.id,
            &composed.built.bytes,
            replaces.map(|r| r.id.as_str()),
        )
        .await?;
    if request.starred.is_some() || request.unread.is_some() {
        let update = MessageUpdate {
            unread: request.unread,
            starred: request.starred,
            folders: None,
        };
        state
            .mailboxes
            .update_messages(&access.grant.id, std::slice::from_ref(&id), &update)
            .await?;
    }
    if let Some(metadata) = &request.metadata {
        state
            .store
            .set_message_metadata(&access.grant.id, &id, metadata)
            .await?;
    }
    // Options sent replace the draft's; left out, they are kept.
    if request
        .tracking_options
        .as_ref()
        .is_some_and(|t| !t.is_null())
    {
        state
            .store
            .set_draft_tracking(
                &access.grant.id,
                &composed.built.message_id,
                tracking.as_ref(),
            )
            .await?;
    }
    Ok(id)
}

/// Saves the composed draft and answers with it.
async fn save(
    state: &AppState,
    access: &GrantAccess,
    request: &ComposeRequest,
    attachments: &[OutgoingAttachment],
    reply: &ReplyContext,
    replaces: Option<&MessageRecord>,
    query: &QueryParams,
) -> Result<Response, ApiError> {
    let id = store_draft(state, access, request, attachments, reply, replaces).await?;
    let record = find(state, access, &id).await?;
    let data = draft_json(state, access, &record, query).await?;
    Ok(Item::ok(data).into_response())
}

pub async fn create_draft(
    State(state): State<AppState>,
    access: GrantAccess,
    query: QueryParams,
    request: Request,
) -> Result<Response, ApiError> {
    let (request, attachments, _) = structured(request).await?;
    let reply = reply_context(&state, &access, request.reply_to_message_id.as_deref()).await?;
    save(
        &state,
        &access,
        &request,
        &attachments,
        &reply,
        None,
        &query,
    )
    .await
}

/// `PUT`: fields sent replace the draft's; fields left out keep their value (attachments
/// too, when the request carries none).
pub async fn update_draft(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, draft_id)): Path<(String, String)>,
    query: QueryParams,
    request: Request,
) -> Result<Response, ApiError> {
    let existing = find_draft(&state, &access, &draft_id).await?;
    let (mut request, mut attachments, had_files) = structured(request).await?;
    let (existing, reply) = merge_with_saved(
        &state,
        &access,
        &existing,
        &mut request,
        &mut attachments,
        had_files,
    )
    .await?;
    save(
        &state,
        &access,
        &request,
        &attachments,
        &reply,
        Some(&existing),
        &query,
    )
    .await
}

/// Fills what an update leaves out from the saved draft: addresses, subject, body,
/// attachments (unless the update carries files) and threading. Returns the saved
/// draft with its body, and the reply context to compose with.
pub(crate) async fn merge_with_saved(
    state: &AppState,
    access: &GrantAccess,
    existing: &MessageRecord,
    request: &mut ComposeRequest,
    attachments: &mut Vec<OutgoingAttachment>,
    had_files: bool,
) -> Result<(MessageRecord, ReplyContext), ApiError> {
    let raw = state
        .mailboxes
        .fetch_raw_message(&access.grant.id, &existing.id)
        .await
        .map_err(fetch_error)?;
    let existing = find(state, access, &existing.id).await?;
    let parsed = mailroom_mime::parse_message(&raw);
    let keep = |sent: &mut Vec<EmailName>, old: &[EmailName]| {
        if sent.is_empty() {
            *sent = old.to_vec();
        }
    };
    keep(&mut request.to, &existing.to);
    keep(&mut request.cc, &existing.cc);
    keep(&mut request.bcc, &existing.bcc);
    keep(&mut request.reply_to, &existing.reply_to);
    keep(&mut request.from, &existing.from);
    if request.subject.is_none() {
        request.subject = existing.subject.clone();
    }
    if request.body.is_none() {
        request.body = existing.body_html.clone();
    }
    if !had_files && request.attachments.is_empty() {
        *attachments = parsed
            .attachments
            .iter()
            .filter_map(|info| mailroom_mime::attachment_content(&raw, info.index))
            .map(|(info, content)| OutgoingAttachment {
                filename: info.filename,
                content_type: info.content_type,
                content,
                inline: info.is_inline && info.content_id.is_some(),
                content_id: info.content_id,
            })
            .collect();
    }
    let reply = match request.reply_to_message_id.as_deref() {
        Some(_) => reply_context(state, access, request.reply_to_message_id.as_deref()).await?,
        None => ReplyContext {
            answering: None,
            in_reply_to: parsed.headers.in_reply_to.first().cloned(),
            references: parsed.headers.references.clone(),
        },
    };
    Ok((existing, reply))
}

pub async fn delete_draft(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, draft_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let draft = find_draft(&state, &access, &draft_id).await?;
    state
        .mailboxes
        .discard_drafts(&access.grant.id, std::slice::from_ref(&draft.id))
        .await?;
    if let Some(header) = draft.message_id_header.as_deref() {
        state
            .store
            .set_draft_tracking(&access.grant.id, header, None)
            .await?;
    }
    Ok(Json(json!({"request_id": current_request_id()})).into_response())
}

/// `POST …/drafts/{id}`: sends the draft as saved (the engine leaves its Bcc header out
/// of what is submitted), files it in Sent and removes it from Drafts. Python sends no body, Node `{}`; both are fine.
pub async fn send_draft(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, draft_id)): Path<(String, String)>,
    key: IdempotencyKey,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let grant_id = access.grant.id.clone();
    let sending = state.clone();
    at_most_once(&state, &grant_id, key, request, move |_| {
        send_draft_now(sending, access, draft_id)
    })
    .await
}

async fn send_draft_now(
    state: AppState,
    access: GrantAccess,
    draft_id: String,
) -> Result<Response, ApiError> {
    let draft = find_draft(&state, &access, &draft_id).await?;
    let id = send_saved_draft(&state, &access, draft).await?;
    let record = find(&state, &access, &id).await?;
    let folders = state
        .store
        .message_folders(&access.grant.id, std::slice::from_ref(&record.id))
        .await?
        .remove(&record.id)
        .unwrap_or_default();
    let data =
        serde_json::to_value(to_message(&record, folders, Fields::Standard)).unwrap_or(Value::Null);
    Ok(Json(json!({
        "request_id": current_request_id(),
        "grant_id": access.grant.id.as_str(),
        "data": data,
    }))
    .into_response())
}

/// Sends the draft as saved and removes it from Drafts; returns the sent message's id.
pub(crate) async fn send_saved_draft(
    state: &AppState,
    access: &GrantAccess,
    draft: MessageRecord,
) -> Result<String, ApiError> {
    let raw = state
        .mailboxes
        .fetch_raw_message(&access.grant.id, &draft.id)
        .await
        .map_err(fetch_error)?;
    let envelope = mailroom_mime::raw_envelope(&raw).map_err(compose_error)?;
    if envelope.recipients.is_empty() {
        return Err(ApiError::invalid_payload(
            "the draft has no recipients in To, Cc or Bcc",
        ));
    }
    let header = draft.message_id_header.clone();
    let asked = match &header {
        Some(header) => state.store.draft_tracking(&access.grant.id, header).await?,
        None => None,
    };
    if asked.is_some() && state.public_url.is_none() {
        return Err(ApiError::invalid_payload(
            "the draft asks for tracking_options opens or links, and the operator has not \
             set public_url (MAILROOM_PUBLIC_URL); update the draft without them",
        ));
    }
    let (raw, tracking) = match asked
        .as_ref()
        .and_then(|asked| track_saved_draft(state, asked, &raw))
    {
        Some((tracked, prepared)) => (tracked, Some(prepared)),
        None => (raw, None),
    };
    if let (Some(tracking), Some(header)) = (&tracking, &header) {
        record_tracking(state, access, tracking, header).await?;
    }
    let parsed = mailroom_mime::parse_headers(&raw);
    let answering = match parsed.in_reply_to.first() {
        Some(parent) => {
            state
                .store
                .message_id_by_identity(&access.grant.id, &format!("mid:{parent}"))
                .await?
        }
        None => None,
    };
    let mail = OutgoingMail {
        message: raw,
        envelope_from: access.grant.email.as_str().to_owned(),
        recipients: envelope.recipients,
    };
    let receipt = send_tracked(
        state,
        access,
        &mail,
        answering.as_deref(),
        tracking.as_ref(),
    )
    .await?;
    if let Some(header) = header.as_deref().filter(|_| asked.is_some()) {
        state
            .store
            .set_draft_tracking(&access.grant.id, header, None)
            .await?;
    }
    // Sent: the draft goes, whatever happens to the clean-up.
    if let Err(e) = state
        .mailboxes
        .discard_drafts(&access.grant.id, std::slice::from_ref(&draft.id))
        .await
    {
        tracing::warn!(grant_id = %access.grant.id, error = ?e, "sent a draft but could not remove it from Drafts");
    }
    Ok(receipt.message_id.unwrap_or(draft.id))
}
