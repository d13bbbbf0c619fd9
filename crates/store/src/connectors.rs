//! Connectors: one per provider per application. An OAuth provider's connector holds
//! the application's client at that provider: its id and options in `settings`, its
//! secret sealed apart (`connector_secrets`, bound to the connector), never returned.

use mailroom_model::{ApplicationId, Provider, time::unix_now};
use serde_json::{Map, Value};
use sqlx::Row;

use crate::{error::StoreError, open::Store};

#[derive(Debug, Clone)]
pub struct ConnectorRecord {
    pub provider: Provider,
    pub name: Option<String>,
    pub settings: Map<String, Value>,
    pub scope: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What creating or changing a connector writes; `None` leaves a part as it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConnectorWrite<'a> {
    pub name: Option<&'a str>,
    pub settings: Option<&'a Map<String, Value>>,
    pub scope: Option<&'a [String]>,
    pub client_secret: Option<&'a str>,
}

/// What a connector's client secret is sealed as (with `<application id>/<provider>`).
pub(crate) const CONNECTOR_SECRET_PURPOSE: &str = "connector client secret";

fn secret_id(application_id: &ApplicationId, provider: Provider) -> String {
    format!("{application_id}/{provider}")
}

const COLUMNS: &str = "provider, name, settings, scope, created_at, updated_at";

impl Store {
    /// Creates a connector; `None` if the application already has one for that provider.
    pub async fn create_connector(
        &self,
        application_id: &ApplicationId,
        provider: Provider,
        write: ConnectorWrite<'_>,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        let now = unix_now();
        let settings = json_text(write.settings.cloned().unwrap_or_default())?;
        let scope = json_text(write.scope.unwrap_or_default())?;
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "INSERT INTO connectors (application_id, provider, name, settings, scope, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (application_id, provider) DO NOTHING",
        )
        .bind(application_id.as_str())
        .bind(provider.as_str())
        .bind(write.name)
        .bind(settings)
        .bind(scope)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some(secret) = write.client_secret {
            self.write_client_secret(&mut tx, application_id, provider, secret)
                .await?;
        }
        tx.commit().await?;
        self.connector(application_id, provider).await
    }

    pub async fn connector(
        &self,
        application_id: &ApplicationId,
        provider: Provider,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM connectors WHERE application_id = $1 AND provider = $2"
        ))
        .bind(application_id.as_str())
        .bind(provider.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(connector_from_row).transpose()
    }

    /// One page of the application's connectors and the total count.
    pub async fn list_connectors(
        &self,
        application_id: &ApplicationId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<ConnectorRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM connectors WHERE application_id = $1 \
             ORDER BY created_at, provider LIMIT $2 OFFSET $3"
        ))
        .bind(application_id.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(connector_from_row).collect()
    }

    /// Changes a connector; `None` if it does not exist.
    pub async fn update_connector(
        &self,
        application_id: &ApplicationId,
        provider: Provider,
        write: ConnectorWrite<'_>,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        let settings = write.settings.map(|s| json_text(s.clone())).transpose()?;
        let scope = write.scope.map(json_text).transpose()?;
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE connectors SET name = COALESCE($1, name), settings = COALESCE($2, settings), \
                 scope = COALESCE($3, scope), updated_at = $4 \
             WHERE application_id = $5 AND provider = $6",
        )
        .bind(write.name)
        .bind(settings)
        .bind(scope)
        .bind(unix_now())
        .bind(application_id.as_str())
        .bind(provider.as_str())
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some(secret) = write.client_secret {
            self.write_client_secret(&mut tx, application_id, provider, secret)
                .await?;
        }
        tx.commit().await?;
        self.connector(application_id, provider).await
    }

    /// The connector's client secret, unsealed; `None` if it has none.
    pub async fn connector_client_secret(
        &self,
        application_id: &ApplicationId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError> {
        let id = secret_id(application_id, provider);
        let row = sqlx::query("SELECT client_secret_sealed FROM connector_secrets WHERE id = $1")
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed: String = row.try_get("client_secret_sealed")?;
        let plain = self
            .secrets
            .open_bound(CONNECTOR_SECRET_PURPOSE, &id, &sealed)?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(StoreError::corrupt)
    }

    async fn write_client_secret(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        application_id: &ApplicationId,
        provider: Provider,
        secret: &str,
    ) -> Result<(), StoreError> {
        let id = secret_id(application_id, provider);
        let sealed = self
            .secrets
            .seal_bound(CONNECTOR_SECRET_PURPOSE, &id, secret.as_bytes());
        sqlx::query(
            "INSERT INTO connector_secrets (id, application_id, provider, client_secret_sealed) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET client_secret_sealed = excluded.client_secret_sealed",
        )
        .bind(&id)
        .bind(application_id.as_str())
        .bind(provider.as_str())
        .bind(sealed)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn delete_connector(
        &self,
        application_id: &ApplicationId,
        provider: Provider,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("DELETE FROM connectors WHERE application_id = $1 AND provider = $2")
                .bind(application_id.as_str())
                .bind(provider.as_str())
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() > 0)
    }
}

fn json_text(value: impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(&value).map_err(StoreError::corrupt)
}

fn connector_from_row(row: &sqlx::any::AnyRow) -> Result<ConnectorRecord, StoreError> {
    let provider: String = row.try_get("provider")?;
    let settings: String = row.try_get("settings")?;
    let scope: String = row.try_get("scope")?;
    Ok(ConnectorRecord {
        provider: provider.parse().map_err(StoreError::corrupt)?,
        name: row.try_get("name")?,
        settings: serde_json::from_str(&settings).map_err(StoreError::corrupt)?,
        scope: serde_json::from_str(&scope).map_err(StoreError::corrupt)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
