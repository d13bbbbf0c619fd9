//! Sends whose time has come (`send_at`). One task per mailroom process wakes when the
//! next one is due (or when a new one is scheduled, or a send ends) and hands due sends
//! to a bounded pool of workers: at most one send per grant and `per_application` per
//! application at once, so one application's slow or silent SMTP servers leave the
//! other workers to everyone else. Each send is claimed first, so no other process sends
//! it too; its lease is renewed while the submission runs, and the submission itself is
//! bounded by `send_timeout`.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use mailroom_model::{GrantId, time::unix_now};
use mailroom_store::{DueSend, Store};
use tokio::sync::{Notify, Semaphore};

use crate::{engine::SyncEngine, error::SyncError, sending::Submission};

/// The longest sleep between looks at the table (other processes may add sends).
const MAX_WAIT: Duration = Duration::from_secs(30);
/// How long to wait before looking again when due sends wait for a busy grant or
/// application (a send of another process may end meanwhile).
const BUSY_WAIT: Duration = Duration::from_secs(1);
const DUE_PER_ROUND: i64 = 100;
/// A claim's lease, renewed every third of it while the submission runs; a send still
/// `sending` past it was cut off (see [`Store::fail_interrupted_sends`]).
const LEASE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct ScheduledSendSettings {
    /// Sends submitted at once by this process.
    pub workers: usize,
    /// Sends of one application submitted at once by this process.
    pub per_application: usize,
    /// The longest one submission (SMTP and filing the copy in Sent) may take; past it
    /// the send is failed as "may or may not have been sent".
    pub send_timeout: Duration,
    /// Tries of a send refused for now (a 4xx reply, a server out of reach) before it
    /// is failed; the first try counts.
    pub attempts: u32,
    /// The wait before the second try; each later wait is three times the one before,
    /// up to six hours. With the defaults (10 tries, 60 s) the last try comes
    /// about a day after the first.
    pub first_retry: Duration,
}

/// The longest wait between two tries of a send.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(6 * 3600);

impl Default for ScheduledSendSettings {
    fn default() -> Self {
        Self {
            workers: 16,
            per_application: 4,
            send_timeout: Duration::from_secs(600),
            attempts: 10,
            first_retry: Duration::from_secs(60),
        }
    }
}

/// Runs forever; `scheduled` is notified when a send is added or cancelled.
pub async fn run_scheduled_sends(
    engine: SyncEngine,
    scheduled: Arc<Notify>,
    settings: ScheduledSendSettings,
) {
    let pool = Pool {
        workers: Arc::new(Semaphore::new(settings.workers.max(1))),
        busy: Arc::default(),
        ended: Arc::new(Notify::new()),
        settings,
    };
    loop {
        if let Err(e) = pool.start_due(&engine).await {
            tracing::warn!(error = %e, "scheduled sends: could not read the schedule");
        }
        let wait = match engine.store().next_scheduled_send_at().await {
            Ok(Some(at)) => Duration::from_secs(u64::try_from(at - unix_now()).unwrap_or(0))
                .min(MAX_WAIT)
                // Still due: waiting for a worker, a grant or an application to be free.
                .max(if at <= unix_now() {
                    BUSY_WAIT
                } else {
                    Duration::ZERO
                }),
            _ => MAX_WAIT,
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = scheduled.notified() => {}
            _ = pool.ended.notified() => {}
        }
    }
}

#[derive(Default)]
struct Busy {
    grants: HashSet<GrantId>,
    applications: HashMap<String, usize>,
}

struct Pool {
    workers: Arc<Semaphore>,
    busy: Arc<Mutex<Busy>>,
    /// Notified whenever a send ends.
    ended: Arc<Notify>,
    settings: ScheduledSendSettings,
}

impl Pool {
    async fn start_due(&self, engine: &SyncEngine) -> Result<(), crate::SyncError> {
        let store = engine.store();
        let failed = store.fail_interrupted_sends(unix_now()).await?;
        if failed > 0 {
            tracing::warn!(
                failed,
                "scheduled sends interrupted by a stop were marked failed"
            );
        }
        if self.workers.available_permits() == 0 {
            return Ok(());
        }
        let busy_grants: Vec<GrantId> = self.lock().grants.iter().cloned().collect();
        for due in store
            .due_scheduled_sends(unix_now(), DUE_PER_ROUND, &busy_grants)
            .await?
        {
            let Ok(worker) = self.workers.clone().try_acquire_owned() else {
                break;
            };
            let Some(taken) = self.take(&due) else {
                continue;
            };
            let lease = i64::try_from(LEASE.as_secs()).unwrap_or(i64::MAX);
            let Some(claim) = store.claim_scheduled_send(&due.id, lease).await? else {
                continue;
            };
            let engine = engine.clone();
            let settings = self.settings.clone();
            let ended = self.ended.clone();
            tokio::spawn(async move {
                send_one(&engine, &due, &claim, &settings).await;
                drop((worker, taken));
                ended.notify_one();
            });
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Busy> {
        self.busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks the send's grant and application busy, unless the grant has a send under
    /// way or the application as many as it may.
    fn take(&self, due: &DueSend) -> Option<Taken> {
        let mut busy = self.lock();
        let count = busy
            .applications
            .get(&due.application_id)
            .copied()
            .unwrap_or(0);
        if busy.grants.contains(&due.grant_id) || count >= self.settings.per_application.max(1) {
            return None;
        }
        busy.grants.insert(due.grant_id.clone());
        busy.applications
            .insert(due.application_id.clone(), count + 1);
        Some(Taken {
            busy: self.busy.clone(),
            grant_id: due.grant_id.clone(),
            application_id: due.application_id.clone(),
        })
    }
}

/// A grant and application marked busy until dropped.
struct Taken {
    busy: Arc<Mutex<Busy>>,
    grant_id: GrantId,
    application_id: String,
}

impl Drop for Taken {
    fn drop(&mut self) {
        let mut busy = self
            .busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        busy.grants.remove(&self.grant_id);
        if let Some(count) = busy.applications.get_mut(&self.application_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                busy.applications.remove(&self.application_id);
            }
        }
    }
}

/// How one try of a send ended.
enum Attempt {
    /// Sent; the id of the copy filed in Sent, if there is one.
    Sent(Option<String>),
    /// Refused for now: to be tried again at `due_at`.
    Retry { error: String, due_at: i64 },
    /// Given up on.
    Failed(String),
}

/// Submits one claimed send, renewing its lease meanwhile, and records how it ended.
async fn send_one(
    engine: &SyncEngine,
    due: &DueSend,
    claim: &str,
    settings: &ScheduledSendSettings,
) {
    let store = engine.store();
    let attempt = match store.scheduled_send(&due.grant_id, &due.id).await {
        Ok(Some(send)) => {
            let submission = Submission {
                message: send.raw_mime,
                envelope_from: send.envelope_from,
                recipients: send.recipients,
            };
            let sending = tokio::time::timeout(
                settings.send_timeout,
                engine.send_message(&due.grant_id, &submission, None),
            );
            tokio::select! {
                sent = sending => match sent {
                    Ok(Ok(sent)) => Attempt::Sent(sent.message_id),
                    Ok(Err(e)) => after_failure(&e, send.attempts, settings),
                    Err(_) => Attempt::Failed(format!(
                        "the submission did not finish within {} s; it may or may not have been sent",
                        settings.send_timeout.as_secs()
                    )),
                },
                never = keep_lease(store, &due.id, claim) => match never {},
            }
        }
        Ok(None) => return,
        Err(e) => Attempt::Failed(format!("the scheduled message could not be read: {e}")),
    };
    let recorded = match &attempt {
        Attempt::Sent(message_id) => {
            store
                .finish_scheduled_send(&due.id, claim, Ok(message_id.as_deref()))
                .await
        }
        Attempt::Retry { error, due_at } => {
            tracing::info!(grant_id = %due.grant_id, schedule_id = %due.id, %error, retry_at = due_at, "scheduled send refused for now; it will be tried again");
            store
                .retry_scheduled_send(&due.id, claim, error, *due_at)
                .await
        }
        Attempt::Failed(reason) => {
            tracing::warn!(grant_id = %due.grant_id, schedule_id = %due.id, error = %reason, "scheduled send failed");
            store
                .finish_scheduled_send(&due.id, claim, Err(reason))
                .await
        }
    };
    match recorded {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            schedule_id = %due.id,
            "a scheduled send ended after its claim was lost; its state was left as recorded"
        ),
        Err(e) => {
            tracing::warn!(schedule_id = %due.id, error = %e, "could not record how a scheduled send ended")
        }
    }
}

/// What follows a failed try (`attempts` begun so far): another try later when the
/// failure is temporary and tries are left, else the end.
fn after_failure(error: &SyncError, attempts: i64, settings: &ScheduledSendSettings) -> Attempt {
    let made = u32::try_from(attempts.max(1)).unwrap_or(u32::MAX);
    if !error.is_temporary_send_failure() {
        return Attempt::Failed(error.to_string());
    }
    if made >= settings.attempts {
        return Attempt::Failed(format!("gave up after {made} tries; the last one: {error}"));
    }
    let wait = retry_wait(settings.first_retry, made);
    Attempt::Retry {
        error: error.to_string(),
        due_at: unix_now().saturating_add(i64::try_from(wait.as_secs()).unwrap_or(i64::MAX)),
    }
}

/// The wait after the `made`-th try: `first`, then three times the wait before, at most
/// [`MAX_RETRY_WAIT`].
fn retry_wait(first: Duration, made: u32) -> Duration {
    let factor = 3u32.saturating_pow(made.saturating_sub(1));
    first.saturating_mul(factor).min(MAX_RETRY_WAIT)
}

/// Renews the claim's lease every third of it, for as long as it is polled.
async fn keep_lease(store: &Store, id: &str, claim: &str) -> std::convert::Infallible {
    let lease = i64::try_from(LEASE.as_secs()).unwrap_or(i64::MAX);
    let mut warned = false;
    loop {
        tokio::time::sleep(LEASE / 3).await;
        match store.renew_scheduled_send(id, claim, lease).await {
            Ok(true) => {}
            Ok(false) if !warned => {
                warned = true;
                tracing::warn!(schedule_id = %id, "a scheduled send under way lost its claim");
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(schedule_id = %id, error = %e, "could not renew a scheduled send's lease")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_threefold_to_a_cap_and_ten_tries_span_about_a_day() {
        let first = Duration::from_secs(60);
        assert_eq!(retry_wait(first, 1), Duration::from_secs(60));
        assert_eq!(retry_wait(first, 2), Duration::from_secs(180));
        assert_eq!(retry_wait(first, 3), Duration::from_secs(540));
        assert_eq!(retry_wait(first, 9), MAX_RETRY_WAIT);
        assert_eq!(retry_wait(first, 60), MAX_RETRY_WAIT, "no overflow");
        let defaults = ScheduledSendSettings::default();
        let span: Duration = (1..defaults.attempts)
            .map(|made| retry_wait(defaults.first_retry, made))
            .sum();
        assert!(
            span > Duration::from_secs(20 * 3600) && span < Duration::from_secs(28 * 3600),
            "{span:?}"
        );
    }

    #[test]
    fn only_temporary_failures_are_tried_again_and_only_while_tries_are_left() {
        let settings = ScheduledSendSettings::default();
        let greylisted = SyncError::Smtp(mailroom_smtp::SmtpError::Refused {
            code: "451".into(),
            text: "4.7.1 try again later".into(),
            permanent: false,
            recipient: Some("a@example.test".into()),
        });
        assert!(matches!(
            after_failure(&greylisted, 1, &settings),
            Attempt::Retry { .. }
        ));
        match after_failure(&greylisted, 10, &settings) {
            Attempt::Failed(reason) => {
                assert!(reason.contains("gave up after 10 tries"), "{reason}")
            }
            _ => panic!("the tenth try is the last"),
        }
        let refused = SyncError::Smtp(mailroom_smtp::SmtpError::Refused {
            code: "550".into(),
            text: "5.1.1 no such user".into(),
            permanent: true,
            recipient: None,
        });
        assert!(matches!(
            after_failure(&refused, 1, &settings),
            Attempt::Failed(_)
        ));
        let unconfirmed = SyncError::Smtp(mailroom_smtp::SmtpError::Unconfirmed(
            "connection reset after the data".into(),
        ));
        assert!(
            matches!(
                after_failure(&unconfirmed, 1, &settings),
                Attempt::Failed(_)
            ),
            "a message that may have gone out is never sent again"
        );
    }
}
