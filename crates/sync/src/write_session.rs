//! IMAP sessions for the changes mailroom makes on a grant's mailbox, apart from the sync
//! actor's own connection. A session that served one change waits, logged in, for the
//! next (up to `IDLE_LIMIT`), so a burst of sends or flag changes does not pay a TLS
//! handshake and a login each; SMTP sessions are kept the same way (see `sending`). A
//! session that failed is never reused. Each change is bounded in time as a whole.

use std::{
    collections::HashMap,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use mailroom_imap::{ImapError, ImapSession};
use mailroom_model::GrantId;

use crate::{engine::SyncEngine, error::SyncError, grant_actor::open_session};

/// How long one change (connect, select, the commands) may take.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(120);
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

impl SyncEngine {
    /// A logged-in session for a change: an idle one that still answers, or a new one.
    /// Capabilities the settings say to ignore are ignored, so changes take the same
    /// paths as sync on a server without them.
    pub(crate) async fn write_session(&self, grant_id: &GrantId) -> Result<ImapSession, SyncError> {
        while let Some((mut session, since)) = self.idle_imap().take(grant_id) {
            match fresh_enough(since) {
                None => {
                    tokio::spawn(session.logout());
                }
                Some(true) => return Ok(session),
                Some(false) => {
                    if session.noop().await.is_ok() {
                        return Ok(session);
                    }
                }
            }
        }
        let mut session = open_session(self.store(), self.policy(), grant_id).await?;
        session.ignore_capabilities(&self.settings().ignore_capabilities);
        Ok(session)
    }

    /// Hands a session back after a change: kept for the next one if the change left it
    /// in a known state, logged out otherwise.
    pub(crate) async fn release_session<T>(
        &self,
        grant_id: &GrantId,
        mut session: ImapSession,
        outcome: &Result<T, SyncError>,
    ) {
        let reusable = match outcome {
            Ok(_) => true,
            // Answers the server gave in order: the session is in step.
            Err(SyncError::Invalid(_))
            | Err(SyncError::MessageGone)
            | Err(SyncError::Imap(ImapError::Refused(_))) => true,
            Err(_) => false,
        };
        let leftover = if reusable {
            // A kept session waits holding nothing it will not read.
            session.discard_unsolicited();
            self.idle_imap().keep(grant_id, session)
        } else {
            Some(session)
        };
        if let Some(session) = leftover {
            session.logout().await;
        }
    }
}

/// Runs a change under [`CHANGE_TIMEOUT`].
pub(crate) async fn bounded<T>(
    change: impl Future<Output = Result<T, SyncError>>,
) -> Result<T, SyncError> {
    tokio::time::timeout(CHANGE_TIMEOUT, change)
        .await
        .map_err(|_| SyncError::TimedOut(CHANGE_TIMEOUT.as_secs()))?
}
