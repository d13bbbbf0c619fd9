//! The gauge of IMAP sessions open in this process (README.md, "Monitoring"): each
//! [`ImapSession`](crate::ImapSession) holds an [`OpenSession`], which counts it from
//! login until the session is dropped, however it ends.

const OPEN_SESSIONS: &str = "mailroom_imap_connections_open";

/// Gives the gauge its help text; once, after the recorder is installed.
pub fn describe_imap_metrics() {
    metrics::describe_gauge!(
        OPEN_SESSIONS,
        "Logged-in IMAP connections open (sync, body reads, the API's changes, sign-in checks)"
    );
    metrics::gauge!(OPEN_SESSIONS).increment(0.0);
}

/// One open session, counted while it lives.
#[derive(Debug)]
pub(crate) struct OpenSession(());

impl OpenSession {
    pub(crate) fn count() -> Self {
        metrics::gauge!(OPEN_SESSIONS).increment(1.0);
        OpenSession(())
    }
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        metrics::gauge!(OPEN_SESSIONS).decrement(1.0);
    }
}
