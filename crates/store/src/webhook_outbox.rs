//! The webhook outbox: notifications recorded in the transaction of the change they
//! report, and their deliveries, one per subscribed webhook, worked through by the
//! delivery worker. A delivery is claimed with a lease (its `next_attempt_at` moved
//! ahead by one conditional UPDATE), so two processes never send it at once and a
//! process that dies mid-delivery only delays it.

use mailroom_model::{GrantId, time::unix_now, v3::webhook::TriggerType};
use sqlx::{Any, Row, Transaction};

use crate::{
    change_log::record_changes,
    error::StoreError,
    open::Store,
    sql_filter::{Bind, SqlFilter},
    webhook_failure_notices::record_failure_notices,
};

/// Applications left out of one look at the due deliveries, at most: a bound on the
/// statement's parameters (the busiest are left out; the rest are capped by the caller).
const MAX_SKIPPED_APPLICATIONS: usize = 500;

/// A delivery whose time has come, with its notification.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub notification_id: String,
    pub webhook_id: String,
    pub application_id: String,
    pub grant_id: Option<String>,
    pub trigger_type: String,
    pub object_id: Option<String>,
    pub object_json: Option<String>,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

/// Records one notification per object for every webhook of the grant's application
/// subscribed to `trigger` (and not paused), and the change in the grant's change log
/// (`crate::change_log`).
pub(crate) async fn record_notifications(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    trigger: TriggerType,
    objects: &[(String, Option<String>)],
) -> Result<usize, StoreError> {
    if objects.is_empty() {
        return Ok(0);
    }
    record_changes(tx, grant_id, trigger, objects).await?;
    let pattern = format!("%\"{}\"%", trigger.as_str());
    let rows = sqlx::query(
        "SELECT w.id AS webhook_id, w.application_id AS application_id FROM webhooks w \
         JOIN grants g ON g.application_id = w.application_id \
         WHERE g.id = $1 AND w.status <> 'pause' AND w.trigger_types_json LIKE $2",
    )
    .bind(grant_id.as_str())
    .bind(&pattern)
    .fetch_all(&mut **tx)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(0);
    };
    let application_id: String = first.try_get("application_id")?;
    let webhooks: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("webhook_id"))
        .collect::<Result<_, _>>()?;
    let now = unix_now();
    for (object_id, object_json) in objects {
        let id = uuid::Uuid::now_v7().simple().to_string();
        sqlx::query(
            "INSERT INTO webhook_notifications (id, application_id, grant_id, trigger_type, object_id, object_json, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(&application_id)
        .bind(grant_id.as_str())
        .bind(trigger.as_str())
        .bind(object_id)
        .bind(object_json.as_deref())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        for webhook_id in &webhooks {
            sqlx::query(
                "INSERT INTO webhook_deliveries (notification_id, webhook_id, state, attempts, next_attempt_at) \
                 VALUES ($1, $2, 'pending', 0, $3)",
            )
            .bind(&id)
            .bind(webhook_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(objects.len())
}

impl Store {
    /// Records notifications outside another change (a grant created, a test event).
    pub async fn notify(
        &self,
        grant_id: &GrantId,
        trigger: TriggerType,
        objects: &[(String, Option<String>)],
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin_write().await?;
        let recorded = record_notifications(&mut tx, grant_id, trigger, objects).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    /// Forgets notifications older than `before` with nothing left to deliver, so the
    /// outbox does not grow without end. Returns how many went.
    pub async fn purge_delivered_notifications(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM webhook_notifications WHERE created_at < $1 AND NOT EXISTS (\
                 SELECT 1 FROM webhook_deliveries d \
                 WHERE d.notification_id = webhook_notifications.id AND d.state = 'pending')",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Pending deliveries due at `now`, oldest first.
    pub async fn due_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.due_deliveries_except(now, limit, &[]).await
    }

    /// Pending deliveries due at `now`, oldest first, leaving out those of
    /// `skip_applications` (applications that already have as many deliveries in flight
    /// as they may), so that one application's backlog cannot fill the list.
    pub async fn due_deliveries_except(
        &self,
        now: i64,
        limit: i64,
        skip_applications: &[String],
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let mut filter = SqlFilter::default();
        filter.clause("d.state = 'pending'".into());
        filter.compare("d.next_attempt_at", "<=", Bind::Int(now));
        if !skip_applications.is_empty() {
            let skipped: Vec<String> = skip_applications
                .iter()
                .take(MAX_SKIPPED_APPLICATIONS)
                .map(|id| filter.placeholder(Bind::Text(id.clone())))
                .collect();
            filter.clause(format!("n.application_id NOT IN ({})", skipped.join(", ")));
        }
        let where_sql = filter.where_sql();
        let limit = filter.placeholder(Bind::Int(limit));
        let sql = format!(
            "SELECT d.notification_id, d.webhook_id, n.application_id, n.grant_id, n.trigger_type, \
                    n.object_id, n.object_json, d.attempts, d.next_attempt_at, n.created_at \
             FROM webhook_deliveries d JOIN webhook_notifications n ON n.id = d.notification_id\
             {where_sql} ORDER BY d.next_attempt_at, d.notification_id LIMIT {limit}"
        );
        let rows = filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(DueDelivery {
                    notification_id: row.try_get("notification_id")?,
                    webhook_id: row.try_get("webhook_id")?,
                    application_id: row.try_get("application_id")?,
                    grant_id: row.try_get("grant_id")?,
                    trigger_type: row.try_get("trigger_type")?,
                    object_id: row.try_get("object_id")?,
                    object_json: row.try_get("object_json")?,
                    attempts: row.try_get("attempts")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Takes a due delivery for `lease_secs`; only one caller gets `true`.
    pub async fn claim_delivery(
        &self,
        delivery: &DueDelivery,
        lease_secs: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET next_attempt_at = $1 \
             WHERE notification_id = $2 AND webhook_id = $3 AND state = 'pending' AND next_attempt_at = $4",
        )
        .bind(unix_now() + lease_secs)
        .bind(&delivery.notification_id)
        .bind(&delivery.webhook_id)
        .bind(delivery.next_attempt_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The receiver took it. Its webhook is healthy again, and what waited for it is
    /// due now.
    pub async fn delivery_succeeded(&self, delivery: &DueDelivery) -> Result<(), StoreError> {
        let now = unix_now();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = $1, \
                 last_error = NULL WHERE notification_id = $2 AND webhook_id = $3",
        )
        .bind(now)
        .bind(&delivery.notification_id)
        .bind(&delivery.webhook_id)
        .execute(&mut *tx)
        .await?;
        let recovered = sqlx::query(
            "UPDATE webhooks SET status = 'active', status_updated_at = $1, updated_at = $1 \
             WHERE id = $2 AND status IN ('failing', 'failed')",
        )
        .bind(now)
        .bind(&delivery.webhook_id)
        .execute(&mut *tx)
        .await?;
        if recovered.rows_affected() > 0 {
            sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = $1 \
                 WHERE webhook_id = $2 AND state = 'pending' AND next_attempt_at > $1",
            )
            .bind(now)
            .bind(&delivery.webhook_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The receiver failed: try again at `retry_at`, or give up (`None`). The webhook is
    /// marked `failing`, and `failed` once a delivery is given up; that transition records
    /// a failure notice for each of its notification addresses
    /// (`crate::webhook_failure_notices`).
    pub async fn delivery_failed(
        &self,
        delivery: &DueDelivery,
        retry_at: Option<i64>,
        error: &str,
    ) -> Result<(), StoreError> {
        let now = unix_now();
        let mut tx = self.begin_write().await?;
        let (state, next) = match retry_at {
            Some(at) => ("pending", at),
            None => ("abandoned", now),
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2, \
                 last_error = $3 WHERE notification_id = $4 AND webhook_id = $5",
        )
        .bind(state)
        .bind(next)
        .bind(error)
        .bind(&delivery.notification_id)
        .bind(&delivery.webhook_id)
        .execute(&mut *tx)
        .await?;
        let (status, from) = if retry_at.is_some() {
            ("failing", "('active')")
        } else {
            ("failed", "('active', 'failing')")
        };
        let marked = sqlx::query(&format!(
            "UPDATE webhooks SET status = $1, status_updated_at = $2, updated_at = $2 \
             WHERE id = $3 AND status IN {from}"
        ))
        .bind(status)
        .bind(now)
        .bind(&delivery.webhook_id)
        .execute(&mut *tx)
        .await?;
        // Marked failed just now: its notification addresses are told, once.
        if retry_at.is_none() && marked.rows_affected() > 0 {
            record_failure_notices(&mut tx, &delivery.webhook_id, error, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
