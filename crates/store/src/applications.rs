//! Applications: created from the CLI, each with a client secret and a first API key.

use mailroom_model::{
    ApiKeyId, ApplicationId, CallbackUriId, RedirectUrl, time::unix_now, v3::RedirectUriSettings,
};
use sqlx::Row;

use crate::{
    error::StoreError,
    open::Store,
    secret_hash::{generate_secret, hash_secret},
};

#[derive(Debug, Clone)]
pub struct ApplicationRecord {
    pub id: ApplicationId,
    pub name: String,
    pub organization_id: String,
    /// Whether its hosted sign-in accepts servers that do not belong to the email's
    /// domain.
    pub allow_custom_servers: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new application and the secrets that are shown this once.
#[derive(Clone)]
pub struct NewApplication {
    pub application: ApplicationRecord,
    pub client_secret: String,
    pub api_key_id: ApiKeyId,
    pub api_key: String,
}

pub(crate) const API_KEY_PREFIX: &str = "mrk_";
const CLIENT_SECRET_PREFIX: &str = "mrs_";

impl Store {
    /// Creates an application with its client secret, one API key and its redirect URIs
    /// (a URL given twice is kept once), in one transaction.
    pub async fn create_application(
        &self,
        name: &str,
        callback_uris: &[RedirectUrl],
    ) -> Result<NewApplication, StoreError> {
        let now = unix_now();
        let application = ApplicationRecord {
            id: ApplicationId::generate(),
            name: name.to_owned(),
            organization_id: uuid::Uuid::new_v4().to_string(),
            allow_custom_servers: false,
            created_at: now,
            updated_at: now,
        };
        let client_secret = generate_secret(CLIENT_SECRET_PREFIX);
        let api_key = generate_secret(API_KEY_PREFIX);
        let api_key_id = ApiKeyId::generate();

        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO applications (id, name, organization_id, client_secret_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(application.id.as_str())
        .bind(name)
        .bind(&application.organization_id)
        .bind(hash_secret(&client_secret))
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO api_keys (id, application_id, key_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(api_key_id.as_str())
        .bind(application.id.as_str())
        .bind(hash_secret(&api_key))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for url in callback_uris {
            crate::callback_uris::insert(
                &mut tx,
                &CallbackUriId::generate_time_ordered(),
                &application.id,
                url,
                &RedirectUriSettings::default(),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(NewApplication {
            application,
            client_secret,
            api_key_id,
            api_key,
        })
    }

    pub async fn list_applications(&self) -> Result<Vec<ApplicationRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, organization_id, allow_custom_servers, created_at, updated_at FROM applications \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(application_from_row).collect()
    }

    pub async fn application(
        &self,
        id: &ApplicationId,
    ) -> Result<Option<ApplicationRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, organization_id, allow_custom_servers, created_at, updated_at FROM applications \
             WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(application_from_row).transpose()
    }

    /// Lets the application's hosted sign-in use servers outside the email's domain, or
    /// stops it. False if there is no such application.
    pub async fn set_allow_custom_servers(
        &self,
        id: &ApplicationId,
        allow: bool,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE applications SET allow_custom_servers = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(i64::from(allow))
        .bind(unix_now())
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(changed.rows_affected() > 0)
    }

    /// Whether `secret` is the application's client secret.
    pub async fn verify_client_secret(
        &self,
        id: &ApplicationId,
        secret: &str,
    ) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT 1 FROM applications WHERE id = $1 AND client_secret_hash = $2")
                .bind(id.as_str())
                .bind(hash_secret(secret))
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }
}

fn application_from_row(row: &sqlx::any::AnyRow) -> Result<ApplicationRecord, StoreError> {
    Ok(ApplicationRecord {
        id: ApplicationId::from_stored(row.try_get("id")?),
        name: row.try_get("name")?,
        organization_id: row.try_get("organization_id")?,
        allow_custom_servers: row.try_get::<i64, _>("allow_custom_servers")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

// The client secret and API key stay out of `Debug`, so that no log line can carry them.
impl std::fmt::Debug for NewApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApplication")
            .field("application", &self.application)
            .field("api_key_id", &self.api_key_id)
            .finish_non_exhaustive()
    }
}
