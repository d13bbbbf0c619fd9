//! The scheduled-send gauge (README.md, "Monitoring"), read from the store when the
//! metrics are scraped.

use mailroom_store::{Store, StoreError};

const PENDING: &str = "mailroom_scheduled_sends_pending";

/// Gives the gauge its help text; once, after the recorder is installed.
pub fn describe_schedule_metrics() {
    metrics::describe_gauge!(
        PENDING,
        "Scheduled sends waiting for their time or being sent"
    );
}

pub async fn observe_scheduled_sends(store: &Store) -> Result<(), StoreError> {
    let pending = store.scheduled_sends_pending().await?;
    metrics::gauge!(PENDING).set(pending as f64);
    Ok(())
}
