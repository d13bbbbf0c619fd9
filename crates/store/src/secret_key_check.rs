//! The database remembers which secret key sealed its secrets (a check value, never the
//! key), so that a server started with another key refuses to start; and every sealed
//! secret can be sealed again under a new key in one transaction.

use base64::{Engine, engine::general_purpose::STANDARD};
use mailroom_model::time::unix_now;
use sqlx::Row;

use crate::{
    connectors::CONNECTOR_SECRET_PURPOSE, error::StoreError, grants::GRANT_CREDENTIALS_PURPOSE,
    open::Store, secret_box::SecretBox, webhooks::WEBHOOK_SECRET_PURPOSE,
};

/// The purpose the check value is derived for: HMAC-SHA256(key, this).
const KEY_CHECK_PURPOSE: &str = "mailroom key check";

/// A column that holds values sealed with the secret key.
struct SealedColumn {
    table: &'static str,
    key: &'static str,
    column: &'static str,
    /// The purpose its values are sealed for, with the row's key (values of the first
    /// format, bound to no row, still open, and a rotation seals them in this one).
    bound_to: &'static str,
}

const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "grants",
        key: "id",
        column: "credentials",
        bound_to: GRANT_CREDENTIALS_PURPOSE,
    },
    SealedColumn {
        table: "webhooks",
        key: "id",
        column: "secret_sealed",
        bound_to: WEBHOOK_SECRET_PURPOSE,
    },
    SealedColumn {
        table: "connector_secrets",
        key: "id",
        column: "client_secret_sealed",
        bound_to: CONNECTOR_SECRET_PURPOSE,
    },
];

impl SealedColumn {
    fn open(&self, secrets: &SecretBox, id: &str, sealed: &str) -> Result<Vec<u8>, StoreError> {
        Ok(secrets.open_bound(self.bound_to, id, sealed)?)
    }

    fn seal(&self, secrets: &SecretBox, id: &str, plain: &[u8]) -> String {
        secrets.seal_bound(self.bound_to, id, plain)
    }
}

/// How many secrets a rotation sealed again, per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResealReport {
    pub grant_credentials: u64,
    pub webhook_secrets: u64,
    pub connector_secrets: u64,
}

fn check_value(secrets: &SecretBox) -> String {
    STANDARD.encode(secrets.derive_key(KEY_CHECK_PURPOSE))
}

impl Store {
    /// Refuses a key other than the one the database's secrets were sealed with. The
    /// first start stores the check value; a database from before the check is accepted
    /// if the key opens one of its sealed secrets.
    pub(crate) async fn check_secret_key(&self) -> Result<(), StoreError> {
        let expected = check_value(&self.secrets);
        if let Some(stored) = self.stored_check_value().await? {
            return if stored == expected {
                Ok(())
            } else {
                Err(StoreError::WrongSecretKey)
            };
        }
        self.open_any_sealed_value().await.map_err(|e| match e {
            StoreError::Secret(_) => StoreError::WrongSecretKey,
            other => other,
        })?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO secret_key_check (id, check_value, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&expected)
        .bind(unix_now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // Another process may have stored its key first.
        match self.stored_check_value().await? {
            Some(stored) if stored == expected => Ok(()),
            _ => Err(StoreError::WrongSecretKey),
        }
    }

    async fn stored_check_value(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT check_value FROM secret_key_check WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get("check_value")).transpose()?)
    }

    /// Opens one sealed value, if the database holds any.
    async fn open_any_sealed_value(&self) -> Result<(), StoreError> {
        for sealed_column in SEALED_COLUMNS {
            let SealedColumn {
                table, key, column, ..
            } = sealed_column;
            let row = sqlx::query(&format!(
                "SELECT {key} AS id, {column} AS sealed FROM {table} LIMIT 1"
            ))
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = row {
                let (id, sealed): (String, String) = (row.try_get("id")?, row.try_get("sealed")?);
                sealed_column.open(&self.secrets, &id, &sealed)?;
                return Ok(());
            }
        }
        Ok(())
    }

    /// Seals every secret again under `new_key`, and records its check value, in one
    /// transaction. The store keeps its old key: open the database afresh with the new
    /// key afterwards. Every server must be stopped meanwhile, or it would go on sealing
    /// new secrets with the old key.
    pub async fn reseal_all(&self, new_key: &SecretBox) -> Result<ResealReport, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut counts = Vec::with_capacity(SEALED_COLUMNS.len());
        for sealed_column in SEALED_COLUMNS {
            let SealedColumn {
                table, key, column, ..
            } = sealed_column;
            let rows = sqlx::query(&format!(
                "SELECT {key} AS id, {column} AS sealed FROM {table}"
            ))
            .fetch_all(&mut *tx)
            .await?;
            let mut count = 0u64;
            for row in rows {
                let id: String = row.try_get("id")?;
                let sealed: String = row.try_get("sealed")?;
                let plain = sealed_column.open(&self.secrets, &id, &sealed)?;
                sqlx::query(&format!(
                    "UPDATE {table} SET {column} = $1 WHERE {key} = $2"
                ))
                .bind(sealed_column.seal(new_key, &id, &plain))
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                count += 1;
            }
            counts.push(count);
        }
        sqlx::query(
            "INSERT INTO secret_key_check (id, check_value, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET check_value = excluded.check_value, \
             created_at = excluded.created_at",
        )
        .bind(check_value(new_key))
        .bind(unix_now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ResealReport {
            grant_credentials: counts.first().copied().unwrap_or(0),
            webhook_secrets: counts.get(1).copied().unwrap_or(0),
            connector_secrets: counts.get(2).copied().unwrap_or(0),
        })
    }
}
