//! What a grant's actor and the work it starts (body reads, watchers) share.

use std::sync::Arc;

use mailroom_model::GrantId;
use mailroom_net::OutboundPolicy;
use mailroom_store::Store;
use tokio::sync::Notify;

use crate::settings::SyncSettings;

/// Per grant: held while the folder list is read and reconciled, and while mailroom
/// renames, creates or deletes a folder, so that a LIST read before a RENAME is never
/// reconciled after it (which would take the renamed folder for a new one).
pub(crate) type FolderLock = Arc<tokio::sync::Mutex<()>>;

pub(crate) struct ActorContext {
    pub store: Store,
    pub policy: OutboundPolicy,
    pub settings: SyncSettings,
    pub grant_id: GrantId,
    /// Notified by mailroom's own changes (and the Inbox watcher while bodies are read):
    /// run a pass now.
    pub wake: Arc<Notify>,
    /// Held while the folder list is read and reconciled.
    pub folder_lock: FolderLock,
}
