//! Sending a message for a grant: submitted over SMTP with the grant's credentials, then
//! filed in Sent (unless the provider does that itself) and indexed, so it joins its
//! thread at once. A message the SMTP server refused was not sent and is not filed.

use mailroom_model::{GrantId, known_providers::saves_sent_copy};
use mailroom_smtp::{SmtpServer, SmtpSession};
use mailroom_store::GrantRecord;

use crate::{
    engine::SyncEngine, error::SyncError, grant_login::grant_login, idle_pool::fresh_enough,
    mail_append::AppendTarget,
};

/// A message ready to go: its bytes and its SMTP envelope.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The message as filed in Sent, Bcc header included; it is submitted without it.
    pub message: Vec<u8>,
    pub envelope_from: String,
    pub recipients: Vec<String>,
}

/// What became of a sent message.
#[derive(Debug, Clone)]
pub struct SentMessage {
    /// The id of the copy in Sent, once indexed.
    pub message_id: Option<String>,
    /// Why the Sent copy could not be filed, if it could not (the send itself succeeded).
    pub sent_copy_error: Option<String>,
}

impl SyncEngine {
    /// A logged-in SMTP session for the grant: an idle one that still answers, or new.
    async fn smtp_session(
        &self,
        grant_id: &GrantId,
        server: SmtpServer<'_>,
        grant: &GrantRecord,
    ) -> Result<SmtpSession, SyncError> {
        while let Some((mut session, since)) = self.idle_smtp().take(grant_id) {
            match fresh_enough(since) {
                None => session.quit(self.policy()).await,
                Some(true) => return Ok(session),
                Some(false) => {
                    if session.still_open(self.policy()).await {
                        return Ok(session);
                    }
                }
            }
        }
        let (store, policy) = (self.store(), self.policy());
        let login = grant_login(store, policy, grant, None).await?;
        // A refused access token is refreshed once and tried again, as for IMAP.
        match SmtpSession::open_with(policy, server, login.smtp()).await {
            Err(e) if e.is_authentication() && login.refusable_token().is_some() => {
                let fresh = grant_login(store, policy, grant, login.refusable_token()).await?;
                Ok(SmtpSession::open_with(policy, server, fresh.smtp()).await?)
            }
            result => Ok(result?),
        }
    }

    /// Submits a message; on success files it in Sent and marks `answering` (the message
    /// replied to) as answered.
    pub async fn send_message(
        &self,
        grant_id: &GrantId,
        submission: &Submission,
        answering: Option<&str>,
    ) -> Result<SentMessage, SyncError> {
        let grant = self
            .store()
            .grant_by_id(grant_id)
            .await?
            .ok_or(SyncError::GrantGone)?;
        self.refuse_invalid(&grant)?;
        let endpoint = grant.settings.smtp();
        let server = SmtpServer {
            host: endpoint.host,
            port: endpoint.port,
            tls: endpoint.security.into(),
            username: endpoint.username,
        };
        // Bcc recipients are in the envelope; the header would tell everyone.
        let wire = mailroom_mime::without_bcc(&submission.message);
        let mut session = self.smtp_session(grant_id, server, &grant).await?;
        let (outcome, reusable) = session
            .submit(
                self.policy(),
                server,
                &submission.envelope_from,
                &submission.recipients,
                &wire,
            )
            .await;
        // Not reusable: the connection's state is unknown, and dropping it closes it.
        if reusable && let Some(spare) = self.idle_smtp().keep(grant_id, session) {
            spare.quit(self.policy()).await;
        }
        outcome?;

        let mut sent = SentMessage {
            message_id: None,
            sent_copy_error: None,
        };
        if !saves_sent_copy(endpoint.host) {
            match self
                .append_message(grant_id, AppendTarget::Sent, &submission.message)
                .await
            {
                Ok(id) => sent.message_id = Some(id),
                Err(e) => {
                    tracing::warn!(%grant_id, error = %e, "sent, but the copy could not be filed in Sent");
                    sent.sent_copy_error = Some(e.to_string());
                }
            }
        } else {
            self.nudge(grant_id);
        }
        if let Some(original) = answering
            && let Err(e) = self.mark_answered(grant_id, original).await
        {
            tracing::debug!(%grant_id, error = %e, "could not mark the original as answered");
        }
        Ok(sent)
    }
}
