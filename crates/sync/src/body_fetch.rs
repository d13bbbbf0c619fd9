//! Reading a message's body: fetched whole by UID, parsed, and kept in the store
//! (HTML body, snippet, attachment list, the full header list).

use mailroom_imap::ImapSession;
use mailroom_model::GrantId;
use mailroom_net::OutboundPolicy;
use mailroom_store::{MessageBody, MessageLocation, Store};
use serde_json::{Value, json};

use crate::{error::SyncError, folder_sync::uid_set, grant_actor::open_session};

/// Fetches, parses and stores the body of one message over a connection of its own.
/// Returns the raw message, which callers may use for attachments.
pub async fn fetch_message_body(
    store: &Store,
    policy: &OutboundPolicy,
    grant_id: &GrantId,
    message_id: &str,
) -> Result<Vec<u8>, SyncError> {
    let location = store
        .message_location(grant_id, message_id)
        .await?
        .ok_or(SyncError::MessageGone)?;
    let mut session = open_session(store, policy, grant_id).await?;
    let raw = fetch_raw(&mut session, &location).await;
    session.logout().await;
    let raw = raw?;
    store_parsed(store, grant_id, message_id, &raw).await?;
    Ok(raw)
}

pub(crate) async fn fetch_raw(
    session: &mut ImapSession,
    location: &MessageLocation,
) -> Result<Vec<u8>, SyncError> {
    session.select_folder(&location.imap_name).await?;
    let bodies = session.fetch_bodies(&location.uid.to_string()).await?;
    bodies
        .into_iter()
        .next()
        .map(|b| b.raw)
        .ok_or(SyncError::MessageGone)
}

pub(crate) async fn store_parsed(
    store: &Store,
    grant_id: &GrantId,
    message_id: &str,
    raw: &[u8],
) -> Result<(), SyncError> {
    store
        .store_message_bodies(grant_id, &[parse_body(grant_id, message_id, raw)])
        .await?;
    Ok(())
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
    }
}

/// Reads and stores the bodies of these UIDs of the selected folder, which must be
/// indexed already. Returns how many were read.
pub(crate) async fn read_bodies_at(
    session: &mut ImapSession,
    store: &Store,
    grant_id: &GrantId,
    folder_id: &str,
    uids: &[u32],
) -> Result<usize, SyncError> {
    let wanted: Vec<i64> = uids.iter().map(|u| i64::from(*u)).collect();
    let ids: std::collections::HashMap<i64, String> = store
        .messages_at_uids(folder_id, &wanted)
        .await?
        .into_iter()
        .collect();
    let bodies: Vec<MessageBody> = session
        .fetch_bodies(&uid_set(uids))
        .await?
        .iter()
        .filter_map(|body| {
            let message_id = ids.get(&i64::from(body.uid))?;
            Some(parse_body(grant_id, message_id, &body.raw))
        })
        .collect();
    store.store_message_bodies(grant_id, &bodies).await?;
    Ok(bodies.len())
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
    let mut session = open_session(store, policy, grant_id).await?;
    let mut ids = Vec::new();
    for folder in store.folders(grant_id).await? {
        if folder
            .attributes
            .iter()
            .any(|a| a == "\\Noselect" || a == "\\NonExistent")
        {
            continue;
        }
        session.select_folder(&folder.imap_name).await?;
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
