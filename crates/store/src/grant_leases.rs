//! Which node syncs each grant (README.md, "Running a cluster"). A node takes a grant's
//! lease when the lease is free or its holder is not live; its heartbeat renews all of
//! its leases at once. Every change of hands raises the lease's epoch.
//!
//! Fencing: the store a grant's actor writes through carries the (node, epoch) it was
//! started with ([`Store::fenced`]). Every write transaction it begins first reads the
//! lease row, locked against change until the transaction ends, and refuses to go on if
//! the lease has moved. A node that was paused past its lease and wakes up therefore
//! cannot commit stale state: either its transaction committed before the other node
//! took the lease (which waited for it), or it finds the lease gone.

use std::time::Duration;

use mailroom_model::GrantId;
use sqlx::Row;

use crate::{
    cluster_nodes::millis,
    error::StoreError,
    open::{Engine, Store},
};

/// A grant's lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantLease {
    pub grant_id: GrantId,
    /// None once released.
    pub node_id: Option<String>,
    pub epoch: i64,
}

/// The lease a store's writes are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub grant_id: GrantId,
    pub node_id: String,
    pub epoch: i64,
}

impl Store {
    /// This store, with every write transaction checked against `fence` first.
    pub fn fenced(&self, fence: Fence) -> Store {
        let mut store = self.clone();
        store.fence = Some(std::sync::Arc::new(fence));
        store
    }

    /// Every grant's lease.
    pub async fn grant_leases(&self) -> Result<Vec<GrantLease>, StoreError> {
        let rows = sqlx::query("SELECT grant_id, node_id, epoch FROM grant_leases")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(GrantLease {
                    grant_id: GrantId::from_stored(row.try_get("grant_id")?),
                    node_id: row.try_get("node_id")?,
                    epoch: row.try_get("epoch")?,
                })
            })
            .collect()
    }

    /// Takes the lease of a grant for `node`, if it is free, new, or (with
    /// `from_dead`) held by a node that has not beaten its heartbeat for `lease`. Says
    /// the new epoch, or None when the lease is held (or, on PostgreSQL, locked by a
    /// write under way on it: the caller tries again on its next round rather than wait
    /// behind it).
    pub async fn take_lease(
        &self,
        grant_id: &GrantId,
        node: &str,
        lease: Duration,
        from_dead: bool,
    ) -> Result<Option<i64>, StoreError> {
        let now = self.clock_sql();
        let inserted = sqlx::query(&format!(
            "INSERT INTO grant_leases (grant_id, node_id, epoch, acquired_at) \
             SELECT id, $2, 1, {now} FROM grants WHERE id = $1 \
             ON CONFLICT (grant_id) DO NOTHING RETURNING epoch"
        ))
        .bind(grant_id.as_str())
        .bind(node)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = inserted {
            return Ok(Some(row.try_get("epoch")?));
        }
        let unlocked = match self.engine {
            Engine::Postgres => {
                " AND grant_id IN (SELECT grant_id FROM grant_leases WHERE grant_id = $1 \
                 FOR UPDATE SKIP LOCKED)"
            }
            Engine::Sqlite => "",
        };
        let holder = if from_dead {
            format!(
                "(node_id IS NULL OR node_id NOT IN \
                 (SELECT id FROM cluster_nodes WHERE heartbeat_at > {now} - $3))"
            )
        } else {
            "node_id IS NULL".to_owned()
        };
        let sql = format!(
            "UPDATE grant_leases SET node_id = $2, epoch = epoch + 1, acquired_at = {now} \
             WHERE grant_id = $1 AND {holder}{unlocked} RETURNING epoch"
        );
        let mut take = sqlx::query(&sql).bind(grant_id.as_str()).bind(node);
        if from_dead {
            take = take.bind(millis(lease));
        }
        let taken = take.fetch_optional(&self.pool).await?;
        Ok(match taken {
            Some(row) => Some(row.try_get("epoch")?),
            None => None,
        })
    }

    /// Gives up `node`'s lease of a grant (its actor has stopped), for another to take.
    pub async fn release_lease(&self, grant_id: &GrantId, node: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE grant_leases SET node_id = NULL WHERE grant_id = $1 AND node_id = $2")
            .bind(grant_id.as_str())
            .bind(node)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives up every lease `node` holds (it is shutting down).
    pub async fn release_all_leases(&self, node: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE grant_leases SET node_id = NULL WHERE node_id = $1")
            .bind(node)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Fails with [`StoreError::LeaseLost`] when this store is fenced and its lease has
    /// moved on; on PostgreSQL the lease row stays locked (shared) until `transaction`
    /// ends, so the lease cannot move while it writes.
    pub(crate) async fn check_fence(
        &self,
        transaction: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(), StoreError> {
        let Some(fence) = &self.fence else {
            return Ok(());
        };
        let lock = match self.engine {
            Engine::Postgres => " FOR SHARE",
            Engine::Sqlite => "",
        };
        let held = sqlx::query(&format!(
            "SELECT epoch FROM grant_leases WHERE grant_id = $1 AND node_id = $2 AND epoch = $3{lock}"
        ))
        .bind(fence.grant_id.as_str())
        .bind(fence.node_id.as_str())
        .bind(fence.epoch)
        .fetch_optional(&mut **transaction)
        .await?;
        match held {
            Some(_) => Ok(()),
            None => Err(StoreError::LeaseLost(fence.grant_id.to_string())),
        }
    }
}
