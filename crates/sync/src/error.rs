//! The sync engine's one error type, over the IMAP, SMTP and store errors, with the
//! questions the actor and the API ask of a failure (refused credentials, a lost lease…).

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
    /// The folder's UIDVALIDITY differs from the index's: the UIDs it holds name other
    /// messages now, until the sync reads the folder again.
    #[error(
        "the folder {0} was re-created on the mail server (its UIDVALIDITY changed); mailroom is reading it again: try again shortly"
    )]
    FolderRecreated(String),
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
    /// The provider no longer accepts the grant's refresh token (revoked, expired), or
    /// the application's connector to refresh it with is gone: the user must sign in again.
    #[error("the grant's OAuth authorization is no longer valid: {0}")]
    TokenRevoked(String),
    /// The grant's access token could not be refreshed this time (the provider is
    /// down or slow); a later attempt may succeed.
    #[error("the grant's access token could not be refreshed: {0}")]
    Token(String),
}

impl SyncError {
    /// The server refused the credentials: retrying will not help until re-auth.
    pub fn is_authentication(&self) -> bool {
        match self {
            SyncError::Imap(e) => e.is_authentication(),
            SyncError::TokenRevoked(_) => true,
            _ => false,
        }
    }

    /// A send that failed without the message going out, and may go out if tried again
    /// later: the SMTP server refused it for now or could not be reached, or the grant's
    /// token could not be refreshed this time.
    pub fn is_temporary_send_failure(&self) -> bool {
        match self {
            SyncError::Smtp(e) => e.is_temporary(),
            SyncError::TimedOut(_) | SyncError::Token(_) | SyncError::Busy(_) => true,
            _ => false,
        }
    }

    /// The grant's lease passed to another node: this node's actor must stop.
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, SyncError::Store(StoreError::LeaseLost(_)))
    }
}
