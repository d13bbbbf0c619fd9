//! Messages of the local index. A message is identified across folders, moves and
//! UIDVALIDITY resets by its identity key; where it lives (folder + UID) is kept apart in
//! `message_locations`. A message with no location is hidden, not deleted, so that a move
//! seen as "expunged here" before "appeared there" keeps its id.

use std::collections::HashMap;

use mailroom_model::{
    GrantId,
    time::{unix_millis, unix_now},
    v3::{EmailName, webhook::TriggerType},
};
use sqlx::{Any, Row, Transaction};

use crate::{
    deletions::note_departures,
    error::StoreError,
    events::{EventChange, record_message_events},
    folder_counts::{Count, clear_counts, count_locations, count_unread_change},
    location_flags::{set_copy_flags, settle_message_flags},
    open::Store,
    sql_filter::{Bind, SqlFilter},
    thread_summaries::TouchedThreads,
    webhook_outbox::record_notifications,
};

/// A message as sync first learns it (headers, flags, dates).
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub uid: i64,
    pub identity_key: String,
    pub message_id_header: Option<String>,
    /// Keys that link it to a thread (`id:<message-id>`, `subject:<normalized>`).
    pub thread_keys: Vec<String>,
    pub subject: Option<String>,
    pub from: Vec<EmailName>,
    pub to: Vec<EmailName>,
    pub cc: Vec<EmailName>,
    pub bcc: Vec<EmailName>,
    pub reply_to: Vec<EmailName>,
    pub date: i64,
    pub sent_date: Option<i64>,
    pub size: i64,
    pub flags: Vec<String>,
    pub has_attachments: bool,
    pub in_reply_to: Option<String>,
    /// An identity this message takes over, keeping that message's id, when the index
    /// knows none by its own: what it was known by before (a Gmail message by its
    /// Message-ID, before its Gmail id was read, or as the draft it was sent from).
    pub adopts_identity: Option<String>,
}

/// What reading a message's body adds to its index entry.
#[derive(Debug, Clone)]
pub struct MessageBody {
    pub id: String,
    pub body_html: String,
    pub snippet: String,
    /// The attachment objects as the API shows them.
    pub attachments: serde_json::Value,
    pub headers: Vec<(String, String)>,
    /// The events of its invitations (`text/calendar` parts, `.ics` files).
    pub calendar: Vec<mailroom_mime::CalendarEvent>,
    /// The non-delivery report it is, if it is one: announced when first stored.
    pub bounce: Option<mailroom_mime::BounceReport>,
}

#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub id: String,
    pub grant_id: GrantId,
    pub thread_id: String,
    pub message_id_header: Option<String>,
    pub subject: Option<String>,
    pub from: Vec<EmailName>,
    pub to: Vec<EmailName>,
    pub cc: Vec<EmailName>,
    pub bcc: Vec<EmailName>,
    pub reply_to: Vec<EmailName>,
    pub date: i64,
    pub unread: bool,
    pub starred: bool,
    pub has_attachments: bool,
    pub snippet: String,
    pub body_html: Option<String>,
    pub attachments: serde_json::Value,
    pub headers: Vec<(String, String)>,
    pub created_at: i64,
    /// The `\Draft` flag.
    pub draft: bool,
    /// What the application attached with `PUT …/messages/{id}` (`metadata`).
    pub metadata: serde_json::Value,
}

/// Where a message can be fetched from.
#[derive(Debug, Clone)]
pub struct MessageLocation {
    pub folder_id: String,
    pub imap_name: String,
    pub uid: i64,
    /// RFC822.SIZE as indexed.
    pub size: i64,
    /// The folder's UIDVALIDITY as the index knows it (0 before its first read): `uid`
    /// names this message only while the server's is the same (RFC 3501 §2.3.1.1).
    pub uid_validity: i64,
}

/// A message whose body has not been read yet, and where to read it.
#[derive(Debug, Clone)]
pub struct MissingBody {
    pub id: String,
    /// The message's date (unix seconds), which orders the walk newest first.
    pub date: i64,
    pub location: MessageLocation,
}

/// Filters and paging of a message list.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub limit: i64,
    /// (date, id) of the last message of the previous page.
    pub after: Option<(i64, String)>,
    pub subject: Option<String>,
    pub any_email: Vec<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub folder_ids: Vec<String>,
    pub unread: Option<bool>,
    pub starred: Option<bool>,
    pub thread_id: Option<String>,
    pub received_before: Option<i64>,
    pub received_after: Option<i64>,
    pub has_attachment: Option<bool>,
    /// `metadata_pair` filters: the message's metadata has each key with that value.
    pub metadata_pairs: Vec<(String, String)>,
    /// Restrict to these message ids (from a server-side search).
    pub ids: Option<Vec<String>>,
    /// Thread lists only: conditions on a whole thread, as the thread object shows it
    /// (unread or starred if any of its messages is; dated by its latest message).
    pub thread_unread: Option<bool>,
    pub thread_starred: Option<bool>,
    pub latest_before: Option<i64>,
    pub latest_after: Option<i64>,
}

/// [`COLUMNS`] without the full header list (only `fields=include_headers` shows it).
pub(crate) const COLUMNS_BUT_HEADERS: &str = "m.id, m.grant_id, m.thread_id, m.message_id_header, \
     m.subject, m.from_json, m.to_json, m.cc_json, m.bcc_json, m.reply_to_json, m.date, m.unread, \
     m.starred, m.has_attachments, m.snippet, m.body_html, m.attachments_json, \
     '[]' AS headers_json, m.created_at, m.draft, m.metadata_json";

pub(crate) const COLUMNS: &str = "m.id, m.grant_id, m.thread_id, m.message_id_header, m.subject, m.from_json, m.to_json, \
     m.cc_json, m.bcc_json, m.reply_to_json, m.date, m.unread, m.starred, m.has_attachments, \
     m.snippet, m.body_html, m.attachments_json, m.headers_json, m.created_at, m.draft, m.metadata_json";

impl Store {
    /// UIDs indexed for a folder, ascending.
    pub async fn folder_uids(&self, folder_id: &str) -> Result<Vec<i64>, StoreError> {
        let rows =
            sqlx::query("SELECT uid FROM message_locations WHERE folder_id = $1 ORDER BY uid")
                .bind(folder_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok(r.try_get("uid")?)).collect()
    }

    /// Forgets that messages live at these UIDs (expunged or moved away). A message still
    /// in another folder is announced `message.updated`; one left with no location at
    /// all becomes a deletion candidate: announced `message.deleted` if the next whole
    /// pass does not find it elsewhere (see [`Store::settle_deletions`]).
    pub async fn remove_locations(
        &self,
        grant_id: &GrantId,
        folder_id: &str,
        uids: &[i64],
    ) -> Result<(), StoreError> {
        let now_ms = unix_millis();
        let mut updated = Vec::new();
        let mut touched = TouchedThreads::default();
        let mut tx = self.begin_grant_write(grant_id).await?;
        for chunk in uids.chunks(500) {
            let mut filter = SqlFilter::default();
            filter.compare("folder_id", "=", Bind::Text(folder_id.to_owned()));
            filter.one_of("uid", chunk.iter().map(|uid| Bind::Int(*uid)));
            let select = format!(
                "SELECT message_id FROM message_locations{}",
                filter.where_sql()
            );
            let leaving: Vec<String> = filter
                .clone()
                .bind_to(sqlx::query(&select))
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get("message_id"))
                .collect::<Result<_, _>>()?;
            count_locations(&mut tx, folder_id, chunk, Count::Out).await?;
            crate::expunged_uids::remember_expunged(
                &mut tx,
                self.engine,
                folder_id,
                chunk,
                now_ms / 1000,
            )
            .await?;
            let sql = format!("DELETE FROM message_locations{}", filter.where_sql());
            filter.bind_to(sqlx::query(&sql)).execute(&mut *tx).await?;
            touched.messages(&leaving);
            let still_located =
                note_departures(&mut tx, grant_id, folder_id, leaving, now_ms).await?;
            // The copies left say what the message's flags are now.
            let ids: Vec<String> = still_located.iter().map(|(id, _)| id.clone()).collect();
            settle_message_flags(&mut tx, &ids, now_ms / 1000, &mut touched).await?;
            updated.extend(still_located);
        }
        touched.refresh(&mut tx, grant_id).await?;
        record_notifications(&mut tx, grant_id, TriggerType::MessageUpdated, &updated).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Drops every location of a folder, after its UIDVALIDITY changed to
    /// `uid_validity`, which the folder takes at once: the UIDs indexed from now on are
    /// of that one. What was known of the old (UIDNEXT, HIGHESTMODSEQ) is forgotten, and
    /// the folder reads as not yet read. The messages keep their ids and are matched
    /// again as the folder is re-read; those found nowhere by the end of the next whole
    /// pass were deleted meanwhile.
    pub async fn clear_folder_locations(
        &self,
        folder_id: &str,
        uid_validity: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(grant) = sqlx::query("SELECT grant_id FROM folders WHERE id = $1")
            .bind(folder_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(());
        };
        let grant_id = GrantId::from_stored(grant.try_get("grant_id")?);
        self.serialize_grant_writes(&mut tx, &grant_id).await?;
        let mut touched = TouchedThreads::default();
        for row in sqlx::query(
            "SELECT DISTINCT m.thread_id AS thread_id FROM message_locations l \
             JOIN messages m ON m.id = l.message_id WHERE l.folder_id = $1",
        )
        .bind(folder_id)
        .fetch_all(&mut *tx)
        .await?
        {
            touched.thread(&row.try_get::<String, _>("thread_id")?);
        }
        sqlx::query(
            "INSERT INTO deletion_candidates (message_id, grant_id, noticed_at, folder_id) \
             SELECT l.message_id, l.grant_id, $2, l.folder_id FROM message_locations l \
             WHERE l.folder_id = $1 AND NOT EXISTS (SELECT 1 FROM message_locations o \
                 WHERE o.message_id = l.message_id AND o.folder_id <> l.folder_id) \
             ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(folder_id)
        .bind(unix_millis())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM message_locations WHERE folder_id = $1")
            .bind(folder_id)
            .execute(&mut *tx)
            .await?;
        // The old UIDs mean nothing now, and the new ones may repeat their numbers.
        sqlx::query("DELETE FROM expunged_uids WHERE folder_id = $1")
            .bind(folder_id)
            .execute(&mut *tx)
            .await?;
        clear_counts(&mut tx, folder_id).await?;
        sqlx::query(
            "UPDATE folders SET uid_validity = $1, uid_next = 0, highest_modseq = 0, \
             initial_sync_done = 0 WHERE id = $2",
        )
        .bind(uid_validity)
        .bind(folder_id)
        .execute(&mut *tx)
        .await?;
        touched.refresh(&mut tx, &grant_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies fresh flags to the copies at these UIDs of a folder; each message whose
    /// state (what its copies say together, `location_flags`) changed is announced
    /// `message.updated`.
    pub async fn update_flags(
        &self,
        grant_id: &GrantId,
        folder_id: &str,
        flags: &[(i64, Vec<String>)],
    ) -> Result<(), StoreError> {
        let now = unix_now();
        let mut changed = Vec::new();
        let mut touched = TouchedThreads::default();
        let mut tx = self.begin_grant_write(grant_id).await?;
        for (uid, message_flags) in flags {
            if !set_copy_flags(&mut tx, folder_id, *uid, ImapFlags::of(message_flags)).await? {
                continue;
            }
            let row = sqlx::query(
                "SELECT message_id FROM message_locations WHERE folder_id = $1 AND uid = $2",
            )
            .bind(folder_id)
            .bind(*uid)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                let id: String = row.try_get("message_id")?;
                if !settle_message_flags(&mut tx, std::slice::from_ref(&id), now, &mut touched)
                    .await?
                    .is_empty()
                {
                    changed.push((id, None));
                }
            }
        }
        touched.refresh(&mut tx, grant_id).await?;
        record_notifications(&mut tx, grant_id, TriggerType::MessageUpdated, &changed).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every indexed message of a thread, oldest first.
    pub async fn thread_messages(
        &self,
        grant_id: &GrantId,
        thread_id: &str,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages m WHERE m.grant_id = $1 AND m.thread_id = $2 \
             AND EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id) \
             ORDER BY m.date, m.id"
        ))
        .bind(grant_id.as_str())
        .bind(thread_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// `(uid, message id)` of the indexed messages at these UIDs of a folder.
    pub async fn messages_at_uids(
        &self,
        folder_id: &str,
        uids: &[i64],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let mut ids = Vec::new();
        for chunk in uids.chunks(500) {
            let mut filter = SqlFilter::default();
            filter.compare("folder_id", "=", Bind::Text(folder_id.to_owned()));
            filter.one_of("uid", chunk.iter().map(|uid| Bind::Int(*uid)));
            let sql = format!(
                "SELECT uid, message_id FROM message_locations{}",
                filter.where_sql()
            );
            for row in filter
                .bind_to(sqlx::query(&sql))
                .fetch_all(&self.pool)
                .await?
            {
                ids.push((row.try_get("uid")?, row.try_get("message_id")?));
            }
        }
        Ok(ids)
    }

    pub async fn message(
        &self,
        grant_id: &GrantId,
        id: &str,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM messages m WHERE m.grant_id = $1 AND m.id = $2 \
             AND EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)"
        ))
        .bind(grant_id.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    /// The folders each of these messages of the grant lives in.
    pub async fn message_folders(
        &self,
        grant_id: &GrantId,
        ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let mut folders: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in ids.chunks(500) {
            let mut filter = SqlFilter::default();
            filter.compare("grant_id", "=", Bind::Text(grant_id.to_string()));
            filter.one_of("message_id", chunk.iter().map(|id| Bind::Text(id.clone())));
            let sql = format!(
                "SELECT message_id, folder_id FROM message_locations{} ORDER BY folder_id",
                filter.where_sql()
            );
            for row in filter
                .bind_to(sqlx::query(&sql))
                .fetch_all(&self.pool)
                .await?
            {
                let entry = folders.entry(row.try_get("message_id")?).or_default();
                let folder: String = row.try_get("folder_id")?;
                if !entry.contains(&folder) {
                    entry.push(folder);
                }
            }
        }
        Ok(folders)
    }

    /// Where to fetch a message of the grant from.
    pub async fn message_location(
        &self,
        grant_id: &GrantId,
        id: &str,
    ) -> Result<Option<MessageLocation>, StoreError> {
        let row = sqlx::query(
            "SELECT l.folder_id, f.imap_name, l.uid, m.size, f.uid_validity FROM message_locations l \
             JOIN folders f ON f.id = l.folder_id JOIN messages m ON m.id = l.message_id \
             WHERE l.message_id = $1 AND l.grant_id = $2 ORDER BY l.folder_id LIMIT 1",
        )
        .bind(id)
        .bind(grant_id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some(MessageLocation {
                folder_id: row.try_get("folder_id")?,
                imap_name: row.try_get("imap_name")?,
                uid: row.try_get("uid")?,
                size: row.try_get("size")?,
                uid_validity: row.try_get("uid_validity")?,
            }),
            None => None,
        })
    }

    /// Keeps what was learnt from the grant's messages' bodies, in one transaction.
    /// Returns the events their invitations created or changed.
    pub async fn store_message_bodies(
        &self,
        grant_id: &GrantId,
        bodies: &[MessageBody],
    ) -> Result<Vec<EventChange>, StoreError> {
        let now = unix_now();
        let mut events = Vec::new();
        let mut touched = TouchedThreads::default();
        let mut first_reads: i64 = 0;
        let mut tx = self.begin_grant_write(grant_id).await?;
        for body in bodies {
            let headers = serde_json::to_string(&body.headers).map_err(StoreError::corrupt)?;
            let has_attachments = body.attachments.as_array().is_some_and(|a| {
                a.iter()
                    .any(|att| !att["is_inline"].as_bool().unwrap_or(false))
            });
            let attachments = body.attachments.to_string();
            // The body tells whether it has attachments; where that changes what the index
            // said, its thread's row changes too.
            let changed = sqlx::query(
                "UPDATE messages SET has_attachments = $1 \
                 WHERE id = $2 AND grant_id = $3 AND has_attachments <> $1",
            )
            .bind(i64::from(has_attachments))
            .bind(&body.id)
            .bind(grant_id.as_str())
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() > 0 {
                touched.message(&body.id);
            }
            let update = |condition: &'static str| {
                sqlx::query(condition)
                    .bind(&body.body_html)
                    .bind(&body.snippet)
                    .bind(&attachments)
                    .bind(i64::from(has_attachments))
                    .bind(&headers)
                    .bind(now)
                    .bind(&body.id)
                    .bind(grant_id.as_str())
            };
            // A body read for the first time is counted; one read again is not.
            let mut stored = update(
                "UPDATE messages SET body_html = $1, snippet = $2, attachments_json = $3, \
                     has_attachments = $4, headers_json = $5, body_fetched = 1, updated_at = $6 \
                 WHERE id = $7 AND grant_id = $8 AND body_fetched = 0",
            )
            .execute(&mut *tx)
            .await?;
            if stored.rows_affected() > 0 {
                first_reads += 1;
                if let Some(report) = &body.bounce {
                    crate::bounces::announce_bounce(&mut tx, grant_id, &body.id, report).await?;
                }
            } else {
                stored = update(
                    "UPDATE messages SET body_html = $1, snippet = $2, attachments_json = $3, \
                         has_attachments = $4, headers_json = $5, body_fetched = 1, updated_at = $6 \
                     WHERE id = $7 AND grant_id = $8",
                )
                .execute(&mut *tx)
                .await?;
            }
            if stored.rows_affected() == 0 {
                // Not a message of this grant (or gone meanwhile).
                continue;
            }
            let changes = record_message_events(&mut tx, &body.id, &body.calendar).await?;
            announce_event_changes(&mut tx, &body.id, &changes).await?;
            events.extend(changes);
        }
        touched.refresh(&mut tx, grant_id).await?;
        if first_reads > 0 {
            sqlx::query(
                "UPDATE sync_status SET bodies_synced = bodies_synced + $1 WHERE grant_id = $2",
            )
            .bind(first_reads)
            .bind(grant_id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(events)
    }

    /// The newest messages of a grant whose body has not been read yet, dated
    /// `oldest_date` or later if given, and below `below` (date, id) in the order
    /// newest first if given: a walk continues from the last message it was given.
    pub async fn messages_missing_body(
        &self,
        grant_id: &GrantId,
        limit: i64,
        oldest_date: Option<i64>,
        below: Option<(i64, &str)>,
    ) -> Result<Vec<MissingBody>, StoreError> {
        let mut sql = String::from(
            "SELECT m.id AS id, m.date AS date, l.folder_id AS folder_id, \
             f.imap_name AS imap_name, l.uid AS uid, m.size AS size, \
             f.uid_validity AS uid_validity \
             FROM messages m JOIN message_locations l ON l.message_id = m.id \
             JOIN folders f ON f.id = l.folder_id \
             WHERE m.grant_id = $1 AND m.body_fetched = 0",
        );
        let mut next = 2;
        if oldest_date.is_some() {
            sql.push_str(&format!(" AND m.date >= ${next}"));
            next += 1;
        }
        if below.is_some() {
            // The first term lets the (grant_id, body_fetched, date, id) index bound the scan.
            sql.push_str(&format!(
                " AND m.date <= ${} AND (m.date < ${} OR m.id < ${})",
                next,
                next + 1,
                next + 2
            ));
            next += 3;
        }
        sql.push_str(&format!(" ORDER BY m.date DESC, m.id DESC LIMIT ${next}"));
        let mut query = sqlx::query(&sql).bind(grant_id.as_str());
        if let Some(oldest) = oldest_date {
            query = query.bind(oldest);
        }
        if let Some((date, id)) = below {
            query = query.bind(date).bind(date).bind(id);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for row in &rows {
            let id: String = row.try_get("id")?;
            if seen.insert(id.clone()) {
                out.push(MissingBody {
                    id,
                    date: row.try_get("date")?,
                    location: MessageLocation {
                        folder_id: row.try_get("folder_id")?,
                        imap_name: row.try_get("imap_name")?,
                        uid: row.try_get("uid")?,
                        size: row.try_get("size")?,
                        uid_validity: row.try_get("uid_validity")?,
                    },
                });
            }
        }
        Ok(out)
    }

    /// How many messages of a grant have had their body read.
    pub async fn read_body_count(&self, grant_id: &GrantId) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM messages WHERE grant_id = $1 AND body_fetched = 1",
        )
        .bind(grant_id.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// How many messages of a grant are indexed (with a location).
    pub async fn indexed_message_count(&self, grant_id: &GrantId) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT message_id) AS n FROM message_locations WHERE grant_id = $1",
        )
        .bind(grant_id.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}

/// `event.created` / `event.updated` for invitations read from a message that was
/// itself announced; the invitations of historic mail are not news.
async fn announce_event_changes(
    tx: &mut Transaction<'_, Any>,
    message_id: &str,
    changes: &[EventChange],
) -> Result<(), StoreError> {
    let Some(first) = changes.first() else {
        return Ok(());
    };
    let announced = sqlx::query("SELECT 1 AS one FROM messages WHERE id = $1 AND announced = 1")
        .bind(message_id)
        .fetch_optional(&mut **tx)
        .await?;
    if announced.is_none() {
        return Ok(());
    }
    for (created, trigger) in [
        (true, TriggerType::EventCreated),
        (false, TriggerType::EventUpdated),
    ] {
        let ids: Vec<(String, Option<String>)> = changes
            .iter()
            .filter(|c| c.created == created)
            .map(|c| (c.id.clone(), None))
            .collect();
        record_notifications(tx, &first.grant_id, trigger, &ids).await?;
    }
    Ok(())
}

/// The flags the index keeps, as an IMAP flag list gives them (RFC 9051 §2.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ImapFlags {
    pub unread: bool,
    pub starred: bool,
    pub answered: bool,
    pub draft: bool,
}

impl ImapFlags {
    pub(crate) fn of(flags: &[String]) -> Self {
        let has = |name: &str| flags.iter().any(|f| f.eq_ignore_ascii_case(name));
        Self {
            unread: !has("\\Seen"),
            starred: has("\\Flagged"),
            answered: has("\\Answered"),
            draft: has("\\Draft"),
        }
    }
}

impl From<ImapFlags> for FlagState {
    fn from(flags: ImapFlags) -> Self {
        Self {
            unread: Some(flags.unread),
            starred: Some(flags.starred),
            answered: Some(flags.answered),
            draft: Some(flags.draft),
        }
    }
}

/// Flags to give a message; `None` keeps what it has.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FlagState {
    pub unread: Option<bool>,
    pub starred: Option<bool>,
    pub answered: Option<bool>,
    pub draft: Option<bool>,
}

/// Changes a message's flags, keeping its folders' unread counts and its thread's row;
/// whether anything changed.
pub(crate) async fn apply_flag_state(
    tx: &mut Transaction<'_, Any>,
    id: &str,
    state: FlagState,
    now: i64,
    touched: &mut TouchedThreads,
) -> Result<bool, StoreError> {
    let Some(row) =
        sqlx::query("SELECT unread, starred, answered, draft FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
    else {
        return Ok(false);
    };
    let flag =
        |column: &str| -> Result<bool, StoreError> { Ok(row.try_get::<i64, _>(column)? != 0) };
    let old = [
        flag("unread")?,
        flag("starred")?,
        flag("answered")?,
        flag("draft")?,
    ];
    let new = [
        state.unread.unwrap_or(old[0]),
        state.starred.unwrap_or(old[1]),
        state.answered.unwrap_or(old[2]),
        state.draft.unwrap_or(old[3]),
    ];
    if new == old {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE messages SET unread = $1, starred = $2, answered = $3, draft = $4, updated_at = $5 \
         WHERE id = $6",
    )
    .bind(i64::from(new[0]))
    .bind(i64::from(new[1]))
    .bind(i64::from(new[2]))
    .bind(i64::from(new[3]))
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if new[0] != old[0] {
        count_unread_change(tx, id, if new[0] { 1 } else { -1 }).await?;
    }
    touched.message(id);
    Ok(true)
}

/// Escapes LIKE wildcards; the clauses say `ESCAPE '\\'`.
pub(crate) fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

pub(crate) fn message_from_row(row: &sqlx::any::AnyRow) -> Result<MessageRecord, StoreError> {
    let names = |column: &str| -> Result<Vec<EmailName>, StoreError> {
        let text: String = row.try_get(column)?;
        serde_json::from_str(&text).map_err(StoreError::corrupt)
    };
    let attachments: String = row.try_get("attachments_json")?;
    let headers: String = row.try_get("headers_json")?;
    let metadata: String = row.try_get("metadata_json")?;
    Ok(MessageRecord {
        id: row.try_get("id")?,
        grant_id: GrantId::from_stored(row.try_get("grant_id")?),
        thread_id: row.try_get("thread_id")?,
        message_id_header: row.try_get("message_id_header")?,
        subject: row.try_get("subject")?,
        from: names("from_json")?,
        to: names("to_json")?,
        cc: names("cc_json")?,
        bcc: names("bcc_json")?,
        reply_to: names("reply_to_json")?,
        date: row.try_get("date")?,
        unread: row.try_get::<i64, _>("unread")? != 0,
        starred: row.try_get::<i64, _>("starred")? != 0,
        has_attachments: row.try_get::<i64, _>("has_attachments")? != 0,
        snippet: row.try_get("snippet")?,
        body_html: row.try_get("body_html")?,
        attachments: serde_json::from_str(&attachments).map_err(StoreError::corrupt)?,
        headers: serde_json::from_str(&headers).map_err(StoreError::corrupt)?,
        created_at: row.try_get("created_at")?,
        draft: row.try_get::<i64, _>("draft")? != 0,
        metadata: serde_json::from_str(&metadata).map_err(StoreError::corrupt)?,
    })
}
