//! Bringing one folder of the index in step with the server.
//!
//! The decision is made from sets: UIDs on the server versus UIDs indexed. New UIDs are
//! fetched newest first in batches, each batch committed on its own, so a crash loses
//! at most one batch and a restart resumes where it stopped. Flags come from CONDSTORE
//! (`CHANGEDSINCE`) when the server has it, else from a full flag fetch. A UIDVALIDITY
//! change drops the folder's locations; messages are matched again by identity and keep
//! their ids.

use std::collections::HashSet;

use mailroom_imap::ImapSession;
use mailroom_model::GrantId;
use mailroom_store::{FolderRecord, FolderSyncState, Store};

use crate::{error::SyncError, message_summary::to_new_message};

/// The first batch is small so the newest mail shows at once; later ones are larger.
const FIRST_BATCH: usize = 100;
const BATCH: usize = 500;

/// What one pass over a folder found.
#[derive(Debug, Default, Clone, Copy)]
pub struct FolderPass {
    pub new_messages: usize,
    pub server_total: usize,
}

/// What to do with a folder, decided from the server's and the index's state.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FolderPlan {
    pub reset_locations: bool,
    /// Newest first.
    pub fetch: Vec<u32>,
    pub forget: Vec<u32>,
}

pub(crate) fn plan(
    stored_uid_validity: i64,
    server_uid_validity: u32,
    server_uids: &[u32],
    indexed_uids: &[u32],
) -> FolderPlan {
    let reset = stored_uid_validity != 0 && stored_uid_validity != i64::from(server_uid_validity);
    let indexed: HashSet<u32> = if reset {
        HashSet::new()
    } else {
        indexed_uids.iter().copied().collect()
    };
    let on_server: HashSet<u32> = server_uids.iter().copied().collect();
    let mut fetch: Vec<u32> = server_uids
        .iter()
        .copied()
        .filter(|uid| !indexed.contains(uid))
        .collect();
    fetch.sort_unstable_by(|a, b| b.cmp(a));
    let mut forget: Vec<u32> = indexed
        .iter()
        .copied()
        .filter(|uid| !on_server.contains(uid))
        .collect();
    forget.sort_unstable();
    FolderPlan {
        reset_locations: reset,
        fetch,
        forget,
    }
}

pub(crate) async fn sync_folder(
    session: &mut ImapSession,
    store: &Store,
    grant_id: &GrantId,
    folder: &FolderRecord,
) -> Result<FolderPass, SyncError> {
    let state = session.select_folder(&folder.imap_name).await?;
    let server_uids = if state.exists == 0 {
        Vec::new()
    } else {
        session.all_uids().await?
    };
    let indexed: Vec<u32> = store
        .folder_uids(&folder.id)
        .await?
        .into_iter()
        .filter_map(|uid| u32::try_from(uid).ok())
        .collect();
    let plan = plan(
        folder.uid_validity,
        state.uid_validity,
        &server_uids,
        &indexed,
    );
    if plan.reset_locations {
        tracing::info!(folder = %folder.imap_name, "UIDVALIDITY changed; re-reading the folder");
        store.clear_folder_locations(&folder.id).await?;
    }
    if !plan.forget.is_empty() {
        let uids: Vec<i64> = plan.forget.iter().map(|u| i64::from(*u)).collect();
        store.remove_locations(&folder.id, &uids).await?;
    }

    // Flags of what was already indexed, before new mail is added.
    let known: HashSet<u32> = if plan.reset_locations {
        HashSet::new()
    } else {
        indexed.iter().copied().collect()
    };
    if !known.is_empty() {
        let since = match (state.highest_modseq, folder.highest_modseq) {
            (Some(server), stored) if stored > 0 && server as i64 >= stored => Some(stored as u64),
            _ => None,
        };
        let unchanged = since.is_some() && state.highest_modseq == Some(since.unwrap_or(0));
        if !unchanged {
            let flags = session.fetch_flags("1:*", since).await?;
            let changes: Vec<(i64, Vec<String>)> = flags
                .into_iter()
                .filter(|f| known.contains(&f.uid))
                .map(|f| (i64::from(f.uid), f.flags))
                .collect();
            store.update_flags(&folder.id, &changes).await?;
        }
    }

    let mut pass = FolderPass {
        new_messages: 0,
        server_total: server_uids.len(),
    };
    let mut remaining = plan.fetch.as_slice();
    let mut batch_size = FIRST_BATCH;
    while !remaining.is_empty() {
        let (batch, rest) = remaining.split_at(batch_size.min(remaining.len()));
        remaining = rest;
        batch_size = BATCH;
        let summaries = session.fetch_summaries(&uid_set(batch)).await?;
        let messages: Vec<_> = summaries.iter().map(to_new_message).collect();
        pass.new_messages += store
            .add_folder_messages(grant_id, &folder.id, &messages)
            .await?;
    }

    store
        .update_folder_sync_state(
            &folder.id,
            FolderSyncState {
                uid_validity: i64::from(state.uid_validity),
                uid_next: i64::from(state.uid_next),
                highest_modseq: state.highest_modseq.unwrap_or(0) as i64,
                lowest_synced_uid: server_uids.first().copied().map(i64::from).unwrap_or(0),
                initial_sync_done: true,
                server_total: server_uids.len() as i64,
            },
        )
        .await?;
    Ok(pass)
}

/// A UID set in IMAP syntax, runs collapsed: `[9, 8, 7, 3, 1]` → `1,3,7:9`.
pub(crate) fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut iter = sorted.into_iter();
    let Some(mut start) = iter.next() else {
        return String::new();
    };
    let mut end = start;
    for uid in iter {
        if uid == end + 1 {
            end = uid;
        } else {
            parts.push(range(start, end));
            start = uid;
            end = uid;
        }
    }
    parts.push(range(start, end));
    parts.join(",")
}

fn range(start: u32, end: u32) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start}:{end}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_collapse_runs() {
        assert_eq!(uid_set(&[9, 8, 7, 3, 1]), "1,3,7:9");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn new_mail_is_fetched_newest_first_and_expunged_mail_forgotten() {
        let plan = plan(7, 7, &[1, 2, 4, 5, 6], &[1, 2, 3]);
        assert_eq!(plan.fetch, vec![6, 5, 4]);
        assert_eq!(plan.forget, vec![3]);
        assert!(!plan.reset_locations);
    }

    #[test]
    fn a_uidvalidity_change_rereads_everything() {
        let plan = plan(7, 8, &[1, 2], &[1, 2, 3]);
        assert!(plan.reset_locations);
        assert_eq!(plan.fetch, vec![2, 1]);
        assert!(plan.forget.is_empty());
    }

    #[test]
    fn a_first_sync_fetches_all_and_forgets_nothing() {
        let plan = plan(0, 42, &[10, 11, 12], &[]);
        assert_eq!(plan.fetch, vec![12, 11, 10]);
        assert!(!plan.reset_locations);
    }
}
