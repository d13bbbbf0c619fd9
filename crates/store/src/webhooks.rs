//! Webhook destinations of an application. The signing secret is sealed with the store's
//! secret box: it must be recoverable to sign deliveries, so it is encrypted, not hashed,
//! and it leaves the store unsealed only through `webhook_secret` and the answers to
//! create and rotate.

use mailroom_model::{
    ApplicationId, WebhookId,
    time::unix_now,
    v3::{TriggerType, WebhookStatus},
};
use sqlx::Row;

use crate::{
    error::StoreError, open::Store, secret_hash::generate_secret,
    webhook_failure_notices::record_failure_notices,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: WebhookId,
    pub application_id: ApplicationId,
    pub description: Option<String>,
    pub webhook_url: String,
    pub trigger_types: Vec<TriggerType>,
    pub notification_email_addresses: Vec<String>,
    pub status: WebhookStatus,
    pub status_updated_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A destination to create (its URL already checked and its challenge passed).
#[derive(Debug, Clone)]
pub struct NewWebhook<'a> {
    pub description: Option<&'a str>,
    pub webhook_url: &'a str,
    pub trigger_types: &'a [TriggerType],
    pub notification_email_addresses: &'a [String],
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookChange {
    pub description: Option<String>,
    pub webhook_url: Option<String>,
    pub trigger_types: Option<Vec<TriggerType>>,
    pub notification_email_addresses: Option<Vec<String>>,
    pub status: Option<WebhookStatus>,
}

/// What a webhook's sealed secret is bound to, with the webhook's id: a sealed secret
/// copied to another webhook's row does not open there.
pub(crate) const WEBHOOK_SECRET_PURPOSE: &str = "webhook secret";

/// A webhook together with its secret in clear, as create and rotate answer once.
#[derive(Clone)]
pub struct WebhookWithSecret {
    pub webhook: WebhookRecord,
    pub secret: String,
}

const COLUMNS: &str = "id, application_id, description, webhook_url, trigger_types_json, \
     notification_email_addresses_json, status, status_updated_at, created_at, updated_at";

impl Store {
    pub async fn create_webhook(
        &self,
        application_id: &ApplicationId,
        new: &NewWebhook<'_>,
    ) -> Result<WebhookWithSecret, StoreError> {
        let id = WebhookId::generate_time_ordered();
        let secret = new_webhook_secret();
        let now = unix_now();
        sqlx::query(
            "INSERT INTO webhooks (id, application_id, description, webhook_url, trigger_types_json, \
             notification_email_addresses_json, status, status_updated_at, secret_sealed, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id.as_str())
        .bind(application_id.as_str())
        .bind(new.description)
        .bind(new.webhook_url)
        .bind(to_json(new.trigger_types)?)
        .bind(to_json(new.notification_email_addresses)?)
        .bind(WebhookStatus::Active.as_str())
        .bind(now)
        .bind(
            self.secrets
                .seal_bound(WEBHOOK_SECRET_PURPOSE, id.as_str(), secret.as_bytes()),
        )
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let webhook = self
            .webhook(application_id, &id)
            .await?
            .ok_or_else(|| StoreError::corrupt("a webhook vanished right after it was created"))?;
        Ok(WebhookWithSecret { webhook, secret })
    }

    /// The application's webhooks, oldest first.
    pub async fn list_webhooks(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Vec<WebhookRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE application_id = $1 ORDER BY created_at, id"
        ))
        .bind(application_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(webhook_from_row).collect()
    }

    pub async fn webhook(
        &self,
        application_id: &ApplicationId,
        id: &WebhookId,
    ) -> Result<Option<WebhookRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE application_id = $1 AND id = $2"
        ))
        .bind(application_id.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    /// Applies `change`; `None` if the application has no such webhook. A status that
    /// differs from the stored one moves `status_updated_at`.
    pub async fn update_webhook(
        &self,
        application_id: &ApplicationId,
        id: &WebhookId,
        change: &WebhookChange,
    ) -> Result<Option<WebhookRecord>, StoreError> {
        let now = unix_now();
        let trigger_types = change.trigger_types.as_deref().map(to_json).transpose()?;
        let emails = change
            .notification_email_addresses
            .as_deref()
            .map(to_json)
            .transpose()?;
        let status = change.status.map(WebhookStatus::as_str);
        sqlx::query(
            "UPDATE webhooks SET \
               description = COALESCE($1, description), \
               webhook_url = COALESCE($2, webhook_url), \
               trigger_types_json = COALESCE($3, trigger_types_json), \
               notification_email_addresses_json = COALESCE($4, notification_email_addresses_json), \
               status_updated_at = CASE WHEN $5 <> status THEN $6 ELSE status_updated_at END, \
               status = COALESCE($7, status), \
               updated_at = $8 \
             WHERE application_id = $9 AND id = $10",
        )
        .bind(change.description.as_deref())
        .bind(change.webhook_url.as_deref())
        .bind(trigger_types)
        .bind(emails)
        // NULL <> status is NULL, so no new status keeps status_updated_at.
        .bind(status)
        .bind(now)
        .bind(status)
        .bind(now)
        .bind(application_id.as_str())
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        self.webhook(application_id, id).await
    }

    pub async fn delete_webhook(
        &self,
        application_id: &ApplicationId,
        id: &WebhookId,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM webhooks WHERE application_id = $1 AND id = $2")
            .bind(application_id.as_str())
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Replaces the secret; the old one stops signing at once. `None` if there is no
    /// such webhook.
    pub async fn rotate_webhook_secret(
        &self,
        application_id: &ApplicationId,
        id: &WebhookId,
    ) -> Result<Option<WebhookWithSecret>, StoreError> {
        let secret = new_webhook_secret();
        let result = sqlx::query(
            "UPDATE webhooks SET secret_sealed = $1, updated_at = $2 \
             WHERE application_id = $3 AND id = $4",
        )
        .bind(
            self.secrets
                .seal_bound(WEBHOOK_SECRET_PURPOSE, id.as_str(), secret.as_bytes()),
        )
        .bind(unix_now())
        .bind(application_id.as_str())
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Ok(None);
        }
        Ok(self
            .webhook(application_id, id)
            .await?
            .map(|webhook| WebhookWithSecret { webhook, secret }))
    }

    /// The secret in clear, for signing a delivery (`X-Nylas-Signature`). Never log it.
    pub async fn webhook_secret(&self, id: &WebhookId) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT secret_sealed FROM webhooks WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let sealed: String = row.try_get("secret_sealed")?;
        let plain = self
            .secrets
            .open_bound(WEBHOOK_SECRET_PURPOSE, id.as_str(), &sealed)?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| StoreError::corrupt("a webhook secret is not UTF-8"))
    }

    /// The application's webhooks that subscribe to `trigger` and still receive
    /// notifications (`active` or `failing`; not `pause` or `failed`).
    pub async fn active_webhooks_for(
        &self,
        application_id: &ApplicationId,
        trigger: TriggerType,
    ) -> Result<Vec<WebhookRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE application_id = $1 \
             AND status IN ('active', 'failing') ORDER BY created_at, id"
        ))
        .bind(application_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut webhooks = Vec::new();
        for row in &rows {
            let webhook = webhook_from_row(row)?;
            // Few webhooks per application: filtering the JSON list here keeps the SQL
            // the same on both engines.
            if webhook.trigger_types.contains(&trigger) {
                webhooks.push(webhook);
            }
        }
        Ok(webhooks)
    }

    /// Sets the status from delivery (`failing`, `failed`, back to `active`) without
    /// touching anything else; false if the webhook is gone. Moving it to `failed`
    /// records its failure notices, as a delivery given up does.
    pub async fn set_webhook_status(
        &self,
        id: &WebhookId,
        status: WebhookStatus,
    ) -> Result<bool, StoreError> {
        let now = unix_now();
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE webhooks SET status_updated_at = $1, status = $2 WHERE id = $3 AND status <> $4",
        )
        .bind(now)
        .bind(status.as_str())
        .bind(id.as_str())
        .bind(status.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if moved && status == WebhookStatus::Failed {
            record_failure_notices(&mut tx, id.as_str(), "", now).await?;
        }
        let exists = moved
            || sqlx::query("SELECT 1 AS one FROM webhooks WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        tx.commit().await?;
        Ok(exists)
    }
}

/// 32 random bytes, URL-safe base64: printable, so receivers can paste it into config.
fn new_webhook_secret() -> String {
    generate_secret("")
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::corrupt)
}

fn webhook_from_row(row: &sqlx::any::AnyRow) -> Result<WebhookRecord, StoreError> {
    let triggers: String = row.try_get("trigger_types_json")?;
    let emails: String = row.try_get("notification_email_addresses_json")?;
    let status: String = row.try_get("status")?;
    Ok(WebhookRecord {
        id: WebhookId::from_stored(row.try_get("id")?),
        application_id: ApplicationId::from_stored(row.try_get("application_id")?),
        description: row.try_get("description")?,
        webhook_url: row.try_get("webhook_url")?,
        trigger_types: serde_json::from_str(&triggers).map_err(StoreError::corrupt)?,
        notification_email_addresses: serde_json::from_str(&emails).map_err(StoreError::corrupt)?,
        status: status.parse().map_err(StoreError::corrupt)?,
        status_updated_at: row.try_get("status_updated_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

// The secret stays out of `Debug`, so that no log line can carry it.
impl std::fmt::Debug for WebhookWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookWithSecret")
            .field("webhook", &self.webhook)
            .finish_non_exhaustive()
    }
}
