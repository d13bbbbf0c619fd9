//! The actor that owns one grant's IMAP connection: connect, list folders, sync each
//! (Inbox first), read bodies in the background, poll for changes; reconnect with
//! backoff and jitter after a failure; stop for good when the credentials are refused.

use std::{sync::Arc, time::Duration};

use mailroom_imap::{ImapServer, ImapSession, ImapTls, ListedFolder};
use mailroom_model::{GrantId, TransportSecurity};
use mailroom_net::OutboundPolicy;
use mailroom_store::{FolderListing, FolderRecord, Store};
use rand::Rng;
use tokio::sync::{Notify, watch};

use crate::{
    body_sync::{read_backlog, read_newest},
    engine::SyncSettings,
    error::SyncError,
    folder_sync::{FlagRefresh, sync_folder},
    idle_watch::{Watchers, watch},
};

const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// After a wake-up, how long to let further changes gather before the pass.
const WAKE_COALESCE: Duration = Duration::from_millis(100);
/// Passes between full flag refreshes on servers without CONDSTORE.
const FULL_FLAG_REFRESH_EVERY: u64 = 10;

pub(crate) struct ActorContext {
    pub store: Store,
    pub policy: OutboundPolicy,
    pub settings: SyncSettings,
    pub grant_id: GrantId,
    /// Notified by IDLE watchers and by mailroom's own changes: run a pass now.
    pub wake: Arc<Notify>,
    /// Held while the folder list is read and reconciled.
    pub folder_lock: crate::engine::FolderLock,
}

/// Logs in with the grant's stored settings and credentials.
pub(crate) async fn open_session(
    store: &Store,
    policy: &OutboundPolicy,
    grant_id: &GrantId,
) -> Result<ImapSession, SyncError> {
    let grant = store
        .grant_by_id(grant_id)
        .await?
        .ok_or(SyncError::GrantGone)?;
    let credentials = store.grant_credentials(grant_id).await?;
    let endpoint = grant.settings.imap();
    let server = ImapServer {
        host: endpoint.host,
        port: endpoint.port,
        tls: match endpoint.security {
            TransportSecurity::Ssl => ImapTls::Implicit,
            TransportSecurity::Starttls => ImapTls::StartTls,
            TransportSecurity::None => ImapTls::Plain,
        },
        username: endpoint.username,
    };
    Ok(ImapSession::connect(policy, server, &credentials.imap_password).await?)
}

pub(crate) async fn run(context: ActorContext, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let result = tokio::select! {
            result = session_loop(&context, &mut backoff) => result,
            _ = stop.changed() => return,
        };
        let store = &context.store;
        let grant_id = &context.grant_id;
        match result {
            Ok(()) | Err(SyncError::GrantGone) => return,
            Err(e) if e.is_authentication() => {
                tracing::warn!(%grant_id, error = %e, "credentials refused; the grant needs re-authentication");
                let _ = store.expire_grant(grant_id).await;
                let _ = store
                    .set_sync_status(grant_id, "invalid", 0, 0, 0, Some(&e.to_string()))
                    .await;
                return;
            }
            Err(e) => {
                tracing::warn!(%grant_id, error = %e, retry_in = ?backoff, "sync interrupted");
                let _ = store
                    .set_sync_status(grant_id, "retrying", 0, 0, 0, Some(&e.to_string()))
                    .await;
                let jitter = rand::thread_rng().gen_range(0..=backoff.as_millis() as u64 / 2);
                let wait = backoff + Duration::from_millis(jitter);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn session_loop(context: &ActorContext, backoff: &mut Duration) -> Result<(), SyncError> {
    let store = &context.store;
    let grant_id = &context.grant_id;
    store
        .set_sync_status(grant_id, "connecting", 0, 0, 0, None)
        .await?;
    let mut session = open_session(store, &context.policy, grant_id).await?;
    session.ignore_capabilities(&context.settings.ignore_capabilities);
    let qresync = session.enable_qresync().await?;
    tracing::info!(%grant_id, qresync, "IMAP session open");
    *backoff = Duration::from_secs(1);
    let mut first_pass = true;
    let mut passes: u64 = 0;
    let wake = context.wake.clone();
    let mut watchers: Option<Watchers> = None;
    loop {
        let pass_started_ms = mailroom_model::time::unix_millis();
        let (listed, folders) = {
            let _folders_held = context.folder_lock.lock().await;
            let listed = session.list_folders().await?;
            let folders = store
                .reconcile_folders(grant_id, &listings(&listed))
                .await?;
            (listed, folders)
        };
        let order = sync_order(&folders);
        let selectable: Vec<&FolderRecord> = order
            .into_iter()
            .filter(|f| {
                listed
                    .iter()
                    .any(|l| l.imap_name == f.imap_name && l.is_selectable())
            })
            .collect();
        let folders_total = selectable.len() as i64;
        let mut messages_total: i64 = folders.iter().map(|f| f.server_total).sum();
        if watchers.is_none() {
            let watched: Vec<String> = selectable
                .iter()
                .filter(|f| {
                    f.imap_name.eq_ignore_ascii_case("INBOX")
                        || f.attributes.iter().any(|a| a == "\\Sent")
                })
                .map(|f| f.imap_name.clone())
                .collect();
            watchers = Some(watch(
                store,
                &context.policy,
                grant_id,
                watched,
                wake.clone(),
            ));
        }
        // Without CONDSTORE, flags are re-read in full now and then, else for the newest.
        let flag_refresh = if passes.is_multiple_of(FULL_FLAG_REFRESH_EVERY) {
            FlagRefresh::Full
        } else {
            FlagRefresh::Window
        };
        passes += 1;
        for (done, folder) in selectable.iter().enumerate() {
            // Folder-by-folder progress is news only during the initial sync.
            if first_pass {
                store
                    .set_sync_status(
                        grant_id,
                        "initial_sync",
                        folders_total,
                        done as i64,
                        messages_total,
                        None,
                    )
                    .await?;
            }
            let pass = sync_folder(
                &mut session,
                store,
                grant_id,
                folder,
                flag_refresh,
                &context.settings,
            )
            .await?;
            messages_total += pass.server_total as i64 - folder.server_total;
            // The newest Inbox mail gets its snippets before other folders are read.
            if done == 0 && pass.new_messages > 0 {
                read_newest(&mut session, store, grant_id, &context.settings).await?;
            }
        }
        store
            .set_sync_status(
                grant_id,
                "running",
                folders_total,
                folders_total,
                messages_total,
                None,
            )
            .await?;
        first_pass = false;
        // Every folder has been read since these were noticed: what is still nowhere
        // was deleted, not moved.
        store.settle_deletions(grant_id, pass_started_ms).await?;
        store.recount_sync_progress(grant_id).await?;
        if let Err(e) = store.derive_contacts(grant_id).await {
            tracing::warn!(%grant_id, error = %e, "deriving contacts failed");
        }

        read_backlog(&mut session, context, &wake).await?;
        store.recount_sync_progress(grant_id).await?;
        // Until the next poll, or until IDLE reports a change in Inbox or Sent.
        tokio::select! {
            _ = tokio::time::sleep(context.settings.poll_interval) => {}
            // A burst (a run of sends filing copies in Sent) makes one pass, not one each.
            _ = wake.notified() => tokio::time::sleep(WAKE_COALESCE).await,
        }
    }
}

/// Inbox first, then Sent, then the rest by name.
fn sync_order(folders: &[FolderRecord]) -> Vec<&FolderRecord> {
    let rank = |f: &FolderRecord| {
        if f.imap_name.eq_ignore_ascii_case("INBOX") {
            0
        } else if f.attributes.iter().any(|a| a == "\\Sent") {
            1
        } else {
            2
        }
    };
    let mut ordered: Vec<&FolderRecord> = folders.iter().collect();
    ordered.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| a.imap_name.cmp(&b.imap_name))
    });
    ordered
}

pub(crate) fn listings(listed: &[ListedFolder]) -> Vec<FolderListing> {
    listed
        .iter()
        .map(|f| FolderListing {
            imap_name: f.imap_name.clone(),
            name: if f.imap_name.eq_ignore_ascii_case("INBOX") {
                "INBOX".to_owned()
            } else {
                f.leaf_name().to_owned()
            },
            parent_imap_name: f.parent_name().map(str::to_owned),
            delimiter: f.delimiter.clone(),
            attributes: f.attributes.clone(),
        })
        .collect()
}
