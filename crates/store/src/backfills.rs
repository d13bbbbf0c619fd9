//! Work a migration leaves to Rust because the two engines' SQL differs for it (splitting
//! a stored JSON list into rows, an index each builds its own way) or because it reads what
//! another backfill writes. A migration names the work in `pending_backfills`;
//! [`Store::run_pending_backfills`] does it after the migrations, in batches of their own transactions,
//! and removes the name when done, so an interrupted run resumes where it stopped.

use std::collections::BTreeMap;

use mailroom_model::{GrantId, v3::EmailName};
use sqlx::Row;

use crate::{
    error::StoreError,
    message_addresses::{Participants, insert_participants, roles_by_address},
    open::Store,
    sql_filter::{Bind, SqlFilter},
    subject_index::create_subject_index,
    thread_addresses::recompute_thread_addresses,
    thread_summaries::recompute_participants_and_members,
};

/// Messages read per transaction.
const MESSAGES_PER_BATCH: i64 = 1000;
/// Threads written per transaction.
const THREADS_PER_BATCH: i64 = 250;

impl Store {
    pub(crate) async fn run_pending_backfills(&self) -> Result<(), StoreError> {
        let mut pending: Vec<String> = sqlx::query("SELECT name FROM pending_backfills")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("name"))
            .collect::<Result<_, _>>()?;
        // A thread's addresses are read from its messages' participants index.
        pending.sort_by_key(|name| name != "message_addresses");
        // Thread summaries include the members (migration 0016), and the members the
        // subjects (0018): the threads are rewritten once for all three.
        let summaries = pending.iter().any(|name| name == "thread_summaries");
        let members = summaries || pending.iter().any(|name| name == "thread_members");
        for name in pending {
            let done = match name.as_str() {
                "message_addresses" => self.backfill_participants().await.map(|()| true)?,
                "thread_summaries" => self.backfill_threads(true).await.map(|()| true)?,
                "thread_members" if summaries => true,
                "thread_members" => self.backfill_threads(false).await.map(|()| true)?,
                "thread_subjects" if members => true,
                "thread_subjects" => self.backfill_threads(false).await.map(|()| true)?,
                "address_folders" => self.backfill_address_folders().await.map(|()| true)?,
                "subject_index" => create_subject_index(&self.pool, self.engine).await?,
                other => {
                    tracing::warn!(backfill = other, "unknown backfill left pending");
                    false
                }
            };
            if done {
                sqlx::query("DELETE FROM pending_backfills WHERE name = $1")
                    .bind(&name)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Indexes the participants of messages stored before the participants index.
    async fn backfill_participants(&self) -> Result<(), StoreError> {
        let mut after = String::new();
        let mut done = 0usize;
        loop {
            let rows = sqlx::query(
                "SELECT id, grant_id, date, from_json, to_json, cc_json, bcc_json FROM messages \
                 WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(&after)
            .bind(MESSAGES_PER_BATCH)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.try_get("id")?;
            let names =
                |row: &sqlx::any::AnyRow, column: &str| -> Result<Vec<EmailName>, StoreError> {
                    let text: String = row.try_get(column)?;
                    serde_json::from_str(&text).map_err(StoreError::corrupt)
                };
            let mut by_grant: Vec<(
                GrantId,
                String,
                i64,
                std::collections::BTreeMap<String, i64>,
            )> = Vec::with_capacity(rows.len());
            for row in &rows {
                by_grant.push((
                    GrantId::from_stored(row.try_get("grant_id")?),
                    row.try_get("id")?,
                    row.try_get("date")?,
                    roles_by_address(
                        &names(row, "from_json")?,
                        &names(row, "to_json")?,
                        &names(row, "cc_json")?,
                        &names(row, "bcc_json")?,
                    ),
                ));
            }
            let mut tx = self.begin_write().await?;
            for (grant_id, id, date, roles) in by_grant {
                let participants = Participants {
                    message_id: &id,
                    date,
                    roles,
                };
                insert_participants(&mut tx, self.engine, &grant_id, &[participants]).await?;
            }
            tx.commit().await?;
            done += rows.len();
        }
        if done > 0 {
            tracing::info!(
                messages = done,
                "indexed the participants of stored messages"
            );
        }
        Ok(())
    }

    /// Writes the addresses (when `addresses`), participants and members of the threads
    /// stored before they were kept. A batch replaces what it writes, so a run that was
    /// stopped can start over.
    async fn backfill_threads(&self, addresses: bool) -> Result<(), StoreError> {
        let mut after = String::new();
        let mut done = 0usize;
        loop {
            let rows =
                sqlx::query("SELECT id, grant_id FROM threads WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(&after)
                    .bind(THREADS_PER_BATCH)
                    .fetch_all(&self.pool)
                    .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.try_get("id")?;
            let mut by_grant: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for row in &rows {
                by_grant
                    .entry(row.try_get("grant_id")?)
                    .or_default()
                    .push(row.try_get("id")?);
            }
            let mut tx = self.begin_write().await?;
            for (grant_id, threads) in by_grant {
                let grant_id = GrantId::from_stored(grant_id);
                if addresses {
                    let mut filter = SqlFilter::default();
                    filter.one_of("thread_id", threads.iter().map(|t| Bind::Text(t.clone())));
                    let sql = format!("DELETE FROM thread_addresses{}", filter.where_sql());
                    filter.bind_to(sqlx::query(&sql)).execute(&mut *tx).await?;
                    recompute_thread_addresses(&mut tx, &grant_id, &threads).await?;
                }
                recompute_participants_and_members(&mut tx, &grant_id, &threads).await?;
            }
            tx.commit().await?;
            done += rows.len();
        }
        if done > 0 {
            tracing::info!(threads = done, "summed up the messages of stored threads");
        }
        Ok(())
    }
}
