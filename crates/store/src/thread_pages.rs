//! What a page of thread objects reads, in four statements whatever its size: the threads'
//! rows with their folders and participants, the ids, dates and draft flags of their
//! messages (from the thread index alone), the latest message of each, whole, with its
//! folders, and the subject of the earliest.

use std::collections::{HashMap, HashSet};

use mailroom_model::{GrantId, v3::EmailName};
use sqlx::Row;

use crate::{
    error::StoreError,
    message_lists::{FOLDER_IDS_COLUMN, folder_ids},
    messages::{COLUMNS_BUT_HEADERS, MessageRecord, message_from_row},
    open::Store,
    sql_filter::{Bind, SqlFilter},
    thread_participants::ParticipantSet,
};

/// Ids per statement: well within every engine's parameter limit.
const IDS_PER_STATEMENT: usize = 100;

/// What a thread's kept row says of all of its located messages.
#[derive(Debug, Clone)]
pub struct ThreadRow {
    /// The latest `Date:` header of its messages (none when no message has one).
    pub latest_sent_date: Option<i64>,
    /// The earliest INTERNALDATE.
    pub earliest_date: i64,
    /// How many of its messages are located.
    pub message_count: i64,
    /// The folders it has messages in, sorted.
    pub folders: Vec<String>,
    /// Every address once, sorted (see `thread_participants.rs`).
    pub participants: Vec<EmailName>,
    /// Whether any message is unread, starred, has attachments.
    pub unread: bool,
    pub starred: bool,
    pub has_attachments: bool,
}

/// A located message of a thread, as much as the thread object needs of it.
#[derive(Debug, Clone)]
pub struct ThreadMember {
    pub id: String,
    pub thread_id: String,
    pub date: i64,
    /// The `\Draft` flag.
    pub draft: bool,
}

impl Store {
    /// The rows of these threads of the grant, by thread id.
    pub async fn thread_page_rows(
        &self,
        grant_id: &GrantId,
        thread_ids: &[String],
    ) -> Result<HashMap<String, ThreadRow>, StoreError> {
        let mut found = HashMap::new();
        for chunk in thread_ids.chunks(IDS_PER_STATEMENT) {
            // By primary key alone (SQLite would prefer the grant's date index to an id
            // list); other grants' threads are dropped below.
            let mut filter = SqlFilter::default();
            filter.one_of("t.id", chunk.iter().map(|id| Bind::Text(id.clone())));
            let sql = format!(
                "SELECT t.id AS id, t.grant_id AS grant_id, \
                 t.latest_sent_date AS latest_sent_date, t.earliest_date AS earliest_date, \
                 t.message_count AS message_count, \
                 t.participants_json AS participants_json, t.unread_count AS unread_count, \
                 t.starred_count AS starred_count, t.attachment_count AS attachment_count, \
                 (SELECT string_agg(tf.folder_id, ' ' ORDER BY tf.folder_id) \
                  FROM thread_folders tf WHERE tf.thread_id = t.id) AS folder_ids \
                 FROM threads t{}",
                filter.where_sql()
            );
            for row in filter
                .bind_to(sqlx::query(&sql))
                .fetch_all(&self.pool)
                .await?
            {
                let grant: String = row.try_get("grant_id")?;
                if grant != grant_id.as_str() {
                    continue;
                }
                let participants: Option<String> = row.try_get("participants_json")?;
                let count = |column: &str| -> Result<bool, StoreError> {
                    Ok(row.try_get::<i64, _>(column)? > 0)
                };
                found.insert(
                    row.try_get("id")?,
                    ThreadRow {
                        latest_sent_date: row.try_get("latest_sent_date")?,
                        earliest_date: row.try_get("earliest_date")?,
                        message_count: row.try_get("message_count")?,
                        folders: folder_ids(&row)?,
                        participants: ParticipantSet::from_json(participants.as_deref())?.people(),
                        unread: count("unread_count")?,
                        starred: count("starred_count")?,
                        has_attachments: count("attachment_count")?,
                    },
                );
            }
        }
        Ok(found)
    }

    /// The located messages of these threads of the grant, by thread, oldest first
    /// within each. `located`: how many each thread's row counts. A thread whose
    /// messages are all that many has every one located, and none is looked up in
    /// `message_locations`; the others are read again with that check.
    pub async fn thread_members(
        &self,
        grant_id: &GrantId,
        thread_ids: &[String],
        located: &HashMap<String, i64>,
    ) -> Result<Vec<ThreadMember>, StoreError> {
        let mut members = self.members_of(grant_id, thread_ids, false).await?;
        let mut counts: HashMap<&str, i64> = HashMap::new();
        for member in &members {
            *counts.entry(member.thread_id.as_str()).or_default() += 1;
        }
        let unsure: HashSet<String> = counts
            .iter()
            .filter(|(thread, count)| located.get(**thread) != Some(*count))
            .map(|(thread, _)| (*thread).to_owned())
            .collect();
        if !unsure.is_empty() {
            members.retain(|m| !unsure.contains(&m.thread_id));
            let unsure: Vec<String> = unsure.into_iter().collect();
            members.extend(self.members_of(grant_id, &unsure, true).await?);
        }
        // Sorted here: asked to sort, SQLite reads a single thread's messages through
        // the grant's date index, all of the grant's messages.
        members.sort_by(|a, b| (&a.thread_id, a.date, &a.id).cmp(&(&b.thread_id, b.date, &b.id)));
        Ok(members)
    }

    /// The messages of these threads, located ones only when `located_only`.
    async fn members_of(
        &self,
        grant_id: &GrantId,
        thread_ids: &[String],
        located_only: bool,
    ) -> Result<Vec<ThreadMember>, StoreError> {
        let mut members = Vec::new();
        for chunk in thread_ids.chunks(IDS_PER_STATEMENT) {
            let mut filter = SqlFilter::default();
            filter.compare("m.grant_id", "=", Bind::Text(grant_id.to_string()));
            filter.one_of("m.thread_id", chunk.iter().map(|t| Bind::Text(t.clone())));
            if located_only {
                filter.clause(
                    "EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)".into(),
                );
            }
            // The thread index holds every column read: no row of `messages` is.
            let sql = format!(
                "SELECT m.id, m.thread_id, m.date, m.draft FROM messages m{}",
                filter.where_sql()
            );
            for row in filter
                .bind_to(sqlx::query(&sql))
                .fetch_all(&self.pool)
                .await?
            {
                members.push(ThreadMember {
                    id: row.try_get("id")?,
                    thread_id: row.try_get("thread_id")?,
                    date: row.try_get("date")?,
                    draft: row.try_get::<i64, _>("draft")? != 0,
                });
            }
        }
        Ok(members)
    }

    /// The subjects of the grant's messages with these ids, by id.
    pub async fn message_subjects(
        &self,
        grant_id: &GrantId,
        ids: &[String],
    ) -> Result<HashMap<String, Option<String>>, StoreError> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut filter = SqlFilter::default();
            filter.one_of("m.id", chunk.iter().map(|id| Bind::Text(id.clone())));
            let sql = format!(
                "SELECT m.id AS id, m.grant_id AS grant_id, m.subject AS subject \
                 FROM messages m{}",
                filter.where_sql()
            );
            for row in filter
                .bind_to(sqlx::query(&sql))
                .fetch_all(&self.pool)
                .await?
            {
                let grant: String = row.try_get("grant_id")?;
                if grant == grant_id.as_str() {
                    found.insert(row.try_get("id")?, row.try_get("subject")?);
                }
            }
        }
        Ok(found)
    }

    /// The located messages of the grant with these ids, whole but for the full header
    /// list, each with its folders (sorted).
    pub async fn messages_with_folders(
        &self,
        grant_id: &GrantId,
        ids: &[String],
    ) -> Result<Vec<(MessageRecord, Vec<String>)>, StoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            // By primary key alone, as above; other grants' messages are dropped below.
            let mut filter = SqlFilter::default();
            filter.one_of("m.id", chunk.iter().map(|id| Bind::Text(id.clone())));
            filter.clause(
                "EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)".into(),
            );
            let sql = format!(
                "SELECT {COLUMNS_BUT_HEADERS}, {FOLDER_IDS_COLUMN} FROM messages m{}",
                filter.where_sql()
            );
            for row in filter
                .bind_to(sqlx::query(&sql))
                .fetch_all(&self.pool)
                .await?
            {
                let message = message_from_row(&row)?;
                if &message.grant_id == grant_id {
                    found.push((message, folder_ids(&row)?));
                }
            }
        }
        Ok(found)
    }
}
