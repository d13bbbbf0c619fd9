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
    #[error("SMTP error: {0}")]
    Protocol(String),
}

impl SmtpError {
    pub fn is_authentication(&self) -> bool {
        matches!(self, SmtpError::AuthenticationFailed(_))
    }

    pub fn is_unreachable(&self) -> bool {
        matches!(self, SmtpError::Net(e) if e.is_unreachable())
    }
}
