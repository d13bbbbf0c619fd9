//! IMAP sessions for the changes mailroom makes on a grant's mailbox, apart from the sync
//! actor's own connection. A session that served one change waits, logged in, for the
//! next (up to `idle_pool::IDLE_LIMIT`), so a burst of sends or flag changes does not pay a TLS
//! handshake and a login each; SMTP sessions are kept the same way (see `sending`). A
//! session that failed is never reused. Each change is bounded in time as a whole.

use std::{future::Future, time::Duration};

use mailroom_imap::{ImapError, ImapSession};
use mailroom_model::{GrantId, v3::GrantStatus};
use mailroom_store::GrantRecord;

use crate::{
    connection::open_session, engine::SyncEngine, error::SyncError, idle_pool::fresh_enough,
};

/// How long one change (connect, select, the commands) may take.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(120);

impl SyncEngine {
    /// Runs one change on the grant's mailbox: a write session taken, `change` run on it,
    /// the session handed back as the outcome allows, the whole under [`CHANGE_TIMEOUT`].
    pub(crate) async fn with_write_session<T>(
        &self,
        grant_id: &GrantId,
        change: impl AsyncFnOnce(&mut ImapSession) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        bounded(async {
            let mut session = self.write_session(grant_id).await?;
            let result = change(&mut session).await;
            self.release_session(grant_id, session, &result).await;
            result
        })
        .await
    }

    /// A logged-in session for a change: an idle one that still answers, or a new one.
    /// Capabilities the settings say to ignore are ignored, so changes take the same
    /// paths as sync on a server without them.
    pub(crate) async fn write_session(&self, grant_id: &GrantId) -> Result<ImapSession, SyncError> {
        let grant = self
            .store()
            .grant_by_id(grant_id)
            .await?
            .ok_or(SyncError::GrantGone)?;
        self.refuse_invalid(&grant)?;
        while let Some((mut session, since)) = self.idle_imap().take(grant_id) {
            match fresh_enough(since) {
                None => {
                    tokio::spawn(session.logout());
                }
                // A server that spoke since is most likely saying goodbye (a restart,
                // a kick): NOOP tells.
                Some(true) if !session.server_has_spoken() => return Ok(session),
                Some(_) => {
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

    /// Refuses changes for a grant whose credentials were refused, and drops its kept
    /// sessions: logged in before, they would still work, though its user withdrew them.
    pub(crate) fn refuse_invalid(&self, grant: &GrantRecord) -> Result<(), SyncError> {
        if grant.status != GrantStatus::Invalid {
            return Ok(());
        }
        self.close_idle_sessions(&grant.id);
        Err(SyncError::Invalid(
            "the grant is invalid: its mail server or provider refused its credentials; its user must sign in again".into(),
        ))
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
async fn bounded<T>(change: impl Future<Output = Result<T, SyncError>>) -> Result<T, SyncError> {
    tokio::time::timeout(CHANGE_TIMEOUT, change)
        .await
        .map_err(|_| SyncError::TimedOut(CHANGE_TIMEOUT.as_secs()))?
}
