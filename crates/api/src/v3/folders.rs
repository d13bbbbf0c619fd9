//! `GET /v3/grants/{grant_id}/folders[/{folder_id}]`.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use mailroom_model::v3::Folder;
use mailroom_store::FolderWithCounts;
use serde_json::Value;

use crate::clip::clip;
use crate::{
    envelope::{CursorPage, Item},
    error::ApiError,
    extract::QueryParams,
    grant_access::GrantAccess,
    router::AppState,
    v3::message_json::apply_select,
};

const SYSTEM_ATTRIBUTES: &[&str] = &[
    "\\Sent",
    "\\Drafts",
    "\\Trash",
    "\\Junk",
    "\\Archive",
    "\\All",
    "\\Flagged",
];

pub async fn list_folders(
    State(state): State<AppState>,
    access: GrantAccess,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let limit = query.bounded("limit", 200, 1, 1000)? as usize;
    let offset: usize = match query.get("page_token") {
        Some(token) => token
            .parse()
            .map_err(|_| ApiError::bad_request("page_token is not a cursor mailroom issued"))?,
        None => 0,
    };
    let parent = query.get("parent_id").map(str::to_owned);
    let single_level = query.bool("single_level")?.unwrap_or(false);
    let folders: Vec<FolderWithCounts> = state
        .store
        .folders_with_counts(&access.grant.id)
        .await?
        .into_iter()
        .filter(|f| match &parent {
            Some(p) => f.folder.parent_id.as_deref() == Some(p.as_str()),
            None => !single_level || f.folder.parent_id.is_none(),
        })
        .collect();
    let page: Vec<Value> = folders
        .iter()
        .skip(offset)
        .take(limit)
        .map(|f| {
            apply_select(
                serde_json::to_value(to_v3(f)).unwrap_or(Value::Null),
                &query,
            )
        })
        .collect();
    let next_cursor = (offset + limit < folders.len()).then(|| (offset + limit).to_string());
    Ok(CursorPage {
        data: page,
        next_cursor,
    }
    .into_response())
}

pub async fn get_folder(
    State(state): State<AppState>,
    access: GrantAccess,
    Path((_, folder_id)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let folder = state
        .store
        .folders_with_counts(&access.grant.id)
        .await?
        .into_iter()
        .find(|f| f.folder.id == folder_id)
        .ok_or_else(|| {
            ApiError::not_found(format!("no folder with id '{}'", clip(&folder_id, 128)))
        })?;
    let data = apply_select(
        serde_json::to_value(to_v3(&folder)).unwrap_or(Value::Null),
        &query,
    );
    Ok(Item::ok(data).into_response())
}

pub fn to_v3(f: &FolderWithCounts) -> Folder {
    let is_inbox = f.folder.imap_name.eq_ignore_ascii_case("INBOX");
    let mut attributes = f.folder.attributes.clone();
    if is_inbox && !attributes.iter().any(|a| a == "\\Inbox") {
        attributes.insert(0, "\\Inbox".to_owned());
    }
    Folder {
        id: f.folder.id.clone(),
        grant_id: f.folder.grant_id.to_string(),
        object: "folder",
        name: f.folder.name.clone(),
        parent_id: f.folder.parent_id.clone(),
        system_folder: is_inbox
            || attributes
                .iter()
                .any(|a| SYSTEM_ATTRIBUTES.contains(&a.as_str())),
        attributes,
        child_count: f.child_count,
        unread_count: f.unread_count,
        total_count: f.total_count,
        background_color: None,
        text_color: None,
    }
}
