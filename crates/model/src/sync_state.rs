//! Where a grant's sync stands, as the grant object's `sync_state` (docs/API.md §4),
//! `mailroom grants status`, the dashboard and the metrics show it.

/// A grant's sync state; a grant whose sync has not begun has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncState {
    /// Logging in to the mail server.
    Connecting,
    /// Reading the mailbox for the first time.
    InitialSync,
    /// Indexed, and following changes.
    Running,
    /// Interrupted (the server went away, say); the next attempt is under way.
    Retrying,
    /// The server refused the grant's credentials; its user must sign in again.
    Invalid,
}

impl SyncState {
    pub const ALL: [SyncState; 5] = [
        SyncState::Connecting,
        SyncState::InitialSync,
        SyncState::Running,
        SyncState::Retrying,
        SyncState::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Connecting => "connecting",
            SyncState::InitialSync => "initial_sync",
            SyncState::Running => "running",
            SyncState::Retrying => "retrying",
            SyncState::Invalid => "invalid",
        }
    }

    /// The state [`SyncState::as_str`] names; `None` for any other text.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_name() {
        for state in SyncState::ALL {
            assert_eq!(SyncState::parse(state.as_str()), Some(state));
        }
        assert_eq!(SyncState::parse("stopped"), None);
    }
}
