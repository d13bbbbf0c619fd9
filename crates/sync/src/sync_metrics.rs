//! The sync engine's series (README.md, "Monitoring"): what every grant's sync does,
//! added up over all grants (no grant is named in a label), and the grants in each sync
//! state, read from the store when the metrics are scraped.

use std::time::Duration;

use mailroom_imap::ImapError;
use mailroom_model::SyncState;
use mailroom_store::{Store, StoreError};

use crate::error::SyncError;

const MESSAGES_INDEXED: &str = "mailroom_sync_messages_indexed_total";
const BODIES_READ: &str = "mailroom_sync_bodies_read_total";
const PASSES: &str = "mailroom_sync_passes_total";
const PASS_DURATION: &str = "mailroom_sync_pass_duration_seconds";
const IMAP_ERRORS: &str = "mailroom_sync_imap_errors_total";
const GRANTS: &str = "mailroom_grants";

/// Grants whose sync has not begun, beside the [`SyncState`]s: each is reported, at
/// zero when no grant is in it, so that a state emptied since the last scrape does not
/// keep its count.
const NOT_STARTED: &str = "not_started";

/// Gives each series its help text; once, after the recorder is installed.
pub fn describe_sync_metrics() {
    metrics::describe_counter!(
        MESSAGES_INDEXED,
        "Messages added to the index by sync, all grants together"
    );
    metrics::describe_counter!(
        BODIES_READ,
        "Message bodies read from mail servers and stored, in the background and on demand"
    );
    metrics::describe_counter!(
        PASSES,
        "Sync passes over a grant's folders, by kind (full: every folder; changed: those whose STATUS moved)"
    );
    metrics::describe_histogram!(
        PASS_DURATION,
        metrics::Unit::Seconds,
        "How long one sync pass took, its body backlog included"
    );
    metrics::describe_counter!(
        IMAP_ERRORS,
        "Sync sessions interrupted by a mail server, by kind of error"
    );
    metrics::describe_gauge!(GRANTS, "Grants by sync state");
    // Shown at zero from the start rather than missing until the first message.
    metrics::counter!(MESSAGES_INDEXED).increment(0);
    metrics::counter!(BODIES_READ).increment(0);
}

pub(crate) fn messages_indexed(count: usize) {
    metrics::counter!(MESSAGES_INDEXED).increment(count as u64);
}

pub(crate) fn bodies_read(count: usize) {
    metrics::counter!(BODIES_READ).increment(count as u64);
}

pub(crate) fn pass_done(kind: &'static str, took: Duration) {
    metrics::counter!(PASSES, "kind" => kind).increment(1);
    metrics::histogram!(PASS_DURATION, "kind" => kind).record(took.as_secs_f64());
}

/// Counts a session ended by `error`, when the mail server is what went wrong.
pub(crate) fn session_interrupted(error: &SyncError) {
    if let Some(kind) = imap_error_kind(error) {
        metrics::counter!(IMAP_ERRORS, "kind" => kind).increment(1);
    }
}

/// The kind of mail-server trouble behind `error`; `None` for what is not the server's
/// doing (the store, the grant gone, an OAuth provider).
fn imap_error_kind(error: &SyncError) -> Option<&'static str> {
    let SyncError::Imap(imap) = error else {
        return matches!(error, SyncError::TimedOut(_)).then_some("timeout");
    };
    Some(match imap {
        ImapError::Net(mailroom_net::NetError::Tls { .. }) => "tls",
        ImapError::Net(e) if e.is_unreachable() => "unreachable",
        ImapError::Net(_) => "network",
        ImapError::AuthenticationFailed(_) => "authentication",
        ImapError::StartTlsUnavailable => "starttls_unavailable",
        ImapError::Closed => "closed",
        ImapError::Bye(_) => "bye",
        ImapError::Protocol(_) => "protocol",
        ImapError::Refused(_) => "refused",
        ImapError::TooMuch(_) => "too_much",
        ImapError::InvalidSearch(_) => "invalid_search",
        ImapError::Timeout(_) => "timeout",
    })
}

/// Sets the grants-by-state gauge from the store (one GROUP BY).
pub async fn observe_grant_states(store: &Store) -> Result<(), StoreError> {
    let counts = store.grants_by_sync_state().await?;
    let states = std::iter::once(NOT_STARTED).chain(SyncState::ALL.map(SyncState::as_str));
    for state in states {
        if !counts.iter().any(|(s, _)| s == state) {
            metrics::gauge!(GRANTS, "state" => state).set(0.0);
        }
    }
    for (state, grants) in counts {
        metrics::gauge!(GRANTS, "state" => state).set(grants as f64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_mail_server_trouble_counts_as_an_imap_error() {
        assert_eq!(
            imap_error_kind(&SyncError::Imap(ImapError::Closed)),
            Some("closed")
        );
        assert_eq!(
            imap_error_kind(&SyncError::Imap(ImapError::AuthenticationFailed(
                "no".into()
            ))),
            Some("authentication")
        );
        assert_eq!(imap_error_kind(&SyncError::TimedOut(3)), Some("timeout"));
        assert_eq!(imap_error_kind(&SyncError::GrantGone), None);
        assert_eq!(imap_error_kind(&SyncError::Token("down".into())), None);
    }
}
