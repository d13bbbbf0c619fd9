//! Telling a deleted message from a moved one. IMAP reports a move made by another
//! client as an expunge in one folder and, later, an arrival in another; a message left
//! with no location is therefore only a deletion candidate, which remembers the folder it
//! left. Found again in another folder (by sync or by mailroom's own move) it was moved:
//! `message.updated`; found again where it was (the folder re-read after a UIDVALIDITY
//! change) nothing happened to it. Still nowhere after a whole sync pass that began after
//! it was noticed, it was deleted: `message.deleted`. In the same transaction the message
//! leaves the index for good: its row (headers, body, attachment list) and the thread
//! keys nothing else uses any more. Contacts and events read from it stay: a contact
//! stands for a person the mailbox exchanged mail with, and an event for a meeting,
//! whatever became of the message that told of them.

use mailroom_model::{GrantId, v3::webhook::TriggerType};
use serde_json::json;
use sqlx::{Any, Row, Transaction};

use crate::{
    error::StoreError,
    open::{Engine, Store},
    sql_filter::{Bind, SqlFilter},
    webhook_outbox::record_notifications,
};

/// Values per `IN (…)` list.
const IDS_PER_STATEMENT: usize = 250;

impl Store {
    /// Announces `message.deleted` for the grant's candidates noticed before
    /// `pass_started_ms` that are still nowhere, and forgets candidates found again.
    /// Called at the end of each whole sync pass. Returns how many were announced.
    pub async fn settle_deletions(
        &self,
        grant_id: &GrantId,
        pass_started_ms: i64,
    ) -> Result<usize, StoreError> {
        let due = sqlx::query(
            "SELECT message_id FROM deletion_candidates WHERE grant_id = $1 AND noticed_at < $2",
        )
        .bind(grant_id.as_str())
        .bind(pass_started_ms)
        .fetch_all(&self.pool)
        .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_grant_write(grant_id).await?;
        let mut deleted = Vec::new();
        for row in &due {
            let id: String = row.try_get("message_id")?;
            if settle_one(&mut tx, grant_id, &id).await? {
                deleted.push((id.clone(), Some(deleted_object(grant_id, &id))));
            }
        }
        record_notifications(&mut tx, grant_id, TriggerType::MessageDeleted, &deleted).await?;
        tx.commit().await?;
        if !deleted.is_empty() {
            self.reclaim_free_pages().await?;
        }
        Ok(deleted.len())
    }

    /// For a message mailroom itself removed for good: announced `message.deleted` at
    /// once when it is left with no location.
    pub async fn settle_deletion_now(
        &self,
        grant_id: &GrantId,
        message_id: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_grant_write(grant_id).await?;
        let gone = settle_one(&mut tx, grant_id, message_id).await?;
        if gone {
            let object = Some(deleted_object(grant_id, message_id));
            record_notifications(
                &mut tx,
                grant_id,
                TriggerType::MessageDeleted,
                &[(message_id.to_owned(), object)],
            )
            .await?;
        }
        tx.commit().await?;
        if gone {
            self.reclaim_free_pages().await?;
        }
        Ok(gone)
    }

    /// Gives the pages freed by deleted rows back to the file system (SQLite with
    /// `auto_vacuum = INCREMENTAL`; PostgreSQL's autovacuum does this itself), a bounded
    /// number per statement so that no writer waits long. Returns the pages given back.
    pub async fn reclaim_free_pages(&self) -> Result<i64, StoreError> {
        if self.engine != Engine::Sqlite {
            return Ok(0);
        }
        let mut reclaimed = 0;
        loop {
            let free: i64 = sqlx::query("PRAGMA freelist_count")
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
            if free < RECLAIM_AT_PAGES {
                return Ok(reclaimed);
            }
            sqlx::query(&format!("PRAGMA incremental_vacuum({PAGES_PER_VACUUM})"))
                .execute(&self.pool)
                .await?;
            let left: i64 = sqlx::query("PRAGMA freelist_count")
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
            if left >= free {
                // Not in incremental mode (a database made before it, not yet vacuumed).
                return Ok(reclaimed);
            }
            reclaimed += free - left;
        }
    }
}

/// Free pages worth giving back (4 MiB at the default page size).
const RECLAIM_AT_PAGES: i64 = 1024;
/// Pages given back per statement (16 MiB at the default page size).
const PAGES_PER_VACUUM: i64 = 4096;

/// Drops the candidate; true when the message is still nowhere (deleted), and then it
/// leaves the index.
async fn settle_one(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    message_id: &str,
) -> Result<bool, StoreError> {
    let candidate = sqlx::query("DELETE FROM deletion_candidates WHERE message_id = $1")
        .bind(message_id)
        .execute(&mut **tx)
        .await?;
    if candidate.rows_affected() == 0 || is_located(tx, message_id).await? {
        return Ok(false);
    }
    purge_message(tx, grant_id, message_id).await?;
    Ok(true)
}

/// Removes a deleted message's row (its headers, body and attachment list go with it)
/// and its thread's keys once no message of the thread is left.
async fn purge_message(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    message_id: &str,
) -> Result<(), StoreError> {
    let thread = sqlx::query("SELECT thread_id FROM messages WHERE id = $1 AND grant_id = $2")
        .bind(message_id)
        .bind(grant_id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let Some(thread) = thread else {
        return Ok(());
    };
    let thread_id: String = thread.try_get("thread_id")?;
    sqlx::query("DELETE FROM messages WHERE id = $1 AND grant_id = $2")
        .bind(message_id)
        .bind(grant_id.as_str())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "DELETE FROM thread_refs WHERE grant_id = $1 AND thread_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.grant_id = $1 AND m.thread_id = $2)",
    )
    .bind(grant_id.as_str())
    .bind(&thread_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether the message lives in any folder.
async fn is_located(tx: &mut Transaction<'_, Any>, message_id: &str) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 AS one FROM message_locations WHERE message_id = $1 LIMIT 1")
        .bind(message_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.is_some())
}

/// What a `message.deleted` notification carries: the message is gone, so its id.
fn deleted_object(grant_id: &GrantId, message_id: &str) -> String {
    json!({"id": message_id, "grant_id": grant_id.as_str(), "object": "message"}).to_string()
}

/// After messages left a folder (their locations there already gone): one still in
/// another folder had its folders changed, and is returned for `message.updated`; one
/// left nowhere becomes a deletion candidate, noticed at `now_ms`.
pub(crate) async fn note_departures(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    folder_id: &str,
    leaving: Vec<String>,
    now_ms: i64,
) -> Result<Vec<(String, Option<String>)>, StoreError> {
    let mut updated = Vec::new();
    for message_id in leaving {
        if is_located(tx, &message_id).await? {
            updated.push((message_id, None));
            continue;
        }
        sqlx::query(
            "INSERT INTO deletion_candidates (message_id, grant_id, noticed_at, folder_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(&message_id)
        .bind(grant_id.as_str())
        .bind(now_ms)
        .bind(folder_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(updated)
}

/// Candidates among `ids`, messages just found in `folder_id`: those that had left
/// another folder were moved, and are returned (for `message.updated`); those found again
/// where they were (a folder re-read after a UIDVALIDITY change) are just forgotten.
pub(crate) async fn take_found_candidates(
    tx: &mut Transaction<'_, Any>,
    ids: &[String],
    folder_id: &str,
) -> Result<Vec<String>, StoreError> {
    let mut moved = Vec::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let mut filter = SqlFilter::default();
        filter.one_of("message_id", chunk.iter().map(|id| Bind::Text(id.clone())));
        let select = format!(
            "SELECT message_id, folder_id FROM deletion_candidates{}",
            filter.where_sql()
        );
        let rows = filter
            .clone()
            .bind_to(sqlx::query(&select))
            .fetch_all(&mut **tx)
            .await?;
        if rows.is_empty() {
            continue;
        }
        for row in &rows {
            let left: Option<String> = row.try_get("folder_id")?;
            if left.as_deref() != Some(folder_id) {
                moved.push(row.try_get("message_id")?);
            }
        }
        let delete = format!("DELETE FROM deletion_candidates{}", filter.where_sql());
        filter
            .bind_to(sqlx::query(&delete))
            .execute(&mut **tx)
            .await?;
    }
    Ok(moved)
}
