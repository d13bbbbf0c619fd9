//! The IMAP crate's one error type: the network, a refused login, a server that closed,
//! refused, sent too much or stayed silent. The caller decides what each means.

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
            return ImapError::Timeout(e.to_string());
        }
        let text = e.to_string();
        match unparsable_response(&text) {
            Some(start) => ImapError::Protocol(format!(
                "the server sent a response that cannot be parsed: {start}"
            )),
            None => ImapError::Protocol(format!("I/O: {text}")),
        }
    }
}

/// The most of an unparsable response an error quotes.
const QUOTED_RESPONSE_CHARS: usize = 200;

/// The start of the response async-imap could not parse, from its error text
/// (`<parser state> during parsing of "<everything buffered>"`), which can be megabytes
/// long: the parser's state lists every byte as a number.
fn unparsable_response(text: &str) -> Option<String> {
    const MARK: &str = " during parsing of ";
    let buffered = &text[text.find(MARK)? + MARK.len()..];
    let mut start: String = buffered.chars().take(QUOTED_RESPONSE_CHARS).collect();
    if buffered.chars().nth(QUOTED_RESPONSE_CHARS).is_some() {
        start.push('…');
    }
    Some(start)
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
    fn an_unparsable_response_is_quoted_briefly() {
        let buffered = format!("\"* 1 FETCH (UID 1 X-GM-MSGID abc){}\"", "x".repeat(10_000));
        let parser_state = format!("Error(Error {{ input: [{}] }})", "42, ".repeat(10_000));
        let io = std::io::Error::other(format!("{parser_state} during parsing of {buffered}"));
        let text = ImapError::from(io).to_string();
        assert!(
            text.starts_with(
                "IMAP protocol error: the server sent a response that cannot be parsed: \
                 \"* 1 FETCH (UID 1 X-GM-MSGID abc)"
            ),
            "{text}"
        );
        assert!(text.chars().count() < 400, "{}", text.len());
        let other = ImapError::from(std::io::Error::other("connection reset")).to_string();
        assert_eq!(other, "IMAP protocol error: I/O: connection reset");
    }

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
