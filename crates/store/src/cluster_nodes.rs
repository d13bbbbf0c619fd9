//! The registry of `mailroom serve` processes on this database (README.md, "Running a
//! cluster"). Each node beats its heartbeat into its row; one whose heartbeat is older
//! than the lease time is dead to the others, and its grants are theirs to take. Times
//! come from the database's clock, so the nodes' own clocks need not agree.

use std::time::Duration;

use sqlx::Row;

use crate::{
    error::StoreError,
    open::{Engine, Store},
};

/// A node as `mailroom nodes` shows it.
#[derive(Debug, Clone)]
pub struct NodeRecord {
    pub id: String,
    pub host: String,
    pub pid: i64,
    /// Unix milliseconds, database clock.
    pub started_at: i64,
    /// How long ago its last heartbeat was, in milliseconds.
    pub heartbeat_age_ms: i64,
    pub leaving: bool,
    /// Leases it holds.
    pub grants: i64,
    /// How long ago it took the oldest of them, in milliseconds.
    pub oldest_lease_age_ms: Option<i64>,
}

impl Store {
    /// The database's clock in Unix milliseconds, as SQL.
    pub(crate) fn clock_sql(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Engine::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// Enters this node in the registry, live from now.
    pub async fn register_node(&self, id: &str, host: &str, pid: i64) -> Result<(), StoreError> {
        let now = self.clock_sql();
        sqlx::query(&format!(
            "INSERT INTO cluster_nodes (id, host, pid, started_at, heartbeat_at, leaving) \
             VALUES ($1, $2, $3, {now}, {now}, 0) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = {now}, leaving = 0"
        ))
        .bind(id)
        .bind(host)
        .bind(pid)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Renews this node's heartbeat, and with it every lease it holds. Says false when
    /// its row is gone: the others took it for dead and forgot it.
    pub async fn heartbeat(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE cluster_nodes SET heartbeat_at = {} WHERE id = $1",
            self.clock_sql()
        ))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Marks this node as shutting down: it is no longer given grants.
    pub async fn mark_node_leaving(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE cluster_nodes SET leaving = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes this node out of the registry (after it released its leases).
    pub async fn remove_node(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM cluster_nodes WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The nodes that share the grants: heartbeat younger than `lease`, not leaving.
    pub async fn live_nodes(&self, lease: Duration) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT id FROM cluster_nodes WHERE heartbeat_at > {} - $1 AND leaving = 0 \
             ORDER BY id",
            self.clock_sql()
        ))
        .bind(millis(lease))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| row.try_get::<String, _>("id").map_err(StoreError::from))
            .collect()
    }

    /// Every registered node's id, the age of its last heartbeat in milliseconds, and
    /// whether it is leaving: what an ownership round needs to know who is live, and
    /// when the next of them runs out of lease if it stops beating.
    pub async fn node_heartbeats(&self) -> Result<Vec<(String, i64, bool)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT id, {} - heartbeat_at AS age, leaving FROM cluster_nodes ORDER BY id",
            self.clock_sql()
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("id")?,
                    row.try_get("age")?,
                    row.try_get::<i64, _>("leaving")? != 0,
                ))
            })
            .collect()
    }

    /// Forgets nodes silent for longer than `silent`; their leases stay, takeable.
    pub async fn forget_silent_nodes(&self, silent: Duration) -> Result<u64, StoreError> {
        let done = sqlx::query(&format!(
            "DELETE FROM cluster_nodes WHERE heartbeat_at < {} - $1",
            self.clock_sql()
        ))
        .bind(millis(silent))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Forgets every node but `id` and frees their leases: on SQLite, where one process
    /// holds the database (`mailroom serve` locks it), any other entry is a process that
    /// has ended, and its grants need not wait for its lease to run out.
    pub async fn forget_other_nodes(&self, id: &str) -> Result<u64, StoreError> {
        sqlx::query("UPDATE grant_leases SET node_id = NULL WHERE node_id <> $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        let done = sqlx::query("DELETE FROM cluster_nodes WHERE id <> $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Every registered node with its leases, for `mailroom nodes`.
    pub async fn cluster_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        let now = self.clock_sql();
        let rows = sqlx::query(&format!(
            "SELECT n.id, n.host, n.pid, n.started_at, {now} - n.heartbeat_at AS heartbeat_age, \
                    n.leaving, COUNT(l.grant_id) AS grants, \
                    {now} - MIN(l.acquired_at) AS oldest_lease_age \
             FROM cluster_nodes n LEFT JOIN grant_leases l ON l.node_id = n.id \
             GROUP BY n.id, n.host, n.pid, n.started_at, n.heartbeat_at, n.leaving \
             ORDER BY n.started_at, n.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(NodeRecord {
                    id: row.try_get("id")?,
                    host: row.try_get("host")?,
                    pid: row.try_get("pid")?,
                    started_at: row.try_get("started_at")?,
                    heartbeat_age_ms: row.try_get("heartbeat_age")?,
                    leaving: row.try_get::<i64, _>("leaving")? != 0,
                    grants: row.try_get("grants")?,
                    oldest_lease_age_ms: row.try_get("oldest_lease_age")?,
                })
            })
            .collect()
    }
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
