//! v2's drafts: `GET/POST /drafts`, `GET/PUT/DELETE /drafts/{id}`, and sending one by
//! `POST /send {"draft_id", "version"}`. They are v3's drafts (messages in the Drafts
//! folder, saved in place) with v2's `version`: a save, send or deletion must name the
//! version the client last read, and a save moves it on, so two clients cannot
//! overwrite each other's work unawares.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
};
use mailroom_store::MessageRecord;
use serde_json::{Value, json};

use super::{
    account_auth::V2Account,
    compose::V2Compose,
    error::V2Error,
    folders::not_found,
    listing::{Paging, View, walk_messages},
    messages::{message_filter, message_json},
};
use crate::{
    extract::QueryParams,
    grant_access::GrantAccess,
    router::AppState,
    v3::{
        drafts::{drafts_folders, find_draft, merge_with_saved, send_saved_draft, store_draft},
        messages::{find, with_body},
        outgoing_mail::reply_context,
    },
};

pub async fn list_drafts(
    State(state): State<AppState>,
    account: V2Account,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
    let access = account.access();
    let paging = Paging::from_query(&query)?;
    let folders = state.store.folders(&account.grant.id).await?;
    let mut filter = message_filter(&query, &folders)?;
    filter.folder_ids = drafts_folders(&state, &access)
        .await
        .map_err(V2Error::from_api)?;
    if filter.folder_ids.is_empty() {
        return Ok(Json(match paging.view {
            View::Count => json!({"count": 0}),
            _ => json!([]),
        }));
    }
    let grant_id = &account.grant.id;
    let (offset, limit) = match paging.view {
        View::Count => (0, None),
        _ => (paging.offset, Some(paging.limit)),
    };
    let page = walk_messages(&state.store, grant_id, &filter, offset, limit).await?;
    Ok(Json(match paging.view {
        View::Count => json!({"count": page.len()}),
        View::Ids => Value::Array(page.into_iter().map(|(m, _)| Value::String(m.id)).collect()),
        View::Objects | View::Expanded => {
            let mut drafts = Vec::with_capacity(page.len());
            for (record, folder_ids) in &page {
                let version = state.store.draft_version(grant_id, &record.id).await?;
                drafts.push(draft_json(&account, record, folder_ids, &folders, version));
            }
            Value::Array(drafts)
        }
    }))
}

pub async fn get_draft(
    State(state): State<AppState>,
    account: V2Account,
    Path(draft_id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    let access = account.access();
    let draft = saved(&state, &access, &draft_id).await?;
    let draft = if account.may_read_content() {
        with_body(&state, &access, draft)
            .await
            .map_err(V2Error::from_api)?
    } else {
        draft
    };
    Ok(Json(shown(&state, &account, &draft).await?))
}

pub async fn create_draft(
    State(state): State<AppState>,
    account: V2Account,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let access = account.access();
    let request = V2Compose::parse(&body)?;
    let attachments = super::uploads::attachments(&state, &account, request.file_ids()).await?;
    let compose_request = request.compose_request()?;
    let reply = reply_context(
        &state,
        &access,
        compose_request.reply_to_message_id.as_deref(),
    )
    .await
    .map_err(V2Error::from_api)?;
    let id = store_draft(
        &state,
        &access,
        &compose_request,
        &attachments,
        &reply,
        None,
    )
    .await
    .map_err(V2Error::from_api)?;
    let draft = find(&state, &access, &id)
        .await
        .map_err(V2Error::from_api)?;
    Ok(Json(shown(&state, &account, &draft).await?))
}

/// `PUT`: what the body names replaces the draft's, the rest is kept; `version` is
/// required and must be the draft's.
pub async fn update_draft(
    State(state): State<AppState>,
    account: V2Account,
    Path(draft_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let access = account.access();
    let request = V2Compose::parse(&body)?;
    let existing = saved(&state, &access, &draft_id).await?;
    let mut attachments = super::uploads::attachments(&state, &account, request.file_ids()).await?;
    let mut compose_request = request.compose_request()?;
    let version = required_version(request.version)?;
    let advanced = claim(&state, &account, &existing.id, version).await?;
    let had_files = request.file_ids.is_some();
    let saved = async {
        let (existing, reply) = merge_with_saved(
            &state,
            &access,
            &existing,
            &mut compose_request,
            &mut attachments,
            had_files,
        )
        .await?;
        store_draft(
            &state,
            &access,
            &compose_request,
            &attachments,
            &reply,
            Some(&existing),
        )
        .await
    }
    .await;
    let id = match saved {
        Ok(id) => id,
        Err(e) => {
            // Not saved: the version it claimed is given back, so a retry is not a 409.
            state
                .store
                .withdraw_draft_version(&account.grant.id, &existing.id, advanced)
                .await?;
            return Err(V2Error::from_api(e));
        }
    };
    let draft = find(&state, &access, &id)
        .await
        .map_err(V2Error::from_api)?;
    Ok(Json(shown(&state, &account, &draft).await?))
}

/// `DELETE`, with `{"version": n}` as the body (the v2 SDKs send it); without a body
/// the draft goes whatever its version.
pub async fn delete_draft(
    State(state): State<AppState>,
    account: V2Account,
    Path(draft_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, V2Error> {
    let access = account.access();
    let draft = saved(&state, &access, &draft_id).await?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let request = V2Compose::parse(&body)?;
        if let Some(version) = request.version {
            check_version(&state, &account, &draft.id, version).await?;
        }
    }
    state
        .mailboxes
        .discard_drafts(&account.grant.id, std::slice::from_ref(&draft.id))
        .await
        .map_err(|e| V2Error::from_api(e.into()))?;
    state
        .store
        .forget_draft_version(&account.grant.id, &draft.id)
        .await?;
    Ok(Json(json!({})))
}

/// `POST /send {"draft_id", "version"}`: sends the saved draft as it is.
pub(super) async fn send_draft(
    state: &AppState,
    account: &V2Account,
    draft_id: &str,
    version: Option<i64>,
) -> Result<String, V2Error> {
    let access = account.access();
    let draft = saved(state, &access, draft_id).await?;
    check_version(state, account, &draft.id, required_version(version)?).await?;
    let draft_id = draft.id.clone();
    let sent = send_saved_draft(state, &access, draft)
        .await
        .map_err(V2Error::from_api)?;
    state
        .store
        .forget_draft_version(&account.grant.id, &draft_id)
        .await?;
    Ok(sent)
}

async fn saved(
    state: &AppState,
    access: &GrantAccess,
    draft_id: &str,
) -> Result<MessageRecord, V2Error> {
    find_draft(state, access, draft_id)
        .await
        .map_err(|_| not_found("draft", draft_id))
}

fn required_version(version: Option<i64>) -> Result<i64, V2Error> {
    version.ok_or_else(|| {
        V2Error::invalid_request("'version' is required: the version of the draft last read")
    })
}

fn conflict(current: i64) -> V2Error {
    V2Error::new(
        StatusCode::CONFLICT,
        "invalid_request_error",
        format!("the draft has changed since it was read: it is at version {current}"),
    )
}

async fn check_version(
    state: &AppState,
    account: &V2Account,
    draft_id: &str,
    version: i64,
) -> Result<(), V2Error> {
    let current = state
        .store
        .draft_version(&account.grant.id, draft_id)
        .await?;
    if current == version {
        Ok(())
    } else {
        Err(conflict(current))
    }
}

/// Moves the draft's version on from `version`, or refuses when it is at another.
async fn claim(
    state: &AppState,
    account: &V2Account,
    draft_id: &str,
    version: i64,
) -> Result<i64, V2Error> {
    let grant_id = &account.grant.id;
    match state
        .store
        .advance_draft_version(grant_id, draft_id, version)
        .await?
    {
        Some(advanced) => Ok(advanced),
        None => Err(conflict(
            state.store.draft_version(grant_id, draft_id).await?,
        )),
    }
}

/// The draft in v2's shape, with its version.
async fn shown(
    state: &AppState,
    account: &V2Account,
    draft: &MessageRecord,
) -> Result<Value, V2Error> {
    let grant_id = &account.grant.id;
    let folders = state.store.folders(grant_id).await?;
    let folder_ids = state
        .store
        .message_folders(grant_id, std::slice::from_ref(&draft.id))
        .await?
        .remove(&draft.id)
        .unwrap_or_default();
    let version = state.store.draft_version(grant_id, &draft.id).await?;
    Ok(draft_json(account, draft, &folder_ids, &folders, version))
}

fn draft_json(
    account: &V2Account,
    draft: &MessageRecord,
    folder_ids: &[String],
    folders: &[mailroom_store::FolderRecord],
    version: i64,
) -> Value {
    let mut value = message_json(account, draft, folder_ids, folders);
    value["object"] = json!("draft");
    value["version"] = json!(version);
    value["reply_to_message_id"] = Value::Null;
    value
}
