use mailroom_imap::ImapError;
use mailroom_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the grant no longer exists")]
    GrantGone,
    #[error("the message is no longer on the server")]
    MessageGone,
    #[error("an index write was interrupted: {0}")]
    Interrupted(String),
}

impl SyncError {
    /// The server refused the credentials: retrying will not help until re-auth.
    pub fn is_authentication(&self) -> bool {
        matches!(self, SyncError::Imap(e) if e.is_authentication())
    }
}
