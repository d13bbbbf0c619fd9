//! Sends whose time has come (`send_at`): one task per mailroom process wakes when the
//! next one is due (or when a new one is scheduled), claims each due send so that no
//! other process sends it too, sends it, and records how it went.

use std::{sync::Arc, time::Duration};

use mailroom_model::time::unix_now;
use tokio::sync::Notify;

use crate::{engine::SyncEngine, sending::Submission};

/// The longest sleep between looks at the table (other processes may add sends).
const MAX_WAIT: Duration = Duration::from_secs(30);
/// A send claimed longer ago than this by a process that never finished it was cut off.
const INTERRUPTED_AFTER_SECS: i64 = 600;
const DUE_PER_ROUND: i64 = 20;

/// Runs forever; `scheduled` is notified when a send is added or cancelled.
pub async fn run_scheduled_sends(engine: SyncEngine, scheduled: Arc<Notify>) {
    loop {
        if let Err(e) = send_due(&engine).await {
            tracing::warn!(error = %e, "scheduled sends: could not read the schedule");
        }
        let wait = match engine.store().next_scheduled_send_at().await {
            Ok(Some(at)) => {
                Duration::from_secs(u64::try_from(at - unix_now()).unwrap_or(0)).min(MAX_WAIT)
            }
            _ => MAX_WAIT,
        };
        if wait.is_zero() {
            // Still due: the last round was full. Yield, then go on.
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = scheduled.notified() => {}
        }
    }
}

async fn send_due(engine: &SyncEngine) -> Result<(), crate::SyncError> {
    let store = engine.store();
    let failed = store
        .fail_interrupted_sends(unix_now() - INTERRUPTED_AFTER_SECS)
        .await?;
    if failed > 0 {
        tracing::warn!(
            failed,
            "scheduled sends interrupted by a stop were marked failed"
        );
    }
    for due in store.due_scheduled_sends(unix_now(), DUE_PER_ROUND).await? {
        if !store.claim_scheduled_send(&due.id).await? {
            continue;
        }
        let submission = Submission {
            message: due.raw_mime,
            envelope_from: due.envelope_from,
            recipients: due.recipients,
        };
        let outcome = engine.send_message(&due.grant_id, &submission, None).await;
        let recorded = match &outcome {
            Ok(sent) => {
                store
                    .finish_scheduled_send(&due.id, Ok(sent.message_id.as_deref()))
                    .await
            }
            Err(e) => {
                tracing::warn!(grant_id = %due.grant_id, schedule_id = %due.id, error = %e, "scheduled send failed");
                store
                    .finish_scheduled_send(&due.id, Err(&e.to_string()))
                    .await
            }
        };
        recorded?;
    }
    Ok(())
}
