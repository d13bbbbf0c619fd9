//! The per-grant change log behind Nylas v2's delta feed (`/delta`, README.md "Nylas v2
//! applications"): a row for every object a change created, modified or deleted, written
//! in the change's own transaction next to its webhook notifications, so the feed and
//! the webhooks tell the same story.
//!
//! The log is read in (txid, seq) order. On PostgreSQL `txid` is the writing
//! transaction's id and a reader only takes rows of transactions older than its
//! snapshot's xmin, the oldest still running: those rows are final, and every later
//! row sorts after them, so a cursor never has a row appear behind it. SQLite runs one
//! writer at a time: `txid` is 0 and `seq` grows per grant.

use mailroom_model::{GrantId, time::unix_now, v3::webhook::TriggerType};
use sqlx::{Any, Row, Transaction};

use crate::{
    error::StoreError,
    open::{Engine, Store},
};

/// How long changes are kept; a cursor older than this misses what was pruned.
pub const CHANGE_RETENTION_SECS: i64 = 7 * 86_400;

/// A position in a grant's change log; everything after it is still to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChangeCursor {
    pub txid: i64,
    pub seq: i64,
}

impl ChangeCursor {
    /// The cursor as handed to clients: opaque, URL-safe.
    pub fn encode(self) -> String {
        format!("c{}_{}", self.txid, self.seq)
    }

    /// A cursor [`ChangeCursor::encode`] made, or `None`.
    pub fn decode(text: &str) -> Option<Self> {
        let (txid, seq) = text.strip_prefix('c')?.split_once('_')?;
        let cursor = Self {
            txid: txid.parse().ok()?,
            seq: seq.parse().ok()?,
        };
        (cursor.txid >= 0 && cursor.seq >= 0).then_some(cursor)
    }
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Modify,
    Delete,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Modify => "modify",
            ChangeKind::Delete => "delete",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "create" => ChangeKind::Create,
            "delete" => ChangeKind::Delete,
            _ => ChangeKind::Modify,
        }
    }
}

/// One row of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub cursor: ChangeCursor,
    /// `message`, `thread`, `folder`, `contact` or `event`.
    pub object_type: String,
    pub object_id: String,
    pub kind: ChangeKind,
    pub created_at: i64,
}

/// The log entry a webhook trigger stands for; `None` for what is not an object of the
/// mailbox (grants, send outcomes, bounces).
fn logged_as(trigger: TriggerType) -> Option<(&'static str, ChangeKind)> {
    use TriggerType as T;
    Some(match trigger {
        T::MessageCreated => ("message", ChangeKind::Create),
        T::MessageUpdated => ("message", ChangeKind::Modify),
        T::MessageDeleted => ("message", ChangeKind::Delete),
        T::ThreadReplied => ("thread", ChangeKind::Modify),
        T::FolderCreated => ("folder", ChangeKind::Create),
        T::FolderUpdated => ("folder", ChangeKind::Modify),
        T::FolderDeleted => ("folder", ChangeKind::Delete),
        T::ContactUpdated => ("contact", ChangeKind::Modify),
        T::ContactDeleted => ("contact", ChangeKind::Delete),
        T::EventCreated => ("event", ChangeKind::Create),
        T::EventUpdated => ("event", ChangeKind::Modify),
        T::EventDeleted => ("event", ChangeKind::Delete),
        T::CalendarCreated | T::CalendarUpdated | T::CalendarDeleted => return None,
        T::GrantCreated | T::GrantUpdated | T::GrantDeleted | T::GrantExpired => return None,
        T::MessageSendSuccess | T::MessageSendFailed | T::MessageBounceDetected => return None,
        T::MessageOpened | T::MessageLinkClicked => return None,
    })
}

/// Appends a row per object (the webhook outbox's `(id, object)` pairs) to the grant's
/// log, in the caller's transaction.
pub(crate) async fn record_changes(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    trigger: TriggerType,
    objects: &[(String, Option<String>)],
) -> Result<(), StoreError> {
    let Some((object_type, kind)) = logged_as(trigger) else {
        return Ok(());
    };
    if objects.is_empty() {
        return Ok(());
    }
    let txid: i64 = if tx.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_current_xact_id()::text::bigint AS txid")
            .fetch_one(&mut **tx)
            .await?
            .try_get("txid")?
    } else {
        0
    };
    let last: i64 = sqlx::query(
        "SELECT COALESCE(MAX(seq), 0) AS last FROM grant_changes WHERE grant_id = $1 AND txid = $2",
    )
    .bind(grant_id.as_str())
    .bind(txid)
    .fetch_one(&mut **tx)
    .await?
    .try_get("last")?;
    let now = unix_now();
    for (seq, (object_id, _)) in (last + 1..).zip(objects) {
        sqlx::query(
            "INSERT INTO grant_changes (grant_id, txid, seq, object_type, object_id, change, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(grant_id.as_str())
        .bind(txid)
        .bind(seq)
        .bind(object_type)
        .bind(object_id)
        .bind(kind.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    /// The oldest transaction whose rows may still be missing: rows of older ones are
    /// final. `i64::MAX` on SQLite, where a reader never sees a writer half done.
    async fn change_horizon(&self) -> Result<i64, StoreError> {
        match self.engine {
            Engine::Sqlite => Ok(i64::MAX),
            Engine::Postgres => Ok(sqlx::query(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon",
            )
            .fetch_one(&self.pool)
            .await?
            .try_get("horizon")?),
        }
    }

    /// A cursor after every change made so far: reading from it yields only later ones.
    pub async fn latest_change_cursor(
        &self,
        grant_id: &GrantId,
    ) -> Result<ChangeCursor, StoreError> {
        let horizon = self.change_horizon().await?;
        if self.engine == Engine::Postgres {
            // Transactions from the horizon on may still add rows: they come after.
            return Ok(ChangeCursor {
                txid: horizon - 1,
                seq: i64::MAX,
            });
        }
        let row = sqlx::query(
            "SELECT COALESCE(MAX(seq), 0) AS last FROM grant_changes WHERE grant_id = $1 AND txid = 0",
        )
        .bind(grant_id.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(ChangeCursor {
            txid: 0,
            seq: row.try_get("last")?,
        })
    }

    /// At most `limit` changes after `after`, oldest first. The cursor is a row value, so
    /// both engines seek to it in the primary key instead of scanning from the
    /// grant's first change (PostgreSQL, 1M rows: 15 ms at 20k changes in, 0.1 ms).
    pub async fn changes_since(
        &self,
        grant_id: &GrantId,
        after: ChangeCursor,
        limit: i64,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        let horizon = self.change_horizon().await?;
        let rows = sqlx::query(
            "SELECT txid, seq, object_type, object_id, change, created_at FROM grant_changes \
             WHERE grant_id = $1 AND (txid, seq) > ($2, $3) AND txid < $4 \
             ORDER BY txid, seq LIMIT $5",
        )
        .bind(grant_id.as_str())
        .bind(after.txid)
        .bind(after.seq)
        .bind(horizon)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ChangeRecord {
                    cursor: ChangeCursor {
                        txid: row.try_get("txid")?,
                        seq: row.try_get("seq")?,
                    },
                    object_type: row.try_get("object_type")?,
                    object_id: row.try_get("object_id")?,
                    kind: ChangeKind::parse(&row.try_get::<String, _>("change")?),
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Forgets changes made before `before`. Returns how many went.
    pub async fn purge_changes(&self, before: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM grant_changes WHERE created_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_written_and_nothing_else_passes() {
        let cursor = ChangeCursor { txid: 812, seq: 3 };
        assert_eq!(ChangeCursor::decode(&cursor.encode()), Some(cursor));
        for bad in [
            "",
            "c",
            "c1",
            "c1_",
            "x1_2",
            "c-1_2",
            "c1_-2",
            "c1_2_3",
            "c99999999999999999999_1",
        ] {
            assert_eq!(ChangeCursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn cursors_order_by_transaction_then_position() {
        let a = ChangeCursor { txid: 5, seq: 900 };
        let b = ChangeCursor { txid: 6, seq: 1 };
        assert!(a < b);
    }
}
