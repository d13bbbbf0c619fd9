//! Folders of a grant's mailbox: reconciled with each LIST, carrying the numbers sync
//! decisions need (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, initial-sync progress).

use std::collections::HashMap;

use mailroom_model::{GrantId, time::unix_now, v3::webhook::TriggerType};
use serde_json::json;
use sqlx::Row;

use crate::{
    deletions::note_departures, error::StoreError, open::Store, thread_summaries::TouchedThreads,
    webhook_outbox::record_notifications,
};

/// A mailbox as the server listed it.
#[derive(Debug, Clone)]
pub struct FolderListing {
    pub imap_name: String,
    pub name: String,
    pub parent_imap_name: Option<String>,
    pub delimiter: Option<String>,
    pub attributes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FolderRecord {
    pub id: String,
    pub grant_id: GrantId,
    pub imap_name: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub attributes: Vec<String>,
    pub uid_validity: i64,
    pub uid_next: i64,
    pub highest_modseq: i64,
    pub lowest_synced_uid: i64,
    pub initial_sync_done: bool,
    pub server_total: i64,
}

/// A folder with the counts the API shows.
#[derive(Debug, Clone)]
pub struct FolderWithCounts {
    pub folder: FolderRecord,
    pub total_count: i64,
    pub unread_count: i64,
    pub child_count: i64,
}

/// What changed in a folder after a sync step.
#[derive(Debug, Clone, Copy)]
pub struct FolderSyncState {
    pub uid_validity: i64,
    pub uid_next: i64,
    pub highest_modseq: i64,
    pub lowest_synced_uid: i64,
    pub initial_sync_done: bool,
    pub server_total: i64,
}

const COLUMNS: &str = "id, grant_id, imap_name, name, parent_id, attributes, uid_validity, uid_next, \
                       highest_modseq, lowest_synced_uid, initial_sync_done, server_total";

impl Store {
    /// Makes the stored folders match a fresh LIST: new ones added (fresh ids), gone ones
    /// removed (with their message locations), attributes and parents kept current.
    pub async fn reconcile_folders(
        &self,
        grant_id: &GrantId,
        listed: &[FolderListing],
    ) -> Result<Vec<FolderRecord>, StoreError> {
        // Most passes list what is stored already: answer without taking the write lock.
        let stored = self.folders(grant_id).await?;
        if same_listing(&stored, listed) {
            return Ok(stored);
        }
        let now = unix_now();
        let mut tx = self.begin_grant_write(grant_id).await?;
        let mut touched = TouchedThreads::default();
        let existing = sqlx::query(
            "SELECT id, imap_name, name, parent_id, attributes FROM folders WHERE grant_id = $1",
        )
        .bind(grant_id.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let mut ids: HashMap<String, String> = HashMap::new();
        // What each stored folder looked like: (name, parent id, attributes JSON).
        let mut before: HashMap<String, (String, Option<String>, String)> = HashMap::new();
        for row in &existing {
            let imap_name: String = row.try_get("imap_name")?;
            before.insert(
                imap_name.clone(),
                (
                    row.try_get("name")?,
                    row.try_get("parent_id")?,
                    row.try_get("attributes")?,
                ),
            );
            ids.insert(imap_name, row.try_get("id")?);
        }
        let mut created = Vec::new();
        let mut updated = Vec::new();
        let mut deleted = Vec::new();
        let mut moved_out = Vec::new();
        let now_ms = mailroom_model::time::unix_millis();
        for folder in listed {
            if !ids.contains_key(&folder.imap_name) {
                let id = new_folder_id();
                sqlx::query(
                    "INSERT INTO folders (id, grant_id, imap_name, name, delimiter, attributes, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, '[]', $6, $6)",
                )
                .bind(&id)
                .bind(grant_id.as_str())
                .bind(&folder.imap_name)
                .bind(&folder.name)
                .bind(folder.delimiter.as_deref())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                created.push((id.clone(), None));
                ids.insert(folder.imap_name.clone(), id);
            }
        }
        for folder in listed {
            let parent_id = folder
                .parent_imap_name
                .as_ref()
                .and_then(|parent| ids.get(parent))
                .cloned();
            let attributes =
                serde_json::to_string(&folder.attributes).map_err(StoreError::corrupt)?;
            if let (Some((name, parent, attrs)), Some(id)) =
                (before.get(&folder.imap_name), ids.get(&folder.imap_name))
                && (name != &folder.name
                    || parent != &parent_id
                    || lasting(&serde_json::from_str::<Vec<String>>(attrs).unwrap_or_default())
                        != lasting(&folder.attributes))
            {
                updated.push((id.clone(), None));
            }
            sqlx::query(
                "UPDATE folders SET name = $1, parent_id = $2, attributes = $3, delimiter = $4, updated_at = $5 \
                 WHERE grant_id = $6 AND imap_name = $7",
            )
            .bind(&folder.name)
            .bind(parent_id)
            .bind(attributes)
            .bind(folder.delimiter.as_deref())
            .bind(now)
            .bind(grant_id.as_str())
            .bind(&folder.imap_name)
            .execute(&mut *tx)
            .await?;
        }
        for row in &existing {
            let imap_name: String = row.try_get("imap_name")?;
            if !listed.iter().any(|f| f.imap_name == imap_name) {
                let id: String = row.try_get("id")?;
                // Its messages left with it: moved (found elsewhere) or deleted.
                let leaving: Vec<String> = sqlx::query(
                    "SELECT DISTINCT message_id FROM message_locations WHERE folder_id = $1",
                )
                .bind(&id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get("message_id"))
                .collect::<Result<_, _>>()?;
                sqlx::query("DELETE FROM message_locations WHERE folder_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                touched.messages(&leaving);
                moved_out.extend(note_departures(&mut tx, grant_id, &id, leaving, now_ms).await?);
                sqlx::query("DELETE FROM folders WHERE id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                let gone = json!({"id": id, "grant_id": grant_id.as_str(), "object": "folder"});
                deleted.push((id, Some(gone.to_string())));
            }
        }
        touched.refresh(&mut tx, grant_id).await?;
        // A new grant's first listing is its mailbox as it was, not news.
        if !existing.is_empty() {
            record_notifications(&mut tx, grant_id, TriggerType::FolderCreated, &created).await?;
        }
        record_notifications(&mut tx, grant_id, TriggerType::FolderUpdated, &updated).await?;
        record_notifications(&mut tx, grant_id, TriggerType::FolderDeleted, &deleted).await?;
        record_notifications(&mut tx, grant_id, TriggerType::MessageUpdated, &moved_out).await?;
        tx.commit().await?;
        self.folders(grant_id).await
    }

    pub async fn folders(&self, grant_id: &GrantId) -> Result<Vec<FolderRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM folders WHERE grant_id = $1 ORDER BY imap_name"
        ))
        .bind(grant_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(folder_from_row).collect()
    }

    /// Folders with their message counts, for the API.
    pub async fn folders_with_counts(
        &self,
        grant_id: &GrantId,
    ) -> Result<Vec<FolderWithCounts>, StoreError> {
        let folders = self.folders(grant_id).await?;
        // Kept by the writers (`folder_counts.rs`).
        let counts =
            sqlx::query("SELECT id, total_count, unread_count FROM folders WHERE grant_id = $1")
                .bind(grant_id.as_str())
                .fetch_all(&self.pool)
                .await?;
        let mut by_folder: HashMap<String, (i64, i64)> = HashMap::new();
        for row in &counts {
            by_folder.insert(
                row.try_get("id")?,
                (row.try_get("total_count")?, row.try_get("unread_count")?),
            );
        }
        Ok(folders
            .iter()
            .map(|folder| {
                let (total_count, unread_count) =
                    by_folder.get(&folder.id).copied().unwrap_or((0, 0));
                let child_count = folders
                    .iter()
                    .filter(|f| f.parent_id.as_deref() == Some(folder.id.as_str()))
                    .count() as i64;
                FolderWithCounts {
                    folder: folder.clone(),
                    total_count,
                    unread_count,
                    child_count,
                }
            })
            .collect())
    }

    /// Records the UIDVALIDITY of a folder read for the first time before its first
    /// UIDs are indexed, so that what acts on those UIDs can tell they are still good;
    /// a folder that has one keeps it until its pass records the next.
    pub async fn note_first_uid_validity(
        &self,
        folder_id: &str,
        uid_validity: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE folders SET uid_validity = $1 WHERE id = $2 AND uid_validity = 0")
            .bind(uid_validity)
            .bind(folder_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn update_folder_sync_state(
        &self,
        folder_id: &str,
        state: FolderSyncState,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE folders SET uid_validity = $1, uid_next = $2, highest_modseq = $3, \
                 lowest_synced_uid = $4, initial_sync_done = $5, server_total = $6, updated_at = $7 \
             WHERE id = $8",
        )
        .bind(state.uid_validity)
        .bind(state.uid_next)
        .bind(state.highest_modseq)
        .bind(state.lowest_synced_uid)
        .bind(i64::from(state.initial_sync_done))
        .bind(state.server_total)
        .bind(unix_now())
        .bind(folder_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Whether the stored folders are exactly those listed, with the same names, parents
/// and attributes.
fn same_listing(stored: &[FolderRecord], listed: &[FolderListing]) -> bool {
    if stored.len() != listed.len() {
        return false;
    }
    let by_name: HashMap<&str, &FolderRecord> =
        stored.iter().map(|f| (f.imap_name.as_str(), f)).collect();
    listed.iter().all(|l| {
        let Some(folder) = by_name.get(l.imap_name.as_str()) else {
            return false;
        };
        let parent_name = folder
            .parent_id
            .as_deref()
            .and_then(|id| stored.iter().find(|f| f.id == id))
            .map(|f| f.imap_name.as_str());
        folder.name == l.name
            && folder.attributes == l.attributes
            && parent_name == l.parent_imap_name.as_deref()
    })
}

/// The attributes that describe the folder itself: whether it has children (or new
/// mail) changes with other folders and messages, and is not news about this one.
fn lasting(attributes: &[String]) -> Vec<&str> {
    const PASSING: [&str; 4] = ["\\HasChildren", "\\HasNoChildren", "\\Marked", "\\Unmarked"];
    attributes
        .iter()
        .map(String::as_str)
        .filter(|a| !PASSING.iter().any(|p| p.eq_ignore_ascii_case(a)))
        .collect()
}

fn new_folder_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn folder_from_row(row: &sqlx::any::AnyRow) -> Result<FolderRecord, StoreError> {
    let attributes: String = row.try_get("attributes")?;
    Ok(FolderRecord {
        id: row.try_get("id")?,
        grant_id: GrantId::from_stored(row.try_get("grant_id")?),
        imap_name: row.try_get("imap_name")?,
        name: row.try_get("name")?,
        parent_id: row.try_get("parent_id")?,
        attributes: serde_json::from_str(&attributes).map_err(StoreError::corrupt)?,
        uid_validity: row.try_get("uid_validity")?,
        uid_next: row.try_get("uid_next")?,
        highest_modseq: row.try_get("highest_modseq")?,
        lowest_synced_uid: row.try_get("lowest_synced_uid")?,
        initial_sync_done: row.try_get::<i64, _>("initial_sync_done")? != 0,
        server_total: row.try_get("server_total")?,
    })
}

impl Store {
    /// Renames a folder and its descendants in the index as the server just did, so
    /// they keep their ids (the next LIST then finds them under their new names).
    pub async fn rename_folder_tree(
        &self,
        grant_id: &GrantId,
        old_imap_name: &str,
        new_imap_name: &str,
        delimiter: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_grant_write(grant_id).await?;
        let rows = sqlx::query("SELECT id, imap_name FROM folders WHERE grant_id = $1")
            .bind(grant_id.as_str())
            .fetch_all(&mut *tx)
            .await?;
        for row in &rows {
            let imap_name: String = row.try_get("imap_name")?;
            let renamed = if imap_name == old_imap_name {
                Some(new_imap_name.to_owned())
            } else {
                delimiter
                    .filter(|d| !d.is_empty())
                    .and_then(|d| imap_name.strip_prefix(&format!("{old_imap_name}{d}")))
                    .map(|rest| format!("{new_imap_name}{}{rest}", delimiter.unwrap_or_default()))
            };
            if let Some(renamed) = renamed {
                let id: String = row.try_get("id")?;
                sqlx::query("UPDATE folders SET imap_name = $1, updated_at = $2 WHERE id = $3")
                    .bind(renamed)
                    .bind(unix_now())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
