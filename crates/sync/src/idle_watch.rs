//! IDLE watchers: one connection each on Inbox and Sent, waking the grant's actor as
//! soon as the server reports a change there. Other folders wait for the next poll.

use std::{sync::Arc, time::Duration};

use mailroom_imap::{IDLE_REARM, IdleOutcome};
use mailroom_model::GrantId;
use mailroom_net::OutboundPolicy;
use mailroom_store::Store;
use tokio::{sync::Notify, task::JoinHandle};

use crate::{error::SyncError, grant_actor::open_session};

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
    session.select_folder(folder).await?;
    // Whatever changed before this SELECT is fetched by a pass now; what changes after
    // it the server reports during IDLE.
    wake.notify_one();
    loop {
        let (next, outcome) = session.idle_once(IDLE_REARM).await?;
        session = next;
        if outcome == IdleOutcome::Changed {
            wake.notify_one();
        }
    }
}
