//! API keys: the bearer credential of an application. Stored only as hashes.

use mailroom_model::{ApiKeyId, ApplicationId, time::unix_now};
use sqlx::Row;

use crate::{
    applications::API_KEY_PREFIX,
    error::StoreError,
    open::Store,
    secret_hash::{generate_secret, hash_secret},
};

#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub application_id: ApplicationId,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl Store {
    /// A new key for an application; the key itself is returned this once.
    /// `None` if there is no such application.
    pub async fn create_api_key(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Option<(ApiKeyRecord, String)>, StoreError> {
        if self.application(application_id).await?.is_none() {
            return Ok(None);
        }
        let key = generate_secret(API_KEY_PREFIX);
        let record = ApiKeyRecord {
            id: ApiKeyId::generate(),
            application_id: application_id.clone(),
            created_at: unix_now(),
            revoked_at: None,
        };
        sqlx::query(
            "INSERT INTO api_keys (id, application_id, key_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(record.id.as_str())
        .bind(application_id.as_str())
        .bind(hash_secret(&key))
        .bind(record.created_at)
        .execute(&self.pool)
        .await?;
        Ok(Some((record, key)))
    }

    /// Revokes a key; false if no live key has that id.
    pub async fn revoke_api_key(&self, id: &ApiKeyId) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(unix_now())
                .bind(id.as_str())
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() > 0)
    }

    pub async fn list_api_keys(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, application_id, created_at, revoked_at FROM api_keys \
             WHERE application_id = $1 ORDER BY created_at, id",
        )
        .bind(application_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ApiKeyRecord {
                    id: ApiKeyId::from_stored(row.try_get("id")?),
                    application_id: ApplicationId::from_stored(row.try_get("application_id")?),
                    created_at: row.try_get("created_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// The application a live API key belongs to.
    pub async fn application_for_api_key(
        &self,
        key: &str,
    ) -> Result<Option<ApplicationId>, StoreError> {
        let row = sqlx::query(
            "SELECT application_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash_secret(key))
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some(ApplicationId::from_stored(row.try_get("application_id")?)),
            None => None,
        })
    }
}
