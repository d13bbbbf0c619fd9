//! A short-lived IMAP session for one change mailroom makes on a grant's mailbox, apart
//! from the sync actor's own connection, bounded in time as a whole.

use std::{future::Future, time::Duration};

use mailroom_imap::ImapSession;
use mailroom_model::GrantId;

use crate::{engine::SyncEngine, error::SyncError, grant_actor::open_session};

/// How long one change (connect, select, the commands, logout) may take.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(120);

impl SyncEngine {
    /// Logs in for a change, with the capabilities the settings say to ignore ignored,
    /// so changes take the same paths as sync on a server without them.
    pub(crate) async fn write_session(&self, grant_id: &GrantId) -> Result<ImapSession, SyncError> {
        let mut session = open_session(self.store(), self.policy(), grant_id).await?;
        session.ignore_capabilities(&self.settings().ignore_capabilities);
        Ok(session)
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
