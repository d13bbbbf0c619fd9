//! What a page of thread objects reads, in two statements whatever its size: the threads'
//! rows with their folders, participants and members (`thread_member_list.rs`), and the
//! latest message of each, whole, with its folders. A thread whose row lists no members
//! (too large, or a row being written) costs two more: the ids, dates and draft flags of
//! its messages, from the thread index alone, and the subject of the earliest.

use std::collections::{HashMap, HashSet};

use mailroom_model::{GrantId, v3::EmailName};
use sqlx::Row;

use crate::{
    error::StoreError,
    message_lists::{FOLDER_IDS_COLUMN, folder_ids},
    messages::{COLUMNS_BUT_HEADERS, MessageRecord, message_from_row},
    open::Store,
    sql_filter::{Bind, SqlFilter},
    thread_member_list::MemberList,
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
    /// Its located messages and the earliest one's subject, when the row keeps them.
    pub members: Option<MemberList>,
}

/// A located message of a thread, as much as the thread object needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadMember {
    pub id: String,
    pub date: i64,
    /// The `\Draft` flag.
    pub draft: bool,
}

/// What a thread object is built from, but for its latest message.
#[derive(Debug, Clone)]
pub struct ThreadPage {
    /// Its row, without its members (none: a write under way).
    pub row: Option<ThreadRow>,
    /// Its located messages, oldest first: never empty.
    pub members: Vec<ThreadMember>,
    /// The subject of the earliest.
    pub first_subject: Option<String>,
}

impl Store {
    /// What the objects of these threads of the grant are built from, by thread id; a
    /// thread with no located message is left out.
    pub async fn thread_pages(
        &self,
        grant_id: &GrantId,
        thread_ids: &[String],
    ) -> Result<HashMap<String, ThreadPage>, StoreError> {
        let mut rows = self.thread_page_rows(grant_id, thread_ids).await?;
        let mut pages = HashMap::with_capacity(thread_ids.len());
        let mut unlisted: Vec<String> = Vec::new();
        for id in thread_ids {
            let Some(row) = rows.get_mut(id) else {
                unlisted.push(id.clone());
                continue;
            };
            match row.members.take() {
                Some(list) if !list.members.is_empty() => {
                    pages.insert(
                        id.clone(),
                        ThreadPage {
                            row: rows.remove(id),
                            members: list.members,
                            first_subject: list.first_subject,
                        },
                    );
                }
                _ => unlisted.push(id.clone()),
            }
        }
        if unlisted.is_empty() {
            return Ok(pages);
        }
        let located: HashMap<String, i64> = rows
            .iter()
            .map(|(id, row)| (id.clone(), row.message_count))
            .collect();
        let members = self.thread_members(grant_id, &unlisted, &located).await?;
        let earliest: Vec<String> = members
            .values()
            .filter_map(|members| members.first())
            .map(|m| m.id.clone())
            .collect();
        let mut subjects = self.message_subjects(grant_id, &earliest).await?;
        for (id, members) in members {
            let first_subject = members
                .first()
                .and_then(|m| subjects.remove(&m.id))
                .flatten();
            let row = rows.remove(&id);
            pages.insert(
                id,
                ThreadPage {
                    row,
                    members,
                    first_subject,
                },
            );
        }
        Ok(pages)
    }

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
                 t.members_json AS members_json, t.first_subject AS first_subject, \
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
                        members: MemberList::from_columns(
                            row.try_get::<Option<String>, _>("members_json")?.as_deref(),
                            row.try_get("first_subject")?,
                        )?,
                    },
                );
            }
        }
        Ok(found)
    }

    /// The located messages of these threads of the grant, by thread, oldest first
    /// within each; a thread without one is left out. `located`: how many each thread's row counts. A thread whose
    /// messages are all that many has every one located, and none is looked up in
    /// `message_locations`; the others are read again with that check.
    pub async fn thread_members(
        &self,
        grant_id: &GrantId,
        thread_ids: &[String],
        located: &HashMap<String, i64>,
    ) -> Result<HashMap<String, Vec<ThreadMember>>, StoreError> {
        let mut members = self.members_of(grant_id, thread_ids, false).await?;
        let unsure: HashSet<String> = members
            .iter()
            .filter(|(thread, members)| located.get(*thread) != Some(&(members.len() as i64)))
            .map(|(thread, _)| thread.clone())
            .collect();
        if !unsure.is_empty() {
            members.retain(|thread, _| !unsure.contains(thread));
            let unsure: Vec<String> = unsure.into_iter().collect();
            members.extend(self.members_of(grant_id, &unsure, true).await?);
        }
        // Sorted here: asked to sort, SQLite reads a single thread's messages through
        // the grant's date index, all of the grant's messages.
        for members in members.values_mut() {
            members.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
        }
        Ok(members)
    }

    /// The messages of these threads, located ones only when `located_only`.
    async fn members_of(
        &self,
        grant_id: &GrantId,
        thread_ids: &[String],
        located_only: bool,
    ) -> Result<HashMap<String, Vec<ThreadMember>>, StoreError> {
        let mut members: HashMap<String, Vec<ThreadMember>> = HashMap::new();
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
                members
                    .entry(row.try_get("thread_id")?)
                    .or_default()
                    .push(ThreadMember {
                        id: row.try_get("id")?,
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
