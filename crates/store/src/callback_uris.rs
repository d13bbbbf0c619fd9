//! Redirect (callback) URIs an application registered for hosted authentication. An
//! application has each URL once.

use mailroom_model::{
    ApplicationId, CallbackUriId, RedirectPlatform, RedirectUrl, time::unix_now,
    v3::RedirectUriSettings,
};
use sqlx::{AnyConnection, Row};

use crate::{error::StoreError, open::Store};

#[derive(Debug, Clone)]
pub struct CallbackUriRecord {
    pub id: CallbackUriId,
    pub url: String,
    pub platform: RedirectPlatform,
    pub settings: RedirectUriSettings,
}

/// What an update of a redirect URI came to.
#[derive(Debug)]
pub enum CallbackUriUpdate {
    Updated(CallbackUriRecord),
    /// The application has no redirect URI with that id.
    NotFound,
    /// Another of the application's redirect URIs already has the new URL.
    DuplicateUrl,
}

const COLUMNS: &str = "id, url, platform, settings";

/// Adds a redirect URI unless the application already has its URL; whether it was added.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    id: &CallbackUriId,
    application_id: &ApplicationId,
    url: &RedirectUrl,
    settings: &RedirectUriSettings,
    now: i64,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO callback_uris (id, application_id, url, platform, settings, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (application_id, url) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(application_id.as_str())
    .bind(url.as_str())
    .bind(url.platform().as_str())
    .bind(settings_json(settings)?)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() > 0)
}

impl Store {
    /// The application's redirect URIs, oldest first.
    pub async fn list_callback_uris(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Vec<CallbackUriRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM callback_uris WHERE application_id = $1 ORDER BY created_at, id"
        ))
        .bind(application_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(callback_uri_from_row).collect()
    }

    /// The URLs of the redirect URIs registered for the `js` platform, of one application
    /// or of all: the origins browsers may call from (crate `mailroom-api`, `cors`).
    pub async fn js_redirect_urls(
        &self,
        application_id: Option<&ApplicationId>,
    ) -> Result<Vec<String>, StoreError> {
        let rows =
            match application_id {
                Some(id) => sqlx::query(
                    "SELECT url FROM callback_uris WHERE platform = 'js' AND application_id = $1",
                )
                .bind(id.as_str())
                .fetch_all(&self.pool)
                .await?,
                None => {
                    sqlx::query("SELECT DISTINCT url FROM callback_uris WHERE platform = 'js'")
                        .fetch_all(&self.pool)
                        .await?
                }
            };
        rows.iter()
            .map(|row| row.try_get("url").map_err(StoreError::from))
            .collect()
    }

    pub async fn callback_uri(
        &self,
        application_id: &ApplicationId,
        id: &CallbackUriId,
    ) -> Result<Option<CallbackUriRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM callback_uris WHERE application_id = $1 AND id = $2"
        ))
        .bind(application_id.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(callback_uri_from_row).transpose()
    }

    /// Adds a redirect URI; `None` if the application already has that URL.
    pub async fn create_callback_uri(
        &self,
        application_id: &ApplicationId,
        url: &RedirectUrl,
        settings: &RedirectUriSettings,
    ) -> Result<Option<CallbackUriRecord>, StoreError> {
        // Time-ordered, so that URIs added within one second still list in order.
        let id = CallbackUriId::generate_time_ordered();
        let mut conn = self.pool.acquire().await?;
        if !insert(&mut conn, &id, application_id, url, settings, unix_now()).await? {
            return Ok(None);
        }
        Ok(Some(CallbackUriRecord {
            id,
            url: url.as_str().to_owned(),
            platform: url.platform(),
            settings: settings.clone(),
        }))
    }

    /// Replaces a redirect URI's URL, platform and settings.
    pub async fn update_callback_uri(
        &self,
        application_id: &ApplicationId,
        id: &CallbackUriId,
        url: &RedirectUrl,
        settings: &RedirectUriSettings,
    ) -> Result<CallbackUriUpdate, StoreError> {
        let result = sqlx::query(
            "UPDATE callback_uris SET url = $1, platform = $2, settings = $3 \
             WHERE application_id = $4 AND id = $5",
        )
        .bind(url.as_str())
        .bind(url.platform().as_str())
        .bind(settings_json(settings)?)
        .bind(application_id.as_str())
        .bind(id.as_str())
        .execute(&self.pool)
        .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Ok(CallbackUriUpdate::DuplicateUrl)
            }
            Err(e) => Err(e.into()),
            Ok(done) if done.rows_affected() == 0 => Ok(CallbackUriUpdate::NotFound),
            Ok(_) => Ok(CallbackUriUpdate::Updated(CallbackUriRecord {
                id: id.clone(),
                url: url.as_str().to_owned(),
                platform: url.platform(),
                settings: settings.clone(),
            })),
        }
    }

    /// Removes a redirect URI; whether the application had it.
    pub async fn delete_callback_uri(
        &self,
        application_id: &ApplicationId,
        id: &CallbackUriId,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM callback_uris WHERE application_id = $1 AND id = $2")
            .bind(application_id.as_str())
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }
}

fn settings_json(settings: &RedirectUriSettings) -> Result<String, StoreError> {
    serde_json::to_string(settings).map_err(StoreError::corrupt)
}

fn callback_uri_from_row(row: &sqlx::any::AnyRow) -> Result<CallbackUriRecord, StoreError> {
    let platform: String = row.try_get("platform")?;
    let settings: String = row.try_get("settings")?;
    Ok(CallbackUriRecord {
        id: CallbackUriId::from_stored(row.try_get("id")?),
        url: row.try_get("url")?,
        platform: platform.parse().map_err(StoreError::corrupt)?,
        settings: serde_json::from_str(&settings).map_err(StoreError::corrupt)?,
    })
}
