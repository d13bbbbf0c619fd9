//! Nylas v2's draft versions: a counter per draft, moved on by each save made through
//! v2 only when the saver names the version it last read (optimistic concurrency).

use mailroom_model::GrantId;
use sqlx::Row;

use crate::{error::StoreError, open::Store};

impl Store {
    /// The draft's version: 0 until it is first saved again through v2.
    pub async fn draft_version(
        &self,
        grant_id: &GrantId,
        draft_id: &str,
    ) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT version FROM draft_versions WHERE grant_id = $1 AND draft_id = $2")
                .bind(grant_id.as_str())
                .bind(draft_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(row) => row.try_get("version")?,
            None => 0,
        })
    }

    /// Moves the draft from version `expected` to the next and returns it; `None`, and
    /// nothing changed, when the draft is at another version.
    pub async fn advance_draft_version(
        &self,
        grant_id: &GrantId,
        draft_id: &str,
        expected: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO draft_versions (grant_id, draft_id, version) VALUES ($1, $2, 0) \
             ON CONFLICT (grant_id, draft_id) DO NOTHING",
        )
        .bind(grant_id.as_str())
        .bind(draft_id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "UPDATE draft_versions SET version = version + 1 \
             WHERE grant_id = $1 AND draft_id = $2 AND version = $3 RETURNING version",
        )
        .bind(grant_id.as_str())
        .bind(draft_id)
        .bind(expected)
        .fetch_optional(&mut *tx)
        .await?;
        let advanced = match row {
            Some(row) => Some(row.try_get("version")?),
            None => None,
        };
        tx.commit().await?;
        Ok(advanced)
    }

    /// Takes back a move to `advanced` whose save did not happen, unless the draft has
    /// moved on since.
    pub async fn withdraw_draft_version(
        &self,
        grant_id: &GrantId,
        draft_id: &str,
        advanced: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE draft_versions SET version = version - 1 \
             WHERE grant_id = $1 AND draft_id = $2 AND version = $3",
        )
        .bind(grant_id.as_str())
        .bind(draft_id)
        .bind(advanced)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets a draft's version once it is sent or deleted.
    pub async fn forget_draft_version(
        &self,
        grant_id: &GrantId,
        draft_id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM draft_versions WHERE grant_id = $1 AND draft_id = $2")
            .bind(grant_id.as_str())
            .bind(draft_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
