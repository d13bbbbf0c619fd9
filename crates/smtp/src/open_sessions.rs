//! The gauge of SMTP connections open in this process (README.md, "Monitoring"):
//! whatever holds a logged-in connection holds an [`OpenConnection`] beside it, which
//! counts it until both are dropped.

const OPEN_CONNECTIONS: &str = "mailroom_smtp_connections_open";

/// Gives the gauge its help text; once, after the recorder is installed.
pub fn describe_smtp_metrics() {
    metrics::describe_gauge!(
        OPEN_CONNECTIONS,
        "Logged-in SMTP submission connections open (sends, scheduled sends, sign-in checks)"
    );
    metrics::gauge!(OPEN_CONNECTIONS).increment(0.0);
}

/// One open connection, counted while it lives.
#[derive(Debug)]
pub(crate) struct OpenConnection(());

impl OpenConnection {
    pub(crate) fn count() -> Self {
        metrics::gauge!(OPEN_CONNECTIONS).increment(1.0);
        OpenConnection(())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!(OPEN_CONNECTIONS).decrement(1.0);
    }
}
