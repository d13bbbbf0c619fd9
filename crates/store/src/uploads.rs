//! Files an account uploaded through Nylas v2's `POST /files` (README.md, "Nylas v2
//! applications"), kept for a draft or a send of the same account to attach by id. Each
//! belongs to one grant and is read only with that grant's id; a day after its upload it
//! may be pruned, and a grant holds a bounded amount of them at a time.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use mailroom_model::{GrantId, time::unix_now};
use sqlx::Row;

use crate::{
    error::StoreError,
    open::{Engine, Store},
};

/// How long an upload is kept for a draft or a send to attach it.
pub const UPLOAD_LIFETIME_SECS: i64 = 24 * 60 * 60;
/// The most a grant's uploads of the last day may hold, together.
pub const MAX_UPLOAD_BYTES_PER_GRANT: i64 = 256 * 1024 * 1024;
/// The most uploads a grant may hold at a time.
pub const MAX_UPLOADS_PER_GRANT: i64 = 1000;

/// What a grant's uploads may hold at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadQuota {
    pub files: i64,
    pub bytes: i64,
}

impl Default for UploadQuota {
    fn default() -> Self {
        Self {
            files: MAX_UPLOADS_PER_GRANT,
            bytes: MAX_UPLOAD_BYTES_PER_GRANT,
        }
    }
}

/// An upload, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: String,
    pub grant_id: GrantId,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: i64,
}

/// Why an upload was not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadRefused {
    /// The grant's uploads would hold more than its quota's bytes or files.
    OverQuota(String),
}

const COLUMNS: &str = "id, grant_id, filename, content_type, size, created_at";

impl Store {
    /// Keeps a file the grant uploaded, unless its uploads would then exceed `quota`;
    /// its own uploads past their lifetime are dropped first. The check and the insert
    /// are one transaction.
    pub async fn store_upload(
        &self,
        grant_id: &GrantId,
        filename: &str,
        content_type: &str,
        content: &[u8],
        quota: &UploadQuota,
    ) -> Result<Result<UploadRecord, UploadRefused>, StoreError> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let now = unix_now();
        let size = i64::try_from(content.len()).unwrap_or(i64::MAX);
        let mut tx = self.begin_write().await?;
        if self.engine == Engine::Postgres {
            // Two uploads of one grant at once queue here, so each sees the other.
            sqlx::query("SELECT id FROM grants WHERE id = $1 FOR UPDATE")
                .bind(grant_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM v2_uploads WHERE grant_id = $1 AND created_at < $2")
            .bind(grant_id.as_str())
            .bind(now - UPLOAD_LIFETIME_SECS)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS files, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes \
             FROM v2_uploads WHERE grant_id = $1",
        )
        .bind(grant_id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let (files, bytes): (i64, i64) = (row.try_get("files")?, row.try_get("bytes")?);
        let refused = if files >= quota.files {
            Some(format!(
                "this account already holds {files} uploaded files, the most allowed; \
                 they are kept a day after their upload"
            ))
        } else if bytes.saturating_add(size) > quota.bytes {
            Some(format!(
                "this account's uploaded files would hold more than {} bytes, the most \
                 allowed; they are kept a day after their upload",
                quota.bytes
            ))
        } else {
            None
        };
        if let Some(reason) = refused {
            // The expired uploads stay deleted.
            tx.commit().await?;
            return Ok(Err(UploadRefused::OverQuota(reason)));
        }
        sqlx::query(
            "INSERT INTO v2_uploads (id, grant_id, filename, content_type, size, content, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(grant_id.as_str())
        .bind(filename)
        .bind(content_type)
        .bind(size)
        .bind(STANDARD.encode(content))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(UploadRecord {
            id,
            grant_id: grant_id.clone(),
            filename: filename.to_owned(),
            content_type: content_type.to_owned(),
            size,
            created_at: now,
        }))
    }

    /// The grant's upload `id`, without its bytes; `None` if it is another grant's or
    /// unknown.
    pub async fn upload(
        &self,
        grant_id: &GrantId,
        id: &str,
    ) -> Result<Option<UploadRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM v2_uploads WHERE grant_id = $1 AND id = $2"
        ))
        .bind(grant_id.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(upload_from_row).transpose()
    }

    /// The grant's upload `id` as a draft or a send attaches it: its filename, content
    /// type and bytes; `None` if it is another grant's or unknown.
    pub async fn uploaded_file(
        &self,
        grant_id: &GrantId,
        id: &str,
    ) -> Result<Option<(String, String, Vec<u8>)>, StoreError> {
        let row = sqlx::query(
            "SELECT filename, content_type, content FROM v2_uploads WHERE grant_id = $1 AND id = $2",
        )
        .bind(grant_id.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let content: String = row.try_get("content")?;
        Ok(Some((
            row.try_get("filename")?,
            row.try_get("content_type")?,
            STANDARD.decode(content).map_err(StoreError::corrupt)?,
        )))
    }

    /// Deletes the grant's upload `id`. Returns whether it was there.
    pub async fn delete_upload(&self, grant_id: &GrantId, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM v2_uploads WHERE grant_id = $1 AND id = $2")
            .bind(grant_id.as_str())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes every grant's uploads made before `before` (unix seconds). Returns how
    /// many.
    pub async fn purge_uploads(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM v2_uploads WHERE created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

fn upload_from_row(row: &sqlx::any::AnyRow) -> Result<UploadRecord, StoreError> {
    Ok(UploadRecord {
        id: row.try_get("id")?,
        grant_id: GrantId::from_stored(row.try_get("grant_id")?),
        filename: row.try_get("filename")?,
        content_type: row.try_get("content_type")?,
        size: row.try_get("size")?,
        created_at: row.try_get("created_at")?,
    })
}
