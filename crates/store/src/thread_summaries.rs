//! The `threads` table: one row per thread of a grant with a message still somewhere on
//! the server, holding what thread lists sort and filter by (latest date, counts) so that
//! a page of threads is one indexed range scan, and `thread_folders`, the folders each
//! thread has messages in.
//!
//! Every write that changes which messages a thread shows (a location added or removed,
//! a flag, a date, threads merged) notes the messages or threads it touched in a
//! [`TouchedThreads`], and recomputes their rows from `messages` before it commits. A
//! thread's row is thus always what a recomputation from its messages would give, at the
//! cost of reading the touched threads' messages once per write. Messages new to the
//! index are the exception that keeps a first sync cheap: they only add to their
//! threads' rows, summed in memory from what the write already holds.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, btree_map::Entry};

use mailroom_model::GrantId;
use sqlx::{Any, Row, Transaction};

use crate::{
    error::StoreError,
    open::Engine,
    sql_batch::value_rows,
    sql_filter::{Bind, SqlFilter},
    thread_addresses::{GrownAddresses, grow_thread_addresses, recompute_thread_addresses},
    thread_member_list::{ListColumns, MemberList, member_of_row},
    thread_pages::ThreadMember,
    thread_participants::{ParticipantSet, message_people},
};

/// Ids per `IN (…)` list.
const IDS_PER_STATEMENT: usize = 250;

/// The threads a write changed, by message or by thread id, and the messages it added
/// to the index with their first location.
#[derive(Default, Debug)]
pub(crate) struct TouchedThreads {
    messages: HashSet<String>,
    threads: HashSet<String>,
    added: Vec<AddedMessage>,
    /// Given with the added messages: the statements that grow their threads are
    /// multi-row, in the engine's placeholders.
    engine: Option<Engine>,
}

/// A message new to the index, located in one folder by this write: what it adds to its
/// thread's row.
#[derive(Debug, Clone)]
pub(crate) struct AddedMessage {
    pub id: String,
    pub thread_id: String,
    pub folder_id: String,
    pub date: i64,
    pub sent_date: Option<i64>,
    pub unread: bool,
    pub starred: bool,
    pub has_attachments: bool,
    pub draft: bool,
    pub subject: Option<String>,
    /// Its addresses, lower case, with the bits of their roles in it.
    pub roles: BTreeMap<String, i64>,
    /// Its participants, as the thread object lists them.
    pub people: ParticipantSet,
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
    /// what these add, computed here from the messages themselves: a thread of thousands
    /// of messages costs an initial sync nothing per batch, and no statement reads the
    /// new rows back. A thread recomputed anyway is not grown.
    pub(crate) fn added(&mut self, engine: Engine, messages: Vec<AddedMessage>) {
        self.engine = Some(engine);
        self.added.extend(messages);
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
        if let Some(engine) = self.engine {
            let grown: Vec<&AddedMessage> = self
                .added
                .iter()
                .filter(|m| !self.threads.contains(&m.thread_id))
                .collect();
            grow(tx, engine, grant_id, &grown).await?;
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
             message_count, unread_count, starred_count, attachment_count, draft_count, \
             participants_json) \
         SELECT m.thread_id, m.grant_id, MAX(m.date), MIN(m.date), MAX(m.sent_date), COUNT(*), \
             SUM(m.unread), SUM(m.starred), SUM(m.has_attachments), SUM(m.draft), '[]' \
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
    recompute_thread_addresses(tx, grant_id, threads).await?;
    recompute_participants_and_members(tx, grant_id, threads).await
}

/// Writes the participants and members (`thread_member_list.rs`) of these threads'
/// rows from their located messages, read once for both.
pub(crate) async fn recompute_participants_and_members(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    threads: &[String],
) -> Result<(), StoreError> {
    let mut filter = of_threads("m.grant_id", "m.thread_id", grant_id, threads);
    filter.clause("EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)".into());
    let sql = format!(
        "SELECT m.thread_id AS thread_id, m.id, m.date, m.draft, m.subject, \
             m.from_json, m.to_json, m.cc_json, m.bcc_json \
         FROM messages m{}",
        filter.where_sql()
    );
    type Gathered = (ParticipantSet, Vec<(ThreadMember, Option<String>)>);
    let mut by_thread: BTreeMap<String, Gathered> = BTreeMap::new();
    for row in filter
        .bind_to(sqlx::query(&sql))
        .fetch_all(&mut **tx)
        .await?
    {
        let (set, members) = by_thread.entry(row.try_get("thread_id")?).or_default();
        message_people(&row, set)?;
        members.push(member_of_row(&row)?);
    }
    for (thread, (set, members)) in by_thread {
        let (members_json, first_subject, latest_message_id, subjects) =
            MemberList::to_columns(MemberList::of(members).as_ref());
        sqlx::query(
            "UPDATE threads SET participants_json = $1, members_json = $2, first_subject = $3, \
                 latest_message_id = $4, subjects_lower = $5 WHERE id = $6",
        )
        .bind(set.to_json())
        .bind(members_json)
        .bind(first_subject)
        .bind(latest_message_id)
        .bind(subjects)
        .bind(thread)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A thread's row: its dates and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ThreadRow {
    latest_date: i64,
    earliest_date: i64,
    latest_sent_date: Option<i64>,
    message_count: i64,
    unread_count: i64,
    starred_count: i64,
    attachment_count: i64,
    draft_count: i64,
}

impl ThreadRow {
    fn of(message: &AddedMessage) -> Self {
        Self {
            latest_date: message.date,
            earliest_date: message.date,
            latest_sent_date: message.sent_date,
            message_count: 1,
            unread_count: i64::from(message.unread),
            starred_count: i64::from(message.starred),
            attachment_count: i64::from(message.has_attachments),
            draft_count: i64::from(message.draft),
        }
    }

    /// The row of both threads' messages together.
    fn plus(self, other: Self) -> Self {
        Self {
            latest_date: self.latest_date.max(other.latest_date),
            earliest_date: self.earliest_date.min(other.earliest_date),
            // SQL's MAX: NULL only when every value is.
            latest_sent_date: self.latest_sent_date.max(other.latest_sent_date),
            message_count: self.message_count + other.message_count,
            unread_count: self.unread_count + other.unread_count,
            starred_count: self.starred_count + other.starred_count,
            attachment_count: self.attachment_count + other.attachment_count,
            draft_count: self.draft_count + other.draft_count,
        }
    }

    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            latest_date: row.try_get("latest_date")?,
            earliest_date: row.try_get("earliest_date")?,
            latest_sent_date: row.try_get("latest_sent_date")?,
            message_count: row.try_get("message_count")?,
            unread_count: row.try_get("unread_count")?,
            starred_count: row.try_get("starred_count")?,
            attachment_count: row.try_get("attachment_count")?,
            draft_count: row.try_get("draft_count")?,
        })
    }
}

/// Columns of `threads` per multi-row upsert.
const THREAD_COLUMNS: usize = 15;
/// Threads per multi-row statement.
const THREADS_PER_STATEMENT: usize = 50;

/// Adds messages new to the index to their threads' rows, creating the rows of new
/// threads, and files the threads under the messages' folders at their (possibly later)
/// latest date. What the messages add is summed here; the stored rows are read once by
/// primary key and written back whole.
async fn grow(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    grant_id: &GrantId,
    messages: &[&AddedMessage],
) -> Result<(), StoreError> {
    let mut added: BTreeMap<&str, Growth> = BTreeMap::new();
    for message in messages {
        let row = ThreadRow::of(message);
        let growth = match added.entry(&message.thread_id) {
            Entry::Vacant(entry) => entry.insert(Growth {
                row,
                folders: BTreeSet::from([message.folder_id.as_str()]),
                roles: BTreeMap::new(),
                people: ParticipantSet::default(),
                members: Vec::new(),
            }),
            Entry::Occupied(entry) => {
                let growth = entry.into_mut();
                growth.row = growth.row.plus(row);
                growth.folders.insert(&message.folder_id);
                growth
            }
        };
        for (email, bits) in &message.roles {
            *growth.roles.entry(email.clone()).or_insert(0) |= bits;
        }
        growth.people.merge(&message.people);
        growth.members.push(message);
    }
    let threads: Vec<&str> = added.keys().copied().collect();
    for chunk in threads.chunks(THREADS_PER_STATEMENT) {
        let mut filter = SqlFilter::default();
        filter.one_of("id", chunk.iter().map(|id| Bind::Text((*id).to_owned())));
        let sql = format!(
            "SELECT id, latest_date, earliest_date, latest_sent_date, message_count, \
                 unread_count, starred_count, attachment_count, draft_count, participants_json, \
                 members_json, first_subject, subjects_lower \
                 FROM threads{}",
            filter.where_sql()
        );
        let mut stored: HashMap<String, ThreadRow> = HashMap::new();
        let mut people: HashMap<String, ParticipantSet> = HashMap::new();
        let mut lists: HashMap<String, Option<MemberList>> = HashMap::new();
        for row in filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&mut **tx)
            .await?
        {
            let id: String = row.try_get("id")?;
            let json: Option<String> = row.try_get("participants_json")?;
            people.insert(id.clone(), ParticipantSet::from_json(json.as_deref())?);
            let members: Option<String> = row.try_get("members_json")?;
            lists.insert(
                id.clone(),
                MemberList::from_columns(
                    members.as_deref(),
                    row.try_get("first_subject")?,
                    row.try_get::<Option<String>, _>("subjects_lower")?
                        .as_deref(),
                )?,
            );
            stored.insert(id, ThreadRow::from_row(&row)?);
        }

        let mut rows: Vec<(&str, ThreadRow, String, ListColumns)> = Vec::with_capacity(chunk.len());
        for thread in chunk {
            let Some(growth) = added.get(thread) else {
                continue;
            };
            let row = match stored.get(*thread) {
                Some(old) => old.plus(growth.row),
                None => growth.row,
            };
            let mut participants = people.remove(*thread).unwrap_or_default();
            participants.merge(&growth.people);
            // A stored thread without a list is too large to keep one: it stays so.
            let list = match lists.remove(*thread) {
                Some(stored) => stored.and_then(|list| list.grown(growth.new_members())),
                None => MemberList::of(growth.new_members()),
            };
            let columns = MemberList::to_columns(list.as_ref());
            rows.push((thread, row, participants.to_json(), columns));
        }
        let sql = format!(
            "INSERT INTO threads (id, grant_id, latest_date, earliest_date, latest_sent_date, \
                 message_count, unread_count, starred_count, attachment_count, draft_count, \
                 participants_json, members_json, first_subject, latest_message_id, \
                 subjects_lower) \
             VALUES {} ON CONFLICT (id) DO UPDATE SET latest_date = excluded.latest_date, \
                 participants_json = excluded.participants_json, \
                 members_json = excluded.members_json, first_subject = excluded.first_subject, \
                 subjects_lower = excluded.subjects_lower, \
                 latest_message_id = excluded.latest_message_id, \
                 earliest_date = excluded.earliest_date, \
                 latest_sent_date = excluded.latest_sent_date, \
                 message_count = excluded.message_count, unread_count = excluded.unread_count, \
                 starred_count = excluded.starred_count, \
                 attachment_count = excluded.attachment_count, draft_count = excluded.draft_count",
            value_rows(engine, rows.len(), THREAD_COLUMNS)
        );
        let mut query = sqlx::query(&sql);
        for (thread, row, participants, (members, first_subject, latest_id, subjects)) in &rows {
            query = query
                .bind(*thread)
                .bind(grant_id.as_str())
                .bind(row.latest_date)
                .bind(row.earliest_date)
                .bind(row.latest_sent_date)
                .bind(row.message_count)
                .bind(row.unread_count)
                .bind(row.starred_count)
                .bind(row.attachment_count)
                .bind(row.draft_count)
                .bind(participants.as_str())
                .bind(members.as_deref())
                .bind(first_subject.as_deref())
                .bind(latest_id.as_deref())
                .bind(subjects.as_deref());
        }
        query.execute(&mut **tx).await?;

        // A thread's folder rows carry its latest date: those of a thread that got a
        // newer message move (rare in a first sync, which reads newest first).
        for (thread, row, _, _) in &rows {
            if stored
                .get(*thread)
                .is_some_and(|old| old.latest_date != row.latest_date)
            {
                sqlx::query("UPDATE thread_folders SET latest_date = $1 WHERE thread_id = $2")
                    .bind(row.latest_date)
                    .bind(*thread)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        let filed: Vec<(&str, &str, i64)> = rows
            .iter()
            .flat_map(|(thread, row, _, _)| {
                let folders = added
                    .get(thread)
                    .map(|g| g.folders.iter())
                    .into_iter()
                    .flatten();
                folders.map(move |folder| (*folder, *thread, row.latest_date))
            })
            .collect();
        for part in filed.chunks(THREADS_PER_STATEMENT * 2) {
            let sql = format!(
                "INSERT INTO thread_folders (folder_id, thread_id, latest_date) VALUES {} \
                 ON CONFLICT (folder_id, latest_date, thread_id) DO NOTHING",
                value_rows(engine, part.len(), 3)
            );
            let mut query = sqlx::query(&sql);
            for (folder, thread, latest) in part {
                query = query.bind(*folder).bind(*thread).bind(*latest);
            }
            query.execute(&mut **tx).await?;
        }
        let addresses: Vec<GrownAddresses> = rows
            .iter()
            .filter_map(|(thread, row, _, _)| {
                Some(GrownAddresses {
                    thread_id: thread,
                    latest_date: row.latest_date,
                    redated: stored
                        .get(*thread)
                        .is_some_and(|old| old.latest_date != row.latest_date),
                    roles: &added.get(thread)?.roles,
                })
            })
            .collect();
        grow_thread_addresses(tx, engine, grant_id, &addresses).await?;
    }
    Ok(())
}

/// What the messages a write adds bring to one thread.
struct Growth<'a> {
    row: ThreadRow,
    folders: BTreeSet<&'a str>,
    roles: BTreeMap<String, i64>,
    people: ParticipantSet,
    members: Vec<&'a AddedMessage>,
}

impl Growth<'_> {
    /// The added messages as members of their thread, each with its subject.
    fn new_members(&self) -> Vec<(ThreadMember, Option<String>)> {
        self.members
            .iter()
            .map(|m| {
                let member = ThreadMember {
                    id: m.id.clone(),
                    date: m.date,
                    draft: m.draft,
                };
                (member, m.subject.clone())
            })
            .collect()
    }
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
