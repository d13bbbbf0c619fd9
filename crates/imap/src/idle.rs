//! IMAP IDLE: wait for the server to say the selected mailbox changed.

use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;

use crate::{error::ImapError, session::ImapSession};

/// Servers drop IDLE after 30 minutes (RFC 2177); re-arm well before.
pub const IDLE_REARM: Duration = Duration::from_secs(25 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleOutcome {
    /// The server reported something (new mail, flags, expunges).
    Changed,
    /// Nothing happened before the timeout.
    Quiet,
}

impl ImapSession {
    /// Idles on the selected mailbox until the server reports a change or `timeout`
    /// passes, then ends IDLE and hands the session back. Keepalives such as
    /// `* OK Still here` do not count as changes.
    pub async fn idle_once(
        self,
        timeout: Duration,
    ) -> Result<(ImapSession, IdleOutcome), ImapError> {
        if !self.has_capability("IDLE") {
            return Err(ImapError::Protocol("the server does not offer IDLE".into()));
        }
        let ImapSession {
            session,
            capabilities,
            qresync,
            timeout: silence_limit,
            max_message_bytes,
        } = self;
        let mut handle = session.idle();
        handle.init().await?;
        // Waiting in silence is the point of IDLE: the limit is lifted until DONE.
        handle.as_mut().set_silence_limit(None);
        let outcome = {
            let (wait, stop) = handle.wait_with_timeout(timeout);
            let response = wait.await;
            // Dropping the stop source interrupts the wait, so it lives until here.
            drop(stop);
            match response? {
                IdleResponse::NewData(_) => IdleOutcome::Changed,
                IdleResponse::Timeout | IdleResponse::ManualInterrupt => IdleOutcome::Quiet,
            }
        };
        handle.as_mut().set_silence_limit(Some(silence_limit));
        let session = handle.done().await?;
        Ok((
            ImapSession {
                session,
                capabilities,
                qresync,
                timeout: silence_limit,
                max_message_bytes,
            },
            outcome,
        ))
    }
}
