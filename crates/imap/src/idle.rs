//! IMAP IDLE (RFC 2177): wait for the server to say the selected mailbox changed, or,
//! with NOTIFY (RFC 5465), that any mailbox did.

use std::{future::Future, time::Duration};

use async_imap::extensions::idle::IdleResponse;

use crate::{error::ImapError, session::ImapSession};

/// Servers drop IDLE after 30 minutes (RFC 2177); re-arm well before.
pub const IDLE_REARM: Duration = Duration::from_secs(25 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleOutcome {
    /// The server reported something (new mail, flags, expunges, another mailbox's
    /// STATUS under NOTIFY).
    Changed,
    /// Nothing happened before the timeout.
    Quiet,
    /// The caller's own signal ended the wait.
    Interrupted,
}

impl ImapSession {
    /// Idles on the selected mailbox until the server reports a change or `timeout`
    /// passes, then ends IDLE and hands the session back. Keepalives such as
    /// `* OK Still here` do not count as changes.
    pub async fn idle_once(
        self,
        timeout: Duration,
    ) -> Result<(ImapSession, IdleOutcome), ImapError> {
        self.idle_until(timeout, std::future::pending()).await
    }

    /// As [`Self::idle_once`], and also ends when `interrupt` completes. `timeout` is
    /// counted from the start, keepalives or not.
    pub async fn idle_until(
        mut self,
        timeout: Duration,
        interrupt: impl Future<Output = ()>,
    ) -> Result<(ImapSession, IdleOutcome), ImapError> {
        if !self.has_capability("IDLE") {
            return Err(ImapError::Protocol("the server does not offer IDLE".into()));
        }
        // An idling session holds nothing it will not read; what the server reported
        // since the caller last looked (NOTIFY speaks during other commands' answers
        // too) is news already, and IDLE would not report it again.
        self.discard_unsolicited();
        if std::mem::take(&mut self.heard.changes) {
            return Ok((self, IdleOutcome::Changed));
        }
        let ImapSession {
            session,
            capabilities,
            qresync,
            timeout: silence_limit,
            max_message_bytes,
            open,
            heard,
        } = self;
        let mut handle = session.idle();
        // Entering and leaving IDLE are boxed: a session idles for most of its life,
        // and room for these in its future would be held all that time.
        Box::pin(handle.init()).await?;
        // Waiting in silence is the point of IDLE: the limit is lifted until DONE.
        handle.as_mut().set_silence_limit(None);
        let outcome = {
            // async-imap's own timeout restarts at every keepalive; this one does not.
            let (wait, stop) = handle.wait_with_timeout(timeout);
            let mut stop = Some(stop);
            tokio::pin!(wait);
            tokio::pin!(interrupt);
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            let mut ended_by = None;
            let response = loop {
                tokio::select! {
                    response = &mut wait => break response,
                    // Dropping the stop source ends the wait (as ManualInterrupt).
                    _ = &mut interrupt, if ended_by.is_none() => {
                        ended_by = Some(IdleOutcome::Interrupted);
                        stop = None;
                    }
                    _ = &mut deadline, if ended_by.is_none() => {
                        ended_by = Some(IdleOutcome::Quiet);
                        stop = None;
                    }
                }
            };
            drop(stop);
            match response? {
                IdleResponse::NewData(_) => IdleOutcome::Changed,
                IdleResponse::Timeout => IdleOutcome::Quiet,
                IdleResponse::ManualInterrupt => ended_by.unwrap_or(IdleOutcome::Quiet),
            }
        };
        handle.as_mut().set_silence_limit(Some(silence_limit));
        let session = Box::pin(handle.done()).await?;
        Ok((
            ImapSession {
                session,
                capabilities,
                qresync,
                timeout: silence_limit,
                max_message_bytes,
                open,
                heard,
            },
            outcome,
        ))
    }
}
