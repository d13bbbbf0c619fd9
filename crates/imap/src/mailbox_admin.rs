//! Creating, renaming and deleting mailboxes. Names are given as the server spells them
//! (modified UTF-7, see [`encode_mailbox_name`](crate::encode_mailbox_name)); a refusal
//! (exists already, has children, is special) comes back as [`ImapError::Refused`].

use crate::{error::ImapError, folders::quoted, session::ImapSession};

impl ImapSession {
    /// Creates a mailbox and subscribes to it, so other clients show it too.
    pub async fn create_mailbox(&mut self, imap_name: &str) -> Result<(), ImapError> {
        self.run_write(&format!("CREATE {}", quoted(imap_name)?))
            .await?;
        // Subscription is a courtesy to other clients; a server may not support it.
        let _ = self
            .run_write(&format!("SUBSCRIBE {}", quoted(imap_name)?))
            .await;
        Ok(())
    }

    /// Renames a mailbox (its children move with it) and moves the subscription.
    pub async fn rename_mailbox(&mut self, from: &str, to: &str) -> Result<(), ImapError> {
        self.run_write(&format!("RENAME {} {}", quoted(from)?, quoted(to)?))
            .await?;
        let _ = self
            .run_write(&format!("UNSUBSCRIBE {}", quoted(from)?))
            .await;
        let _ = self.run_write(&format!("SUBSCRIBE {}", quoted(to)?)).await;
        Ok(())
    }

    /// Deletes a mailbox and, with it, the messages it holds.
    pub async fn delete_mailbox(&mut self, imap_name: &str) -> Result<(), ImapError> {
        let _ = self
            .run_write(&format!("UNSUBSCRIBE {}", quoted(imap_name)?))
            .await;
        self.run_write(&format!("DELETE {}", quoted(imap_name)?))
            .await?;
        Ok(())
    }
}
