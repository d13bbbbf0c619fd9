//! The SMTP crate's one error type: the network, a refused login, a refused step of the
//! mail transaction (nothing sent), or a message whose fate the server did not confirm.

use mailroom_net::NetError;

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("the SMTP server refused the login: {0}")]
    AuthenticationFailed(String),
    #[error("the SMTP server does not offer STARTTLS")]
    StartTlsUnavailable,
    #[error("the SMTP server offers no login mechanism mailroom supports (PLAIN, LOGIN)")]
    NoAuthMechanism,
    /// The server answered a step of the mail transaction with a 4xx or 5xx reply. The
    /// transaction was abandoned before the message was handed over: nothing was sent.
    #[error("the SMTP server refused {}: {code} {text}", refused_what(recipient.as_deref()))]
    Refused {
        /// The reply code, e.g. `550`.
        code: String,
        /// The server's text, enhanced status code first where it sends one.
        text: String,
        /// 5xx: retrying the same message will not help. 4xx: it may later.
        permanent: bool,
        /// The recipient the server refused, when it was a RCPT that failed.
        recipient: Option<String>,
    },
    /// The connection failed or timed out after the message was handed over and before
    /// the server confirmed it: the server may or may not have accepted it. Sending it
    /// again may deliver it twice.
    #[error(
        "the SMTP server did not confirm the message, which may or may not have been sent: {0}"
    )]
    Unconfirmed(String),
    /// The envelope cannot be sent as given (no recipients, an address SMTP cannot carry).
    #[error("the message cannot be sent: {0}")]
    InvalidEnvelope(String),
    #[error("SMTP error: {0}")]
    Protocol(String),
}

fn refused_what(recipient: Option<&str>) -> String {
    match recipient {
        Some(recipient) => format!("the recipient {recipient}"),
        None => "the message".to_owned(),
    }
}

impl SmtpError {
    pub fn is_authentication(&self) -> bool {
        matches!(self, SmtpError::AuthenticationFailed(_))
    }

    pub fn is_unreachable(&self) -> bool {
        matches!(self, SmtpError::Net(e) if e.is_unreachable())
    }

    /// Whether the server refused the message (or a recipient), so it was not sent.
    pub fn is_refusal(&self) -> bool {
        matches!(self, SmtpError::Refused { .. })
    }

    /// Whether the message was not sent and the same submission may succeed later: a
    /// 4xx reply (RFC 5321 §4.2.1: "transient negative completion"; after the data too,
    /// the server then took no responsibility for it), or the connection failing before
    /// the message was handed over. Never a message whose fate is unconfirmed: sending
    /// it again might deliver it twice.
    pub fn is_temporary(&self) -> bool {
        match self {
            SmtpError::Refused { permanent, .. } => !permanent,
            SmtpError::Net(e) => e.is_unreachable(),
            SmtpError::Protocol(_) => true,
            SmtpError::AuthenticationFailed(_)
            | SmtpError::StartTlsUnavailable
            | SmtpError::NoAuthMechanism
            | SmtpError::Unconfirmed(_)
            | SmtpError::InvalidEnvelope(_) => false,
        }
    }
}
