//! Starting and stopping grant actors.

use std::{collections::HashMap, sync::Arc, time::Duration};

use mailroom_model::GrantId;
use mailroom_net::OutboundPolicy;
use mailroom_store::Store;
use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};

use crate::{
    error::SyncError,
    grant_actor::{ActorContext, run},
    sync_scope::{BodySync, SyncSince},
    write_session::IdlePool,
};

#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// How long an actor waits between full passes over its folders (every folder
    /// selected and read, whatever STATUS or NOTIFY said).
    pub poll_interval: Duration,
    /// How often the idling actor compares every folder's STATUS with the index, to read
    /// the folders that changed (with NOTIFY too: it can go silent).
    pub status_poll_interval: Duration,
    /// IMAP connections one grant's sync may hold at once. Idle, an actor holds one; while
    /// it reads a backlog of bodies, a second idles on Inbox so new mail is not kept
    /// waiting (with a budget of 2 or more).
    pub max_connections_per_grant: usize,
    /// Capabilities to act as if the server lacked them.
    pub ignore_capabilities: Vec<String>,
    /// Which bodies are read in the background; the others are read on demand.
    pub sync_bodies: BodySync,
    /// Only mail received on or after this is indexed.
    pub sync_since: Option<SyncSince>,
    /// IMAP connections a grant reads bodies over while it has a backlog (at least one:
    /// the grant's own).
    pub body_connections: usize,
}

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

pub(crate) type FolderLock = Arc<tokio::sync::Mutex<()>>;

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

    /// Starts an actor for every valid grant.
    pub async fn start_all(&self) -> Result<usize, SyncError> {
        let grants = self.store.valid_grants().await?;
        for grant in &grants {
            self.start_grant(&grant.id);
        }
        Ok(grants.len())
    }

    /// (Re)starts the actor of a grant, e.g. after it was created or re-authenticated.
    pub fn start_grant(&self, grant_id: &GrantId) {
        self.stop_grant(grant_id);
        // Sessions made with the old credentials or settings go.
        self.close_idle_sessions(grant_id);
        let (stop, stopped) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let context = ActorContext {
            store: self.store.clone(),
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
    /// so that anything the change did not record itself is picked up at once.
    pub fn nudge(&self, grant_id: &GrantId) {
        if let Some(wake) = self
            .actors
            .lock()
            .ok()
            .and_then(|a| a.get(grant_id).map(|actor| actor.wake.clone()))
        {
            wake.notify_one();
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

    fn close_idle_sessions(&self, grant_id: &GrantId) {
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
