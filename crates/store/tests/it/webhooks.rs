//! Webhook destinations in the store: created with a sealed secret that only
//! `webhook_secret` opens, confined to their application, updated, rotated, deleted,
//! and picked by trigger for delivery — on both engines.

use crate::support::{Engine, Place, clean_up, new_grant, on_both_engines, open_store};
use mailroom_model::{
    ApplicationId, WebhookId,
    v3::{TriggerType, WebhookStatus},
};
use mailroom_store::{NewWebhook, Store, WebhookChange};

async fn new_app(store: &Store, name: &str) -> ApplicationId {
    store
        .create_application(name, &[])
        .await
        .unwrap()
        .application
        .id
}

fn hook<'a>(url: &'a str, triggers: &'a [TriggerType]) -> NewWebhook<'a> {
    NewWebhook {
        description: Some("test hook"),
        webhook_url: url,
        trigger_types: triggers,
        notification_email_addresses: &[],
    }
}

/// Every stored value of the webhooks table, as text, to look for the secret in clear.
async fn raw_rows(place: &Place) -> String {
    use sqlx::{Connection, Row};
    let sql = "SELECT secret_sealed, webhook_url, trigger_types_json FROM webhooks";
    let rows = match place {
        Place::Dir(dir) => {
            let url = format!("sqlite://{}", dir.path().join("t.db").display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(sql)
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect::<Vec<_>>()
        }
        Place::Schema(schema) => {
            let url = std::env::var("MAILROOM_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(&format!("SET search_path TO {schema}"))
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(sql)
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect::<Vec<_>>()
        }
    };
    rows.join("\n")
}

async fn created_webhooks_keep_their_secret_sealed(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = new_app(&store, "a").await;
    let created = store
        .create_webhook(
            &app,
            &NewWebhook {
                notification_email_addresses: &["ops@example.com".to_owned()],
                ..hook(
                    "https://example.com/hook",
                    &[TriggerType::MessageCreated, TriggerType::GrantExpired],
                )
            },
        )
        .await
        .unwrap();
    let webhook = &created.webhook;
    assert_eq!(webhook.status, WebhookStatus::Active);
    assert_eq!(webhook.description.as_deref(), Some("test hook"));
    assert_eq!(
        webhook.trigger_types,
        vec![TriggerType::MessageCreated, TriggerType::GrantExpired]
    );
    assert_eq!(
        webhook.notification_email_addresses,
        vec!["ops@example.com"]
    );
    assert_eq!(webhook.status_updated_at, webhook.created_at);
    assert!(created.secret.len() >= 40, "32 random bytes, encoded");

    assert_eq!(
        store.webhook_secret(&webhook.id).await.unwrap().as_deref(),
        Some(created.secret.as_str())
    );
    let raw = raw_rows(&place).await;
    assert!(
        !raw.contains(&created.secret),
        "the secret is stored sealed"
    );

    assert_eq!(
        store.webhook(&app, &webhook.id).await.unwrap().as_ref(),
        Some(webhook)
    );
    assert_eq!(
        store.list_webhooks(&app).await.unwrap(),
        vec![webhook.clone()]
    );
    clean_up(place).await;
}

async fn webhooks_belong_to_their_application(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let mine = new_app(&store, "mine").await;
    let other = new_app(&store, "other").await;
    let first = store
        .create_webhook(
            &mine,
            &hook("https://a.example/1", &[TriggerType::MessageCreated]),
        )
        .await
        .unwrap()
        .webhook;
    let second = store
        .create_webhook(
            &mine,
            &hook("https://a.example/2", &[TriggerType::FolderCreated]),
        )
        .await
        .unwrap()
        .webhook;
    let ids: Vec<_> = store
        .list_webhooks(&mine)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(ids, vec![first.id.clone(), second.id.clone()]);

    assert!(store.list_webhooks(&other).await.unwrap().is_empty());
    assert_eq!(store.webhook(&other, &first.id).await.unwrap(), None);
    let change = WebhookChange {
        description: Some("stolen".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .update_webhook(&other, &first.id, &change)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .rotate_webhook_secret(&other, &first.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.delete_webhook(&other, &first.id).await.unwrap());

    assert!(store.delete_webhook(&mine, &first.id).await.unwrap());
    assert!(!store.delete_webhook(&mine, &first.id).await.unwrap());
    assert_eq!(store.webhook_secret(&first.id).await.unwrap(), None);
    assert_eq!(store.list_webhooks(&mine).await.unwrap(), vec![second]);
    let unknown = WebhookId::generate();
    assert_eq!(store.webhook(&mine, &unknown).await.unwrap(), None);
    clean_up(place).await;
}

async fn updates_change_only_what_is_given(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = new_app(&store, "a").await;
    let webhook = store
        .create_webhook(
            &app,
            &hook("https://a.example/1", &[TriggerType::MessageCreated]),
        )
        .await
        .unwrap()
        .webhook;
    let changed = store
        .update_webhook(
            &app,
            &webhook.id,
            &WebhookChange {
                webhook_url: Some("https://b.example/2".into()),
                trigger_types: Some(vec![TriggerType::MessageUpdated]),
                notification_email_addresses: Some(vec!["x@example.com".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.webhook_url, "https://b.example/2");
    assert_eq!(changed.trigger_types, vec![TriggerType::MessageUpdated]);
    assert_eq!(changed.notification_email_addresses, vec!["x@example.com"]);
    assert_eq!(changed.description.as_deref(), Some("test hook"));
    assert_eq!(changed.status, WebhookStatus::Active);
    assert_eq!(changed.status_updated_at, webhook.status_updated_at);

    // Age the row so a status change visibly moves status_updated_at.
    crate::support::execute_raw(
        &place,
        "UPDATE webhooks SET status_updated_at = 1, created_at = 1",
    )
    .await;
    let same_status = WebhookChange {
        status: Some(WebhookStatus::Active),
        ..Default::default()
    };
    let unchanged = store
        .update_webhook(&app, &webhook.id, &same_status)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unchanged.status_updated_at, 1, "same status, same time");
    let paused = store
        .update_webhook(
            &app,
            &webhook.id,
            &WebhookChange {
                status: Some(WebhookStatus::Pause),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paused.status, WebhookStatus::Pause);
    assert!(paused.status_updated_at > 1);
    clean_up(place).await;
}

async fn rotation_replaces_the_secret(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = new_app(&store, "a").await;
    let created = store
        .create_webhook(
            &app,
            &hook("https://a.example/1", &[TriggerType::MessageCreated]),
        )
        .await
        .unwrap();
    let rotated = store
        .rotate_webhook_secret(&app, &created.webhook.id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(rotated.secret, created.secret);
    assert_eq!(rotated.webhook.id, created.webhook.id);
    assert_eq!(
        store.webhook_secret(&created.webhook.id).await.unwrap(),
        Some(rotated.secret.clone())
    );
    assert!(!raw_rows(&place).await.contains(&rotated.secret));
    clean_up(place).await;
}

async fn delivery_picks_subscribed_webhooks_that_still_receive(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = new_app(&store, "a").await;
    let other = new_app(&store, "b").await;
    let messages = store
        .create_webhook(
            &app,
            &hook(
                "https://a.example/m",
                &[TriggerType::MessageCreated, TriggerType::MessageUpdated],
            ),
        )
        .await
        .unwrap()
        .webhook;
    let folders = store
        .create_webhook(
            &app,
            &hook("https://a.example/f", &[TriggerType::FolderCreated]),
        )
        .await
        .unwrap()
        .webhook;
    let paused = store
        .create_webhook(
            &app,
            &hook("https://a.example/p", &[TriggerType::MessageCreated]),
        )
        .await
        .unwrap()
        .webhook;
    store
        .update_webhook(
            &app,
            &paused.id,
            &WebhookChange {
                status: Some(WebhookStatus::Pause),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .create_webhook(
            &other,
            &hook("https://b.example/m", &[TriggerType::MessageCreated]),
        )
        .await
        .unwrap();

    let ids = |list: Vec<mailroom_store::WebhookRecord>| -> Vec<WebhookId> {
        list.into_iter().map(|w| w.id).collect()
    };
    let for_created = store
        .active_webhooks_for(&app, TriggerType::MessageCreated)
        .await
        .unwrap();
    assert_eq!(ids(for_created), vec![messages.id.clone()]);
    assert_eq!(
        ids(store
            .active_webhooks_for(&app, TriggerType::FolderCreated)
            .await
            .unwrap()),
        vec![folders.id.clone()]
    );
    assert!(
        store
            .active_webhooks_for(&app, TriggerType::GrantCreated)
            .await
            .unwrap()
            .is_empty()
    );

    // A failing destination is still tried; a failed one is not.
    assert!(
        store
            .set_webhook_status(&messages.id, WebhookStatus::Failing)
            .await
            .unwrap()
    );
    assert_eq!(
        ids(store
            .active_webhooks_for(&app, TriggerType::MessageCreated)
            .await
            .unwrap()),
        vec![messages.id.clone()]
    );
    store
        .set_webhook_status(&messages.id, WebhookStatus::Failed)
        .await
        .unwrap();
    assert!(
        store
            .active_webhooks_for(&app, TriggerType::MessageCreated)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .set_webhook_status(&WebhookId::generate(), WebhookStatus::Active)
            .await
            .unwrap()
    );
    clean_up(place).await;
}

/// A receiver that keeps failing: the webhook is `failing` while retries remain, its
/// delivery waits for its retry time, a lease keeps a second worker off it, and once it is
/// given up the webhook is `failed`; a later success (after reactivation) makes it
/// `active` again.
async fn failures_mark_the_webhook_failing_then_failed(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = new_app(&store, "a").await;
    let webhook = store
        .create_webhook(
            &app,
            &hook("https://a.example/m", &[TriggerType::MessageCreated]),
        )
        .await
        .unwrap()
        .webhook;
    let grant = new_grant(&store, &app).await.id;
    let status = |store: Store| {
        let (app, id) = (app.clone(), webhook.id.clone());
        async move { store.webhook(&app, &id).await.unwrap().unwrap().status }
    };
    let now = mailroom_model::time::unix_now();
    store
        .notify(&grant, TriggerType::MessageCreated, &[("m1".into(), None)])
        .await
        .unwrap();
    let due = store.due_deliveries(now + 1, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(store.claim_delivery(&due[0], 60).await.unwrap());
    assert!(!store.claim_delivery(&due[0], 60).await.unwrap(), "leased");
    store
        .delivery_failed(&due[0], Some(now + 100), "the receiver answered 503")
        .await
        .unwrap();
    assert_eq!(status(store.clone()).await, WebhookStatus::Failing);
    assert!(store.due_deliveries(now + 1, 10).await.unwrap().is_empty());
    let retry = store.due_deliveries(now + 101, 10).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].attempts, 1);
    assert!(store.claim_delivery(&retry[0], 60).await.unwrap());
    store
        .delivery_failed(&retry[0], None, "given up")
        .await
        .unwrap();
    assert_eq!(status(store.clone()).await, WebhookStatus::Failed);
    assert!(
        store
            .due_deliveries(now + 100_000, 10)
            .await
            .unwrap()
            .is_empty()
    );

    store
        .update_webhook(
            &app,
            &webhook.id,
            &WebhookChange {
                status: Some(WebhookStatus::Active),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .notify(&grant, TriggerType::MessageCreated, &[("m2".into(), None)])
        .await
        .unwrap();
    let due = store.due_deliveries(now + 1, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].object_id.as_deref(), Some("m2"));
    store.delivery_succeeded(&due[0]).await.unwrap();
    assert_eq!(status(store.clone()).await, WebhookStatus::Active);
    clean_up(place).await;
}

/// A webhook marked `failed` records one failure notice per notification address (each
/// once, whatever its case) in the transition's transaction: none while it is only
/// `failing`, none again while it stays failed, and a new set when it fails after being
/// switched back on. The worker's side: due notices are claimed with a lease, marked
/// sent, retried later, given up, and purged once done.
async fn a_transition_to_failed_records_one_notice_per_address(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = new_app(&store, "a").await;
    let addresses = [
        "ops@example.test".to_owned(),
        "OPS@example.test".to_owned(),
        "dev@example.test".to_owned(),
    ];
    let webhook = store
        .create_webhook(
            &app,
            &NewWebhook {
                notification_email_addresses: &addresses,
                ..hook("https://a.example/m", &[TriggerType::MessageCreated])
            },
        )
        .await
        .unwrap()
        .webhook;
    let grant = new_grant(&store, &app).await.id;
    let now = mailroom_model::time::unix_now();
    let notices = |store: Store| {
        let id = webhook.id.clone();
        async move { store.webhook_failure_notices(&id).await.unwrap() }
    };
    // Gives up (or, with `retry_at`, retries) the one due delivery of a new notification.
    let fail_one = |store: Store, object: &'static str, retry_at: Option<i64>| {
        let grant = grant.clone();
        async move {
            store
                .notify(
                    &grant,
                    TriggerType::MessageCreated,
                    &[(object.into(), None)],
                )
                .await
                .unwrap();
            let due = store.due_deliveries(now + 1_000_000, 10).await.unwrap();
            let delivery = due
                .iter()
                .find(|d| d.object_id.as_deref() == Some(object))
                .unwrap()
                .clone();
            let error = format!("the receiver answered 500: {}", "x".repeat(2_000));
            store
                .delivery_failed(&delivery, retry_at, &error)
                .await
                .unwrap();
        }
    };

    fail_one(store.clone(), "m1", Some(now + 1_000_000_000)).await;
    assert!(
        notices(store.clone()).await.is_empty(),
        "failing is not failed"
    );
    fail_one(store.clone(), "m2", None).await;
    let recorded = notices(store.clone()).await;
    let mut recipients: Vec<&str> = recorded.iter().map(|n| n.recipient.as_str()).collect();
    recipients.sort_unstable();
    assert_eq!(recipients, ["dev@example.test", "ops@example.test"]);
    for notice in &recorded {
        assert_eq!(notice.webhook_id, webhook.id.as_str());
        assert_eq!(notice.webhook_url, "https://a.example/m");
        assert_eq!(notice.state, "pending");
        assert_eq!(notice.attempts, 0);
        assert!(notice.failure.starts_with("the receiver answered 500: x"));
        assert_eq!(
            notice.failure.chars().count(),
            mailroom_store::MAX_FAILURE_CHARS
        );
    }
    // Still failed: neither another given-up delivery nor the status set again tells anew.
    fail_one(store.clone(), "m3", None).await;
    store
        .set_webhook_status(&webhook.id, WebhookStatus::Failed)
        .await
        .unwrap();
    assert_eq!(notices(store.clone()).await.len(), 2);

    // The worker's side.
    let due = store.due_failure_notices(now + 1, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(store.claim_failure_notice(&due[0], 60).await.unwrap());
    assert!(
        !store.claim_failure_notice(&due[0], 60).await.unwrap(),
        "leased"
    );
    assert!(store.claim_failure_notice(&due[1], 60).await.unwrap());
    assert!(
        store
            .due_failure_notices(now + 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.failure_notice_sent(&due[0]).await.unwrap();
    let later = now + 1_000;
    store
        .failure_notice_failed(&due[1], Some(later), "451 4.3.0 try again later")
        .await
        .unwrap();
    let by_id = |list: Vec<mailroom_store::FailureNotice>, id: &str| {
        list.into_iter().find(|n| n.id == id).unwrap()
    };
    let sent = by_id(notices(store.clone()).await, &due[0].id);
    assert_eq!((sent.state.as_str(), sent.attempts), ("sent", 1));
    assert!(sent.sent_at.is_some_and(|at| at >= now));
    let waiting = by_id(notices(store.clone()).await, &due[1].id);
    assert_eq!((waiting.state.as_str(), waiting.attempts), ("pending", 1));
    assert_eq!(
        waiting.last_error.as_deref(),
        Some("451 4.3.0 try again later")
    );
    assert!(
        store
            .due_failure_notices(later - 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retry = store.due_failure_notices(later, 10).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert!(store.claim_failure_notice(&retry[0], 60).await.unwrap());
    store
        .failure_notice_failed(&retry[0], None, "550 5.1.1 no such user")
        .await
        .unwrap();
    assert_eq!(
        by_id(notices(store.clone()).await, &due[1].id).state,
        "abandoned"
    );
    assert!(
        store
            .due_failure_notices(now + 1_000_000_000, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Switched back on, it fails again straight from active: a new notice per address.
    store
        .update_webhook(
            &app,
            &webhook.id,
            &WebhookChange {
                status: Some(WebhookStatus::Active),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    fail_one(store.clone(), "m4", None).await;
    let all = notices(store.clone()).await;
    assert_eq!(all.len(), 4);
    assert_eq!(all.iter().filter(|n| n.state == "pending").count(), 2);

    // Done notices go with the purge; pending ones stay.
    assert_eq!(
        store
            .purge_failure_notices(now + 1_000_000_000)
            .await
            .unwrap(),
        2
    );
    assert_eq!(notices(store.clone()).await.len(), 2);
    clean_up(place).await;
}

on_both_engines!(
    failures_mark_the_webhook_failing_then_failed,
    a_transition_to_failed_records_one_notice_per_address,
    created_webhooks_keep_their_secret_sealed,
    webhooks_belong_to_their_application,
    updates_change_only_what_is_given,
    rotation_replaces_the_secret,
    delivery_picks_subscribed_webhooks_that_still_receive,
);
