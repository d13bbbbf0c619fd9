//! Logged-in sessions kept between mailroom's changes to a grant's mailbox, per grant.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use mailroom_model::GrantId;

/// How long a session waits for the next change before it is logged out.
const IDLE_LIMIT: Duration = Duration::from_secs(30);
/// A session idle longer than this is checked with NOOP before it is reused.
const CHECK_AFTER: Duration = Duration::from_secs(2);
/// Idle sessions kept per grant.
const KEPT_PER_GRANT: usize = 4;

/// Per grant, logged-in sessions (IMAP or SMTP) waiting for mailroom's next change.
pub(crate) struct IdlePool<T>(Arc<std::sync::Mutex<IdleByGrant<T>>>);

/// Each grant's idle sessions, with the moment each went idle.
type IdleByGrant<T> = HashMap<GrantId, Vec<(T, Instant)>>;

impl<T> Default for IdlePool<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T> Clone for IdlePool<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> IdlePool<T> {
    /// The most recently used idle session, and since when it is idle.
    pub(crate) fn take(&self, grant_id: &GrantId) -> Option<(T, Instant)> {
        self.0.lock().ok()?.get_mut(grant_id)?.pop()
    }

    /// Keeps a session for reuse; gives it back if there is no room.
    pub(crate) fn keep(&self, grant_id: &GrantId, session: T) -> Option<T> {
        let Ok(mut map) = self.0.lock() else {
            return Some(session);
        };
        let idle = map.entry(grant_id.clone()).or_default();
        if idle.len() >= KEPT_PER_GRANT {
            return Some(session);
        }
        idle.push((session, Instant::now()));
        None
    }

    /// Takes away a grant's idle sessions (its credentials or settings changed, or it is
    /// gone) for the caller to close.
    pub(crate) fn drain(&self, grant_id: &GrantId) -> Vec<T> {
        self.0
            .lock()
            .ok()
            .and_then(|mut map| map.remove(grant_id))
            .into_iter()
            .flatten()
            .map(|(session, _)| session)
            .collect()
    }
}

/// Whether an idle session may serve again: young enough, or checked to still answer.
pub(crate) fn fresh_enough(since: Instant) -> Option<bool> {
    if since.elapsed() > IDLE_LIMIT {
        None
    } else {
        Some(since.elapsed() < CHECK_AFTER)
    }
}
