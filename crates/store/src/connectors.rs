//! Connectors: one per provider per application.

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

const COLUMNS: &str = "provider, name, settings, scope, created_at, updated_at";

impl Store {
    /// Creates a connector; `None` if the application already has one for that provider.
    pub async fn create_connector(
        &self,
        application_id: &ApplicationId,
        provider: Provider,
        name: Option<&str>,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        let now = unix_now();
        let result = sqlx::query(
            "INSERT INTO connectors (application_id, provider, name, settings, scope, created_at, updated_at) \
             VALUES ($1, $2, $3, '{}', '[]', $4, $5) ON CONFLICT (application_id, provider) DO NOTHING",
        )
        .bind(application_id.as_str())
        .bind(provider.as_str())
        .bind(name)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Ok(None);
        }
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

    /// Renames a connector; `None` if it does not exist.
    pub async fn rename_connector(
        &self,
        application_id: &ApplicationId,
        provider: Provider,
        name: Option<&str>,
    ) -> Result<Option<ConnectorRecord>, StoreError> {
        sqlx::query(
            "UPDATE connectors SET name = COALESCE($1, name), updated_at = $2 \
             WHERE application_id = $3 AND provider = $4",
        )
        .bind(name)
        .bind(unix_now())
        .bind(application_id.as_str())
        .bind(provider.as_str())
        .execute(&self.pool)
        .await?;
        self.connector(application_id, provider).await
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
