//! Sync progress of a grant, shown on the grant object and by `mailroom grants status`.

use mailroom_model::{GrantId, SyncState, time::unix_now};
use sqlx::Row;

use crate::{error::StoreError, open::Store};

#[derive(Debug, Clone, Default)]
pub struct SyncStatus {
    /// `None` until the grant's sync has begun (or for a state this version does not
    /// know).
    pub state: Option<SyncState>,
    pub folders_total: i64,
    pub folders_done: i64,
    pub messages_total: i64,
    pub messages_synced: i64,
    /// Indexed messages whose body has been read too.
    pub bodies_synced: i64,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

impl Store {
    pub async fn set_sync_status(
        &self,
        grant_id: &GrantId,
        state: SyncState,
        folders_total: i64,
        folders_done: i64,
        messages_total: i64,
        last_error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(UPSERT_SYNC_STATUS)
            .bind(grant_id.as_str())
            .bind(state.as_str())
            .bind(folders_total)
            .bind(folders_done)
            .bind(messages_total)
            .bind(last_error)
            .bind(unix_now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn sync_status(&self, grant_id: &GrantId) -> Result<Option<SyncStatus>, StoreError> {
        let row = sqlx::query(
            "SELECT state, folders_total, folders_done, messages_total, messages_synced, \
                 bodies_synced, last_error, updated_at \
             FROM sync_status WHERE grant_id = $1",
        )
        .bind(grant_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SyncStatus {
            state: SyncState::parse(&row.try_get::<String, _>("state")?),
            folders_total: row.try_get("folders_total")?,
            folders_done: row.try_get("folders_done")?,
            messages_total: row.try_get("messages_total")?,
            messages_synced: row.try_get("messages_synced")?,
            bodies_synced: row.try_get("bodies_synced")?,
            last_error: row.try_get("last_error")?,
            updated_at: row.try_get("updated_at")?,
        }))
    }

    /// Recounts the indexed messages and the bodies read, exactly (index-only scans);
    /// writers keep the counts current in between.
    pub async fn recount_sync_progress(&self, grant_id: &GrantId) -> Result<(), StoreError> {
        let messages = self.indexed_message_count(grant_id).await?;
        let bodies = self.read_body_count(grant_id).await?;
        sqlx::query(
            "UPDATE sync_status SET messages_synced = $1, bodies_synced = $2 WHERE grant_id = $3",
        )
        .bind(messages)
        .bind(bodies)
        .bind(grant_id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A grant's sync status written whole: grant, state, folders total and done, messages
/// total, last error, time.
pub(crate) const UPSERT_SYNC_STATUS: &str = "INSERT INTO sync_status (grant_id, state, \
     folders_total, folders_done, messages_total, last_error, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (grant_id) DO UPDATE SET state = excluded.state, \
     folders_total = excluded.folders_total, folders_done = excluded.folders_done, \
     messages_total = excluded.messages_total, last_error = excluded.last_error, \
     updated_at = excluded.updated_at";
