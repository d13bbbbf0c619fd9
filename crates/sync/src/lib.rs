//! The sync engine: one actor per valid grant keeps that grant's folders and messages in
//! the store in step with its IMAP server. Initial sync runs newest first, folder by
//! folder (Inbox first); then the actor polls for changes. Bodies are read in the
//! background, newest first, and on demand.
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
