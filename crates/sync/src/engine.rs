//! Starting and stopping grant actors.

use std::{collections::HashMap, sync::Arc};

use mailroom_model::GrantId;
use mailroom_net::OutboundPolicy;
use mailroom_store::Store;
use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};

use crate::{
    actor_context::{ActorContext, FolderLock},
    grant_actor::run,
    idle_pool::IdlePool,
    settings::SyncSettings,
};

struct Actor {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// Ends the actor's wait for the next pass.
    wake: Arc<Notify>,
}

#[derive(Clone)]
pub struct SyncEngine {
    store: Store,
    policy: OutboundPolicy,
    settings: SyncSettings,
    actors: Arc<std::sync::Mutex<HashMap<GrantId, Actor>>>,
    /// Per grant: held while the folder list is read and reconciled, and while mailroom
    /// renames, creates or deletes a folder, so that a LIST read before a RENAME is never
    /// reconciled after it (which would take the renamed folder for a new one).
    folder_locks: Arc<std::sync::Mutex<HashMap<GrantId, FolderLock>>>,
    /// Logged-in sessions waiting for mailroom's next change to a grant's mailbox, and
    /// for its next send.
    idle_imap: IdlePool<mailroom_imap::ImapSession>,
    idle_smtp: IdlePool<mailroom_smtp::SmtpSession>,
}

impl SyncEngine {
    pub fn new(store: Store, policy: OutboundPolicy, settings: SyncSettings) -> Self {
        Self {
            store,
            policy,
            settings,
            actors: Arc::default(),
            folder_locks: Arc::default(),
            idle_imap: IdlePool::default(),
            idle_smtp: IdlePool::default(),
        }
    }

    /// (Re)starts the actor of a grant, writing through `store`: the engine's own store
    /// fenced with the grant's lease (`ownership`).
    pub(crate) fn start_actor(&self, grant_id: &GrantId, store: Store) {
        self.stop_grant(grant_id);
        // Sessions made with the old credentials or settings go.
        self.close_idle_sessions(grant_id);
        let (stop, stopped) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let context = ActorContext {
            store,
            policy: self.policy.clone(),
            settings: self.settings.clone(),
            grant_id: grant_id.clone(),
            wake: wake.clone(),
            folder_lock: self.folder_lock(grant_id),
        };
        let task = tokio::spawn(run(context, stopped));
        if let Ok(mut actors) = self.actors.lock() {
            actors.insert(grant_id.clone(), Actor { stop, task, wake });
        }
    }

    /// Stops every actor (the node is shutting down).
    pub(crate) fn stop_all(&self) {
        let running: Vec<GrantId> = match self.actors.lock() {
            Ok(actors) => actors.keys().cloned().collect(),
            Err(_) => Vec::new(),
        };
        for grant_id in running {
            self.stop_grant(&grant_id);
        }
    }

    /// Stops a grant's actor, e.g. when the grant is deleted.
    pub fn stop_grant(&self, grant_id: &GrantId) {
        self.close_idle_sessions(grant_id);
        let actor = self.actors.lock().ok().and_then(|mut a| a.remove(grant_id));
        if let Some(actor) = actor {
            let _ = actor.stop.send(true);
            actor.task.abort();
        }
    }

    /// Asks a grant's actor to run a pass now, e.g. after mailroom changed its mailbox,
    /// so that anything the change did not record itself is picked up at once. When the
    /// actor runs on another node, that node is told (`ClusterEvent::Nudge`).
    pub fn nudge(&self, grant_id: &GrantId) {
        if self.nudge_here(grant_id) || !self.store.is_shared() {
            return;
        }
        let (store, event) = (
            self.store.clone(),
            mailroom_store::ClusterEvent::Nudge(grant_id.clone()),
        );
        tokio::spawn(async move {
            if let Err(e) = store.publish(&event).await {
                tracing::debug!(error = %e, "could not tell the cluster of a change");
            }
        });
    }

    /// Wakes the grant's actor if it runs on this node; says whether it does.
    pub(crate) fn nudge_here(&self, grant_id: &GrantId) -> bool {
        let wake = self
            .actors
            .lock()
            .ok()
            .and_then(|a| a.get(grant_id).map(|actor| actor.wake.clone()));
        match wake {
            Some(wake) => {
                wake.notify_one();
                true
            }
            None => false,
        }
    }

    /// The lock over a grant's folder list (see `folder_locks`).
    pub(crate) fn folder_lock(&self, grant_id: &GrantId) -> FolderLock {
        match self.folder_locks.lock() {
            Ok(mut locks) => locks.entry(grant_id.clone()).or_default().clone(),
            // A poisoned map only means a panic elsewhere; a fresh lock is still correct
            // for this caller alone, and nothing here panics while holding it.
            Err(_) => FolderLock::default(),
        }
    }

    pub(crate) fn idle_imap(&self) -> &IdlePool<mailroom_imap::ImapSession> {
        &self.idle_imap
    }

    pub(crate) fn idle_smtp(&self) -> &IdlePool<mailroom_smtp::SmtpSession> {
        &self.idle_smtp
    }

    /// Logs out the sessions kept for the grant's next change (made with credentials or
    /// settings that may have changed).
    pub(crate) fn close_idle_sessions(&self, grant_id: &GrantId) {
        // `logout` waits for the server no longer than the session's timeout.
        for session in self.idle_imap.drain(grant_id) {
            tokio::spawn(session.logout());
        }
        for session in self.idle_smtp.drain(grant_id) {
            let policy = self.policy.clone();
            // `quit` waits for the server no longer than the policy's timeout.
            tokio::spawn(async move { session.quit(&policy).await });
        }
    }

    pub fn settings(&self) -> &SyncSettings {
        &self.settings
    }

    pub fn running(&self) -> usize {
        self.actors.lock().map(|a| a.len()).unwrap_or(0)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }
}
