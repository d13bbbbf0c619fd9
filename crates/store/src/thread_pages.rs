//! What a page of thread objects reads: in one statement whatever its size, the listed
//! threads' rows with their folders, participants and members (`thread_member_list.rs`),
//! each joined to its latest message, whole, with its folders. A thread whose row lists
//! no members (too large to) costs three more: the ids, dates and draft flags of its
//! messages, from the thread index alone, the subject of the earliest, and its latest
//! message.

use std::collections::{HashMap, HashSet};

use mailroom_model::{GrantId, v3::EmailName};
use sqlx::Row;

use crate::{
    error::StoreError,
    message_lists::{FOLDER_IDS_COLUMN, folder_ids, folder_ids_in},
    messages::{COLUMNS_BUT_HEADERS, MessageQuery, MessageRecord, message_from_row},
    open::Store,
    sql_filter::{Bind, SqlFilter},
    thread_member_list::MemberList,
};

/// Ids per statement: well within every engine's parameter limit.
const IDS_PER_STATEMENT: usize = 100;

/// The columns of thread row `t` that a page shows, named apart from a message's.
const THREAD_ROW_COLUMNS: &str = "t.grant_id AS thread_grant_id, \
     t.latest_sent_date AS thread_latest_sent_date, t.earliest_date AS thread_earliest_date, \
     t.message_count AS thread_message_count, t.participants_json AS thread_participants_json, \
     t.unread_count AS thread_unread_count, t.starred_count AS thread_starred_count, \
     t.attachment_count AS thread_attachment_count, t.members_json AS thread_members_json, \
     t.first_subject AS thread_first_subject, \
     (SELECT string_agg(tf.folder_id, ' ') \
      FROM thread_folders tf WHERE tf.thread_id = t.id) AS thread_folder_ids";

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

impl ThreadRow {
    /// The row in [`THREAD_ROW_COLUMNS`]; `None` for another grant's.
    fn of(row: &sqlx::any::AnyRow, grant_id: &GrantId) -> Result<Option<Self>, StoreError> {
        let grant: String = row.try_get("thread_grant_id")?;
        if grant != grant_id.as_str() {
            return Ok(None);
        }
        // Written sorted and each address once (`thread_participants.rs`): read as is.
        let participants: Option<String> = row.try_get("thread_participants_json")?;
        let participants: Vec<EmailName> = match participants {
            Some(json) => serde_json::from_str(&json).map_err(StoreError::corrupt)?,
            None => Vec::new(),
        };
        let count =
            |column: &str| -> Result<bool, StoreError> { Ok(row.try_get::<i64, _>(column)? > 0) };
        Ok(Some(Self {
            latest_sent_date: row.try_get("thread_latest_sent_date")?,
            earliest_date: row.try_get("thread_earliest_date")?,
            message_count: row.try_get("thread_message_count")?,
            folders: folder_ids_in(row, "thread_folder_ids")?,
            participants,
            unread: count("thread_unread_count")?,
            starred: count("thread_starred_count")?,
            has_attachments: count("thread_attachment_count")?,
            members: MemberList::from_columns(
                row.try_get::<Option<String>, _>("thread_members_json")?
                    .as_deref(),
                row.try_get("thread_first_subject")?,
                None,
            )?,
        }))
    }
}

/// A located message of a thread, as much as the thread object needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadMember {
    pub id: String,
    pub date: i64,
    /// The `\Draft` flag.
    pub draft: bool,
}

/// What a thread object is built from.
#[derive(Debug, Clone)]
pub struct ThreadPage {
    /// Its row, without its members.
    pub row: ThreadRow,
    /// Its located messages, oldest first: never empty.
    pub members: Vec<ThreadMember>,
    /// The subject of the earliest.
    pub first_subject: Option<String>,
    /// The latest, whole but for the full header list, with its folders (sorted).
    pub latest: MessageRecord,
    pub latest_folders: Vec<String>,
}

/// A listed thread: its id, its latest date, and what its object is built from (`None`
/// when it has no located message left).
pub type ListedThread = (String, i64, Option<ThreadPage>);

impl Store {
    /// The grant's threads matching `query`, newest first, each with what its object is
    /// built from: the list and its page in one statement.
    pub async fn list_thread_pages(
        &self,
        grant_id: &GrantId,
        query: &MessageQuery,
    ) -> Result<Vec<ListedThread>, StoreError> {
        let Some((filter, list)) = self.thread_list_sql(grant_id, query).await? else {
            return Ok(Vec::new());
        };
        self.read_pages(grant_id, filter, &list).await
    }

    /// What the objects of these threads of the grant are built from, by thread id; a
    /// thread with no located message is left out.
    pub async fn thread_pages(
        &self,
        grant_id: &GrantId,
        thread_ids: &[String],
    ) -> Result<HashMap<String, ThreadPage>, StoreError> {
        let mut pages = HashMap::with_capacity(thread_ids.len());
        for chunk in thread_ids.chunks(IDS_PER_STATEMENT) {
            // By primary key alone (SQLite would prefer the grant's date index to an id
            // list); other grants' threads are dropped when read.
            let mut filter = SqlFilter::default();
            filter.one_of("t.id", chunk.iter().map(|id| Bind::Text(id.clone())));
            let list = format!(
                "SELECT t.id AS id, t.latest_date AS latest FROM threads t{}",
                filter.where_sql()
            );
            for (id, _, page) in self.read_pages(grant_id, filter, &list).await? {
                if let Some(page) = page {
                    pages.insert(id, page);
                }
            }
        }
        Ok(pages)
    }

    /// The threads `list` selects (`id` and `latest`, with the binds of `filter`), newest
    /// first, each joined to its row and its latest message. Other grants' threads are
    /// left out.
    async fn read_pages(
        &self,
        grant_id: &GrantId,
        filter: SqlFilter,
        list: &str,
    ) -> Result<Vec<ListedThread>, StoreError> {
        // The list is a subquery of its own: its order and limit pick the threads before
        // any is joined.
        let sql = format!(
            "SELECT p.id AS page_id, p.latest AS page_latest, {THREAD_ROW_COLUMNS}, \
                 {COLUMNS_BUT_HEADERS}, {FOLDER_IDS_COLUMN} \
             FROM ({list}) p JOIN threads t ON t.id = p.id \
             LEFT JOIN messages m ON m.id = t.latest_message_id \
             ORDER BY p.latest DESC, p.id DESC"
        );
        let rows = filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?;
        let mut listed: Vec<ListedThread> = Vec::with_capacity(rows.len());
        let mut unlisted: HashMap<String, ThreadRow> = HashMap::new();
        for row in &rows {
            let Some(mut thread) = ThreadRow::of(row, grant_id)? else {
                continue;
            };
            let id: String = row.try_get("page_id")?;
            let latest_date: i64 = row.try_get("page_latest")?;
            let latest_id: Option<String> = row.try_get("id")?;
            let page = match (thread.members.take(), latest_id) {
                (Some(list), Some(_)) if !list.members.is_empty() => Some(ThreadPage {
                    row: thread,
                    members: list.members,
                    first_subject: list.first_subject,
                    latest: message_from_row(row)?,
                    latest_folders: folder_ids(row)?,
                }),
                _ => {
                    unlisted.insert(id.clone(), thread);
                    None
                }
            };
            listed.push((id, latest_date, page));
        }
        if !unlisted.is_empty() {
            let mut pages = self.pages_from_messages(grant_id, unlisted).await?;
            for (id, _, page) in &mut listed {
                if page.is_none() {
                    *page = pages.remove(id);
                }
            }
        }
        Ok(listed)
    }

    /// The pages of threads whose rows keep no members, built from their messages.
    async fn pages_from_messages(
        &self,
        grant_id: &GrantId,
        mut rows: HashMap<String, ThreadRow>,
    ) -> Result<HashMap<String, ThreadPage>, StoreError> {
        let ids: Vec<String> = rows.keys().cloned().collect();
        let located: HashMap<String, i64> = rows
            .iter()
            .map(|(id, row)| (id.clone(), row.message_count))
            .collect();
        let members = self.thread_members(grant_id, &ids, &located).await?;
        let earliest: Vec<String> = members
            .values()
            .filter_map(|members| members.first())
            .map(|m| m.id.clone())
            .collect();
        let mut subjects = self.message_subjects(grant_id, &earliest).await?;
        let latest_ids: Vec<String> = members
            .values()
            .filter_map(|members| members.last())
            .map(|m| m.id.clone())
            .collect();
        let mut latest: HashMap<String, (MessageRecord, Vec<String>)> = self
            .messages_with_folders(grant_id, &latest_ids)
            .await?
            .into_iter()
            .map(|(message, folders)| (message.thread_id.clone(), (message, folders)))
            .collect();
        let mut pages = HashMap::with_capacity(members.len());
        for (id, members) in members {
            // A message unlocated since the members were read leaves the thread out.
            let (Some(row), Some((latest, latest_folders))) =
                (rows.remove(&id), latest.remove(&id))
            else {
                continue;
            };
            let first_subject = members
                .first()
                .and_then(|m| subjects.remove(&m.id))
                .flatten();
            pages.insert(
                id,
                ThreadPage {
                    row,
                    members,
                    first_subject,
                    latest,
                    latest_folders,
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
            // By primary key alone, as above.
            let mut filter = SqlFilter::default();
            filter.one_of("t.id", chunk.iter().map(|id| Bind::Text(id.clone())));
            let sql = format!(
                "SELECT t.id AS id, {THREAD_ROW_COLUMNS} FROM threads t{}",
                filter.where_sql()
            );
            for row in filter
                .bind_to(sqlx::query(&sql))
                .fetch_all(&self.pool)
                .await?
            {
                if let Some(thread) = ThreadRow::of(&row, grant_id)? {
                    found.insert(row.try_get("id")?, thread);
                }
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
