//! `mailroom serve`: the API server.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use mailroom_api::{AppState, router};
use mailroom_net::{OutboundPolicy, PolicySettings};
use mailroom_sync::{SyncEngine, SyncSettings};

use crate::{
    cli::ServeArgs, database, notification_objects::NotificationObjects, settings::Settings,
    sync_bridge::SyncBridge,
};

pub async fn run(settings: Settings, args: ServeArgs) -> anyhow::Result<()> {
    let listen = settings.listen_address(args.listen.as_deref())?;
    let store = database::open(&settings).await?;
    let policy = outbound_policy(&settings)?;
    let engine = SyncEngine::new(
        store.clone(),
        policy.clone(),
        SyncSettings {
            poll_interval: settings.sync_poll_interval,
            ignore_capabilities: settings.sync_ignore_capabilities.clone(),
        },
    );
    let started = engine.start_all().await.context("starting sync")?;
    tracing::info!(grants = started, "sync started");
    let discovery = mailroom_net::MailDiscovery::new(settings.dns_server)
        .map_err(anyhow::Error::msg)
        .context("mail server discovery")?;
    tokio::spawn(
        mailroom_webhooks::Deliverer {
            store: store.clone(),
            policy: policy.clone(),
            renderer: Arc::new(NotificationObjects(engine.clone())),
            settings: mailroom_webhooks::DeliverySettings {
                retry_base: settings.webhook_retry,
                ..Default::default()
            },
        }
        .run(),
    );
    let scheduled = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(mailroom_sync::run_scheduled_sends(
        engine.clone(),
        scheduled.clone(),
    ));
    let state = AppState {
        store: store.clone(),
        policy,
        mailboxes: Arc::new(SyncBridge { engine, scheduled }),
        discovery,
    };

    tokio::spawn(purge_expired_auth(store.clone()));

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    println!(
        "mailroom {} listening on http://{local}",
        env!("CARGO_PKG_VERSION")
    );
    println!("data dir: {}", settings.data_dir.display());
    if store.list_applications().await?.is_empty() {
        println!(
            "No application yet. Create one (its API key is shown once):\n    mailroom --data-dir {} app create --name my-app --json",
            settings.data_dir.display()
        );
    }

    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
    store.close().await;
    Ok(())
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

/// Hourly, deletes sign-in flows, codes and tokens long past their end.
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
    }
}
