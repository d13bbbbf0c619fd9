//! Opening a mailbox read-only and reading the numbers sync decisions rest on.

use crate::{error::ImapError, session::ImapSession};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailboxState {
    pub uid_validity: u32,
    pub uid_next: u32,
    pub exists: u32,
    /// Present when the server supports CONDSTORE.
    pub highest_modseq: Option<u64>,
}

impl ImapSession {
    /// Selects a mailbox, with CONDSTORE when the server offers it so that HIGHESTMODSEQ
    /// and per-message MODSEQ come back. mailroom reads with BODY.PEEK, so selecting
    /// never marks mail as seen.
    pub async fn select_folder(&mut self, imap_name: &str) -> Result<MailboxState, ImapError> {
        let mailbox = if self.has_capability("CONDSTORE") {
            self.session.select_condstore(imap_name).await?
        } else {
            self.session.select(imap_name).await?
        };
        // async-imap drops a `* LIST` among a SELECT's answers; the stream saw it.
        if self.session.get_mut().take_list_seen() {
            self.heard.changes = true;
            self.heard.mailbox_names = true;
        }
        Ok(MailboxState {
            uid_validity: mailbox.uid_validity.unwrap_or(0),
            uid_next: mailbox.uid_next.unwrap_or(0),
            exists: mailbox.exists,
            highest_modseq: mailbox.highest_modseq,
        })
    }

    /// Leaves the selected mailbox without expunging anything.
    pub async fn unselect(&mut self) -> Result<(), ImapError> {
        let command = if self.has_capability("UNSELECT") {
            "UNSELECT"
        } else {
            "CLOSE"
        };
        self.session.run_command_and_check_ok(command).await?;
        Ok(())
    }
}
