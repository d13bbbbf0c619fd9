//! `GET /folders[/{id}]` in v2's shape: `display_name` is the folder's name, `name` its
//! role (RFC 6154's special uses: `inbox`, `sent`, `drafts`, `trash`, `spam`,
//! `archive`, `all`) or null for the user's own folders.

use axum::{
    Json,
    extract::{Path, State},
};
use mailroom_store::FolderRecord;
use serde_json::{Value, json};

use super::{
    account_auth::V2Account,
    error::V2Error,
    listing::{Paging, View},
};
use crate::clip::clip;
use crate::{extract::QueryParams, router::AppState};

pub async fn list_folders(
    State(state): State<AppState>,
    account: V2Account,
    query: QueryParams,
) -> Result<Json<Value>, V2Error> {
    let paging = Paging::from_query(&query)?;
    let folders = state.store.folders(&account.grant.id).await?;
    Ok(Json(match paging.view {
        View::Count => json!({"count": folders.len()}),
        view => {
            let page = folders
                .iter()
                .skip(usize::try_from(paging.offset).unwrap_or(usize::MAX))
                .take(usize::try_from(paging.limit).unwrap_or(0));
            match view {
                View::Ids => Value::Array(page.map(|f| Value::String(f.id.clone())).collect()),
                _ => Value::Array(page.map(folder_json).collect()),
            }
        }
    }))
}

pub async fn get_folder(
    State(state): State<AppState>,
    account: V2Account,
    Path(folder_id): Path<String>,
) -> Result<Json<Value>, V2Error> {
    let folder = state
        .store
        .folders(&account.grant.id)
        .await?
        .into_iter()
        .find(|f| f.id == folder_id)
        .ok_or_else(|| not_found("folder", &folder_id))?;
    Ok(Json(folder_json(&folder)))
}

pub fn folder_json(folder: &FolderRecord) -> Value {
    json!({
        "id": folder.id,
        "object": "folder",
        "account_id": folder.grant_id.as_str(),
        "name": role(folder),
        "display_name": folder.name,
    })
}

/// The folder's role, from its special use or, for Inbox, its name (RFC 3501).
pub fn role(folder: &FolderRecord) -> Option<&'static str> {
    if folder.imap_name.eq_ignore_ascii_case("INBOX") {
        return Some("inbox");
    }
    folder.attributes.iter().find_map(|a| match a.as_str() {
        "\\Sent" => Some("sent"),
        "\\Drafts" => Some("drafts"),
        "\\Trash" => Some("trash"),
        "\\Junk" => Some("spam"),
        "\\Archive" => Some("archive"),
        "\\All" => Some("all"),
        _ => None,
    })
}

pub fn not_found(what: &str, id: &str) -> V2Error {
    V2Error::new(
        axum::http::StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("Couldn't find {what} `{}`", clip(id, 128)),
    )
}
