//! How the sync engine runs, as the operator configured it.

use std::time::Duration;

use crate::sync_scope::{BodySync, SyncSince};

#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// How long an actor waits between full passes over its folders (every folder
    /// selected and read, whatever STATUS or NOTIFY said).
    pub poll_interval: Duration,
    /// How often the idling actor compares every folder's STATUS with the index, to read
    /// the folders that changed (with NOTIFY too: it can go silent).
    pub status_poll_interval: Duration,
    /// IMAP connections one grant's sync may hold at once. Idle, an actor holds one; while
    /// it reads a backlog of bodies, a second idles on Inbox so new mail is not kept
    /// waiting (with a budget of 2 or more).
    pub max_connections_per_grant: usize,
    /// Capabilities to act as if the server lacked them.
    pub ignore_capabilities: Vec<String>,
    /// Which bodies are read in the background; the others are read on demand.
    pub sync_bodies: BodySync,
    /// Only mail received on or after this is indexed.
    pub sync_since: Option<SyncSince>,
    /// IMAP connections a grant reads bodies over while it has a backlog (at least one:
    /// the grant's own).
    pub body_connections: usize,
}
