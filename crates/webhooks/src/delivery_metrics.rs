//! The webhook series (README.md, "Monitoring"): deliveries by outcome, counted by the
//! worker as it records them, and the outbox's pending deliveries and the age of the
//! oldest, read from the store when the metrics are scraped.

use mailroom_model::time::unix_now;
use mailroom_store::{Store, StoreError};

const DELIVERIES: &str = "mailroom_webhook_deliveries_total";
const PENDING: &str = "mailroom_webhook_deliveries_pending";
const OLDEST_PENDING_AGE: &str = "mailroom_webhook_oldest_pending_age_seconds";

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It failed and will be tried again.
    Retrying,
    /// It failed and the notification is too old to try again: given up.
    Abandoned,
}

impl DeliveryOutcome {
    fn label(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retrying => "retrying",
            DeliveryOutcome::Abandoned => "abandoned",
        }
    }
}

/// Gives each series its help text; once, after the recorder is installed.
pub fn describe_webhook_metrics() {
    metrics::describe_counter!(
        DELIVERIES,
        "Webhook delivery attempts by outcome: delivered, retrying (failed, to be tried again), abandoned (failed, given up)"
    );
    metrics::describe_gauge!(
        PENDING,
        "Webhook deliveries waiting in the outbox, due now or for a retry"
    );
    metrics::describe_gauge!(
        OLDEST_PENDING_AGE,
        metrics::Unit::Seconds,
        "Age of the oldest notification with a delivery pending (0 when none is)"
    );
    // Shown at zero from the start rather than missing until the first delivery.
    for outcome in [
        DeliveryOutcome::Delivered,
        DeliveryOutcome::Retrying,
        DeliveryOutcome::Abandoned,
    ] {
        metrics::counter!(DELIVERIES, "outcome" => outcome.label()).increment(0);
    }
}

pub(crate) fn delivery_recorded(outcome: DeliveryOutcome) {
    metrics::counter!(DELIVERIES, "outcome" => outcome.label()).increment(1);
}

/// Sets the outbox gauges from the store (one aggregate over the pending deliveries).
pub async fn observe_outbox(store: &Store) -> Result<(), StoreError> {
    let figures = store.outbox_figures().await?;
    metrics::gauge!(PENDING).set(figures.pending as f64);
    let age = figures
        .oldest_pending_at
        .map_or(0, |created_at| (unix_now() - created_at).max(0));
    metrics::gauge!(OLDEST_PENDING_AGE).set(age as f64);
    Ok(())
}
