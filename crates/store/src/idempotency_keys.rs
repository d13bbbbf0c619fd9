//! What a send made with an `Idempotency-Key` answered (docs/API.md §5.2), kept a day:
//! the first request claims the key for its grant, and a repeat gets the first answer, or
//! hears that the first is still under way. Keys are stored hashed; they are the
//! client's and may carry anything.

use mailroom_model::{GrantId, time::unix_now};
use sqlx::Row;

use crate::{error::StoreError, open::Store, secret_hash::hash_secret};

/// How long an answer is kept for repeats.
pub const IDEMPOTENCY_KEY_LIFETIME_SECS: i64 = 24 * 60 * 60;

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key is new (or its last use is older than a day): the request runs.
    Claimed,
    /// A first request with this key ended: its answer, and the hash of that request.
    Answered {
        request_hash: String,
        status: u16,
        response: String,
    },
    /// A first request with this key has not ended (or was cut off by a stop).
    UnderWay { request_hash: String },
}

impl Store {
    /// Claims `key` for a request of the grant whose content hashes to `request_hash`.
    pub async fn claim_idempotency_key(
        &self,
        grant_id: &GrantId,
        key: &str,
        request_hash: &str,
    ) -> Result<IdempotencyClaim, StoreError> {
        let key_hash = hash_secret(key);
        let now = unix_now();
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (grant_id, key_hash, request_hash, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (grant_id, key_hash) DO NOTHING",
        )
        .bind(grant_id.as_str())
        .bind(&key_hash)
        .bind(request_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(IdempotencyClaim::Claimed);
        }
        // A use older than the lifetime no longer counts: the key starts afresh.
        let renewed = sqlx::query(
            "UPDATE idempotency_keys SET request_hash = $1, status = NULL, response = NULL, \
                 created_at = $2 \
             WHERE grant_id = $3 AND key_hash = $4 AND created_at < $5",
        )
        .bind(request_hash)
        .bind(now)
        .bind(grant_id.as_str())
        .bind(&key_hash)
        .bind(now - IDEMPOTENCY_KEY_LIFETIME_SECS)
        .execute(&self.pool)
        .await?;
        if renewed.rows_affected() == 1 {
            return Ok(IdempotencyClaim::Claimed);
        }
        let row = sqlx::query(
            "SELECT request_hash, status, response FROM idempotency_keys \
             WHERE grant_id = $1 AND key_hash = $2",
        )
        .bind(grant_id.as_str())
        .bind(&key_hash)
        .fetch_optional(&self.pool)
        .await?;
        // Released between the insert and the read: try once more.
        let Some(row) = row else {
            return Box::pin(self.claim_idempotency_key(grant_id, key, request_hash)).await;
        };
        let request_hash: String = row.try_get("request_hash")?;
        let status: Option<i64> = row.try_get("status")?;
        Ok(match status {
            Some(status) => IdempotencyClaim::Answered {
                request_hash,
                status: u16::try_from(status).map_err(StoreError::corrupt)?,
                response: row
                    .try_get::<Option<String>, _>("response")?
                    .unwrap_or_default(),
            },
            None => IdempotencyClaim::UnderWay { request_hash },
        })
    }

    /// Keeps the answer of the request that claimed `key`.
    pub async fn answer_idempotency_key(
        &self,
        grant_id: &GrantId,
        key: &str,
        status: u16,
        response: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, response = $2 \
             WHERE grant_id = $3 AND key_hash = $4",
        )
        .bind(i64::from(status))
        .bind(response)
        .bind(grant_id.as_str())
        .bind(hash_secret(key))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Frees `key` after a request that sent nothing (refused, invalid), so that the
    /// client may try again with it.
    pub async fn release_idempotency_key(
        &self,
        grant_id: &GrantId,
        key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE grant_id = $1 AND key_hash = $2")
            .bind(grant_id.as_str())
            .bind(hash_secret(key))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes the keys used before `before`.
    pub async fn purge_idempotency_keys(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
