//! Message and thread lists, newest first, with the filters Nylas documents. Each list is
//! driven by the index that fits its most selective filter, read in the list's order, so
//! that a page costs about as many index entries as it has rows even in a mailbox of a
//! million messages:
//!
//! - one folder: `message_locations (folder_id, date, message_id)`, or for threads
//!   `thread_folders (folder_id, latest_date, thread_id)`;
//! - one address (`from`, `to`, `cc`, `bcc`, `any_email`):
//!   `message_addresses (grant_id, email, date, message_id)`, or for threads
//!   `thread_addresses (grant_id, email, latest_date, thread_id)`;
//! - filters with few matches but no order of their own (a thread, a subject found in the
//!   subject index, several addresses): their messages are collected first, then sorted;
//! - otherwise the messages' date index (partial ones for `unread`, `starred`,
//!   `has_attachment`), or `threads (grant_id, latest_date, id)`.
//!
//! The other filters are checked on the rows read. `CROSS JOIN` keeps SQLite from
//! reordering the join away from the driving index (PostgreSQL plans it as a join).
//! A thread list filtered by its messages first collects the matching threads when they
//! are few, and otherwise walks the threads newest first (of the driving folder or
//! address when there is one), keeping each with a matching message.

use std::collections::HashSet;

use mailroom_model::GrantId;
use sqlx::Row;

use crate::{
    error::StoreError,
    message_addresses::{Role, participants_clause},
    messages::{
        COLUMNS, COLUMNS_BUT_HEADERS, MessageQuery, MessageRecord, escape_like, message_from_row,
    },
    open::{Engine, Store},
    sql_filter::{Bind, SqlFilter},
    thread_member_list::SUBJECT_SEPARATOR,
};

/// Rows read past a page's limit, so that the duplicates a folder can hold (one message
/// at two UIDs) do not shorten the page.
const DUPLICATE_SLACK: i64 = 16;
/// A filtered thread list collects matching threads up to this many, then sorts them;
/// past it, matches are common and it walks the threads instead.
const COLLECTED_THREADS: i64 = 1000;

/// The folders of message `m` as one column of its row: read with the row instead of in
/// another round trip. Sorted and made unique by [`folder_ids`] rather than in SQL, where
/// both would cost a sorter for every row.
pub(crate) const FOLDER_IDS_COLUMN: &str = "(SELECT string_agg(lf.folder_id, ' ') \
     FROM message_locations lf WHERE lf.message_id = m.id) AS folder_ids";

/// The folders in a row's `folder_ids` column ([`FOLDER_IDS_COLUMN`]), sorted and each
/// once (as [`Store::message_folders`] gives them).
pub(crate) fn folder_ids(row: &sqlx::any::AnyRow) -> Result<Vec<String>, StoreError> {
    folder_ids_in(row, "folder_ids")
}

/// The folders in a column listing them with a space between (folder ids are URL-safe,
/// never holding one), sorted and each once.
pub(crate) fn folder_ids_in(
    row: &sqlx::any::AnyRow,
    column: &str,
) -> Result<Vec<String>, StoreError> {
    let list: Option<String> = row.try_get(column)?;
    let mut folders: Vec<String> = list
        .unwrap_or_default()
        .split(' ')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    folders.sort_unstable();
    folders.dedup();
    Ok(folders)
}

/// How a message list reads its rows: the table it is driven by and the columns its order
/// and cursor are on.
struct MessageScan {
    from: String,
    date: &'static str,
    id: &'static str,
    /// Whether the driver can yield a message twice.
    may_repeat: bool,
}

impl Store {
    /// Newest first, at most `query.limit`, after the cursor.
    pub async fn list_messages(
        &self,
        grant_id: &GrantId,
        query: &MessageQuery,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let rows = self.message_rows(grant_id, query, COLUMNS).await?;
        let mut seen = HashSet::new();
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let record = message_from_row(row)?;
            if seen.insert(record.id.clone()) {
                records.push(record);
            }
        }
        records.truncate(usize::try_from(query.limit).unwrap_or(0));
        Ok(records)
    }

    /// A page as the API shows it: [`Store::list_messages`] with each message's folders
    /// (sorted, as [`Store::message_folders`] gives them), read in the same statement
    /// rather than in a second round trip. The full header list, often the largest
    /// column, is read only `with_headers`.
    pub async fn list_messages_with_folders(
        &self,
        grant_id: &GrantId,
        query: &MessageQuery,
        with_headers: bool,
    ) -> Result<Vec<(MessageRecord, Vec<String>)>, StoreError> {
        let columns = format!(
            "{}, {FOLDER_IDS_COLUMN}",
            if with_headers {
                COLUMNS
            } else {
                COLUMNS_BUT_HEADERS
            }
        );
        let rows = self.message_rows(grant_id, query, &columns).await?;
        let mut seen = HashSet::new();
        let mut page = Vec::with_capacity(rows.len());
        for row in &rows {
            let record = message_from_row(row)?;
            if seen.insert(record.id.clone()) {
                page.push((record, folder_ids(row)?));
            }
        }
        page.truncate(usize::try_from(query.limit).unwrap_or(0));
        Ok(page)
    }

    /// The rows of a message list (with `columns` of `messages m`), newest first, up to
    /// the limit plus what duplicates may take.
    async fn message_rows(
        &self,
        grant_id: &GrantId,
        query: &MessageQuery,
        columns: &str,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        if query.holds_nul() {
            return Ok(Vec::new());
        }
        let sizes = self.filter_sizes(grant_id, query).await?;
        if sizes.disjoint {
            return Ok(Vec::new());
        }
        let mut filter = SqlFilter::default();
        let Some(scan) = message_scan(self.engine, grant_id, query, &mut filter, Some(&sizes))
        else {
            return Ok(Vec::new());
        };
        if let Some((date, id)) = &query.after {
            cursor_clause(&mut filter, scan.date, scan.id, *date, id);
        }
        let read = query.limit + if scan.may_repeat { DUPLICATE_SLACK } else { 0 };
        let limit = filter.placeholder(Bind::Int(read));
        let sql = format!(
            "SELECT {columns} FROM {}{} ORDER BY {} DESC, {} DESC LIMIT {limit}",
            scan.from,
            filter.where_sql(),
            scan.date,
            scan.id
        );
        Ok(filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Threads with a message matching the query, by their latest message (of the whole
    /// thread), newest first: `(thread id, latest date)`.
    pub async fn list_threads(
        &self,
        grant_id: &GrantId,
        query: &MessageQuery,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let Some((filter, sql)) = self.thread_list_sql(grant_id, query).await? else {
            return Ok(Vec::new());
        };
        let rows = filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("latest")?)))
            .collect()
    }

    /// The statement listing the grant's threads that match `query` (`id` and `latest`,
    /// newest first), with its binds; `None` when no thread can match.
    pub(crate) async fn thread_list_sql(
        &self,
        grant_id: &GrantId,
        query: &MessageQuery,
    ) -> Result<Option<(SqlFilter, String)>, StoreError> {
        if query.holds_nul() {
            return Ok(None);
        }
        // Conditions the thread row answers are not asked of its messages.
        let by_messages = MessageQuery {
            limit: 0,
            after: None,
            thread_unread: None,
            thread_starred: None,
            latest_before: None,
            latest_after: None,
            has_attachment: None,
            ..query.clone()
        };
        let mut filter = SqlFilter::default();
        let walk = if by_messages.matches_everything() {
            ThreadWalk::All
        } else {
            let sizes = self.filter_sizes(grant_id, &by_messages).await?;
            if sizes.disjoint {
                return Ok(None);
            }
            let (walk, size, exact) = thread_walk(&by_messages, &sizes);
            // Without a filter known to be small, a common subject makes matches common.
            let few = sizes.collected_count().is_some()
                || match size {
                    Some(n) => n < COUNTED_ROWS,
                    None => !sizes.common_subject,
                };
            if !exact && few {
                // Few matching messages (or no index to walk): their threads are
                // collected and sorted.
                match self
                    .matching_threads(grant_id, &by_messages, &sizes)
                    .await?
                {
                    Some(threads) if threads.is_empty() => return Ok(None),
                    Some(threads) => {
                        let list = serde_json::to_string(&threads).map_err(StoreError::corrupt)?;
                        ThreadWalk::Collected(list)
                    }
                    None => {
                        thread_probe(self.engine, grant_id, &by_messages, &mut filter)?;
                        ThreadWalk::All
                    }
                }
            } else {
                if !exact {
                    thread_probe(self.engine, grant_id, &by_messages, &mut filter)?;
                }
                walk
            }
        };
        let json_from;
        let (from, date, id) = match &walk {
            ThreadWalk::All => ("threads t", "t.latest_date", "t.id"),
            ThreadWalk::Collected(list) => {
                // The list drives: asked for `t.id IN (…)` in date order, SQLite would
                // read the grant's whole date index and look each thread up in the list.
                let list = filter.placeholder(Bind::Text(list.clone()));
                filter.clause("t.id = j.value".into());
                json_from = format!("{} CROSS JOIN threads t", json_rows(self.engine, &list));
                (json_from.as_str(), "t.latest_date", "t.id")
            }
            ThreadWalk::Folder(folder) => {
                let folder = filter.placeholder(Bind::Text(folder.clone()));
                filter.clause(format!("tf.folder_id = {folder} AND t.id = tf.thread_id"));
                (
                    "thread_folders tf CROSS JOIN threads t",
                    "tf.latest_date",
                    "tf.thread_id",
                )
            }
            ThreadWalk::Address { email, roles } => {
                let grant = filter.placeholder(Bind::Text(grant_id.to_string()));
                let email = filter.placeholder(Bind::Text(email.clone()));
                filter.clause(format!(
                    "ta.grant_id = {grant} AND ta.email = {email} AND (ta.roles & {roles}) <> 0 \
                     AND t.id = ta.thread_id"
                ));
                (
                    "thread_addresses ta CROSS JOIN threads t",
                    "ta.latest_date",
                    "ta.thread_id",
                )
            }
        };
        filter.compare("t.grant_id", "=", Bind::Text(grant_id.to_string()));
        for (column, wanted) in [
            ("t.unread_count", query.thread_unread),
            ("t.starred_count", query.thread_starred),
            ("t.attachment_count", query.has_attachment),
        ] {
            // Literal, so that the partial indexes on these conditions apply.
            match wanted {
                Some(true) => filter.clause(format!("{column} > 0")),
                Some(false) => filter.clause(format!("{column} = 0")),
                None => {}
            }
        }
        if let Some(before) = query.latest_before {
            filter.compare(date, "<", Bind::Int(before));
        }
        if let Some(after) = query.latest_after {
            filter.compare(date, ">", Bind::Int(after));
        }
        if let Some((latest, thread)) = &query.after {
            cursor_clause(&mut filter, date, id, *latest, thread);
        }
        let limit = filter.placeholder(Bind::Int(query.limit));
        let sql = format!(
            "SELECT t.id AS id, t.latest_date AS latest FROM {from}{} \
             ORDER BY {date} DESC, {id} DESC LIMIT {limit}",
            filter.where_sql()
        );
        Ok(Some((filter, sql)))
    }

    /// The threads with a message matching `query` when there are at most
    /// [`COLLECTED_THREADS`]; `None` when there are more.
    async fn matching_threads(
        &self,
        grant_id: &GrantId,
        query: &MessageQuery,
        sizes: &FilterSizes,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut filter = SqlFilter::default();
        let sql = if let Some((emails, roles)) = only_address_filter(query) {
            // The threads' own addresses answer it, whatever the number of addresses.
            let grant = filter.placeholder(Bind::Text(grant_id.to_string()));
            let list: Vec<String> = emails
                .iter()
                .map(|e| filter.placeholder(Bind::Text(e.trim().to_lowercase())))
                .collect();
            let limit = filter.placeholder(Bind::Int(COLLECTED_THREADS + 1));
            format!(
                "SELECT DISTINCT ta.thread_id AS thread_id FROM thread_addresses ta \
                 WHERE ta.grant_id = {grant} AND ta.email IN ({}) AND (ta.roles & {roles}) <> 0 \
                 LIMIT {limit}",
                list.join(", ")
            )
        } else {
            let Some(scan) = message_scan(self.engine, grant_id, query, &mut filter, Some(sizes))
            else {
                return Ok(Some(Vec::new()));
            };
            let limit = filter.placeholder(Bind::Int(COLLECTED_THREADS + 1));
            format!(
                "SELECT DISTINCT m.thread_id AS thread_id FROM {}{} LIMIT {limit}",
                scan.from,
                filter.where_sql()
            )
        };
        let threads: Vec<String> = filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("thread_id"))
            .collect::<Result<_, _>>()?;
        Ok((threads.len() as i64 <= COLLECTED_THREADS).then_some(threads))
    }
}

/// The thread-level index a thread list is read from, newest first.
enum ThreadWalk {
    /// `threads (grant_id, latest_date, id)`.
    All,
    /// The threads in a JSON list, found first, then sorted.
    Collected(String),
    /// `thread_folders (folder_id, latest_date, thread_id)`.
    Folder(String),
    /// `thread_addresses (grant_id, email, latest_date, thread_id, roles)`.
    Address { email: String, roles: i64 },
}

/// The walk for a thread list filtered by its messages' `query`: by the smallest of its
/// folder and single-address filters, with that filter's size, and whether the walk alone
/// answers the query (it is the only condition).
fn thread_walk(query: &MessageQuery, sizes: &FilterSizes) -> (ThreadWalk, Option<i64>, bool) {
    let filters = address_filters(query);
    let mut best: Option<(i64, ThreadWalk)> = None;
    if let (Some(size), [folder]) = (sizes.folder, query.folder_ids.as_slice()) {
        best = Some((size, ThreadWalk::Folder(folder.clone())));
    }
    for (index, size) in sizes.addresses.iter().enumerate() {
        if let (Some(size), [email]) = (size, filters[index].0.as_slice())
            && best.as_ref().is_none_or(|(smallest, _)| *size < *smallest)
        {
            let email = email.trim().to_lowercase();
            best = Some((
                *size,
                ThreadWalk::Address {
                    email,
                    roles: filters[index].1,
                },
            ));
        }
    }
    let Some((size, walk)) = best else {
        return (ThreadWalk::All, None, false);
    };
    let exact = match &walk {
        ThreadWalk::All | ThreadWalk::Collected(_) => false,
        ThreadWalk::Folder(_) => MessageQuery {
            folder_ids: Vec::new(),
            ..query.clone()
        }
        .matches_everything(),
        ThreadWalk::Address { .. } => only_address_filter(query).is_some(),
    };
    (walk, Some(size), exact)
}

/// The emails and roles of a query whose only condition is one address filter.
fn only_address_filter(query: &MessageQuery) -> Option<(&[String], i64)> {
    let mut given = address_filters(query)
        .into_iter()
        .filter(|(emails, _)| !emails.is_empty());
    let (emails, roles) = given.next()?;
    let rest = MessageQuery {
        from: Vec::new(),
        to: Vec::new(),
        cc: Vec::new(),
        bcc: Vec::new(),
        any_email: Vec::new(),
        ..query.clone()
    };
    (given.next().is_none() && rest.matches_everything()).then_some((emails.as_slice(), roles))
}

/// Keeps threads `t` with a message matching `query`, each probed by its own messages.
fn thread_probe(
    engine: Engine,
    grant_id: &GrantId,
    query: &MessageQuery,
    filter: &mut SqlFilter,
) -> Result<(), StoreError> {
    let mark = filter.mark();
    if message_scan(engine, grant_id, query, filter, None).is_none() {
        // Nothing matches: no thread either.
        filter.clause("1 = 0".into());
        return Ok(());
    }
    let conditions = filter.take_clauses_since(mark);
    let probe =
        format!("EXISTS (SELECT 1 FROM messages m WHERE {conditions} AND m.thread_id = t.id)");
    // A subject alone is asked of the subjects the row keeps, where it keeps them.
    let subject_only = MessageQuery {
        subject: None,
        ..query.clone()
    }
    .matches_everything();
    match &query.subject {
        Some(subject)
            if subject_only && !subject.is_empty() && !subject.contains(SUBJECT_SEPARATOR) =>
        {
            let pattern = filter.placeholder(Bind::Text(format!(
                "%{}%",
                escape_like(&subject.to_lowercase())
            )));
            filter.clause(format!(
                "(t.subjects_lower LIKE {pattern} ESCAPE '\\' \
                 OR (t.subjects_lower IS NULL AND {probe}))"
            ));
        }
        _ => filter.clause(probe),
    }
    Ok(())
}

impl Store {
    /// How many rows each index-backed filter of `query` matches, up to [`COUNTED_ROWS`]:
    /// what picks the index a list is driven by, and whether another address filter is
    /// collected once (few matches) or checked per message (many).
    async fn filter_sizes(
        &self,
        grant_id: &GrantId,
        query: &MessageQuery,
    ) -> Result<FilterSizes, StoreError> {
        let mut sizes = FilterSizes::default();
        if let [folder] = query.folder_ids.as_slice() {
            let row =
                sqlx::query("SELECT total_count FROM folders WHERE id = $1 AND grant_id = $2")
                    .bind(folder)
                    .bind(grant_id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
            sizes.folder = row.map(|r| r.try_get("total_count")).transpose()?;
        }
        if !query.folder_ids.is_empty() {
            for (emails, roles) in address_filters(query) {
                if emails.is_empty() {
                    continue;
                }
                let emails: Vec<String> = emails.iter().map(|e| e.trim().to_lowercase()).collect();
                if !self
                    .folders_may_hold(&query.folder_ids, &emails, roles)
                    .await?
                {
                    sizes.disjoint = true;
                    return Ok(sizes);
                }
            }
        }
        for (index, (emails, roles)) in address_filters(query).iter().enumerate() {
            if emails.is_empty() {
                continue;
            }
            let mut filter = SqlFilter::default();
            let grant = filter.placeholder(Bind::Text(grant_id.to_string()));
            let list: Vec<String> = emails
                .iter()
                .map(|e| filter.placeholder(Bind::Text(e.trim().to_lowercase())))
                .collect();
            let limit = filter.placeholder(Bind::Int(COUNTED_ROWS));
            if let [_] = emails.as_slice() {
                // Every role counts: the estimate is read from the index alone.
                let sql = format!(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM message_addresses a \
                     WHERE a.grant_id = {grant} AND a.email IN ({}) LIMIT {limit}) counted",
                    list.join(", ")
                );
                let row = filter
                    .bind_to(sqlx::query(&sql))
                    .fetch_one(&self.pool)
                    .await?;
                sizes.addresses[index] = Some(row.try_get("n")?);
            } else {
                // Several addresses have no one order to read: their messages are
                // collected when few.
                let sql = format!(
                    "SELECT DISTINCT a.message_id AS id FROM message_addresses a \
                     WHERE a.grant_id = {grant} AND a.email IN ({}) AND (a.roles & {roles}) <> 0 \
                     LIMIT {limit}",
                    list.join(", ")
                );
                let ids: Vec<String> = filter
                    .bind_to(sqlx::query(&sql))
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| r.try_get("id"))
                    .collect::<Result<_, _>>()?;
                sizes.addresses[index] = Some(ids.len() as i64);
                if (ids.len() as i64) < COUNTED_ROWS {
                    sizes.collect(ids);
                }
            }
        }
        if let Some(thread_id) = &query.thread_id {
            // One thread's messages, found by the thread index: the grant's date index
            // would be read whole for them.
            let ids: Vec<String> = sqlx::query(
                "SELECT m.id AS id FROM messages m WHERE m.grant_id = $1 AND m.thread_id = $2 \
                 LIMIT $3",
            )
            .bind(grant_id.as_str())
            .bind(thread_id)
            .bind(COUNTED_ROWS)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
            if (ids.len() as i64) < COUNTED_ROWS {
                sizes.collect(ids);
            }
        }
        if let Some(subject) = &query.subject {
            match self
                .messages_with_subject(grant_id, subject, COLLECTED_SUBJECTS)
                .await?
            {
                Some(ids) => sizes.collect(ids),
                None => sizes.common_subject = true,
            }
        }
        Ok(sizes)
    }
}

/// Matching rows per filter, counted up to [`COUNTED_ROWS`] (`None`: not asked for).
#[derive(Default, Debug)]
struct FilterSizes {
    folder: Option<i64>,
    addresses: [Option<i64>; 5],
    /// The messages matching every filter whose matches were collected because they
    /// are few (a thread, a subject, an address filter of several addresses).
    collected: Option<Vec<String>>,
    /// Whether the subject filter matches too many messages to collect, or cannot be
    /// read from the subject index.
    common_subject: bool,
    /// Whether an address filter names no address ever seen in the role asked for in
    /// the folders asked for (`address_folders.rs`): nothing matches.
    disjoint: bool,
}

impl FilterSizes {
    /// Keeps, of the messages collected, those also in `ids`.
    fn collect(&mut self, ids: Vec<String>) {
        self.collected = Some(match self.collected.take() {
            None => ids,
            Some(before) => {
                let ids: HashSet<String> = ids.into_iter().collect();
                before.into_iter().filter(|id| ids.contains(id)).collect()
            }
        });
    }

    fn collected_count(&self) -> Option<i64> {
        self.collected.as_ref().map(|ids| ids.len() as i64)
    }
}

/// Messages a subject filter collects at most: counting more in the trigram index
/// costs more than walking the list for a subject that common.
const COLLECTED_SUBJECTS: i64 = 2000;

/// Where counting a filter's matches stops: past it, the filter is "common".
const COUNTED_ROWS: i64 = 5000;

/// The address filters of a query with the roles each asks for (bits of
/// `message_addresses.roles`).
fn address_filters(query: &MessageQuery) -> [(&Vec<String>, i64); 5] {
    [
        (&query.from, Role::From.bit()),
        (&query.to, Role::To.bit()),
        (&query.cc, Role::Cc.bit()),
        (&query.bcc, Role::Bcc.bit()),
        (
            &query.any_email,
            Role::From.bit() | Role::To.bit() | Role::Cc.bit() | Role::Bcc.bit(),
        ),
    ]
}

impl MessageQuery {
    /// Whether a text filter holds a NUL, which no stored text does: PostgreSQL refuses
    /// it in text, and SQLite's LIKE would read a pattern only up to it.
    fn holds_nul(&self) -> bool {
        let lists = [
            &self.from,
            &self.to,
            &self.cc,
            &self.bcc,
            &self.any_email,
            &self.folder_ids,
        ];
        self.subject
            .iter()
            .chain(self.thread_id.iter())
            .chain(lists.into_iter().flatten())
            .any(|text| text.contains('\0'))
    }

    /// Whether no condition on messages narrows the list (every located message matches).
    fn matches_everything(&self) -> bool {
        self.subject.is_none()
            && self.any_email.is_empty()
            && self.from.is_empty()
            && self.to.is_empty()
            && self.cc.is_empty()
            && self.bcc.is_empty()
            && self.folder_ids.is_empty()
            && self.unread.is_none()
            && self.starred.is_none()
            && self.thread_id.is_none()
            && self.received_before.is_none()
            && self.received_after.is_none()
            && self.has_attachment.is_none()
            && self.metadata_pairs.is_empty()
            && self.ids.is_none()
    }
}

/// `(date, id)` strictly before the cursor, in the list's order. A row value, which
/// both engines read as a range of the `(…, date, id)` index the list walks: PostgreSQL
/// scanned a thread list 10,000 rows deep from its top for the equivalent `date < d OR
/// (date = d AND id < i)` (15 ms, 0.4 ms as a row value).
fn cursor_clause(filter: &mut SqlFilter, date: &str, id: &str, after_date: i64, after_id: &str) {
    let d = filter.placeholder(Bind::Int(after_date));
    let i = filter.placeholder(Bind::Text(after_id.to_owned()));
    filter.clause(format!("({date}, {id}) < ({d}, {i})"));
}

/// The elements of a JSON array of strings bound at `placeholder`, as a table `j` of one
/// column, `value`, to name in a FROM list.
fn json_rows(engine: Engine, placeholder: &str) -> String {
    match engine {
        Engine::Sqlite => format!("json_each({placeholder}) AS j"),
        Engine::Postgres => {
            format!("jsonb_array_elements_text(CAST({placeholder} AS jsonb)) AS j(value)")
        }
    }
}

/// The elements of a JSON array of strings bound at `placeholder`, as a subquery.
fn json_list(engine: Engine, placeholder: &str) -> String {
    match engine {
        Engine::Sqlite => format!("SELECT value FROM json_each({placeholder})"),
        Engine::Postgres => {
            format!("SELECT jsonb_array_elements_text(CAST({placeholder} AS jsonb))")
        }
    }
}

/// The rows of a message query (without its cursor) and their conditions, added to
/// `filter`; `None` if it can match nothing. Messages are `m`. With the filters' sizes,
/// the scan is driven by the index of the smallest; without (a thread probed by its
/// messages), it is of `messages m` alone and every filter is a condition on it.
fn message_scan(
    engine: Engine,
    grant_id: &GrantId,
    query: &MessageQuery,
    filter: &mut SqlFilter,
    sizes: Option<&FilterSizes>,
) -> Option<MessageScan> {
    let address_filters = address_filters(query);
    let unknown = FilterSizes::default();
    let known = sizes.unwrap_or(&unknown);
    // The smallest filter with an ordered index drives: a folder, or a single address.
    let mut driver: Option<(i64, Option<usize>)> = known.folder.map(|n| (n, None));
    for (index, size) in known.addresses.iter().enumerate() {
        if let (Some(size), 1) = (size, address_filters[index].0.len())
            && driver.is_none_or(|(best, _)| *size < best)
        {
            driver = Some((*size, Some(index)));
        }
    }
    // Messages collected drive when they are fewer still.
    let collected = known
        .collected
        .as_ref()
        .filter(|ids| driver.is_none_or(|(best, _)| (ids.len() as i64) < best));
    if collected.is_some() {
        driver = None;
    }
    let driving_folder = matches!(driver, Some((_, None)));
    let driving_address = driver.and_then(|(_, index)| index);

    let scan = if let Some(ids) = collected {
        let list = serde_json::to_string(ids).unwrap_or_default();
        let placeholder = filter.placeholder(Bind::Text(list));
        filter.clause("m.id = j.value".into());
        MessageScan {
            from: format!("{} CROSS JOIN messages m", json_rows(engine, &placeholder)),
            date: "m.date",
            id: "m.id",
            may_repeat: false,
        }
    } else if let (true, [folder]) = (driving_folder, query.folder_ids.as_slice()) {
        let folder = filter.placeholder(Bind::Text(folder.clone()));
        filter.clause(format!("l.folder_id = {folder} AND m.id = l.message_id"));
        MessageScan {
            from: "message_locations l CROSS JOIN messages m".into(),
            date: "l.date",
            id: "l.message_id",
            may_repeat: true,
        }
    } else if let Some(index) = driving_address {
        let (emails, roles) = address_filters[index];
        let grant = filter.placeholder(Bind::Text(grant_id.to_string()));
        let email = filter.placeholder(Bind::Text(emails[0].trim().to_lowercase()));
        filter.clause(format!(
            "a.grant_id = {grant} AND a.email = {email} AND (a.roles & {roles}) <> 0 \
             AND m.id = a.message_id"
        ));
        MessageScan {
            from: "message_addresses a CROSS JOIN messages m".into(),
            date: "a.date",
            id: "a.message_id",
            may_repeat: false,
        }
    } else {
        MessageScan {
            from: "messages m".into(),
            date: "m.date",
            id: "m.id",
            may_repeat: false,
        }
    };

    filter.compare("m.grant_id", "=", Bind::Text(grant_id.to_string()));
    match query.folder_ids.as_slice() {
        [_] if driving_folder => {}
        [] => filter
            .clause("EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)".into()),
        folders => {
            let placeholders: Vec<String> = folders
                .iter()
                .map(|f| filter.placeholder(Bind::Text(f.clone())))
                .collect();
            filter.clause(format!(
                "EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id \
                 AND l.folder_id IN ({}))",
                placeholders.join(", ")
            ));
        }
    }
    for (index, (emails, roles)) in address_filters.iter().enumerate() {
        if emails.is_empty() || Some(index) == driving_address {
            continue;
        }
        // Few matches are collected once; many are checked per message read.
        let few = known.addresses[index].is_some_and(|n| n < COUNTED_ROWS);
        let condition = participants_clause(filter, grant_id, emails, *roles, few);
        filter.clause(condition);
    }
    if let Some(subject) = &query.subject {
        filter.compare_like(
            "m.subject_lower",
            Bind::Text(format!("%{}%", escape_like(&subject.to_lowercase()))),
        );
    }
    // Literal, so that the partial indexes on these conditions apply.
    for (column, wanted) in [
        ("m.unread", query.unread),
        ("m.starred", query.starred),
        ("m.has_attachments", query.has_attachment),
    ] {
        if let Some(wanted) = wanted {
            filter.clause(format!("{column} = {}", i64::from(wanted)));
        }
    }
    if let Some(thread_id) = &query.thread_id {
        filter.compare("m.thread_id", "=", Bind::Text(thread_id.clone()));
    }
    if let Some(before) = query.received_before {
        filter.compare(scan.date, "<", Bind::Int(before));
    }
    if let Some(after) = query.received_after {
        filter.compare(scan.date, ">", Bind::Int(after));
    }
    for (key, value) in &query.metadata_pairs {
        // Metadata is stored as compact JSON: a pair appears as `"key":"value"`.
        let pair = serde_json::to_string(&serde_json::json!({ key: value })).unwrap_or_default();
        let inner = pair.trim_start_matches('{').trim_end_matches('}');
        filter.compare_like(
            "m.metadata_json",
            Bind::Text(format!("%{}%", escape_like(inner))),
        );
    }
    if let Some(ids) = &query.ids {
        if ids.is_empty() {
            return None;
        }
        // One parameter holding them all, however many a server-side search found:
        // a list of placeholders would run past the engines' parameter limits.
        let list = serde_json::to_string(ids).unwrap_or_default();
        let placeholder = filter.placeholder(Bind::Text(list));
        filter.clause(format!("m.id IN ({})", json_list(engine, &placeholder)));
    }
    Some(scan)
}
