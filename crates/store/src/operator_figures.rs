//! Figures an operator watches (README.md, "Monitoring"), each one cheap query read when
//! the metrics are scraped, and the trivial query that tells whether the database
//! answers at all.

use sqlx::Row;

use crate::{error::StoreError, open::Store};

/// The webhook outbox at a glance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxFigures {
    /// Deliveries not yet made nor given up (due now or waiting for a retry).
    pub pending: i64,
    /// When the oldest of their notifications was recorded (Unix seconds); `None` when
    /// nothing is pending.
    pub oldest_pending_at: Option<i64>,
}

impl Store {
    /// Answers when the database does and holds mailroom's schema: one row of the
    /// migrations table, so a database that lost its tables is not taken for a healthy one.
    pub async fn check_reachable(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(())
    }

    /// How many grants are in each sync state (`sync_status.state`); grants whose sync
    /// has not begun are counted as `not_started`.
    pub async fn grants_by_sync_state(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT COALESCE(s.state, 'not_started') AS state, COUNT(*) AS grants \
             FROM grants g LEFT JOIN sync_status s ON s.grant_id = g.id \
             GROUP BY COALESCE(s.state, 'not_started')",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("state")?, row.try_get("grants")?)))
            .collect()
    }

    /// The pending deliveries of the webhook outbox, and how old the oldest is.
    pub async fn outbox_figures(&self) -> Result<OutboxFigures, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending, MIN(n.created_at) AS oldest \
             FROM webhook_deliveries d JOIN webhook_notifications n ON n.id = d.notification_id \
             WHERE d.state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(OutboxFigures {
            pending: row.try_get("pending")?,
            oldest_pending_at: row.try_get("oldest")?,
        })
    }

    /// Scheduled sends waiting for their time or being sent.
    pub async fn scheduled_sends_pending(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending FROM scheduled_sends WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("pending")?)
    }
}
