//! Reading the bodies the index lacks, in the background: newest first, over several
//! connections while there is a backlog.
//!
//! A walk over the messages without a body (newest first, from a cursor, so nothing is
//! asked twice in one run) cuts them into FETCHes bounded by bytes. Each connection sends
//! its next FETCH as soon as the bytes of its last one are in: parsing runs on the
//! blocking pool, so the runtime keeps reading. One writer stores what was parsed, the
//! FETCHes that queued up meanwhile in one transaction. A wake-up (new mail, a change
//! made through the API) ends the walk once the FETCHes in flight are stored, so the next
//! pass is not kept waiting behind old bodies.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Instant,
};

use futures::future::try_join_all;
use mailroom_imap::ImapSession;
use mailroom_model::{GrantId, time::unix_now};
use mailroom_store::{MessageBody, MissingBody, Store};
use tokio::{
    sync::{Mutex, Notify, mpsc},
    task::JoinHandle,
};

use crate::{
    actor_context::ActorContext,
    body_fetch::{
        BODY_BATCH_BYTES, WantedBody, by_folder, byte_budget, header_only_body, parse_body,
        read_bodies_in_selected,
    },
    connection::{open_session, uid_set},
    error::SyncError,
    idle_watch::watch,
    settings::SyncSettings,
    sync_metrics,
    uid_guard::{check_selected, select_indexed},
};

/// Bodies read on a first sync once the Inbox is indexed, before the other folders.
const FIRST_PASS_BODIES: i64 = 200;
/// Messages the walk asks the store for at a time.
const WALK_CHUNK: i64 = 2_000;
/// Parsed FETCHes waiting for the writer; past this, connections wait before reading on.
const PARSED_QUEUE: usize = 2;
/// The most bodies stored in one transaction.
const BODIES_PER_WRITE: usize = 400;

/// Where a run's time went, for the log: microseconds spent waiting for FETCHes (all
/// connections together), parsing (all threads together) and writing.
#[derive(Debug, Default)]
struct Timings {
    fetching: AtomicU64,
    parsing: AtomicU64,
    writing: AtomicU64,
}

impl Timings {
    fn add(counter: &AtomicU64, since: Instant) {
        let micros = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
        counter.fetch_add(micros, Ordering::Relaxed);
    }

    fn seconds(counter: &AtomicU64) -> f64 {
        counter.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// One FETCH: messages of one folder, whole or (over `max_message_bytes`) headers only.
#[derive(Debug)]
struct BodyFetch {
    imap_name: String,
    /// The folder's UIDVALIDITY the UIDs were indexed under.
    uid_validity: i64,
    headers_only: bool,
    wanted: Vec<WantedBody>,
}

/// Reads bodies until none is missing within `sync_bodies`, or until `wake` is notified
/// (then it returns unfinished, and the actor's next pass, which follows at once, looks
/// for what woke it). For a backlog of more than one FETCH it uses more
/// connections, within `max_connections_per_grant`: one idling on Inbox (the actor's own
/// is busy here, and new mail should not wait behind old bodies) and up to
/// `body_connections - 1` more readers, opened here and closed before returning. Returns
/// how many bodies it stored, and whether it read to the end (not woken).
pub(crate) async fn read_backlog(
    main: &mut ImapSession,
    context: &ActorContext,
    wake: &Notify,
) -> Result<(usize, bool), SyncError> {
    let (store, grant_id, settings) = (&context.store, &context.grant_id, &context.settings);
    if !settings.sync_bodies.reads_any() {
        return Ok((0, true));
    }
    let oldest = settings.sync_bodies.oldest_date(unix_now());
    let first = store
        .messages_missing_body(grant_id, WALK_CHUNK, oldest, None)
        .await?;
    if first.is_empty() {
        return Ok((0, true));
    }
    // More connections only pay for a backlog of more than one FETCH.
    let backlog: u64 = first.iter().map(indexed_size).sum();
    let mut extra = Vec::new();
    let mut _inbox_watcher = None;
    if backlog > BODY_BATCH_BYTES {
        let mut budget = settings.max_connections_per_grant.saturating_sub(1);
        if budget > 0 {
            _inbox_watcher = Some(watch(
                store,
                &context.policy,
                grant_id,
                vec!["INBOX".to_owned()],
                context.wake.clone(),
            ));
            budget -= 1;
        }
        for _ in 1..settings.body_connections.min(budget + 1) {
            match open_session(store, &context.policy, grant_id).await {
                Ok(mut session) => {
                    session.ignore_capabilities(&settings.ignore_capabilities);
                    extra.push(session);
                }
                // A server that limits connections per user: read over fewer.
                Err(e) => {
                    tracing::info!(%grant_id, error = %e, "another body connection was refused");
                    break;
                }
            }
        }
    }
    let max_message_bytes = main.max_message_bytes();
    let connections = 1 + extra.len();
    let (queue, queued) = mpsc::channel(connections);
    let queued = Mutex::new(queued);
    let (parsed, parsed_out) = mpsc::channel(PARSED_QUEUE);
    let stop = AtomicBool::new(false);
    let timings = Arc::new(Timings::default());
    let started = Instant::now();
    let readers = try_join_all(
        std::iter::once(main)
            .chain(extra.iter_mut())
            .map(|session| {
                read_fetches(session, &queued, parsed.clone(), grant_id, &stop, &timings)
            }),
    );
    drop(parsed);
    let walk = walk(
        store,
        grant_id,
        oldest,
        first,
        max_message_bytes,
        queue,
        &stop,
        wake,
    );
    let result = tokio::try_join!(
        walk,
        readers,
        store_parsed(store, grant_id, parsed_out, &timings)
    );
    // After an error the sessions are in an unknown state: the actor starts over.
    if result.is_ok() {
        for session in extra {
            session.logout().await;
        }
    }
    let (finished, _, stored) = result?;
    tracing::debug!(
        %grant_id,
        stored,
        connections,
        seconds = started.elapsed().as_secs_f64(),
        fetching = Timings::seconds(&timings.fetching),
        parsing = Timings::seconds(&timings.parsing),
        writing = Timings::seconds(&timings.writing),
        "bodies read"
    );
    Ok((stored, finished))
}

/// Reads the bodies of up to [`FIRST_PASS_BODIES`] of the newest messages that lack one
/// (within `sync_bodies`) over `session`, folder by folder. Returns how many it stored.
pub(crate) async fn read_newest(
    session: &mut ImapSession,
    store: &Store,
    grant_id: &GrantId,
    settings: &SyncSettings,
) -> Result<usize, SyncError> {
    if !settings.sync_bodies.reads_any() {
        return Ok(0);
    }
    let oldest = settings.sync_bodies.oldest_date(unix_now());
    let missing = store
        .messages_missing_body(grant_id, FIRST_PASS_BODIES, oldest, None)
        .await?;
    let mut read = 0;
    for ((imap_name, uid_validity), wanted) in
        by_folder(missing.into_iter().map(|m| (m.id, m.location)))
    {
        select_indexed(session, &imap_name, uid_validity).await?;
        read += read_bodies_in_selected(session, store, grant_id, &wanted).await?;
    }
    Ok(read)
}

fn indexed_size(message: &MissingBody) -> u64 {
    u64::try_from(message.location.size).unwrap_or(0)
}

/// Cuts the messages without a body into FETCHes, newest first, chunk after chunk, and
/// queues them for the connections. Ends at the end of the backlog or at a wake-up.
#[allow(clippy::too_many_arguments)]
async fn walk(
    store: &Store,
    grant_id: &GrantId,
    oldest: Option<i64>,
    first: Vec<MissingBody>,
    max_message_bytes: u64,
    queue: mpsc::Sender<BodyFetch>,
    stop: &AtomicBool,
    wake: &Notify,
) -> Result<bool, SyncError> {
    let mut chunk = first;
    loop {
        let Some(last) = chunk.last() else {
            return Ok(true);
        };
        let below = (last.date, last.id.clone());
        for fetch in fetches(chunk, max_message_bytes) {
            tokio::select! {
                biased;
                _ = wake.notified() => {
                    // Not handed on: returning unfinished makes the actor run the next
                    // pass at once, and a permit left in `wake` would stop every walk
                    // after it at its first FETCH, each opening and closing its
                    // connections, until the actor next waited.
                    stop.store(true, Ordering::Relaxed);
                    return Ok(false);
                }
                // The readers are gone only after an error, which the caller gets.
                sent = queue.send(fetch) => if sent.is_err() {
                    return Ok(true);
                },
            }
        }
        chunk = store
            .messages_missing_body(grant_id, WALK_CHUNK, oldest, Some((below.0, &below.1)))
            .await?;
    }
}

/// FETCHes for `chunk` (newest first): per folder, runs whose indexed sizes add up to at
/// most [`BODY_BATCH_BYTES`]; messages over `max_message_bytes` by their headers alone.
/// A FETCH is cut when it is full, so the newest mail goes first.
fn fetches(chunk: Vec<MissingBody>, max_message_bytes: u64) -> Vec<BodyFetch> {
    let mut done = Vec::new();
    let mut open: HashMap<(String, i64, bool), (Vec<WantedBody>, u64)> = HashMap::new();
    let mut order: Vec<(String, i64, bool)> = Vec::new();
    for message in chunk {
        let Ok(uid) = u32::try_from(message.location.uid) else {
            continue;
        };
        let size = indexed_size(&message);
        let headers_only = size > max_message_bytes;
        let key = (
            message.location.imap_name,
            message.location.uid_validity,
            headers_only,
        );
        // A header block is small; count it as such.
        let cost = if headers_only { 1 } else { size };
        let full = open
            .get(&key)
            .is_some_and(|(wanted, bytes)| !wanted.is_empty() && bytes + cost > BODY_BATCH_BYTES);
        if full && let Some((wanted, bytes)) = open.get_mut(&key) {
            *bytes = 0;
            done.push(BodyFetch {
                imap_name: key.0.clone(),
                uid_validity: key.1,
                headers_only: key.2,
                wanted: std::mem::take(wanted),
            });
        }
        if !open.contains_key(&key) {
            order.push(key.clone());
        }
        let (wanted, bytes) = open.entry(key).or_default();
        *bytes += cost;
        wanted.push(WantedBody {
            uid,
            size,
            message_id: message.id,
        });
    }
    for key in order {
        if let Some((wanted, _)) = open.remove(&key)
            && !wanted.is_empty()
        {
            done.push(BodyFetch {
                imap_name: key.0,
                uid_validity: key.1,
                headers_only: key.2,
                wanted,
            });
        }
    }
    done
}

/// One connection: takes the next queued FETCH, reads it, and hands its bytes to the
/// blocking pool to parse. After a wake-up, what is still queued is dropped unread.
async fn read_fetches(
    session: &mut ImapSession,
    queued: &Mutex<mpsc::Receiver<BodyFetch>>,
    parsed: mpsc::Sender<JoinHandle<Vec<MessageBody>>>,
    grant_id: &GrantId,
    stop: &AtomicBool,
    timings: &Arc<Timings>,
) -> Result<(), SyncError> {
    let mut selected: Option<(String, u32)> = None;
    loop {
        let next = queued.lock().await.recv().await;
        let Some(fetch) = next else {
            return Ok(());
        };
        if stop.load(Ordering::Relaxed) {
            continue;
        }
        match &selected {
            Some((name, uid_validity)) if *name == fetch.imap_name => {
                check_selected(name, fetch.uid_validity, *uid_validity)?;
            }
            _ => {
                let state = select_indexed(session, &fetch.imap_name, fetch.uid_validity).await?;
                selected = Some((fetch.imap_name.clone(), state.uid_validity));
            }
        }
        let uids: Vec<u32> = fetch.wanted.iter().map(|w| w.uid).collect();
        let fetching = Instant::now();
        let raws = if fetch.headers_only {
            session.fetch_headers(&uid_set(&uids), uids.len()).await?
        } else {
            let indexed = fetch.wanted.iter().map(|w| w.size).sum();
            session
                .fetch_bodies(&uid_set(&uids), byte_budget(indexed))
                .await?
        };
        Timings::add(&timings.fetching, fetching);
        let ids: HashMap<u32, String> = fetch
            .wanted
            .into_iter()
            .map(|w| (w.uid, w.message_id))
            .collect();
        let grant_id = grant_id.clone();
        let headers_only = fetch.headers_only;
        let timings = timings.clone();
        let parse = tokio::task::spawn_blocking(move || {
            let parsing = Instant::now();
            let bodies = raws
                .iter()
                .filter_map(|raw| {
                    let id = ids.get(&raw.uid)?;
                    Some(if headers_only {
                        header_only_body(&grant_id, id, &raw.raw)
                    } else {
                        parse_body(&grant_id, id, &raw.raw)
                    })
                })
                .collect();
            Timings::add(&timings.parsing, parsing);
            bodies
        });
        if parsed.send(parse).await.is_err() {
            return Ok(());
        }
    }
}

/// Stores parsed FETCHes in the order they were read; what queued up while the last
/// write ran goes into the next one together.
async fn store_parsed(
    store: &Store,
    grant_id: &GrantId,
    mut parsed: mpsc::Receiver<JoinHandle<Vec<MessageBody>>>,
    timings: &Timings,
) -> Result<usize, SyncError> {
    let mut stored = 0;
    while let Some(first) = parsed.recv().await {
        let mut bodies = parsed_bodies(first).await?;
        while bodies.len() < BODIES_PER_WRITE {
            let Ok(next) = parsed.try_recv() else {
                break;
            };
            bodies.extend(parsed_bodies(next).await?);
        }
        let writing = Instant::now();
        store.store_message_bodies(grant_id, &bodies).await?;
        sync_metrics::bodies_read(bodies.len());
        Timings::add(&timings.writing, writing);
        stored += bodies.len();
    }
    Ok(stored)
}

async fn parsed_bodies(parse: JoinHandle<Vec<MessageBody>>) -> Result<Vec<MessageBody>, SyncError> {
    parse
        .await
        .map_err(|e| SyncError::Interrupted(format!("parsing bodies: {e}")))
}

#[cfg(test)]
mod tests {
    use mailroom_store::MessageLocation;

    use super::*;

    fn missing(folder: &str, uid: i64, size: i64) -> MissingBody {
        MissingBody {
            id: format!("{folder}-{uid}"),
            date: 0,
            location: MessageLocation {
                folder_id: folder.into(),
                imap_name: folder.into(),
                uid,
                size,
                uid_validity: 7,
            },
        }
    }

    #[test]
    fn fetches_follow_the_walk_by_folder_and_bytes() {
        let half = i64::try_from(BODY_BATCH_BYTES / 2).unwrap();
        let chunk = vec![
            missing("INBOX", 9, half),
            missing("Sent", 5, 10),
            missing("INBOX", 8, half),
            missing("INBOX", 7, half),
            missing("INBOX", 6, 1 << 40),
        ];
        let cut: Vec<(String, bool, Vec<u32>)> = fetches(chunk, 1 << 30)
            .into_iter()
            .map(|f| {
                let uids = f.wanted.iter().map(|w| w.uid).collect();
                (f.imap_name, f.headers_only, uids)
            })
            .collect();
        assert_eq!(
            cut,
            vec![
                ("INBOX".into(), false, vec![9, 8]),
                ("INBOX".into(), false, vec![7]),
                ("Sent".into(), false, vec![5]),
                ("INBOX".into(), true, vec![6]),
            ]
        );
    }
}
