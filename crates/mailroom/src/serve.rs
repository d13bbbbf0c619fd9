//! `mailroom serve`: the API server.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use mailroom_api::{AppState, GrantRateLimit, HttpLimits, router};
use mailroom_net::{OutboundPolicy, PolicySettings};
use mailroom_sync::{NodeIdentity, Ownership, SyncEngine, SyncSettings};

use crate::{
    cli::ServeArgs, database, http_server, metrics_endpoint::Metrics,
    notification_objects::NotificationObjects, readiness::Readiness, settings::Settings,
    sync_bridge::SyncBridge, tls_server::ServerTls,
};

pub async fn run(settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    let listen = settings.listen_address(args.listen.as_deref())?;
    let metrics_listen = settings.metrics_listen_address(args.metrics_listen.as_deref())?;
    let tls_files = settings.tls_files(args.tls_cert.as_deref(), args.tls_key.as_deref())?;
    // Checked before anything else starts: a bad certificate is a clear error at once.
    let tls = tls_files.as_ref().map(ServerTls::load).transpose()?;
    let _serve_lock = database::serve_lock(&settings.data_dir)?;
    let _sqlite_lock = database::sqlite_serve_lock(&settings)?;
    let store = database::open_with(&settings, mailroom_store::Migrations::Apply).await?;
    // Before anything records: what is recorded without a recorder is lost.
    let metrics = Metrics::install(store.clone())?;
    let policy = outbound_policy(&settings)?;
    let engine = SyncEngine::new(
        store.clone(),
        policy.clone(),
        SyncSettings {
            poll_interval: settings.sync_poll_interval,
            status_poll_interval: settings.sync_status_poll_interval,
            max_connections_per_grant: settings.max_connections_per_grant,
            ignore_capabilities: settings.sync_ignore_capabilities.clone(),
            sync_bodies: settings.sync_bodies,
            sync_since: settings.sync_since,
            body_connections: settings.sync_body_connections,
        },
    );
    let ownership = Ownership::new(
        engine.clone(),
        NodeIdentity::for_this_process(),
        settings.lease,
    );
    let started = ownership.join().await.context("starting sync")?;
    tracing::info!(grants = started, node = %ownership.node().id, "sync started");
    {
        let ownership_stopped = ownership_stopped(&store, &ownership);
        let ownership = ownership.clone();
        supervise("grant ownership", ownership_stopped, move || {
            ownership.clone().run()
        });
    }
    if store.is_shared() {
        let ownership_stopped = ownership_stopped(&store, &ownership);
        let ownership = ownership.clone();
        supervise("cluster events", ownership_stopped, move || {
            ownership.clone().listen()
        });
    }
    let discovery = mailroom_net::MailDiscovery::new(settings.dns_server)
        .map_err(anyhow::Error::msg)
        .context("mail server discovery")?;
    let deliverer = mailroom_webhooks::Deliverer {
        store: store.clone(),
        policy: policy.clone(),
        renderer: Arc::new(NotificationObjects(engine.clone())),
        settings: mailroom_webhooks::DeliverySettings {
            retry_base: settings.webhook_retry,
            give_up_after: settings.webhook_give_up,
            request_timeout: settings.webhook_timeout,
            concurrency: settings.webhook_concurrency,
            per_application: settings.webhook_concurrency_per_application,
            ..Default::default()
        },
    };
    supervise("webhook delivery", stopped(&store), move || {
        deliverer.clone().run()
    });
    if let Some(mailer) = &settings.notification_mailer {
        // Host and port only: the URL may hold a password.
        tracing::info!(
            host = %mailer.host,
            port = mailer.port,
            "webhook failure notices go through the notification mailer"
        );
    }
    // Beside the deliverer, the emails to a failed webhook's notification addresses;
    // without a mailer it gives up what an earlier configuration left to send.
    let failure_notices = mailroom_webhooks::FailureNotices {
        store: store.clone(),
        policy: notification_policy(&policy)?,
        mailer: settings.notification_mailer.clone(),
        settings: mailroom_webhooks::NoticeSettings::default(),
    };
    supervise("webhook failure notices", stopped(&store), move || {
        failure_notices.clone().run()
    });
    let scheduled = Arc::new(tokio::sync::Notify::new());
    {
        let (engine, scheduled) = (engine.clone(), scheduled.clone());
        let send_settings = mailroom_sync::ScheduledSendSettings {
            workers: settings.scheduled_send_workers,
            per_application: settings.scheduled_sends_per_application,
            send_timeout: settings.scheduled_send_timeout,
            attempts: settings.scheduled_send_attempts,
            first_retry: settings.scheduled_send_first_retry,
        };
        supervise("scheduled sends", stopped(&store), move || {
            mailroom_sync::run_scheduled_sends(
                engine.clone(),
                scheduled.clone(),
                send_settings.clone(),
            )
        });
    }
    let state = AppState {
        store: store.clone(),
        policy,
        mailboxes: Arc::new(SyncBridge {
            engine,
            ownership: ownership.clone(),
            scheduled,
            schedule_quota: settings.schedule_quota,
        }),
        discovery,
        sign_in: Arc::new(mailroom_api::SignInLimits::new(settings.sign_in.clone())),
        providers: settings.providers.clone(),
        public_url: settings.public_url.clone(),
        notification_mailer: settings.notification_mailer.is_some(),
        trusted_proxies: Arc::new(settings.trusted_proxies.clone()),
    };

    {
        let store = store.clone();
        supervise("hourly purge", stopped(&store), move || {
            purge_expired_auth(store.clone())
        });
    }

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    // `/metrics` on a listener of its own when asked, else beside the API.
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics_routes = match metrics_listen {
        Some(address) => {
            let metrics_listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} for metrics"))?;
            println!(
                "metrics on http://{}/metrics",
                metrics_listener.local_addr()?
            );
            let (routes, http) = (metrics.routes(), settings.http.clone());
            tokio::spawn(async move {
                let stopped = async {
                    let _ = metrics_stopped.await;
                };
                http_server::serve(metrics_listener, routes, &http, None, stopped).await
            });
            None
        }
        None => Some(metrics.routes()),
    };
    if let (Some(tls), Some(files)) = (&tls, tls_files) {
        tls.reload_on_change(files);
    }
    println!(
        "mailroom {} listening on {}://{local}",
        env!("CARGO_PKG_VERSION"),
        if tls.is_some() { "https" } else { "http" }
    );
    println!("node {}", ownership.node().id);
    println!("data dir: {}", settings.data_dir.display());
    if store.list_applications().await?.is_empty() {
        println!(
            "No application yet. Create one (its API key is shown once):\n    mailroom --data-dir {} app create --name my-app --json",
            settings.data_dir.display()
        );
    }

    let limits = HttpLimits {
        body_timeout: settings.http.body_timeout,
        request_timeout: settings.http.request_timeout,
        grant_rate: GrantRateLimit::new(
            settings.http.grant_requests_per_second,
            settings.http.grant_request_burst,
        ),
    };
    let readiness = Readiness {
        store: store.clone(),
        ownership: ownership.clone(),
    };
    let mut app = router(state, limits).merge(readiness.routes());
    if let Some(metrics_routes) = metrics_routes {
        app = app.merge(metrics_routes);
    }
    // At SIGTERM the node hands its grants over at once, then stops taking requests.
    let leave = async {
        shutdown_signal().await;
        ownership.leave().await;
    };
    if !http_server::serve(listener, app, &settings.http, tls, leave).await {
        tracing::warn!(
            grace_secs = settings.http.shutdown_grace.as_secs(),
            "requests still running at the end of the shutdown grace period were stopped"
        );
    }
    let _ = stop_metrics.send(());
    // A request stopped mid-transaction may still hold a connection: do not wait for it.
    if tokio::time::timeout(CLOSE_GRACE, store.close())
        .await
        .is_err()
    {
        tracing::warn!("the database did not close in time");
    }
    Ok(())
}

/// How long closing the database may take at shutdown.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Whether the server is stopping: its store is closed.
fn stopped(store: &mailroom_store::Store) -> impl Fn() -> bool + Send + 'static {
    let store = store.clone();
    move || store.is_closed()
}

/// Whether the node is leaving the cluster or the server stopping.
fn ownership_stopped(
    store: &mailroom_store::Store,
    ownership: &Ownership,
) -> impl Fn() -> bool + Send + 'static {
    let (store, ownership) = (store.clone(), ownership.clone());
    move || store.is_closed() || ownership.is_leaving()
}

/// Runs a background task for the server's lifetime: when it panics or returns before
/// `stopped` says so, that is logged and the task started again, after a pause that
/// grows with each restart up to a minute.
fn supervise<S, F, Fut>(name: &'static str, stopped: S, make: F) -> tokio::task::JoinHandle<()>
where
    S: Fn() -> bool + Send + 'static,
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut pause = Duration::from_secs(1);
        loop {
            let outcome = tokio::spawn(make()).await;
            if stopped() {
                return;
            }
            match outcome {
                Ok(()) => tracing::error!(task = name, "background task stopped; restarting it"),
                Err(e) => {
                    tracing::error!(task = name, error = %e, "background task failed; restarting it")
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(60));
        }
    })
}

fn outbound_policy(settings: &Settings) -> anyhow::Result<OutboundPolicy> {
    let extra_ca_pem = match &settings.extra_ca_file {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("cannot read extra CA file {}", path.display()))?,
        ),
        None => None,
    };
    OutboundPolicy::new(PolicySettings {
        allow_private_hosts: settings.allow_private_hosts,
        allow_insecure_transport: settings.allow_insecure_transport,
        bind_address: settings.outbound_bind_address,
        timeout: settings.provider_timeout,
        extra_ca_pem,
        max_message_bytes: settings.max_message_bytes,
    })
    .context("outbound connection settings")
}

/// The policy the notification mailer is reached under: the server's, but a loopback or
/// private host is allowed, since the operator named it (`notification_smtp_url`); the
/// guard against private addresses is for those applications and users supply.
/// Plaintext still needs `allow_insecure_transport`, and certificates are verified.
fn notification_policy(policy: &OutboundPolicy) -> anyhow::Result<OutboundPolicy> {
    OutboundPolicy::new(PolicySettings {
        allow_private_hosts: true,
        ..policy.settings().clone()
    })
    .context("notification mailer connection settings")
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down");
}

/// Hourly, deletes sign-in flows, codes and tokens long past their end, and what else
/// is kept for a while only.
async fn purge_expired_auth(store: mailroom_store::Store) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(60 * 60));
    loop {
        every_hour.tick().await;
        match store.purge_expired_auth().await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "purged expired sign-in flows and tokens"),
            Err(e) => {
                tracing::warn!(error = %e, "could not purge expired sign-in flows and tokens")
            }
        }
        // Delivered webhook notifications are kept a week, for looking into complaints.
        let week_ago = mailroom_model::time::unix_now() - 7 * 86_400;
        match store.purge_delivered_notifications(week_ago).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "purged delivered webhook notifications"),
            Err(e) => tracing::warn!(error = %e, "could not purge webhook notifications"),
        }
        // Failure notices sent or given up, as long.
        match store.purge_failure_notices(week_ago).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "purged webhook failure notices"),
            Err(e) => tracing::warn!(error = %e, "could not purge webhook failure notices"),
        }
        // The delta feed's change log is kept as long (README.md, "Nylas v2 applications").
        let retention = mailroom_model::time::unix_now() - mailroom_store::CHANGE_RETENTION_SECS;
        match store.purge_changes(retention).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "purged the change log"),
            Err(e) => tracing::warn!(error = %e, "could not purge the change log"),
        }
        // Files uploaded through v2 are kept a day for a draft or a send to attach.
        let upload_end = mailroom_model::time::unix_now() - mailroom_store::UPLOAD_LIFETIME_SECS;
        match store.purge_uploads(upload_end).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "purged uploaded files past their day"),
            Err(e) => tracing::warn!(error = %e, "could not purge uploaded files"),
        }
        // The answers kept for a send's Idempotency-Key, a day.
        let keys_end =
            mailroom_model::time::unix_now() - mailroom_store::IDEMPOTENCY_KEY_LIFETIME_SECS;
        match store.purge_idempotency_keys(keys_end).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "purged Idempotency-Keys past their day"),
            Err(e) => tracing::warn!(error = %e, "could not purge Idempotency-Keys"),
        }
        // Tracking hits are kept for `recents` 90 days; the counts stay.
        let hits_end =
            mailroom_model::time::unix_now() - mailroom_store::TRACKING_HIT_RETENTION_SECS;
        match store.purge_tracking_hits(hits_end).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "purged tracking hits past 90 days"),
            Err(e) => tracing::warn!(error = %e, "could not purge tracking hits"),
        }
        // UIDs that left a folder are remembered a day against late writes of a pass.
        let uids_end =
            mailroom_model::time::unix_now() - mailroom_store::EXPUNGED_UID_LIFETIME_SECS;
        match store.purge_expunged_uids(uids_end).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "purged the UIDs remembered as expunged"),
            Err(e) => tracing::warn!(error = %e, "could not purge the UIDs remembered as expunged"),
        }
        // Deletions give their pages back as they happen; this catches the rest.
        if let Err(e) = store.reclaim_free_pages().await {
            tracing::warn!(error = %e, "could not give free database pages back");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    };

    use super::*;

    #[tokio::test]
    async fn a_background_task_that_panics_or_ends_is_started_again_until_stopped() {
        let runs = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counted, flag) = (runs.clone(), stop.clone());
        let watcher = supervise(
            "test",
            move || flag.load(Ordering::SeqCst),
            move || {
                let runs = counted.clone();
                async move {
                    if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                        panic!("first run fails");
                    }
                }
            },
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while runs.load(Ordering::SeqCst) < 3 {
            assert!(tokio::time::Instant::now() < deadline, "not restarted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.store(true, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(30), watcher)
            .await
            .expect("the watcher stops once stopped")
            .expect("the watcher itself does not panic");
    }
}
