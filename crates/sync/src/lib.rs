//! The sync engine: one actor per valid grant this node owns keeps that grant's folders
//! and messages in the store in step with its IMAP server. Initial sync runs newest
//! first, folder by folder (Inbox first); between passes the actor idles on Inbox (IDLE,
//! and NOTIFY where offered) and compares every folder's STATUS with the index now and
//! then. Bodies are read in the background, newest first, and on demand. The changes the
//! API asks for are made on the mail server first and recorded in the store after
//! (ARCHITECTURE.md, "crates/sync").
//!
//! Read top-down; no module uses one above it:
//! - `ownership`: which grants this node syncs (leases shared by the nodes of a cluster);
//! - `engine`: starts and stops the actors, and carries the API's changes
//!   (`mail_changes`, `folder_changes`, `mail_append`, `sending`, `scheduled_sender`,
//!   over `write_session`);
//! - `grant_actor`: one grant's passes, idling between them;
//! - `folder_sync`, `body_sync`, `idle_watch`: a folder's messages, the body backlog,
//!   watchers on Inbox; `body_fetch`: bodies read for them and for the API;
//! - `gmail`: how a Gmail mailbox is indexed (identity, threads, All Mail, Sent);
//! - `connection`: logging in with the grant's settings, and shared IMAP syntax;
//! - `grant_login`: the grant's passwords or a fresh OAuth access token;
//! - `sync_metrics`: the series all of these count into.
//!
//! Beside them: `actor_context` (what an actor shares with its work), `folder_check`
//! (which folders a pass reads), `message_summary` (a fetched message as the index keeps
//! it), `idle_pool` (sessions kept for the next change), `settings` and `sync_scope` (what
//! to sync, and since when), `error`.

mod actor_context;
mod body_fetch;
mod body_sync;
mod connection;
mod engine;
mod error;
mod folder_changes;
mod folder_check;
mod folder_sync;
mod gmail;
mod grant_actor;
mod grant_login;
mod idle_pool;
mod idle_watch;
mod mail_append;
mod mail_changes;
mod message_summary;
mod ownership;
mod scheduled_sender;
mod sending;
mod settings;
mod sync_metrics;
mod sync_scope;
mod uid_guard;
mod write_session;

pub use body_fetch::{
    ON_DEMAND_SESSIONS_PER_GRANT, attachment_id, fetch_message_bodies, fetch_message_body,
    load_message_bodies, search_native,
};
pub use engine::SyncEngine;
pub use error::SyncError;
pub use folder_changes::protected_role;
pub use mail_append::AppendTarget;
pub use mail_changes::MessageChange;
pub use ownership::{NodeIdentity, Ownership};
pub use scheduled_sender::{ScheduledSendSettings, run_scheduled_sends};
pub use sending::{SentMessage, Submission};
pub use settings::SyncSettings;
pub use sync_metrics::{describe_sync_metrics, observe_grant_states};
pub use sync_scope::{BodySync, SyncSince};
