//! Reading a message's body: fetched whole by UID, parsed, and kept in the store
//! (HTML body, snippet, attachment list, the full header list).
//!
//! Bounded by bytes, not by counts: bodies are read in batches whose indexed sizes
//! (RFC822.SIZE) add up to [`BODY_BATCH_BYTES`], and a message over the
//! `max_message_bytes` setting is never read whole: it is indexed from its header block,
//! with an empty body. On demand (API, webhooks), one grant has at most
//! [`ON_DEMAND_SESSIONS_PER_GRANT`] sessions at once, a list of messages shares one
//! session, and every fetch has a deadline that grows with the bytes it reads.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use mailroom_imap::ImapSession;
use mailroom_model::GrantId;
use mailroom_net::OutboundPolicy;
use mailroom_store::{MessageBody, MessageLocation, Store};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::{
    connection::{open_session, uid_set},
    error::SyncError,
    sync_metrics,
    uid_guard::{check_selected, select_indexed},
};

/// Indexed bytes of bodies asked for in one FETCH (a larger message goes alone).
pub(crate) const BODY_BATCH_BYTES: u64 = 8 * 1024 * 1024;
/// IMAP sessions one grant may have open for on-demand reads at once.
pub const ON_DEMAND_SESSIONS_PER_GRANT: usize = 4;
/// The slowest transfer rate an on-demand read waits for, past its fixed allowance.
const SLOWEST_BYTES_PER_SEC: u64 = 256 * 1024;

/// A message to read: where it is, how large the index says it is, and its id.
#[derive(Debug, Clone)]
pub(crate) struct WantedBody {
    pub uid: u32,
    pub size: u64,
    pub message_id: String,
}

/// Fetches, parses and stores the body of one message over a connection of its own.
/// Returns the raw message, which callers may use for attachments.
pub async fn fetch_message_body(
    store: &Store,
    policy: &OutboundPolicy,
    grant_id: &GrantId,
    message_id: &str,
) -> Result<Vec<u8>, SyncError> {
    let ids = [message_id.to_owned()];
    let mut raw = read_messages(store, policy, grant_id, &ids, u64::MAX).await?;
    raw.pop().map(|(_, raw)| raw).ok_or(SyncError::MessageGone)
}

/// The raw messages `message_ids`, read over one session and stored parsed on the way,
/// in the order asked. Refused before anything is read when one is over
/// `max_message_bytes` or their indexed sizes add up to more than `total_bytes`.
pub async fn fetch_message_bodies(
    store: &Store,
    policy: &OutboundPolicy,
    grant_id: &GrantId,
    message_ids: &[String],
    total_bytes: u64,
) -> Result<Vec<(String, Vec<u8>)>, SyncError> {
    read_messages(store, policy, grant_id, message_ids, total_bytes).await
}

/// Reads and stores the bodies of `message_ids` over one session, as sync does: in
/// FETCHes bounded by bytes, messages over `max_message_bytes` from their headers only.
pub async fn load_message_bodies(
    store: &Store,
    policy: &OutboundPolicy,
    grant_id: &GrantId,
    message_ids: &[String],
) -> Result<(), SyncError> {
    let mut located = Vec::with_capacity(message_ids.len());
    let mut total: u64 = 0;
    for id in message_ids {
        let location = store
            .message_location(grant_id, id)
            .await?
            .ok_or(SyncError::MessageGone)?;
        let size = u64::try_from(location.size).unwrap_or(0);
        total = total.saturating_add(size.min(policy.max_message_bytes()));
        located.push((id.clone(), location));
    }
    let _slot = on_demand_slot(policy, grant_id).await?;
    let deadline = transfer_deadline(policy.timeout(), total);
    let work = async {
        let mut session = open_session(store, policy, grant_id).await?;
        let mut result = Ok(0);
        for ((imap_name, uid_validity), wanted) in by_folder(located) {
            result = match select_indexed(&mut session, &imap_name, uid_validity).await {
                Ok(_) => read_bodies_in_selected(&mut session, store, grant_id, &wanted).await,
                Err(e) => Err(e),
            };
            if result.is_err() {
                break;
            }
        }
        session.logout().await;
        result
    };
    tokio::time::timeout(deadline, work)
        .await
        .map_err(|_| SyncError::TimedOut(deadline.as_secs()))??;
    Ok(())
}

/// Messages to read, by the folder they are read from and the UIDVALIDITY their UIDs
/// were indexed under.
pub(crate) fn by_folder(
    located: impl IntoIterator<Item = (String, MessageLocation)>,
) -> HashMap<(String, i64), Vec<WantedBody>> {
    let mut folders: HashMap<(String, i64), Vec<WantedBody>> = HashMap::new();
    for (message_id, location) in located {
        if let Ok(uid) = u32::try_from(location.uid) {
            folders
                .entry((location.imap_name, location.uid_validity))
                .or_default()
                .push(WantedBody {
                    uid,
                    size: u64::try_from(location.size).unwrap_or(0),
                    message_id,
                });
        }
    }
    folders
}

async fn read_messages(
    store: &Store,
    policy: &OutboundPolicy,
    grant_id: &GrantId,
    message_ids: &[String],
    total_bytes: u64,
) -> Result<Vec<(String, Vec<u8>)>, SyncError> {
    let mut wanted = Vec::with_capacity(message_ids.len());
    let mut total: u64 = 0;
    for id in message_ids {
        let location = store
            .message_location(grant_id, id)
            .await?
            .ok_or(SyncError::MessageGone)?;
        let size = u64::try_from(location.size).unwrap_or(0);
        if size > policy.max_message_bytes() {
            return Err(SyncError::TooLarge(format!(
                "message {id} is {size} bytes, over the {} bytes mailroom reads whole \
                 (max_message_bytes)",
                policy.max_message_bytes()
            )));
        }
        total = total.saturating_add(size);
        if total > total_bytes {
            return Err(SyncError::TooLarge(format!(
                "these messages add up to more than {total_bytes} bytes; ask for fewer \
                 (a smaller limit)"
            )));
        }
        wanted.push((id.clone(), location));
    }
    let _slot = on_demand_slot(policy, grant_id).await?;
    let deadline = transfer_deadline(policy.timeout(), total);
    let work = async {
        let mut session = open_session(store, policy, grant_id).await?;
        let result = read_each(&mut session, store, grant_id, &wanted).await;
        session.logout().await;
        result
    };
    tokio::time::timeout(deadline, work)
        .await
        .map_err(|_| SyncError::TimedOut(deadline.as_secs()))?
}

/// Reads, parses and stores each message in turn.
async fn read_each(
    session: &mut ImapSession,
    store: &Store,
    grant_id: &GrantId,
    wanted: &[(String, MessageLocation)],
) -> Result<Vec<(String, Vec<u8>)>, SyncError> {
    let mut selected: Option<(&str, u32)> = None;
    let mut raws = Vec::new();
    for (id, location) in wanted {
        match selected {
            Some((name, uid_validity)) if name == location.imap_name => {
                check_selected(name, location.uid_validity, uid_validity)?;
            }
            _ => {
                let state =
                    select_indexed(session, &location.imap_name, location.uid_validity).await?;
                selected = Some((&location.imap_name, state.uid_validity));
            }
        }
        let raw = fetch_raw(session, location).await?;
        store
            .store_message_bodies(grant_id, &[parse_body(grant_id, id, &raw)])
            .await?;
        sync_metrics::bodies_read(1);
        raws.push((id.clone(), raw));
    }
    Ok(raws)
}

/// How long a read of `bytes` may take in all: the timeout twice (login, select), and
/// the bytes at the slowest rate still worth waiting for.
pub(crate) fn transfer_deadline(timeout: Duration, bytes: u64) -> Duration {
    timeout * 2 + Duration::from_secs(bytes.min(1 << 40) / SLOWEST_BYTES_PER_SEC)
}

/// One of the grant's on-demand session slots, waited for no longer than the timeout.
async fn on_demand_slot(
    policy: &OutboundPolicy,
    grant_id: &GrantId,
) -> Result<tokio::sync::OwnedSemaphorePermit, SyncError> {
    static SLOTS: OnceLock<Mutex<HashMap<GrantId, Arc<Semaphore>>>> = OnceLock::new();
    let semaphore = {
        let mut slots = SLOTS
            .get_or_init(Mutex::default)
            .lock()
            .map_err(|_| SyncError::Interrupted("on-demand slots unavailable".into()))?;
        slots
            .entry(grant_id.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(ON_DEMAND_SESSIONS_PER_GRANT)))
            .clone()
    };
    tokio::time::timeout(policy.timeout(), semaphore.acquire_owned())
        .await
        .map_err(|_| SyncError::Busy(ON_DEMAND_SESSIONS_PER_GRANT))?
        .map_err(|_| SyncError::Interrupted("on-demand slots closed".into()))
}

pub(crate) async fn fetch_raw(
    session: &mut ImapSession,
    location: &MessageLocation,
) -> Result<Vec<u8>, SyncError> {
    let budget = byte_budget(u64::try_from(location.size).unwrap_or(0))
        .min(session.max_message_bytes().saturating_add(BUDGET_SLACK));
    let bodies = session
        .fetch_bodies(&location.uid.to_string(), budget)
        .await?;
    bodies
        .into_iter()
        .find(|b| i64::from(b.uid) == location.uid)
        .map(|b| b.raw)
        .ok_or(SyncError::MessageGone)
}

/// Room over the indexed sizes for what a FETCH of them may really carry.
const BUDGET_SLACK: u64 = 1024 * 1024;

/// The bytes a FETCH of bodies whose indexed sizes add up to `indexed` may carry.
pub(crate) fn byte_budget(indexed: u64) -> u64 {
    indexed
        .saturating_add(indexed / 8)
        .saturating_add(BUDGET_SLACK)
}

/// Reads and stores the bodies of `wanted` from the selected folder, in batches of at
/// most [`BODY_BATCH_BYTES`] indexed bytes; messages over `max_message_bytes` are indexed
/// from their header block only. Returns how many were stored.
pub(crate) async fn read_bodies_in_selected(
    session: &mut ImapSession,
    store: &Store,
    grant_id: &GrantId,
    wanted: &[WantedBody],
) -> Result<usize, SyncError> {
    let max = session.max_message_bytes();
    let (oversized, readable): (Vec<&WantedBody>, Vec<&WantedBody>) =
        wanted.iter().partition(|w| w.size > max);
    let mut stored = 0;
    if !oversized.is_empty() {
        let ids: HashMap<u32, &str> = oversized
            .iter()
            .map(|w| (w.uid, w.message_id.as_str()))
            .collect();
        let uids: Vec<u32> = ids.keys().copied().collect();
        let bodies: Vec<MessageBody> = session
            .fetch_headers(&uid_set(&uids), uids.len())
            .await?
            .iter()
            .filter_map(|h| Some(header_only_body(grant_id, ids.get(&h.uid)?, &h.raw)))
            .collect();
        store.store_message_bodies(grant_id, &bodies).await?;
        stored += bodies.len();
    }
    for batch in batches_by_size(&readable, BODY_BATCH_BYTES) {
        let ids: HashMap<u32, &str> = batch
            .iter()
            .map(|w| (w.uid, w.message_id.as_str()))
            .collect();
        let uids: Vec<u32> = ids.keys().copied().collect();
        let indexed: u64 = batch.iter().map(|w| w.size).sum();
        let bodies: Vec<MessageBody> = session
            .fetch_bodies(&uid_set(&uids), byte_budget(indexed))
            .await?
            .iter()
            .filter_map(|body| Some(parse_body(grant_id, ids.get(&body.uid)?, &body.raw)))
            .collect();
        store.store_message_bodies(grant_id, &bodies).await?;
        stored += bodies.len();
    }
    sync_metrics::bodies_read(stored);
    Ok(stored)
}

/// Splits messages into runs whose sizes add up to at most `limit`; a message larger
/// than `limit` makes a run of its own.
pub(crate) fn batches_by_size<'a>(
    wanted: &[&'a WantedBody],
    limit: u64,
) -> Vec<Vec<&'a WantedBody>> {
    let mut batches: Vec<Vec<&WantedBody>> = Vec::new();
    let mut current: Vec<&WantedBody> = Vec::new();
    let mut bytes: u64 = 0;
    for w in wanted {
        if !current.is_empty() && bytes.saturating_add(w.size) > limit {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes = bytes.saturating_add(w.size);
        current.push(w);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// What the index keeps of a message too large to read whole: its headers (the full
/// list, as for any message), no body, no snippet.
pub(crate) fn header_only_body(grant_id: &GrantId, message_id: &str, header: &[u8]) -> MessageBody {
    let mut body = parse_body(grant_id, message_id, header);
    body.body_html = String::new();
    body.snippet = String::new();
    body.attachments = Value::Array(Vec::new());
    body.calendar = Vec::new();
    body.bounce = None;
    body
}

/// What the index keeps of a message's body: HTML, snippet, attachments, all headers.
pub(crate) fn parse_body(grant_id: &GrantId, message_id: &str, raw: &[u8]) -> MessageBody {
    let parsed = mailroom_mime::parse_message(raw);
    let attachments: Vec<Value> = parsed
        .attachments
        .iter()
        .map(|a| {
            json!({
                "id": attachment_id(message_id, a.index),
                "grant_id": grant_id.as_str(),
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "content_id": a.content_id,
                "content_disposition": a.content_disposition,
                "is_inline": a.is_inline,
            })
        })
        .collect();
    MessageBody {
        id: message_id.to_owned(),
        body_html: parsed.body_html,
        snippet: parsed.snippet,
        attachments: Value::Array(attachments),
        headers: parsed.headers.headers,
        calendar: mailroom_mime::calendar_events(&parsed.calendar_parts),
        bounce: mailroom_mime::bounce_report(raw),
    }
}

/// Attachment ids name the message and the part index, so they need no table.
pub fn attachment_id(message_id: &str, index: usize) -> String {
    format!("{message_id}-{index}")
}

/// Runs an IMAP SEARCH in every selectable folder and returns the ids of the indexed
/// messages it finds.
pub async fn search_native(
    store: &Store,
    policy: &OutboundPolicy,
    grant_id: &GrantId,
    criteria: &str,
) -> Result<Vec<String>, SyncError> {
    // Refused before any connection is made.
    mailroom_imap::check_search_criteria(criteria)?;
    let _slot = on_demand_slot(policy, grant_id).await?;
    let folders = store.folders(grant_id).await?;
    // The timeout per folder, on top of the login.
    let deadline = policy.timeout() * (2 + u32::try_from(folders.len()).unwrap_or(u32::MAX / 4));
    tokio::time::timeout(
        deadline,
        search_folders(store, policy, grant_id, criteria, folders),
    )
    .await
    .map_err(|_| SyncError::TimedOut(deadline.as_secs()))?
}

async fn search_folders(
    store: &Store,
    policy: &OutboundPolicy,
    grant_id: &GrantId,
    criteria: &str,
    folders: Vec<mailroom_store::FolderRecord>,
) -> Result<Vec<String>, SyncError> {
    let mut session = open_session(store, policy, grant_id).await?;
    let mut ids = Vec::new();
    for folder in folders {
        if folder
            .attributes
            .iter()
            .any(|a| a == "\\Noselect" || a == "\\NonExistent")
        {
            continue;
        }
        // A folder re-created since it was indexed: its UIDs name other messages now,
        // and what it holds shows once the sync has read it again.
        match select_indexed(&mut session, &folder.imap_name, folder.uid_validity).await {
            Err(SyncError::FolderRecreated(_)) => continue,
            other => other?,
        };
        let uids: Vec<i64> = session
            .search_uids(criteria)
            .await?
            .into_iter()
            .map(i64::from)
            .collect();
        ids.extend(
            store
                .messages_at_uids(&folder.id, &uids)
                .await?
                .into_iter()
                .map(|(_, id)| id),
        );
    }
    session.logout().await;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(sizes: &[u64]) -> Vec<WantedBody> {
        sizes
            .iter()
            .enumerate()
            .map(|(n, size)| WantedBody {
                uid: n as u32 + 1,
                size: *size,
                message_id: format!("m{n}"),
            })
            .collect()
    }

    #[test]
    fn batches_hold_bytes_not_counts() {
        let all = wanted(&[3, 3, 3, 10, 1, 1]);
        let refs: Vec<&WantedBody> = all.iter().collect();
        let sizes: Vec<Vec<u64>> = batches_by_size(&refs, 6)
            .iter()
            .map(|b| b.iter().map(|w| w.size).collect())
            .collect();
        assert_eq!(sizes, vec![vec![3, 3], vec![3], vec![10], vec![1, 1]]);
        assert!(batches_by_size(&[], 6).is_empty());
    }

    #[test]
    fn the_deadline_grows_with_the_bytes() {
        let timeout = Duration::from_secs(10);
        assert_eq!(transfer_deadline(timeout, 0), Duration::from_secs(20));
        assert_eq!(
            transfer_deadline(timeout, 50 * 1024 * 1024),
            Duration::from_secs(20 + 200)
        );
        assert_eq!(byte_budget(0), BUDGET_SLACK);
    }
}
