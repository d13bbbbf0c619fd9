//! A logged-in submission session that carries one message after another, so a burst of
//! sends for one grant pays the connection, TLS handshake and login once. After a
//! refusal the session is reset (RSET) and stays usable; after any other failure its
//! state is unknown and it must be dropped.

use lettre::transport::smtp::{
    client::AsyncSmtpConnection,
    commands::{Noop, Rset},
};
use mailroom_net::OutboundPolicy;

use crate::{
    error::SmtpError,
    open_sessions::OpenConnection,
    send::{SmtpEnvelope, SubmitReceipt, crlf_line_endings, send_transaction},
    submission::{SmtpAuth, SmtpServer, authenticated_connection},
};

pub struct SmtpSession {
    connection: AsyncSmtpConnection,
    /// Counts the connection among those open while it lives.
    _open: OpenConnection,
}

impl SmtpSession {
    /// Connects, secures the connection as the server settings say, and logs in.
    pub async fn open(
        policy: &OutboundPolicy,
        server: SmtpServer<'_>,
        password: &str,
    ) -> Result<Self, SmtpError> {
        Self::open_with(policy, server, SmtpAuth::Password(password)).await
    }

    /// As [`SmtpSession::open`], authenticating as `auth` says.
    pub async fn open_with(
        policy: &OutboundPolicy,
        server: SmtpServer<'_>,
        auth: SmtpAuth<'_>,
    ) -> Result<Self, SmtpError> {
        let connection = tokio::time::timeout(
            policy.timeout() * 2,
            authenticated_connection(policy, server, auth),
        )
        .await
        .map_err(|_| SmtpError::Net(policy.timeout_error(server.host, server.port)))??;
        Ok(Self {
            connection,
            _open: OpenConnection::count(),
        })
    }

    /// Submits one message (see [`crate::submit`]). Returns whether the session may carry
    /// another one beside the outcome.
    pub async fn submit(
        &mut self,
        policy: &OutboundPolicy,
        server: SmtpServer<'_>,
        envelope_from: &str,
        recipients: &[String],
        message: &[u8],
    ) -> (Result<SubmitReceipt, SmtpError>, bool) {
        let envelope = match SmtpEnvelope::new(envelope_from, recipients) {
            Ok(envelope) => envelope,
            // Nothing was said to the server.
            Err(e) => return (Err(e), true),
        };
        let message = crlf_line_endings(message);
        let outcome =
            send_transaction(&mut self.connection, policy, server, &envelope, &message).await;
        let reusable = match &outcome {
            Ok(_) => true,
            Err(SmtpError::Refused { .. }) | Err(SmtpError::InvalidEnvelope(_)) => {
                // Abandon what the refused transaction left open.
                matches!(
                    tokio::time::timeout(policy.timeout(), self.connection.command(Rset)).await,
                    Ok(Ok(_))
                )
            }
            Err(_) => false,
        };
        (outcome, reusable)
    }

    /// Whether the server still answers (NOOP), for a session that sat idle.
    pub async fn still_open(&mut self, policy: &OutboundPolicy) -> bool {
        matches!(
            tokio::time::timeout(policy.timeout(), self.connection.command(Noop)).await,
            Ok(Ok(_))
        )
    }

    /// Ends the session politely.
    pub async fn quit(mut self, policy: &OutboundPolicy) {
        let _ = tokio::time::timeout(policy.timeout(), self.connection.quit()).await;
    }
}
