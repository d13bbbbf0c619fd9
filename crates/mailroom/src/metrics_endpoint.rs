//! `GET /metrics` (README.md, "Monitoring"): every crate's series in the Prometheus text
//! exposition format. The crates record through the `metrics` facade; the recorder
//! installed here keeps them, and a scrape first reads the figures kept in the store
//! (grants by sync state, the webhook outbox, scheduled sends), then renders all of it.

use std::time::Duration;

use anyhow::Context;
use axum::{
    Router,
    extract::State,
    http::{StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
    routing::get,
};
use mailroom_store::Store;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Upper bounds of the histograms' buckets, in seconds: from a quick API answer to an
/// hour-long first sync pass of a large mailbox.
const BUCKETS_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// How often histogram samples are folded into their buckets between scrapes, so that
/// nothing grows while nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The media type of the text exposition format, version 0.0.4.
const EXPOSITION_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A scrape waits this long at most for the store's figures; past it the series read
/// from the store keep their last values and the rest is served anyway.
const STORE_FIGURES_TIMEOUT: Duration = Duration::from_secs(5);

/// The recorder every `metrics::…!` call in the process records into.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    store: Store,
}

impl Metrics {
    /// Installs the process's recorder (once: `mailroom serve` calls this at start) and
    /// starts its upkeep.
    pub fn install(store: Store) -> anyhow::Result<Self> {
        let handle = PrometheusBuilder::new()
            .set_buckets(BUCKETS_SECONDS)
            .context("metrics buckets")?
            .install_recorder()
            .context("installing the metrics recorder")?;
        mailroom_api::describe_http_metrics();
        mailroom_api::describe_auth_metrics();
        mailroom_api::describe_schedule_metrics();
        mailroom_sync::describe_sync_metrics();
        mailroom_webhooks::describe_webhook_metrics();
        mailroom_imap::describe_imap_metrics();
        mailroom_smtp::describe_smtp_metrics();
        let upkept = handle.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            loop {
                every.tick().await;
                upkept.run_upkeep();
            }
        });
        Ok(Self { handle, store })
    }

    /// `GET /metrics`, to merge into a router.
    pub fn routes(&self) -> Router {
        Router::new()
            .route("/metrics", get(scrape))
            .with_state(self.clone())
    }

    /// Reads the figures kept in the store into their gauges. A figure that cannot be
    /// read keeps its last value (logged); the scrape goes on.
    async fn observe_store(&self) {
        let store = &self.store;
        let observed = tokio::time::timeout(STORE_FIGURES_TIMEOUT, async {
            let (grants, outbox, scheduled) = tokio::join!(
                mailroom_sync::observe_grant_states(store),
                mailroom_webhooks::observe_outbox(store),
                mailroom_api::observe_scheduled_sends(store),
            );
            grants.and(outbox).and(scheduled)
        })
        .await;
        match observed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "metrics: could not read the store's figures"),
            Err(_) => tracing::warn!("metrics: the store's figures took too long to read"),
        }
    }
}

async fn scrape(State(metrics): State<Metrics>) -> Response {
    metrics.observe_store().await;
    (
        StatusCode::OK,
        [(CONTENT_TYPE, EXPOSITION_TYPE)],
        metrics.handle.render(),
    )
        .into_response()
}
