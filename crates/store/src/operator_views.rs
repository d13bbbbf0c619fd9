//! What the operator dashboard shows and does beyond the API's own reads: the failing
//! deliveries of each webhook, a retry of them now, and the sends waiting on a schedule.

use mailroom_model::{ApplicationId, GrantId, time::unix_now};
use sqlx::Row;

use crate::{error::StoreError, open::Store};

/// A webhook's deliveries still to be made after at least one failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingDeliveries {
    pub webhook_id: String,
    pub pending: i64,
    pub oldest_created_at: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: i64,
}

/// A send waiting for its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSend {
    pub id: String,
    pub grant_id: GrantId,
    pub send_at: i64,
}

impl Store {
    /// The webhooks (of every application: a webhook's id is its own) that have
    /// deliveries failed at least once and not given up, with how many and one of their
    /// errors. One pass over the pending deliveries, whatever the number of applications.
    pub async fn failing_deliveries(&self) -> Result<Vec<FailingDeliveries>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.webhook_id AS webhook_id, COUNT(*) AS pending, MIN(n.created_at) AS oldest, \
                    MIN(d.next_attempt_at) AS next_attempt_at, MAX(d.last_error) AS last_error \
             FROM webhook_deliveries d \
             JOIN webhook_notifications n ON n.id = d.notification_id \
             WHERE d.state = 'pending' AND d.attempts > 0 \
             GROUP BY d.webhook_id ORDER BY d.webhook_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FailingDeliveries {
                    webhook_id: row.try_get("webhook_id")?,
                    pending: row.try_get("pending")?,
                    oldest_created_at: row.try_get("oldest")?,
                    last_error: row.try_get("last_error")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                })
            })
            .collect()
    }

    /// Makes every pending delivery of the webhook due now (the delivery worker takes
    /// them on its next look); returns how many.
    pub async fn retry_deliveries_now(
        &self,
        application_id: &ApplicationId,
        webhook_id: &str,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $1 \
             WHERE webhook_id = $2 AND state = 'pending' AND next_attempt_at > $1 \
               AND webhook_id IN (SELECT id FROM webhooks WHERE application_id = $3)",
        )
        .bind(unix_now())
        .bind(webhook_id)
        .bind(application_id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(moved)
    }

    /// The sends of the application's grants still waiting for their time, soonest first.
    pub async fn pending_sends(
        &self,
        application_id: &ApplicationId,
        limit: i64,
    ) -> Result<Vec<PendingSend>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id AS id, s.grant_id AS grant_id, s.send_at AS send_at \
             FROM scheduled_sends s JOIN grants g ON g.id = s.grant_id \
             WHERE g.application_id = $1 AND s.status = 'pending' \
             ORDER BY s.send_at, s.id LIMIT $2",
        )
        .bind(application_id.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingSend {
                    id: row.try_get("id")?,
                    grant_id: GrantId::from_stored(row.try_get("grant_id")?),
                    send_at: row.try_get("send_at")?,
                })
            })
            .collect()
    }
}
