//! Failure notices: the emails a webhook's `notification_email_addresses` get when the
//! webhook is marked `failed` (docs/API.md §6.3). One notice per address is recorded in
//! the transaction that marks the webhook failed, so each transition is told once and a
//! crash loses none; the failure-notice worker sends them. A notice is claimed with a
//! lease (its `next_attempt_at` moved ahead by one conditional UPDATE), as a webhook
//! delivery is, so two processes never send it at once.

use mailroom_model::{WebhookId, time::unix_now};
use sqlx::{Any, Row, Transaction};

use crate::{error::StoreError, open::Store};

/// The longest delivery error a notice keeps, in characters.
pub const MAX_FAILURE_CHARS: usize = 500;

/// One email to send, or sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureNotice {
    pub id: String,
    pub webhook_id: String,
    pub recipient: String,
    /// The webhook's URL when it failed.
    pub webhook_url: String,
    /// The last delivery's error, clipped to [`MAX_FAILURE_CHARS`].
    pub failure: String,
    pub failed_at: i64,
    /// `pending`, `sent` or `abandoned`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    /// Why the last try to send it failed.
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

const COLUMNS: &str = "id, webhook_id, recipient, webhook_url, failure, failed_at, state, attempts, \
     next_attempt_at, last_error, sent_at";

/// Records a notice for every notification address of `webhook_id`, which the caller has
/// just marked failed in `tx`. Returns how many.
pub(crate) async fn record_failure_notices(
    tx: &mut Transaction<'_, Any>,
    webhook_id: &str,
    failure: &str,
    now: i64,
) -> Result<usize, StoreError> {
    let row = sqlx::query(
        "SELECT webhook_url, notification_email_addresses_json FROM webhooks WHERE id = $1",
    )
    .bind(webhook_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(0);
    };
    let webhook_url: String = row.try_get("webhook_url")?;
    let addresses: String = row.try_get("notification_email_addresses_json")?;
    let addresses: Vec<String> = serde_json::from_str(&addresses).map_err(StoreError::corrupt)?;
    let mut recipients: Vec<&str> = Vec::with_capacity(addresses.len());
    for address in &addresses {
        let address = address.trim();
        if !address.is_empty() && !recipients.iter().any(|r| r.eq_ignore_ascii_case(address)) {
            recipients.push(address);
        }
    }
    let failure: String = failure.chars().take(MAX_FAILURE_CHARS).collect();
    for recipient in &recipients {
        sqlx::query(
            "INSERT INTO webhook_failure_notices (id, webhook_id, recipient, webhook_url, failure, \
             failed_at, state, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7)",
        )
        .bind(uuid::Uuid::now_v7().simple().to_string())
        .bind(webhook_id)
        .bind(*recipient)
        .bind(&webhook_url)
        .bind(&failure)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(recipients.len())
}

impl Store {
    /// Pending notices due at `now`, oldest first.
    pub async fn due_failure_notices(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<FailureNotice>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhook_failure_notices \
             WHERE state = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(notice_from_row).collect()
    }

    /// A webhook's notices, oldest first, whatever their state.
    pub async fn webhook_failure_notices(
        &self,
        webhook_id: &WebhookId,
    ) -> Result<Vec<FailureNotice>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhook_failure_notices WHERE webhook_id = $1 \
             ORDER BY failed_at, id"
        ))
        .bind(webhook_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(notice_from_row).collect()
    }

    /// Takes a due notice for `lease_secs`; only one caller gets `true`.
    pub async fn claim_failure_notice(
        &self,
        notice: &FailureNotice,
        lease_secs: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_failure_notices SET next_attempt_at = $1 \
             WHERE id = $2 AND state = 'pending' AND next_attempt_at = $3",
        )
        .bind(unix_now() + lease_secs)
        .bind(&notice.id)
        .bind(notice.next_attempt_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The mail server took the notice.
    pub async fn failure_notice_sent(&self, notice: &FailureNotice) -> Result<(), StoreError> {
        let now = unix_now();
        sqlx::query(
            "UPDATE webhook_failure_notices SET state = 'sent', attempts = attempts + 1, \
             sent_at = $1, next_attempt_at = $1, last_error = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(&notice.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sending failed: try again at `retry_at`, or give up (`None`).
    pub async fn failure_notice_failed(
        &self,
        notice: &FailureNotice,
        retry_at: Option<i64>,
        error: &str,
    ) -> Result<(), StoreError> {
        let (state, next) = match retry_at {
            Some(at) => ("pending", at),
            None => ("abandoned", unix_now()),
        };
        sqlx::query(
            "UPDATE webhook_failure_notices SET state = $1, attempts = attempts + 1, \
             next_attempt_at = $2, last_error = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(next)
        .bind(error.chars().take(MAX_FAILURE_CHARS).collect::<String>())
        .bind(&notice.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets notices sent or given up before `before`. Returns how many went.
    pub async fn purge_failure_notices(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM webhook_failure_notices \
             WHERE state <> 'pending' AND next_attempt_at < $1",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

fn notice_from_row(row: &sqlx::any::AnyRow) -> Result<FailureNotice, StoreError> {
    Ok(FailureNotice {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        recipient: row.try_get("recipient")?,
        webhook_url: row.try_get("webhook_url")?,
        failure: row.try_get("failure")?,
        failed_at: row.try_get("failed_at")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        sent_at: row.try_get("sent_at")?,
    })
}
