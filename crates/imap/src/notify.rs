//! NOTIFY (RFC 5465): asking the server to report changes in every mailbox, not only
//! the selected one, so that one idling connection hears of them all. For mailboxes
//! other than the selected one the server sends `* STATUS` lines (§5.1, parsed in
//! `folder_status`), and `* LIST` lines when one is created, renamed or deleted (§5.4).

use crate::{error::ImapError, session::ImapSession};

/// The selected mailbox reports as under IDLE (EXISTS, EXPUNGE, FETCH); the others by
/// STATUS. FlagChange requires MessageNew and MessageExpunge beside it (§5.2).
const NOTIFY_SET: &str = "NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) \
                          (personal (MessageNew MessageExpunge FlagChange MailboxName))";

impl ImapSession {
    /// Turns NOTIFY on for every mailbox of the account when the server offers it.
    /// Returns whether it is on; a server that announces NOTIFY but refuses this
    /// request is treated as not offering it.
    pub async fn notify_all_mailboxes(&mut self) -> Result<bool, ImapError> {
        if !self.has_capability("NOTIFY") {
            return Ok(false);
        }
        match self.session.run_command_and_check_ok(NOTIFY_SET).await {
            Ok(()) => Ok(true),
            Err(async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
