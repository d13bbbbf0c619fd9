//! Which node syncs which grant (README.md, "Running a cluster"). Every `mailroom serve`
//! on a database is a node. Each round, a node beats its heartbeat (renewing all of its
//! leases at once), reads the live nodes and the leases, and works out each grant's
//! owner by rendezvous hashing over the live nodes: the same answer on every node, and a
//! node that comes or goes moves only its own share. A node then
//! - takes the lease of each grant it should own that is free or held by a dead node,
//!   and starts its actor, writing through a store fenced with that lease;
//! - hands over grants another live node should own, a few per round, so a node that
//!   joins takes its share without a thundering herd of reconnections;
//! - stops the actor of every grant whose lease has moved on (it was paused past its
//!   lease and another node took the grant over).
//!
//! Rounds run every tenth of the lease time, when another node's lease would run out,
//! and at once when another node says so (`ClusterEvent`). On SQLite there is one node,
//! which takes every grant.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use mailroom_model::GrantId;
use mailroom_store::{ClusterEvent, Fence, Heard, Store, StoreError};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::engine::SyncEngine;

/// Grants a node hands over to others in one round: the rest wait for the next.
const HANDOVERS_PER_ROUND: usize = 64;
/// How long after another node's lease would run out a round looks again: the
/// database's clock and this node's timer need not tick together.
const EXPIRY_MARGIN: Duration = Duration::from_millis(50);
/// A node silent this many lease times is taken out of the registry.
const FORGET_AFTER_LEASES: u32 = 20;

/// Who this node is.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    pub id: String,
    pub host: String,
    pub pid: u32,
}

impl NodeIdentity {
    /// A new identity for this process: a fresh id, the host name and the process id.
    pub fn for_this_process() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            host,
            pid: std::process::id(),
        }
    }
}

/// This node's side of the ownership of grants.
#[derive(Clone)]
pub struct Ownership {
    inner: Arc<Inner>,
}

struct Inner {
    engine: SyncEngine,
    node: NodeIdentity,
    lease: Duration,
    /// Grants whose actor this node started, with the lease epoch and the grant's
    /// `updated_at` it started with.
    held: Mutex<HashMap<GrantId, Held>>,
    /// Asks for a round now.
    round_due: Notify,
    leaving: AtomicBool,
    /// Since when this node's rounds have reached the database without fail. Only a
    /// node that has been up for a whole lease takes grants from nodes it finds silent:
    /// after the database itself was out of reach for longer than a lease, every node
    /// finds the others silent, and the first back would otherwise take every grant.
    healthy_since: Mutex<tokio::time::Instant>,
    /// When the last round reached the database and did its work (`None` before the
    /// first): what tells that the node's sync is alive ([`Ownership::is_running`]).
    last_round: Mutex<Option<tokio::time::Instant>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    epoch: i64,
    updated_at: i64,
}

impl Ownership {
    pub fn new(engine: SyncEngine, node: NodeIdentity, lease: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                engine,
                node,
                lease,
                held: Mutex::default(),
                round_due: Notify::new(),
                leaving: AtomicBool::new(false),
                healthy_since: Mutex::new(tokio::time::Instant::now()),
                last_round: Mutex::new(None),
            }),
        }
    }

    /// Whether the node has begun to leave (it is shutting down).
    pub fn is_leaving(&self) -> bool {
        self.inner.leaving.load(Ordering::SeqCst)
    }

    /// Whether the node's sync is alive: it is not leaving, and a round has reached the
    /// database within the lease time (a node silent for longer is taken for dead by
    /// the others, and its grants with it).
    pub fn is_running(&self) -> bool {
        let last_round = *self
            .inner
            .last_round
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        !self.is_leaving() && last_round.is_some_and(|at| at.elapsed() < self.inner.lease)
    }

    pub fn node(&self) -> &NodeIdentity {
        &self.inner.node
    }

    fn store(&self) -> &Store {
        self.inner.engine.store()
    }

    /// Enters the node in the registry and runs its first round: the grants it should
    /// own are started before this returns. Says how many.
    pub async fn join(&self) -> Result<usize, StoreError> {
        let (store, node) = (self.store(), &self.inner.node);
        store
            .register_node(&node.id, &node.host, i64::from(node.pid))
            .await?;
        if !store.is_shared() {
            // `mailroom serve` holds an SQLite database alone: whoever was here before
            // has ended, and its grants are this node's at once.
            store.forget_other_nodes(&node.id).await?;
        }
        store.publish(&ClusterEvent::Rebalance).await?;
        self.round().await?;
        self.note_round_done();
        Ok(self.held_count())
    }

    /// Runs rounds until the node leaves: every tenth of the lease (each beats the
    /// heartbeat), at the moment another node's lease would run out if it has stopped
    /// beating (so a dead node's grants are taken as soon as they may be), and when
    /// asked.
    pub async fn run(self) {
        let interval = (self.inner.lease / 10).max(Duration::from_millis(200));
        let mut next = interval;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(next) => {}
                _ = self.inner.round_due.notified() => {}
            }
            if self.inner.leaving.load(Ordering::SeqCst) || self.store().is_closed() {
                return;
            }
            let round = self.round().await;
            if round.is_ok() {
                self.note_round_done();
            }
            next = match round {
                Ok(Some(expiry)) => interval.min(expiry + EXPIRY_MARGIN),
                Ok(None) => interval,
                Err(e) => {
                    tracing::warn!(error = %e, "grant ownership round failed; trying again");
                    *self.healthy_since() = tokio::time::Instant::now();
                    interval
                }
            };
        }
    }

    /// Listens for the other nodes' word and acts on it, until the node leaves; on
    /// SQLite there are no others, and this returns at once.
    pub async fn listen(self) {
        let mut listener = match self.store().listen_for_events().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for cluster events");
                return;
            }
        };
        // Anything said before the listener was up is found by a round.
        self.inner.round_due.notify_one();
        while !self.inner.leaving.load(Ordering::SeqCst) {
            match listener.next().await {
                Ok(Heard::Event(event)) => self.act_on(event),
                Ok(Heard::Reconnecting) => self.inner.round_due.notify_one(),
                Err(e) => {
                    if self.store().is_closed() {
                        return;
                    }
                    tracing::warn!(error = %e, "listening for cluster events failed; reconnecting");
                    self.inner.round_due.notify_one();
                    tokio::time::sleep(self.inner.lease / 5).await;
                }
            }
        }
    }

    /// Says `event` to every node (this one included).
    pub async fn tell(&self, event: ClusterEvent) {
        if !self.store().is_shared() {
            self.act_on(event);
            return;
        }
        if let Err(e) = self.store().publish(&event).await {
            // The database is out of reach; act here at least, and the rounds of the
            // others will find the rest.
            tracing::warn!(error = %e, "could not tell the cluster; acting here only");
            self.act_on(event);
        }
    }

    fn act_on(&self, event: ClusterEvent) {
        let engine = &self.inner.engine;
        match event {
            ClusterEvent::Nudge(grant_id) => {
                engine.nudge_here(&grant_id);
            }
            ClusterEvent::Restart(grant_id) => {
                // A round restarts it (its `updated_at` moved) or takes it (it is new).
                // Every node's sessions kept for API changes were made with what changed.
                engine.close_idle_sessions(&grant_id);
                self.forget_start(&grant_id);
                self.inner.round_due.notify_one();
            }
            ClusterEvent::Stop(grant_id) => {
                // Stops its actor if it runs here, and its kept sessions in any case.
                self.held_lock().remove(&grant_id);
                engine.stop_grant(&grant_id);
                self.inner.round_due.notify_one();
            }
            ClusterEvent::Rebalance => self.inner.round_due.notify_one(),
        }
    }

    /// Makes the next round start the grant's actor afresh if it runs here.
    fn forget_start(&self, grant_id: &GrantId) {
        if let Some(held) = self.held_lock().get_mut(grant_id) {
            held.updated_at = i64::MIN;
        }
    }

    /// Hands every grant over and leaves the registry (at SIGTERM).
    pub async fn leave(&self) {
        self.inner.leaving.store(true, Ordering::SeqCst);
        let (store, node) = (self.store(), &self.inner.node);
        if let Err(e) = store.mark_node_leaving(&node.id).await {
            tracing::warn!(error = %e, "could not mark this node as leaving");
        }
        self.inner.engine.stop_all();
        self.held_lock().clear();
        match store.release_all_leases(&node.id).await {
            Ok(released) => tracing::info!(grants = released, "grants handed over"),
            Err(e) => {
                tracing::warn!(error = %e, "could not hand the grants over; they move when the lease runs out")
            }
        }
        let _ = store.remove_node(&node.id).await;
        let _ = store.publish(&ClusterEvent::Rebalance).await;
    }

    /// Grants whose actor runs on this node.
    pub fn held_count(&self) -> usize {
        self.held_lock().len()
    }

    fn note_round_done(&self) {
        *self
            .inner
            .last_round
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(tokio::time::Instant::now());
    }

    fn healthy_since(&self) -> std::sync::MutexGuard<'_, tokio::time::Instant> {
        self.inner
            .healthy_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn held_lock(&self) -> std::sync::MutexGuard<'_, HashMap<GrantId, Held>> {
        // A poisoned map only means a panic elsewhere while it was held; what it holds
        // is still a map of started actors.
        self.inner
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One round: heartbeat, then take, keep, hand over and stop grants as the live
    /// nodes and the leases say. Says how soon the first other live node's lease runs
    /// out if it beats no more.
    async fn round(&self) -> Result<Option<Duration>, StoreError> {
        let (store, engine, me, lease) = (
            self.store(),
            &self.inner.engine,
            self.inner.node.id.as_str(),
            self.inner.lease,
        );
        if self.inner.leaving.load(Ordering::SeqCst) {
            return Ok(None);
        }
        if !store.heartbeat(me).await? {
            // Taken for dead and forgotten (the process was paused): back in.
            let node = &self.inner.node;
            store
                .register_node(me, &node.host, i64::from(node.pid))
                .await?;
        }
        store
            .forget_silent_nodes(lease * FORGET_AFTER_LEASES)
            .await?;
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let beats = store.node_heartbeats().await?;
        let others_live = beats
            .iter()
            .filter(|(id, age, leaving)| id != me && *age < lease_ms && !leaving);
        let next_expiry = others_live
            .clone()
            .map(|(_, age, _)| Duration::from_millis(u64::try_from(lease_ms - age).unwrap_or(0)))
            .min();
        let mut live: Vec<String> = others_live.map(|(id, _, _)| id.clone()).collect();
        live.push(me.to_owned());
        let take_from_dead = self.healthy_since().elapsed() >= lease;
        let grants = store.valid_grant_versions().await?;
        let leases: HashMap<GrantId, (Option<String>, i64)> = store
            .grant_leases()
            .await?
            .into_iter()
            .map(|l| (l.grant_id, (l.node_id, l.epoch)))
            .collect();
        let valid: HashSet<&GrantId> = grants.iter().map(|(id, _)| id).collect();

        // Actors whose grant is gone or whose lease moved on stop.
        let lost: Vec<GrantId> = self
            .held_lock()
            .iter()
            .filter(|(grant_id, held)| {
                !valid.contains(grant_id)
                    || leases.get(*grant_id) != Some(&(Some(me.to_owned()), held.epoch))
            })
            .map(|(grant_id, _)| grant_id.clone())
            .collect();
        for grant_id in &lost {
            self.held_lock().remove(grant_id);
            engine.stop_grant(grant_id);
        }

        let mut handed_over = 0;
        for (grant_id, updated_at) in &grants {
            let owner = rendezvous_owner(&live, grant_id);
            let lease_here = match leases.get(grant_id) {
                Some((Some(node), epoch)) if node == me => Some(*epoch),
                _ => None,
            };
            match lease_here {
                Some(_) if owner != me && handed_over < HANDOVERS_PER_ROUND => {
                    self.held_lock().remove(grant_id);
                    engine.stop_grant(grant_id);
                    store.release_lease(grant_id, me).await?;
                    handed_over += 1;
                }
                // Its own, or another's beyond this round's handovers: it runs here.
                Some(epoch) => self.keep_running(grant_id, epoch, *updated_at),
                None if owner == me => {
                    let taken = store
                        .take_lease(grant_id, me, lease, take_from_dead)
                        .await?;
                    if let Some(epoch) = taken {
                        tracing::info!(%grant_id, epoch, "grant taken");
                        self.keep_running(grant_id, epoch, *updated_at);
                    }
                }
                None => {}
            }
        }
        if handed_over > 0 {
            tracing::info!(grants = handed_over, "grants handed over to other nodes");
            store.publish(&ClusterEvent::Rebalance).await?;
        }
        Ok(next_expiry)
    }

    /// Starts the grant's actor under this lease unless it already runs so.
    fn keep_running(&self, grant_id: &GrantId, epoch: i64, updated_at: i64) {
        let wanted = Held { epoch, updated_at };
        let engine = &self.inner.engine;
        let current = self.held_lock().get(grant_id).copied();
        // An actor that stopped on its own (the server refused the credentials, which
        // made the grant invalid) is started again only when the grant changes.
        if current == Some(wanted) {
            return;
        }
        let fence = Fence {
            grant_id: grant_id.clone(),
            node_id: self.inner.node.id.clone(),
            epoch,
        };
        engine.start_actor(grant_id, engine.store().fenced(fence));
        self.held_lock().insert(grant_id.clone(), wanted);
    }
}

/// The live node a grant belongs to: the one with the highest hash of (node, grant).
/// Every node computes the same; when a node comes or goes only the grants whose
/// highest hash was (or becomes) its own move.
fn rendezvous_owner<'a>(live: &'a [String], grant_id: &GrantId) -> &'a str {
    live.iter()
        .max_by_key(|node| {
            let digest = Sha256::new()
                .chain_update(node.as_bytes())
                .chain_update([0])
                .chain_update(grant_id.as_str().as_bytes())
                .finalize();
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            (u64::from_be_bytes(first), node.as_str())
        })
        .map(String::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(n: usize) -> Vec<GrantId> {
        (0..n)
            .map(|i| GrantId::parse(&format!("grant-{i}")).unwrap())
            .collect()
    }

    fn nodes(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn grants_spread_evenly_over_nodes() {
        let live = nodes(&["a", "b", "c"]);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for grant in grants(3000) {
            *counts.entry(rendezvous_owner(&live, &grant)).or_default() += 1;
        }
        assert_eq!(counts.len(), 3);
        for (node, count) in counts {
            assert!((900..=1100).contains(&count), "{node} owns {count} of 3000");
        }
    }

    #[test]
    fn a_node_that_joins_or_leaves_moves_only_its_own_share() {
        let three = nodes(&["a", "b", "c"]);
        let four = nodes(&["a", "b", "c", "d"]);
        for grant in grants(1000) {
            let before = rendezvous_owner(&three, &grant);
            let after = rendezvous_owner(&four, &grant);
            assert!(
                after == before || after == "d",
                "{grant} moved {before} → {after}"
            );
            let without_b = nodes(&["a", "c"]);
            let left = rendezvous_owner(&without_b, &grant);
            assert!(
                before == "b" || left == before,
                "{grant} moved {before} → {left}"
            );
        }
    }

    #[test]
    fn no_live_node_owns_nothing() {
        assert_eq!(rendezvous_owner(&[], &grants(1)[0]), "");
    }
}
