//! Adding a batch of messages read from one folder to the index, in one transaction and
//! a handful of statements whatever the batch size: identities and thread references are
//! looked up for the whole batch at once, threads are resolved in memory, and rows are
//! written with multi-row INSERTs. This is what keeps an initial sync close to the speed
//! at which the server can send.
//!
//! Threads: every message carries keys (`id:<message-id>` for itself, its References and
//! In-Reply-To, or `subject:<normalized>` when it has no reference headers). Messages
//! sharing a key share a thread; a message whose keys point at several threads merges
//! them into the smallest id. The merge is a union-find over thread ids: in memory for the
//! batch, then applied to stored rows with one UPDATE per merged thread (rare).

use std::collections::{BTreeMap, HashMap, HashSet};

use mailroom_model::{GrantId, time::unix_now};
use sqlx::{Any, Row, Transaction};

use mailroom_model::v3::webhook::TriggerType;

use crate::{
    address_folders::note_located_addresses,
    deletions::take_found_candidates,
    error::StoreError,
    folder_counts::{Count, count_locations},
    location_flags::{self, settle_message_flags},
    message_addresses::{Participants, insert_participants, roles_by_address},
    message_row::new_row_columns,
    messages::{ImapFlags, NewMessage},
    open::{Engine, Store},
    sql_batch::value_rows,
    sql_filter::{Bind, SqlFilter},
    thread_participants::ParticipantSet,
    thread_replies::record_thread_replies,
    thread_summaries::{AddedMessage, TouchedThreads},
    webhook_outbox::record_notifications,
};

/// Rows per multi-row INSERT of narrow rows (thread refs, locations).
const ROWS_PER_INSERT: usize = 500;
/// Rows per multi-row INSERT of messages (28 parameters each).
const MESSAGES_PER_INSERT: usize = 128;
/// Values per `IN (…)` lookup.
const KEYS_PER_LOOKUP: usize = 250;

impl Store {
    /// Records that `batch` lives in `folder_id` at the given UIDs. A message already
    /// indexed (same identity, e.g. moved here or re-read after a UIDVALIDITY change)
    /// keeps its id, and its flags become what its copies, this one among them, say
    /// together (`location_flags`); others are created. Returns how many were
    /// created.
    pub async fn add_folder_messages(
        &self,
        grant_id: &GrantId,
        folder_id: &str,
        batch: &[NewMessage],
    ) -> Result<usize, StoreError> {
        self.index_folder_messages(grant_id, folder_id, batch, false)
            .await
    }

    /// As [`Store::add_folder_messages`], for mail that arrived after the folder was first
    /// read: each message new to the index is announced (`message.created`) in the same
    /// transaction. A message already indexed (moved, re-read after a UIDVALIDITY change,
    /// seen again after a restart) is never announced twice.
    pub async fn add_arrived_messages(
        &self,
        grant_id: &GrantId,
        folder_id: &str,
        batch: &[NewMessage],
    ) -> Result<usize, StoreError> {
        self.index_folder_messages(grant_id, folder_id, batch, true)
            .await
    }

    async fn index_folder_messages(
        &self,
        grant_id: &GrantId,
        folder_id: &str,
        batch: &[NewMessage],
        announce: bool,
    ) -> Result<usize, StoreError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let now = unix_now();
        let mut tx = self.begin_grant_write(grant_id).await?;
        // What left the folder since the pass listed it stays out (crate::expunged_uids).
        let uids: Vec<i64> = batch.iter().map(|m| m.uid).collect();
        let gone = crate::expunged_uids::expunged_among(&mut tx, folder_id, &uids).await?;
        let kept: Vec<NewMessage>;
        let batch = if gone.is_empty() {
            batch
        } else {
            kept = batch
                .iter()
                .filter(|m| !gone.contains(&m.uid))
                .cloned()
                .collect();
            &kept[..]
        };
        if batch.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }

        let identities: Vec<String> = batch.iter().map(|m| m.identity_key.clone()).collect();
        let (mut ids, mut dates) = lookup_identities(&mut tx, grant_id, &identities).await?;
        adopt_identities(&mut tx, grant_id, batch, &mut ids, &mut dates).await?;

        // Which messages are new (the first of each identity in the batch). New ids are
        // time-ordered (UUIDv7): rows and index entries then land at the end of their
        // B-trees instead of on random pages, which keeps large syncs linear.
        let mut fresh: Vec<&NewMessage> = Vec::new();
        let mut known: Vec<(&NewMessage, String)> = Vec::new();
        let mut new_ids: HashMap<&str, String> = HashMap::new();
        for message in batch {
            if let Some(id) = ids.get(&message.identity_key) {
                known.push((message, id.clone()));
            } else if !new_ids.contains_key(message.identity_key.as_str()) {
                new_ids.insert(
                    &message.identity_key,
                    uuid::Uuid::now_v7().simple().to_string(),
                );
                fresh.push(message);
            }
        }
        for message in &fresh {
            if let Some(id) = new_ids.get(message.identity_key.as_str()) {
                ids.insert(message.identity_key.clone(), id.clone());
                dates.insert(id.clone(), message.date);
            }
        }

        let engine = self.engine;
        let mut touched = TouchedThreads::default();
        let threads = resolve_threads(&mut tx, engine, grant_id, &fresh, &mut touched).await?;
        insert_messages(&mut tx, engine, grant_id, &fresh, &new_ids, &threads, now).await?;
        let participants: Vec<Participants> = fresh
            .iter()
            .filter_map(|m| {
                Some(Participants {
                    message_id: new_ids.get(m.identity_key.as_str())?,
                    date: m.date,
                    roles: roles_by_address(&m.from, &m.to, &m.cc, &m.bcc),
                })
            })
            .collect();
        insert_participants(&mut tx, engine, grant_id, &participants).await?;
        // Their roles go on to grow the threads' addresses below.
        let mut roles_of: HashMap<&str, BTreeMap<String, i64>> = participants
            .into_iter()
            .map(|p| (p.message_id, p.roles))
            .collect();
        // Known messages that had left another folder were moved here, not deleted.
        let mut known_ids: Vec<String> = known.iter().map(|(_, id)| id.clone()).collect();
        known_ids.sort_unstable();
        known_ids.dedup();
        let mut updated = take_found_candidates(&mut tx, &known_ids, folder_id).await?;

        // One message per UID: a server that names a UID twice keeps its first. Each
        // location keeps its copy's flags.
        let mut locations: Vec<Location> = Vec::with_capacity(batch.len());
        let mut located_uids: HashSet<i64> = HashSet::with_capacity(batch.len());
        for message in batch {
            if let Some(id) = ids.get(&message.identity_key)
                && located_uids.insert(message.uid)
            {
                locations.push(Location {
                    uid: message.uid,
                    message_id: id,
                    date: dates.get(id).copied().unwrap_or(message.date),
                    flags: location_flags::bits(ImapFlags::of(&message.flags)),
                });
            }
        }
        let fresh_ids: HashSet<&str> = new_ids.values().map(String::as_str).collect();
        insert_locations(
            &mut tx,
            engine,
            grant_id,
            folder_id,
            &locations,
            &fresh_ids,
            &mut touched,
        )
        .await?;
        // A known message takes what its copies, this one among them, say together.
        let flags_changed = settle_message_flags(&mut tx, &known_ids, now, &mut touched).await?;
        if announce {
            updated.extend(flags_changed);
        }
        updated.sort_unstable();
        updated.dedup();
        let located: HashSet<&str> = locations.iter().map(|l| l.message_id).collect();
        let added: Vec<AddedMessage> = fresh
            .iter()
            .filter_map(|m| {
                let id = new_ids.get(m.identity_key.as_str())?;
                let thread_id = threads.get(&m.identity_key)?;
                located.contains(id.as_str()).then(|| {
                    let flags = ImapFlags::of(&m.flags);
                    AddedMessage {
                        id: id.clone(),
                        thread_id: thread_id.clone(),
                        folder_id: folder_id.to_owned(),
                        date: m.date,
                        sent_date: m.sent_date,
                        unread: flags.unread,
                        starred: flags.starred,
                        has_attachments: m.has_attachments,
                        draft: flags.draft,
                        subject: m.subject.clone(),
                        roles: roles_of.remove(id.as_str()).unwrap_or_default(),
                        people: {
                            let mut people = ParticipantSet::default();
                            people.add(m.from.iter().chain(&m.to).chain(&m.cc).chain(&m.bcc));
                            people
                        },
                    }
                })
            })
            .collect();
        touched.added(engine, added);
        touched.refresh(&mut tx, grant_id).await?;
        if announce {
            let created: Vec<(String, Option<String>)> = fresh
                .iter()
                .filter_map(|m| new_ids.get(m.identity_key.as_str()))
                .map(|id| (id.clone(), None))
                .collect();
            record_notifications(&mut tx, grant_id, TriggerType::MessageCreated, &created).await?;
            let fresh_ids: Vec<String> = created.into_iter().map(|(id, _)| id).collect();
            mark_announced(&mut tx, &fresh_ids).await?;
            record_thread_replies(&mut tx, grant_id, &fresh_ids).await?;
        }
        let updated: Vec<(String, Option<String>)> =
            updated.into_iter().map(|id| (id, None)).collect();
        record_notifications(&mut tx, grant_id, TriggerType::MessageUpdated, &updated).await?;
        if !fresh.is_empty() {
            sqlx::query(
                "UPDATE sync_status SET messages_synced = messages_synced + $1 WHERE grant_id = $2",
            )
            .bind(fresh.len() as i64)
            .bind(grant_id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.note_new_messages(fresh.len() as u64);
        Ok(fresh.len())
    }
}

/// Remembers which messages were announced, so that events read later from their
/// bodies are announced too.
async fn mark_announced(tx: &mut Transaction<'_, Any>, ids: &[String]) -> Result<(), StoreError> {
    for chunk in ids.chunks(KEYS_PER_LOOKUP) {
        let mut filter = SqlFilter::default();
        filter.one_of("id", chunk.iter().map(|id| Bind::Text(id.clone())));
        let sql = format!("UPDATE messages SET announced = 1{}", filter.where_sql());
        filter.bind_to(sqlx::query(&sql)).execute(&mut **tx).await?;
    }
    Ok(())
}

/// `key → value` for the rows of `select` whose `column` is one of `keys`.
async fn lookup(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    select: &str,
    column: &str,
    keys: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    let mut found = HashMap::new();
    let unique: Vec<&String> = keys.iter().collect::<HashSet<_>>().into_iter().collect();
    for chunk in unique.chunks(KEYS_PER_LOOKUP) {
        let mut filter = SqlFilter::default();
        filter.compare("grant_id", "=", Bind::Text(grant_id.to_string()));
        filter.one_of(column, chunk.iter().map(|k| Bind::Text((*k).clone())));
        let sql = format!("{select}{}", filter.where_sql());
        for row in filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&mut **tx)
            .await?
        {
            found.insert(row.try_get("k")?, row.try_get("v")?);
        }
    }
    Ok(found)
}

/// Thread ids merged into the smallest of each group.
#[derive(Default)]
struct ThreadUnion {
    parent: HashMap<String, String>,
}

impl ThreadUnion {
    fn find(&self, thread: &str) -> String {
        let mut current = thread;
        while let Some(next) = self.parent.get(current) {
            current = next;
        }
        current.to_owned()
    }

    fn union(&mut self, a: &str, b: &str) {
        let (a, b) = (self.find(a), self.find(b));
        match a.cmp(&b) {
            std::cmp::Ordering::Less => {
                self.parent.insert(b, a);
            }
            std::cmp::Ordering::Greater => {
                self.parent.insert(a, b);
            }
            std::cmp::Ordering::Equal => {}
        }
    }
}

/// The thread of each new message (by identity key), with stored threads the batch
/// links together merged and every key recorded.
async fn resolve_threads(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    grant_id: &GrantId,
    fresh: &[&NewMessage],
    touched: &mut TouchedThreads,
) -> Result<HashMap<String, String>, StoreError> {
    let keys: Vec<String> = fresh
        .iter()
        .flat_map(|m| m.thread_keys.iter().cloned())
        .collect();
    let stored = lookup(
        tx,
        grant_id,
        "SELECT ref_key AS k, thread_id AS v FROM thread_refs",
        "ref_key",
        &keys,
    )
    .await?;

    let mut union = ThreadUnion::default();
    let mut key_thread: HashMap<String, String> = stored.clone();
    let mut assigned: Vec<(&str, String)> = Vec::with_capacity(fresh.len());
    for message in fresh {
        let mut linked: Vec<String> = message
            .thread_keys
            .iter()
            .filter_map(|k| key_thread.get(k))
            .map(|t| union.find(t))
            .collect();
        linked.sort();
        linked.dedup();
        let thread = match linked.first() {
            Some(first) => first.clone(),
            None => uuid::Uuid::now_v7().simple().to_string(),
        };
        for other in linked.iter().skip(1) {
            union.union(&thread, other);
        }
        for key in &message.thread_keys {
            key_thread
                .entry(key.clone())
                .or_insert_with(|| thread.clone());
        }
        assigned.push((&message.identity_key, thread));
    }

    // Stored rows of threads merged away follow their new thread.
    let merged: Vec<(String, String)> = union
        .parent
        .keys()
        .map(|t| (t.clone(), union.find(t)))
        .collect();
    for (from, into) in &merged {
        touched.thread(from);
        touched.thread(into);
        for table in ["messages", "thread_refs"] {
            sqlx::query(&format!(
                "UPDATE {table} SET thread_id = $1 WHERE grant_id = $2 AND thread_id = $3"
            ))
            .bind(into)
            .bind(grant_id.as_str())
            .bind(from)
            .execute(&mut **tx)
            .await?;
        }
    }

    let new_refs: Vec<(&String, String)> = key_thread
        .iter()
        .filter(|(key, _)| !stored.contains_key(*key))
        .map(|(key, thread)| (key, union.find(thread)))
        .collect();
    for chunk in new_refs.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO thread_refs (grant_id, ref_key, thread_id) VALUES {} \
             ON CONFLICT (grant_id, ref_key) DO NOTHING",
            value_rows(engine, chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for (key, thread) in chunk {
            query = query.bind(grant_id.as_str()).bind(*key).bind(thread);
        }
        query.execute(&mut **tx).await?;
    }

    Ok(assigned
        .into_iter()
        .map(|(identity, thread)| (identity.to_owned(), union.find(&thread)))
        .collect())
}

async fn insert_messages(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    grant_id: &GrantId,
    fresh: &[&NewMessage],
    ids: &HashMap<&str, String>,
    threads: &HashMap<String, String>,
    now: i64,
) -> Result<(), StoreError> {
    for chunk in fresh.chunks(MESSAGES_PER_INSERT) {
        let mut rows = Vec::with_capacity(chunk.len());
        for message in chunk {
            let key = message.identity_key.as_str();
            let (Some(id), Some(thread)) = (ids.get(key), threads.get(key)) else {
                return Err(StoreError::corrupt("a new message lost its id or thread"));
            };
            rows.push(new_row_columns(
                message,
                id,
                grant_id.as_str(),
                thread,
                now,
            )?);
        }
        let Some(first) = rows.first() else {
            continue;
        };
        let names: Vec<&str> = first.iter().map(|(name, _)| *name).collect();
        let sql = format!(
            "INSERT INTO messages ({}) VALUES {}",
            names.join(", "),
            value_rows(engine, rows.len(), names.len())
        );
        let mut query = sqlx::query(&sql);
        for row in rows {
            for (_, value) in row {
                query = value.bind_to(query);
            }
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A message at a UID of the folder being indexed.
struct Location<'a> {
    uid: i64,
    message_id: &'a str,
    date: i64,
    /// Its copy's flags (`location_flags::bits`).
    flags: i64,
}

/// Puts messages at UIDs of a folder, replacing what the index had at those UIDs, and
/// keeps the folder's counts.
async fn insert_locations(
    tx: &mut Transaction<'_, Any>,
    engine: Engine,
    grant_id: &GrantId,
    folder_id: &str,
    locations: &[Location<'_>],
    fresh: &HashSet<&str>,
    touched: &mut TouchedThreads,
) -> Result<(), StoreError> {
    for chunk in locations.chunks(ROWS_PER_INSERT) {
        let uids: Vec<i64> = chunk.iter().map(|l| l.uid).collect();
        // What the index had at these UIDs leaves first (usually the same messages,
        // read again).
        let mut filter = SqlFilter::default();
        filter.compare("folder_id", "=", Bind::Text(folder_id.to_owned()));
        filter.one_of("uid", uids.iter().map(|uid| Bind::Int(*uid)));
        let sql = format!(
            "SELECT message_id FROM message_locations{}",
            filter.where_sql()
        );
        let replaced: Vec<String> = filter
            .clone()
            .bind_to(sqlx::query(&sql))
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.try_get("message_id"))
            .collect::<Result<_, _>>()?;
        if !replaced.is_empty() {
            count_locations(tx, folder_id, &uids, Count::Out).await?;
            let sql = format!("DELETE FROM message_locations{}", filter.where_sql());
            filter.bind_to(sqlx::query(&sql)).execute(&mut **tx).await?;
            touched.messages(&replaced);
        }

        let sql = format!(
            "INSERT INTO message_locations (folder_id, uid, message_id, grant_id, date, flags) \
             VALUES {} ON CONFLICT (folder_id, uid) DO NOTHING",
            value_rows(engine, chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for location in chunk {
            query = query
                .bind(folder_id)
                .bind(location.uid)
                .bind(location.message_id)
                .bind(grant_id.as_str())
                .bind(location.date)
                .bind(location.flags);
            // Messages new to the index are added to their threads as a whole.
            if !fresh.contains(location.message_id) {
                touched.message(location.message_id);
            }
        }
        query.execute(&mut **tx).await?;
        count_locations(tx, folder_id, &uids, Count::In).await?;
        note_located_addresses(tx, folder_id, &uids).await?;
    }
    Ok(())
}

/// Messages of the batch the index knows by no identity of theirs take over the one they
/// name in `adopts_identity`, if a message has it: that message is rekeyed and keeps its
/// id. Each is taken over once, and not while the batch holds a message of its own.
async fn adopt_identities(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    batch: &[NewMessage],
    ids: &mut HashMap<String, String>,
    dates: &mut HashMap<String, i64>,
) -> Result<(), StoreError> {
    let in_batch: HashSet<&str> = batch.iter().map(|m| m.identity_key.as_str()).collect();
    let wanted: Vec<(&str, &str)> = batch
        .iter()
        .filter(|m| !ids.contains_key(&m.identity_key))
        .filter_map(|m| Some((m.identity_key.as_str(), m.adopts_identity.as_deref()?)))
        .filter(|(_, earlier)| !in_batch.contains(earlier))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let earlier: Vec<String> = wanted.iter().map(|(_, e)| (*e).to_owned()).collect();
    let (found, found_dates) = lookup_identities(tx, grant_id, &earlier).await?;
    let mut taken: HashSet<&str> = HashSet::new();
    for (identity, earlier) in wanted {
        let Some(id) = found.get(earlier) else {
            continue;
        };
        if ids.contains_key(identity) || !taken.insert(earlier) {
            continue;
        }
        sqlx::query("UPDATE messages SET identity_key = $1 WHERE id = $2 AND grant_id = $3")
            .bind(identity)
            .bind(id)
            .bind(grant_id.as_str())
            .execute(&mut **tx)
            .await?;
        if let Some(date) = found_dates.get(id) {
            dates.insert(id.clone(), *date);
        }
        ids.insert(identity.to_owned(), id.clone());
    }
    Ok(())
}

/// `identity key → id` and `id → date` of the grant's indexed messages among `keys`.
async fn lookup_identities(
    tx: &mut Transaction<'_, Any>,
    grant_id: &GrantId,
    keys: &[String],
) -> Result<(HashMap<String, String>, HashMap<String, i64>), StoreError> {
    let (mut ids, mut dates) = (HashMap::new(), HashMap::new());
    let unique: Vec<&String> = keys.iter().collect::<HashSet<_>>().into_iter().collect();
    for chunk in unique.chunks(KEYS_PER_LOOKUP) {
        let mut filter = SqlFilter::default();
        filter.compare("grant_id", "=", Bind::Text(grant_id.to_string()));
        filter.one_of(
            "identity_key",
            chunk.iter().map(|k| Bind::Text((*k).clone())),
        );
        let sql = format!(
            "SELECT identity_key, id, date FROM messages{}",
            filter.where_sql()
        );
        for row in filter
            .bind_to(sqlx::query(&sql))
            .fetch_all(&mut **tx)
            .await?
        {
            let id: String = row.try_get("id")?;
            dates.insert(id.clone(), row.try_get("date")?);
            ids.insert(row.try_get("identity_key")?, id);
        }
    }
    Ok((ids, dates))
}
