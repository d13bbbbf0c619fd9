//! The actor that owns one grant's IMAP connection: connect, list folders, sync each
//! (Inbox first), read bodies in the background; between passes idle on Inbox on the
//! same connection and read only the folders whose STATUS moved; reconnect with
//! backoff and jitter after a failure; stop for good when the credentials are refused.

use std::{collections::HashMap, time::Duration};

use mailroom_imap::{IDLE_REARM, IdleOutcome, ImapSession, ListedFolder};
use mailroom_model::SyncState;
use mailroom_store::FolderRecord;
use rand::Rng;
use tokio::{sync::watch, time::Instant};

use crate::{
    actor_context::ActorContext,
    body_sync::{read_backlog, read_newest},
    connection::{listings, open_session},
    error::SyncError,
    folder_check::unchanged,
    folder_sync::{FlagRefresh, sync_folder},
    gmail::counts_toward_total,
    sync_metrics,
};

const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// After a wake-up, how long to let further changes gather before the pass.
const WAKE_COALESCE: Duration = Duration::from_millis(100);
/// Full passes between full flag refreshes on servers without CONDSTORE.
const FULL_FLAG_REFRESH_EVERY: u64 = 10;

pub(crate) async fn run(context: ActorContext, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let result = tokio::select! {
            result = session_loop(&context, &mut backoff) => result,
            _ = stop.changed() => return,
        };
        let store = &context.store;
        let grant_id = &context.grant_id;
        if let Err(e) = &result {
            sync_metrics::session_interrupted(e);
        }
        // The store's futures are boxed, as in `session_loop`: room for them in the
        // task would be held for the grant's whole life.
        match result {
            Ok(()) | Err(SyncError::GrantGone) => return,
            Err(e) if e.is_lease_lost() => {
                tracing::info!(%grant_id, "another node took the grant over; its sync stops here");
                return;
            }
            Err(e) if e.is_authentication() => {
                tracing::warn!(%grant_id, error = %e, "credentials refused; the grant needs re-authentication");
                let _ = Box::pin(store.invalidate_grant(grant_id, &e.to_string())).await;
                return;
            }
            Err(e) => {
                tracing::warn!(%grant_id, error = %e, retry_in = ?backoff, "sync interrupted");
                let _ = Box::pin(store.set_sync_status(
                    grant_id,
                    SyncState::Retrying,
                    0,
                    0,
                    0,
                    Some(&e.to_string()),
                ))
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

/// How the actor hears of changes between full passes (ARCHITECTURE.md, "A sync pass").
/// Either way it leaves IDLE every `status_poll_interval` to compare every folder's STATUS
/// with the index: Dovecot 2.3's NOTIFY goes silent for good once its mailbox list index log
/// rotates (bench/README.md, `change_latency.py`), so NOTIFY alone cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChangeWatch {
    /// NOTIFY (RFC 5465): while the actor idles on Inbox, the server also reports
    /// changes in other folders, which end the wait before the next STATUS round.
    Notify,
    /// IDLE reports Inbox only; other folders wait for the next STATUS round.
    StatusPoll,
}

/// Which folders a pass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PassKind {
    /// Every folder: the first pass, and every `poll_interval` after it.
    Full,
    /// Only those whose STATUS differs from the index.
    Changed,
}

async fn session_loop(context: &ActorContext, backoff: &mut Duration) -> Result<(), SyncError> {
    // The actor's task lives as long as the grant and is as large as the largest state of
    // this loop; connecting and passes are boxed, so an idle grant holds only what its
    // wait needs (bench/idle_grants.py).
    let (mut session, change_watch) = Box::pin(connect(context)).await?;
    tracing::info!(grant_id = %context.grant_id, qresync = session.qresync_enabled(), ?change_watch, "IMAP session open");
    *backoff = Duration::from_secs(1);
    let mut state = ActorState {
        first_pass: true,
        full_passes: 0,
        next_full: Instant::now(),
        listed: None,
        folders: None,
        inbox_selected: false,
        settle_due: false,
        bodies_due: true,
    };
    let mut relist = true;
    loop {
        let changed = Box::pin(pass_and_bodies(&mut session, context, &mut state, relist)).await?;
        // A pass that found changes is followed by one that finds none: it catches
        // what changed while this one ran and settles what this one saw leave. It
        // lists again if the server reported a mailbox created, renamed or deleted
        // while this one ran (NOTIFY, RFC 5465 §5.4).
        if changed > 0 || state.bodies_due {
            relist = session.take_heard_mailbox_names();
            continue;
        }
        let wait = state
            .next_full
            .saturating_duration_since(Instant::now())
            .min(context.settings.status_poll_interval);
        if wait.is_zero() {
            relist = session.take_heard_mailbox_names();
            continue;
        }
        let heard;
        (session, heard) =
            wait_for_change(session, wait, context, &mut state.inbox_selected).await?;
        // Folders may have come or gone unless the wait simply ran out: with NOTIFY the
        // server reports that too (MailboxName), and mailroom's own changes may have.
        relist = session.take_heard_mailbox_names() || heard != IdleOutcome::Quiet;
    }
}

/// Logs in and sets the session up: QRESYNC if offered, NOTIFY if offered with IDLE.
async fn connect(context: &ActorContext) -> Result<(ImapSession, ChangeWatch), SyncError> {
    let store = &context.store;
    store
        .set_sync_status(&context.grant_id, SyncState::Connecting, 0, 0, 0, None)
        .await?;
    let mut session = open_session(store, &context.policy, &context.grant_id).await?;
    session.ignore_capabilities(&context.settings.ignore_capabilities);
    session.enable_qresync().await?;
    let change_watch = if session.has_capability("IDLE") && session.notify_all_mailboxes().await? {
        ChangeWatch::Notify
    } else {
        ChangeWatch::StatusPoll
    };
    Ok((session, change_watch))
}

/// One pass (full when due), what follows it in the index, and the body backlog. Says
/// how many folders' STATUS differed from the index.
async fn pass_and_bodies(
    session: &mut ImapSession,
    context: &ActorContext,
    state: &mut ActorState,
    relist: bool,
) -> Result<usize, SyncError> {
    let store = &context.store;
    let grant_id = &context.grant_id;
    let kind = if state.first_pass || Instant::now() >= state.next_full {
        PassKind::Full
    } else {
        PassKind::Changed
    };
    // Without CONDSTORE, flags are re-read in full now and then, else for the newest.
    let flag_refresh = if state.full_passes.is_multiple_of(FULL_FLAG_REFRESH_EVERY) {
        FlagRefresh::Full
    } else {
        FlagRefresh::Window
    };
    if kind == PassKind::Full {
        state.full_passes += 1;
        state.next_full = Instant::now() + context.settings.poll_interval;
    }
    let pass_started_ms = mailroom_model::time::unix_millis();
    let pass_started = Instant::now();
    let outcome = pass(
        session,
        context,
        state,
        kind,
        relist || kind == PassKind::Full,
        flag_refresh,
    )
    .await?;
    // Every folder has been checked since these were noticed: what is still
    // nowhere was deleted, not moved. Due after a pass that read folders, until a
    // pass has found nothing more to read.
    if state.settle_due || outcome.read_folders || kind == PassKind::Full {
        store.settle_deletions(grant_id, pass_started_ms).await?;
    }
    state.settle_due = outcome.read_folders;
    if outcome.read_folders {
        store.recount_sync_progress(grant_id).await?;
        if let Err(e) = store.derive_contacts(grant_id).await {
            tracing::warn!(%grant_id, error = %e, "deriving contacts failed");
        }
    }
    if state.bodies_due || outcome.read_folders || kind == PassKind::Full {
        let (bodies, finished) = read_backlog(session, context, &context.wake).await?;
        state.bodies_due = !finished;
        if bodies > 0 {
            store.recount_sync_progress(grant_id).await?;
            state.inbox_selected = false;
        }
    }
    if outcome.read_folders {
        state.inbox_selected = false;
    }
    state.first_pass = false;
    sync_metrics::pass_done(kind.label(), pass_started.elapsed());
    Ok(outcome.changed)
}

impl PassKind {
    /// The kind as the pass metrics label it.
    fn label(self) -> &'static str {
        match self {
            PassKind::Full => "full",
            PassKind::Changed => "changed",
        }
    }
}

/// What the actor carries from one pass to the next.
struct ActorState {
    first_pass: bool,
    full_passes: u64,
    next_full: Instant,
    /// The folders of the last LIST, for passes that do not list again.
    listed: Option<Vec<ListedFolder>>,
    /// The index's folders as of the last pass, when that pass read none.
    folders: Option<Vec<FolderRecord>>,
    /// Whether Inbox is the selected mailbox, ready to idle on.
    inbox_selected: bool,
    /// Whether the last pass read folders, so that the next settles deletions.
    settle_due: bool,
    /// Whether bodies are still to read (a backlog was interrupted).
    bodies_due: bool,
}

/// What one pass did.
struct PassOutcome {
    /// Folders whose STATUS differed from the index (all of them on a first pass).
    changed: usize,
    /// Whether any folder was selected and read.
    read_folders: bool,
}

/// Asks each folder's STATUS and reads those that changed (every folder on a full
/// pass). Lists the folders first when `relist`, when nothing was listed yet, or when a
/// folder's STATUS is refused (it may be gone).
async fn pass(
    session: &mut ImapSession,
    context: &ActorContext,
    state: &mut ActorState,
    kind: PassKind,
    relist: bool,
    flag_refresh: FlagRefresh,
) -> Result<PassOutcome, SyncError> {
    let store = &context.store;
    let grant_id = &context.grant_id;
    let mut relist = relist || state.listed.is_none();
    let (folders, statuses, listed) = loop {
        let (listed, folders) = match (state.listed.take(), state.folders.take()) {
            (Some(listed), Some(folders)) if !relist => (listed, folders),
            (Some(listed), None) if !relist => {
                let folders = store.folders(grant_id).await?;
                (listed, folders)
            }
            _ => {
                let _folders_held = context.folder_lock.lock().await;
                let listed = session.list_folders().await?;
                let folders = store
                    .reconcile_folders(grant_id, &listings(&listed))
                    .await?;
                (listed, folders)
            }
        };
        let names: Vec<String> = folders
            .iter()
            .filter(|f| selectable(&listed, f))
            .map(|f| f.imap_name.clone())
            .collect();
        let statuses = if state.first_pass {
            HashMap::new()
        } else {
            session.folder_statuses(&names).await?
        };
        let refused = !state.first_pass && names.iter().any(|n| !statuses.contains_key(n));
        if refused && !relist {
            relist = true;
            continue;
        }
        break (folders, statuses, listed);
    };
    let order = sync_order(&folders);
    let selectable: Vec<&FolderRecord> = order
        .into_iter()
        .filter(|f| selectable(&listed, f))
        .collect();
    let changed: Vec<bool> = selectable
        .iter()
        .map(|f| state.first_pass || !unchanged(f, statuses.get(&f.imap_name)))
        .collect();
    let changed_count = changed.iter().filter(|c| **c).count();
    let to_read: Vec<&FolderRecord> = selectable
        .iter()
        .zip(&changed)
        .filter(|(_, changed)| kind == PassKind::Full || **changed)
        .map(|(f, _)| *f)
        .collect();
    let folders_total = selectable.len() as i64;
    let first_pass = state.first_pass;
    state.listed = Some(listed);
    if to_read.is_empty() {
        // Nothing was read, so the index still holds what these say.
        state.folders = Some(folders);
        return Ok(PassOutcome {
            changed: changed_count,
            read_folders: false,
        });
    }
    tracing::debug!(%grant_id, ?kind, changed = changed_count, read = to_read.len(), "sync pass");
    let has_all_mail = folders
        .iter()
        .any(|f| f.attributes.iter().any(|a| a == "\\All"));
    let gmail = session.gmail();
    let counted = |f: &FolderRecord| counts_toward_total(f, gmail, has_all_mail);
    let mut messages_total: i64 = folders
        .iter()
        .filter(|f| counted(f))
        .map(|f| f.server_total)
        .sum();
    for (done, folder) in to_read.iter().enumerate() {
        // Folder-by-folder progress is news only during the initial sync.
        if first_pass {
            store
                .set_sync_status(
                    grant_id,
                    SyncState::InitialSync,
                    folders_total,
                    done as i64,
                    messages_total,
                    None,
                )
                .await?;
        }
        let pass = sync_folder(
            session,
            store,
            grant_id,
            folder,
            flag_refresh,
            &context.settings,
        )
        .await?;
        if counted(folder) {
            messages_total += pass.server_total as i64 - folder.server_total;
        }
        // The newest Inbox mail gets its snippets before other folders are read.
        if folder.imap_name.eq_ignore_ascii_case("INBOX") && pass.new_messages > 0 {
            read_newest(session, store, grant_id, &context.settings).await?;
        }
    }
    store
        .set_sync_status(
            grant_id,
            SyncState::Running,
            folders_total,
            folders_total,
            messages_total,
            None,
        )
        .await?;
    Ok(PassOutcome {
        changed: changed_count,
        read_folders: true,
    })
}

fn selectable(listed: &[ListedFolder], folder: &FolderRecord) -> bool {
    listed
        .iter()
        .any(|l| l.imap_name == folder.imap_name && l.is_selectable())
}

/// Waits until `wait` has passed, mailroom asks for a pass (`wake`), or the server
/// reports a change: idling on Inbox (RFC 2177), which with NOTIFY also hears of every
/// other folder, on this same connection. Says which of these ended the wait.
async fn wait_for_change(
    mut session: ImapSession,
    wait: Duration,
    context: &ActorContext,
    inbox_selected: &mut bool,
) -> Result<(ImapSession, IdleOutcome), SyncError> {
    let wake = &context.wake;
    if session.has_capability("IDLE") {
        if !*inbox_selected {
            // Boxed: the actor's task is not to carry room for these while it idles.
            let arrived = Box::pin(select_inbox(&mut session, context)).await?;
            *inbox_selected = true;
            if arrived {
                return Ok((session, IdleOutcome::Changed));
            }
        }
        // Boxed, it takes its own size once; inline, the compiler kept room for it
        // twice in this future (bench/idle_grants.py measures what an idle grant holds).
        let (session, outcome) =
            Box::pin(session.idle_until(wait.min(IDLE_REARM), wake.notified())).await?;
        if outcome != IdleOutcome::Quiet {
            // A burst (a run of sends filing copies in Sent) makes one pass, not one each.
            tokio::time::sleep(WAKE_COALESCE).await;
        }
        return Ok((session, outcome));
    }
    let outcome = tokio::select! {
        _ = tokio::time::sleep(wait) => IdleOutcome::Quiet,
        _ = wake.notified() => {
            tokio::time::sleep(WAKE_COALESCE).await;
            IdleOutcome::Interrupted
        }
    };
    Ok((session, outcome))
}

/// Selects Inbox to idle on; says whether mail arrived since the last STATUS (counted
/// by this SELECT, and IDLE would not report it again).
async fn select_inbox(
    session: &mut ImapSession,
    context: &ActorContext,
) -> Result<bool, SyncError> {
    let selected = session.select_folder("INBOX").await?;
    let stored = context.store.folders(&context.grant_id).await?;
    let inbox = stored
        .iter()
        .find(|f| f.imap_name.eq_ignore_ascii_case("INBOX"));
    Ok(inbox.is_some_and(|f| f.uid_next != i64::from(selected.uid_next)))
}

/// Inbox first, then Sent, then the rest by name, and All Mail (`\All`, RFC 6154)
/// last: what it shows again of the other folders is then known when it is read.
fn sync_order(folders: &[FolderRecord]) -> Vec<&FolderRecord> {
    let rank = |f: &FolderRecord| {
        if f.imap_name.eq_ignore_ascii_case("INBOX") {
            0
        } else if f.attributes.iter().any(|a| a == "\\Sent") {
            1
        } else if f.attributes.iter().any(|a| a == "\\All") {
            3
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

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str, attributes: &[&str]) -> FolderRecord {
        FolderRecord {
            id: name.into(),
            grant_id: mailroom_model::GrantId::generate(),
            imap_name: name.into(),
            name: name.into(),
            parent_id: None,
            attributes: attributes.iter().map(|a| a.to_string()).collect(),
            uid_validity: 0,
            uid_next: 0,
            highest_modseq: 0,
            lowest_synced_uid: 0,
            initial_sync_done: false,
            server_total: 0,
        }
    }

    #[test]
    fn inbox_comes_first_and_all_mail_last() {
        let folders = [
            folder("[Gmail]/All Mail", &["\\HasNoChildren", "\\All"]),
            folder("Archive", &[]),
            folder("[Gmail]/Sent Mail", &["\\Sent"]),
            folder("INBOX", &[]),
            folder("Work", &[]),
        ];
        let order: Vec<&str> = sync_order(&folders)
            .iter()
            .map(|f| f.imap_name.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "INBOX",
                "[Gmail]/Sent Mail",
                "Archive",
                "Work",
                "[Gmail]/All Mail"
            ]
        );
    }
}
