//! The `threads` table: one row per thread of a grant with a message still somewhere on
//! the server, holding what thread lists sort and filter by (latest date, counts) so that
//! a page of threads is one indexed range scan, and `thread_folders`, the folders each
//! thread has messages in.
//!
//! Every write that changes which messages a thread shows (a location added or removed,
//! a flag, a date, threads merged) notes the messages or threads it touched in a
//! [`TouchedThreads`], and recomputes their rows from `messages` before it commits. A
//! thread's row is thus always what a recomputation from its messages would give, at the
//! cost of reading the touched threads' messages once per write.

use std::collections::HashSet;

use mailroom_model::GrantId;
use sqlx::{Any, Row, Transaction};

use crate::{
    error::StoreError,
    sql_filter::{Bind, SqlFilter},
};

/// Ids per `IN (…)` list.
const IDS_PER_STATEMENT: usize = 250;

/// The threads a write changed, by message or by thread id, and the messages it added
/// to the index with their first location.
#[derive(Default, Debug)]
pub(crate) struct TouchedThreads {
    messages: HashSet<String>,
    threads: HashSet<String>,
    added: HashSet<String>,
}

impl TouchedThreads {
    pub(crate) fn message(&mut self, id: &str) {
        self.messages.insert(id.to_owned());
    }

    pub(crate) fn messages<'a>(&mut self, ids: impl IntoIterator<Item = &'a String>) {
        self.messages.extend(ids.into_iter().cloned());
    }

    pub(crate) fn thread(&mut self, id: &str) {
        self.threads.insert(id.to_owned());
    }

    /// Messages new to the index, located in this write. Their threads' rows grow by
    /// what these add, without reading the threads' other messages (a thread of
    /// thousands of messages costs an initial sync nothing per batch), unless the thread
    /// is recomputed anyway.
    pub(crate) fn added<'a>(&mut self, ids: impl IntoIterator<Item = &'a String>) {
        self.added.extend(ids.into_iter().cloned());
    }

    /// Recomputes the touched threads' rows. Run it after the write's last change to
    /// `messages`' thread ids, dates, flags or locations.
    pub(crate) async fn refresh(
        mut self,
        tx: &mut Transaction<'_, Any>,
        grant_id: &GrantId,
    ) -> Result<(), StoreError> {
        let messages: Vec<String> = self.messages.drain().collect();
        for chunk in messages.chunks(IDS_PER_STATEMENT) {
            // By primary key alone: with the grant's condition beside it, SQLite would
            // read the grant's whole thread index instead.
            let mut filter = SqlFilter::default();
            filter.one_of("id", chunk.iter().map(|id| Bind::Text(id.clone())));
            let sql = format!(
                "SELECT DISTINCT thread_id FROM messages{}",
                filter.where_sql()
            );
            for row in filter
                .bind_to(sqlx::query(&sql))
                .fetch_all(&mut **tx)
                .await?
            {
                self.threads.insert(row.try_get("thread_id")?);
            }
        }
        let added: Vec<String> = self.added.drain().collect();
        let mut grown: Vec<String> = Vec::new();
        for chunk in added.chunks(IDS_PER_STATEMENT) {
            let mut filter = SqlFilter::default();
            filter.one_of("id", chunk.iter().map(|id| Bind::Text(id.clone())));
            let sql = format!("SELECT id, thread_id FROM messages{}", filter.where_sql());
            for row in filter
                .bind_to(sqlx::query(&sql))
                .fetch_all(&mut **tx)
                .await?
            {
                let thread: String = row.try_get("thread_id")?;
                if !self.threads.contains(&thread) {
                    grown.push(row.try_get("id")?);
                }
            }
        }
        for chunk in grown.chunks(IDS_PER_STATEMENT) {
            grow(tx, chunk).await?;
        }
        let threads: Vec<String> = self.threads.into_iter().collect();
        for chunk in threads.chunks(IDS_PER_STATEMENT) {
            recompute(tx, grant_id, chunk).await?;
        }
        Ok(())
    }
}

/// Replaces the rows of these threads with what their located messages say; a thread
/// left without one has no row.
async fn recompute(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    threads: &[String],
) -> Result<(), StoreError> {
    // Their folder rows go with them (ON DELETE CASCADE). By primary key alone, as above.
    let mut filter = SqlFilter::default();
    filter.one_of("id", threads.iter().map(|t| Bind::Text(t.clone())));
    let sql = format!("DELETE FROM threads{}", filter.where_sql());
    filter.bind_to(sqlx::query(&sql)).execute(&mut **tx).await?;

    let mut filter = of_threads("m.grant_id", "m.thread_id", grant_id, threads);
    filter.clause("EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)".into());
    let sql = format!(
        "INSERT INTO threads (id, grant_id, latest_date, earliest_date, latest_sent_date, \
             message_count, unread_count, starred_count, attachment_count, draft_count) \
         SELECT m.thread_id, m.grant_id, MAX(m.date), MIN(m.date), MAX(m.sent_date), COUNT(*), \
             SUM(m.unread), SUM(m.starred), SUM(m.has_attachments), SUM(m.draft) \
         FROM messages m{} GROUP BY m.thread_id, m.grant_id",
        filter.where_sql()
    );
    filter.bind_to(sqlx::query(&sql)).execute(&mut **tx).await?;

    let filter = of_threads("m.grant_id", "m.thread_id", grant_id, threads);
    let sql = format!(
        "INSERT INTO thread_folders (folder_id, thread_id, latest_date) \
         SELECT DISTINCT l.folder_id, t.id, t.latest_date \
         FROM messages m JOIN message_locations l ON l.message_id = m.id \
             JOIN threads t ON t.id = m.thread_id{}",
        filter.where_sql()
    );
    filter.bind_to(sqlx::query(&sql)).execute(&mut **tx).await?;
    Ok(())
}

/// Adds messages new to the index (located, counted nowhere yet) to their threads' rows,
/// creating the rows of new threads, and files the threads under the messages' folders
/// at their (possibly later) latest date.
async fn grow(tx: &mut Transaction<'_, Any>, messages: &[String]) -> Result<(), StoreError> {
    let ids = || {
        let mut filter = SqlFilter::default();
        filter.one_of("m.id", messages.iter().map(|id| Bind::Text(id.clone())));
        filter
            .clause("EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)".into());
        filter
    };
    let later = |column: &str| {
        format!(
            "{column} = CASE WHEN threads.{column} IS NULL OR excluded.{column} > threads.{column} \
             THEN excluded.{column} ELSE threads.{column} END"
        )
    };
    let filter = ids();
    let sql = format!(
        "INSERT INTO threads (id, grant_id, latest_date, earliest_date, latest_sent_date, \
             message_count, unread_count, starred_count, attachment_count, draft_count) \
         SELECT m.thread_id, m.grant_id, MAX(m.date), MIN(m.date), MAX(m.sent_date), COUNT(*), \
             SUM(m.unread), SUM(m.starred), SUM(m.has_attachments), SUM(m.draft) \
         FROM messages m{} GROUP BY m.thread_id, m.grant_id \
         ON CONFLICT (id) DO UPDATE SET {}, \
             earliest_date = CASE WHEN excluded.earliest_date < threads.earliest_date \
                 THEN excluded.earliest_date ELSE threads.earliest_date END, \
             {}, \
             message_count = threads.message_count + excluded.message_count, \
             unread_count = threads.unread_count + excluded.unread_count, \
             starred_count = threads.starred_count + excluded.starred_count, \
             attachment_count = threads.attachment_count + excluded.attachment_count, \
             draft_count = threads.draft_count + excluded.draft_count",
        filter.where_sql(),
        later("latest_date"),
        later("latest_sent_date"),
    );
    filter.bind_to(sqlx::query(&sql)).execute(&mut **tx).await?;

    // The threads' folder rows follow their latest date, then gain the new folders.
    let filter = ids();
    let sql = format!(
        "UPDATE thread_folders SET latest_date = \
             (SELECT t.latest_date FROM threads t WHERE t.id = thread_folders.thread_id) \
         WHERE thread_id IN (SELECT m.thread_id FROM messages m{})",
        filter.where_sql()
    );
    filter.bind_to(sqlx::query(&sql)).execute(&mut **tx).await?;
    let filter = ids();
    let sql = format!(
        "INSERT INTO thread_folders (folder_id, thread_id, latest_date) \
         SELECT DISTINCT l.folder_id, t.id, t.latest_date \
         FROM messages m JOIN message_locations l ON l.message_id = m.id \
             JOIN threads t ON t.id = m.thread_id{} \
         ON CONFLICT (folder_id, latest_date, thread_id) DO NOTHING",
        filter.where_sql()
    );
    filter.bind_to(sqlx::query(&sql)).execute(&mut **tx).await?;
    Ok(())
}

/// `grant_column = grant AND thread_column IN (threads)`.
fn of_threads(
    grant_column: &str,
    thread_column: &str,
    grant_id: &GrantId,
    threads: &[String],
) -> SqlFilter {
    let mut filter = SqlFilter::default();
    filter.compare(grant_column, "=", Bind::Text(grant_id.to_string()));
    filter.one_of(thread_column, threads.iter().map(|t| Bind::Text(t.clone())));
    filter
}
