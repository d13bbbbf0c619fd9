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
    /// The caller asked for something that cannot be done (an unknown folder, deleting
    /// Inbox…); nothing was changed.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Smtp(#[from] mailroom_smtp::SmtpError),
    #[error("the mail server did not answer within {0} seconds")]
    TimedOut(u64),
    /// More than mailroom reads whole (`max_message_bytes`, or a request's total).
    #[error("{0}")]
    TooLarge(String),
    /// The grant's on-demand sessions are all in use.
    #[error("the grant already has {0} reads from its mail server in progress; try again")]
    Busy(usize),
}

impl SyncError {
    /// The server refused the credentials: retrying will not help until re-auth.
    pub fn is_authentication(&self) -> bool {
        matches!(self, SyncError::Imap(e) if e.is_authentication())
    }

    /// The grant's lease passed to another node: this node's actor must stop.
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, SyncError::Store(StoreError::LeaseLost(_)))
    }
}
