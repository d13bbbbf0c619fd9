//! Admin tokens for the operator dashboard and the sessions they open. Both are kept
//! only as SHA-256 hashes; a revoked token ends its sessions.

use mailroom_model::time::unix_now;
use sqlx::Row;

use crate::{
    error::StoreError,
    open::Store,
    secret_hash::{generate_secret, hash_secret},
};

const ADMIN_TOKEN_PREFIX: &str = "mra_";
const ADMIN_SESSION_PREFIX: &str = "mras_";
/// How long a dashboard session lasts.
pub const ADMIN_SESSION_SECS: i64 = 12 * 60 * 60;

/// An admin token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTokenRecord {
    pub id: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl Store {
    /// A new admin token: its id, and the token itself, returned this once.
    pub async fn create_admin_token(&self) -> Result<(AdminTokenRecord, String), StoreError> {
        let token = generate_secret(ADMIN_TOKEN_PREFIX);
        let record = AdminTokenRecord {
            id: uuid::Uuid::new_v4().to_string(),
            created_at: unix_now(),
            revoked_at: None,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO admin_tokens (id, token_hash, created_at) VALUES ($1, $2, $3)")
            .bind(&record.id)
            .bind(hash_secret(&token))
            .bind(record.created_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((record, token))
    }

    pub async fn admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, revoked_at FROM admin_tokens ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AdminTokenRecord {
                    id: row.try_get("id")?,
                    created_at: row.try_get("created_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Revokes the token and ends its sessions; false if there is no such live token.
    pub async fn revoke_admin_token(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let revoked = sqlx::query(
            "UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(unix_now())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        sqlx::query("DELETE FROM admin_sessions WHERE token_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Opens a session for a live admin token; the session's secret, or `None` when the
    /// token is unknown or revoked.
    pub async fn open_admin_session(&self, token: &str) -> Result<Option<String>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row =
            sqlx::query("SELECT id FROM admin_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
                .bind(hash_secret(token))
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let token_id: String = row.try_get("id")?;
        let now = unix_now();
        sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let session = generate_secret(ADMIN_SESSION_PREFIX);
        sqlx::query(
            "INSERT INTO admin_sessions (id_hash, token_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(hash_secret(&session))
        .bind(&token_id)
        .bind(now + ADMIN_SESSION_SECS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(session))
    }

    /// Whether the session is open (not expired, its token not revoked).
    pub async fn admin_session_open(&self, session: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT s.token_id FROM admin_sessions s JOIN admin_tokens t ON t.id = s.token_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL",
        )
        .bind(hash_secret(session))
        .bind(unix_now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Ends the session.
    pub async fn close_admin_session(&self, session: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1")
            .bind(hash_secret(session))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
