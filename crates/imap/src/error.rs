use mailroom_net::NetError;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("the IMAP server refused the login: {0}")]
    AuthenticationFailed(String),
    #[error("the IMAP server does not offer STARTTLS")]
    StartTlsUnavailable,
    #[error("the IMAP server closed the connection")]
    Closed,
    #[error("the IMAP server said goodbye: {0}")]
    Bye(String),
    #[error("IMAP protocol error: {0}")]
    Protocol(String),
    /// A change the server declined (a tagged NO), in its own words: the mailbox exists
    /// already, is not empty, is over quota…
    #[error("the IMAP server refused: {0}")]
    Refused(String),
    /// The server sent more than mailroom reads for one command (responses, bytes).
    #[error("the IMAP server sent too much: {0}")]
    TooMuch(String),
    /// Search criteria mailroom will not pass on (literals, line breaks).
    #[error("{0}")]
    InvalidSearch(String),
    /// The server stayed silent past the deadline.
    #[error("{0}")]
    Timeout(String),
}

impl ImapError {
    pub fn is_authentication(&self) -> bool {
        matches!(self, ImapError::AuthenticationFailed(_))
    }

    pub fn is_unreachable(&self) -> bool {
        match self {
            ImapError::Net(e) => e.is_unreachable(),
            ImapError::Closed | ImapError::Timeout(_) => true,
            _ => false,
        }
    }
}

impl From<async_imap::error::Error> for ImapError {
    fn from(e: async_imap::error::Error) -> Self {
        use async_imap::error::Error;
        match e {
            Error::No(message) => ImapError::Protocol(format!("NO {}", server_text(&message))),
            Error::Bad(message) => ImapError::Protocol(format!("BAD {message}")),
            Error::ConnectionLost => ImapError::Closed,
            Error::Io(io) => ImapError::from(io),
            other => ImapError::Protocol(other.to_string()),
        }
    }
}

impl From<std::io::Error> for ImapError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::TimedOut {
            ImapError::Timeout(e.to_string())
        } else {
            ImapError::Protocol(format!("I/O: {e}"))
        }
    }
}

/// The server's own words from an async-imap NO error, which async-imap renders as
/// `code: …, info: Some("…")` (its Debug formatting).
pub(crate) fn server_text(message: &str) -> String {
    let Some(start) = message.find("info: Some(\"") else {
        return message.to_owned();
    };
    let quoted = &message[start + "info: Some(\"".len()..];
    let Some(end) = quoted.rfind("\")") else {
        return message.to_owned();
    };
    quoted[..end].replace("\\\"", "\"").replace("\\\\", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_is_taken_from_debug_formatting() {
        let raw = r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication \"failed\".")"#;
        assert_eq!(
            server_text(raw),
            r#"[AUTHENTICATIONFAILED] Authentication "failed"."#
        );
        assert_eq!(server_text("plain words"), "plain words");
    }
}
