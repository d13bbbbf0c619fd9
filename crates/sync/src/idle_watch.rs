//! IDLE watchers: a connection of its own idling on a folder, waking the grant's actor as
//! soon as the server reports a change there. The actor idles on its own connection
//! between passes; a watcher on Inbox runs only while the actor is busy reading a
//! backlog of bodies (within `max_connections_per_grant`).

use std::{sync::Arc, time::Duration};

use mailroom_imap::{IDLE_REARM, IdleOutcome};
use mailroom_model::GrantId;
use mailroom_net::OutboundPolicy;
use mailroom_store::Store;
use tokio::{sync::Notify, task::JoinHandle};

use crate::{connection::open_session, error::SyncError};

/// Aborts the watchers when the actor's session ends.
pub(crate) struct Watchers(Vec<JoinHandle<()>>);

impl Drop for Watchers {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

pub(crate) fn watch(
    store: &Store,
    policy: &OutboundPolicy,
    grant_id: &GrantId,
    folders: Vec<String>,
    wake: Arc<Notify>,
) -> Watchers {
    Watchers(
        folders
            .into_iter()
            .map(|folder| {
                let (store, policy, grant_id, wake) = (
                    store.clone(),
                    policy.clone(),
                    grant_id.clone(),
                    wake.clone(),
                );
                tokio::spawn(async move {
                    let mut backoff = Duration::from_secs(1);
                    loop {
                        match idle_loop(&store, &policy, &grant_id, &folder, &wake).await {
                            // Credentials refused or no IDLE: the actor's polling covers it.
                            Err(e) if e.is_authentication() => return,
                            Err(SyncError::Imap(mailroom_imap::ImapError::Protocol(reason)))
                                if reason.contains("IDLE") =>
                            {
                                return;
                            }
                            _ => {}
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(300));
                    }
                })
            })
            .collect(),
    )
}

async fn idle_loop(
    store: &Store,
    policy: &OutboundPolicy,
    grant_id: &GrantId,
    folder: &str,
    wake: &Notify,
) -> Result<(), SyncError> {
    let mut session = open_session(store, policy, grant_id).await?;
    // What changed before this SELECT is found by the pass that follows the actor's
    // backlog; what changes after it the server reports during IDLE.
    session.select_folder(folder).await?;
    loop {
        let (next, outcome) = session.idle_once(IDLE_REARM).await?;
        session = next;
        if outcome == IdleOutcome::Changed {
            wake.notify_one();
        }
    }
}
