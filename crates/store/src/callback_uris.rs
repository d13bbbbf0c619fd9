//! Redirect URIs an application registered for hosted authentication.

use mailroom_model::{ApplicationId, CallbackUriId};
use sqlx::{Any, Row, Transaction};

use crate::{error::StoreError, open::Store};

#[derive(Debug, Clone)]
pub struct CallbackUriRecord {
    pub id: CallbackUriId,
    pub url: String,
    pub platform: String,
    pub settings: serde_json::Value,
}

pub(crate) async fn insert(
    tx: &mut Transaction<'_, Any>,
    application_id: &ApplicationId,
    url: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO callback_uris (id, application_id, url, platform, settings, created_at) \
         VALUES ($1, $2, $3, 'web', '{}', $4) ON CONFLICT (application_id, url) DO NOTHING",
    )
    .bind(CallbackUriId::generate().as_str())
    .bind(application_id.as_str())
    .bind(url)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    pub async fn list_callback_uris(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Vec<CallbackUriRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, url, platform, settings FROM callback_uris \
             WHERE application_id = $1 ORDER BY created_at, id",
        )
        .bind(application_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let settings: String = row.try_get("settings")?;
                Ok(CallbackUriRecord {
                    id: CallbackUriId::from_stored(row.try_get("id")?),
                    url: row.try_get("url")?,
                    platform: row.try_get("platform")?,
                    settings: serde_json::from_str(&settings).map_err(StoreError::corrupt)?,
                })
            })
            .collect()
    }
}
