//! Work that one tenant must not be able to hold up for others, and mail that must not
//! outlive its deletion: scheduled sends finished only by the holder of their claim and
//! only while `sending`, interrupted sends failed only once their lease ran out, a quota
//! of pending sends per grant, due sends and due deliveries that leave out busy grants
//! and applications, deleted messages leaving the index (and the SQLite file shrinking
//! back), and server-side search results of any length. Every scenario runs on the
//! embedded SQLite and on PostgreSQL.

use crate::support::{
    Engine, Place, clean_up, execute_raw, message, new_grant, on_both_engines, open_store,
};
use mailroom_model::{ApplicationId, GrantId, v3::TriggerType};
use mailroom_store::{
    FolderListing, MessageBody, MessageQuery, NewScheduledSend, NewWebhook, ScheduleQuota,
    ScheduleStatus, Scheduling, Store,
};

async fn app_with_hook(store: &Store, name: &str) -> ApplicationId {
    let app = store.create_application(name, &[]).await.unwrap();
    store
        .create_webhook(
            &app.application.id,
            &NewWebhook {
                description: None,
                webhook_url: "https://hooks.example/n",
                trigger_types: &[
                    TriggerType::MessageCreated,
                    TriggerType::MessageDeleted,
                    TriggerType::MessageSendSuccess,
                    TriggerType::MessageSendFailed,
                ],
                notification_email_addresses: &[],
            },
        )
        .await
        .unwrap();
    app.application.id
}

fn new_send(grant: &GrantId, send_at: i64, bytes: usize) -> NewScheduledSend {
    NewScheduledSend {
        grant_id: grant.clone(),
        send_at,
        raw_mime: vec![b'x'; bytes],
        envelope_from: "a@example.test".into(),
        recipients: vec!["b@example.test".into()],
        message: serde_json::json!({"subject": "Later"}),
    }
}

async fn scheduled(store: &Store, grant: &GrantId, send_at: i64) -> String {
    match store
        .schedule_send(new_send(grant, send_at, 10), &ScheduleQuota::default())
        .await
        .unwrap()
    {
        Scheduling::Scheduled(send) => send.id,
        Scheduling::OverQuota(reason) => panic!("over quota: {reason}"),
    }
}

/// The triggers of the notifications recorded so far, each taken once.
async fn take_triggers(store: &Store) -> Vec<String> {
    let due = store
        .due_deliveries(mailroom_model::time::unix_now() + 60, 1000)
        .await
        .unwrap();
    let mut seen = Vec::new();
    for delivery in due {
        store.delivery_succeeded(&delivery).await.unwrap();
        seen.push(delivery.trigger_type);
    }
    seen
}

async fn finishing_needs_the_claim_and_the_sending_state(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = app_with_hook(&store, "a").await;
    let grant = new_grant(&store, &app).await.id;
    take_triggers(&store).await;
    let id = scheduled(&store, &grant, 0).await;

    // Not claimed: nobody can finish it.
    assert!(
        !store
            .finish_scheduled_send(&id, "no claim", Ok(None))
            .await
            .unwrap()
    );
    let claim = store.claim_scheduled_send(&id, 60).await.unwrap().unwrap();
    assert!(store.claim_scheduled_send(&id, 60).await.unwrap().is_none());
    // Another claim id cannot finish or renew it.
    assert!(
        !store
            .finish_scheduled_send(&id, "another", Err("no"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .renew_scheduled_send(&id, "another", 60)
            .await
            .unwrap()
    );
    assert!(store.renew_scheduled_send(&id, &claim, 60).await.unwrap());
    assert!(
        store
            .finish_scheduled_send(&id, &claim, Ok(Some("m1")))
            .await
            .unwrap()
    );
    // Finished once: a second outcome for the same send changes nothing.
    assert!(
        !store
            .finish_scheduled_send(&id, &claim, Err("late failure"))
            .await
            .unwrap()
    );
    let send = store.scheduled_send(&grant, &id).await.unwrap().unwrap();
    assert_eq!(send.status, ScheduleStatus::Sent);
    assert_eq!(send.sent_message_id.as_deref(), Some("m1"));
    assert_eq!(send.error, None);
    assert_eq!(take_triggers(&store).await, ["message.send_success"]);
    clean_up(place).await;
}

async fn only_a_send_past_its_lease_counts_as_interrupted(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = app_with_hook(&store, "a").await;
    let grant = new_grant(&store, &app).await.id;
    take_triggers(&store).await;
    let live = scheduled(&store, &grant, 0).await;
    let dead = scheduled(&store, &grant, 0).await;
    let live_claim = store
        .claim_scheduled_send(&live, 60)
        .await
        .unwrap()
        .unwrap();
    let dead_claim = store
        .claim_scheduled_send(&dead, 60)
        .await
        .unwrap()
        .unwrap();
    let now = mailroom_model::time::unix_now();

    // A live send long under way, its lease renewed, is left alone.
    assert_eq!(store.fail_interrupted_sends(now + 30).await.unwrap(), 0);
    execute_raw(
        &place,
        &format!("UPDATE scheduled_sends SET updated_at = 0 WHERE id = '{live}'"),
    )
    .await;
    assert!(
        store
            .renew_scheduled_send(&live, &live_claim, 600)
            .await
            .unwrap()
    );
    // The other one's process stopped: its lease runs out, and it is failed once.
    assert_eq!(store.fail_interrupted_sends(now + 120).await.unwrap(), 1);
    assert_eq!(store.fail_interrupted_sends(now + 120).await.unwrap(), 0);
    let failed = store.scheduled_send(&grant, &dead).await.unwrap().unwrap();
    assert_eq!(failed.status, ScheduleStatus::Failed);
    // Its sender, back late, cannot turn it into a success.
    assert!(
        !store
            .finish_scheduled_send(&dead, &dead_claim, Ok(None))
            .await
            .unwrap()
    );
    assert!(
        !store
            .renew_scheduled_send(&dead, &dead_claim, 60)
            .await
            .unwrap()
    );
    let live_send = store.scheduled_send(&grant, &live).await.unwrap().unwrap();
    assert_eq!(live_send.status, ScheduleStatus::Sending);
    assert_eq!(take_triggers(&store).await, ["message.send_failed"]);
    clean_up(place).await;
}

async fn pending_sends_are_limited_per_grant(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = app_with_hook(&store, "a").await;
    let grant = new_grant(&store, &app).await.id;
    let quota = ScheduleQuota {
        sends: 3,
        bytes: 1000,
    };
    let schedule = |bytes: usize| {
        let store = store.clone();
        let grant = grant.clone();
        async move {
            store
                .schedule_send(new_send(&grant, i64::MAX / 2, bytes), &quota)
                .await
                .unwrap()
        }
    };
    assert!(matches!(schedule(600).await, Scheduling::Scheduled(_)));
    let Scheduling::OverQuota(reason) = schedule(600).await else {
        panic!("1200 bytes fit a quota of 1000");
    };
    assert!(reason.contains("1000 bytes"), "{reason}");
    let Scheduling::Scheduled(second) = schedule(100).await else {
        panic!("700 bytes fit");
    };
    assert!(matches!(schedule(100).await, Scheduling::Scheduled(_)));
    let Scheduling::OverQuota(reason) = schedule(1).await else {
        panic!("a fourth send fits a quota of three");
    };
    assert!(reason.contains("3 scheduled sends"), "{reason}");
    // A cancelled send no longer counts.
    assert!(
        store
            .cancel_scheduled_send(&grant, &second.id)
            .await
            .unwrap()
    );
    assert!(matches!(schedule(1).await, Scheduling::Scheduled(_)));
    clean_up(place).await;
}

async fn due_sends_leave_out_busy_grants(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app_a = app_with_hook(&store, "a").await;
    let app_b = app_with_hook(&store, "b").await;
    let grant_a = new_grant(&store, &app_a).await.id;
    let grant_b = new_grant(&store, &app_b).await.id;
    for _ in 0..30 {
        scheduled(&store, &grant_a, 1).await;
    }
    let b_send = scheduled(&store, &grant_b, 2).await;
    let now = mailroom_model::time::unix_now();
    // Oldest first, A's backlog fills a short list...
    let due = store.due_scheduled_sends(now, 10, &[]).await.unwrap();
    assert!(due.iter().all(|d| d.grant_id == grant_a));
    assert_eq!(due[0].application_id, app_a.as_str());
    // ...but with A busy, B's send comes up at once.
    let due = store
        .due_scheduled_sends(now, 10, std::slice::from_ref(&grant_a))
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, b_send);
    assert_eq!(due[0].application_id, app_b.as_str());
    clean_up(place).await;
}

async fn due_deliveries_leave_out_busy_applications(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app_a = app_with_hook(&store, "a").await;
    let app_b = app_with_hook(&store, "b").await;
    let grant_a = new_grant(&store, &app_a).await.id;
    let grant_b = new_grant(&store, &app_b).await.id;
    let many: Vec<(String, Option<String>)> = (0..300).map(|i| (format!("a{i}"), None)).collect();
    store
        .notify(&grant_a, TriggerType::MessageCreated, &many)
        .await
        .unwrap();
    store
        .notify(
            &grant_b,
            TriggerType::MessageCreated,
            &[("b1".into(), None)],
        )
        .await
        .unwrap();
    let now = mailroom_model::time::unix_now() + 1;
    let due = store.due_deliveries_except(now, 50, &[]).await.unwrap();
    assert!(due.iter().all(|d| d.application_id == app_a.as_str()));
    let due = store
        .due_deliveries_except(now, 50, &[app_a.to_string()])
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].object_id.as_deref(), Some("b1"));
    // Claimed, it is no longer due for anyone.
    assert!(store.claim_delivery(&due[0], 60).await.unwrap());
    assert!(
        store
            .due_deliveries_except(now, 50, &[app_a.to_string()])
            .await
            .unwrap()
            .is_empty()
    );
    clean_up(place).await;
}

/// A number from the database, behind the store's back.
async fn scalar(place: &Place, sql: &str) -> i64 {
    use sqlx::{Connection, Row};
    match place {
        Place::Dir(dir) => {
            let url = format!("sqlite://{}", dir.path().join("t.db").display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(sql)
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
        Place::Schema(schema) => {
            let url = std::env::var("MAILROOM_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(&format!("SET search_path TO {schema}"))
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(sql)
                .fetch_one(&mut conn)
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
    }
}

async fn deleted_messages_leave_the_index(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = app_with_hook(&store, "a").await;
    let grant = new_grant(&store, &app).await.id;
    let folders = store
        .reconcile_folders(
            &grant,
            &[FolderListing {
                imap_name: "INBOX".into(),
                name: "INBOX".into(),
                parent_imap_name: None,
                delimiter: Some("/".into()),
                attributes: vec![],
            }],
        )
        .await
        .unwrap();
    let inbox = folders[0].id.clone();
    const MESSAGES: i64 = 400;
    let batch: Vec<_> = (1..=MESSAGES)
        .map(|uid| message(uid, &format!("m{uid}@x"), &[], &format!("Subject {uid}")))
        .collect();
    store
        .add_folder_messages(&grant, &inbox, &batch)
        .await
        .unwrap();
    let listed = store
        .list_messages(
            &grant,
            &MessageQuery {
                limit: MESSAGES,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len() as i64, MESSAGES);
    // Bodies of 40 KB each: the bulk of the file.
    let bodies: Vec<MessageBody> = listed
        .iter()
        .map(|m| MessageBody {
            id: m.id.clone(),
            body_html: format!("<p>{}</p>", "secret words ".repeat(3000)),
            snippet: "secret words".into(),
            attachments: serde_json::json!([{"id": "a1", "filename": "plan.pdf"}]),
            headers: vec![],
            calendar: vec![],
            bounce: None,
        })
        .collect();
    store.store_message_bodies(&grant, &bodies).await.unwrap();
    take_triggers(&store).await;
    let full_pages = match engine {
        Engine::Sqlite => scalar(&place, "PRAGMA page_count").await,
        Engine::Postgres => 0,
    };

    // The mailbox is emptied: every message is announced deleted and leaves the index.
    let uids: Vec<i64> = (1..=MESSAGES).collect();
    store.remove_locations(&grant, &inbox, &uids).await.unwrap();
    let later = mailroom_model::time::unix_millis() + 1;
    assert_eq!(
        store.settle_deletions(&grant, later).await.unwrap() as i64,
        MESSAGES
    );
    let deleted = take_triggers(&store).await;
    assert_eq!(deleted.len() as i64, MESSAGES);
    assert!(deleted.iter().all(|t| t == "message.deleted"));
    assert_eq!(scalar(&place, "SELECT COUNT(*) FROM messages").await, 0);
    assert_eq!(
        scalar(
            &place,
            "SELECT COUNT(*) FROM messages WHERE body_html LIKE '%secret%'"
        )
        .await,
        0
    );
    assert_eq!(scalar(&place, "SELECT COUNT(*) FROM thread_refs").await, 0);
    assert_eq!(
        scalar(&place, "SELECT COUNT(*) FROM deletion_candidates").await,
        0
    );
    if let Engine::Sqlite = engine {
        assert_eq!(scalar(&place, "PRAGMA auto_vacuum").await, 2, "incremental");
        let empty_pages = scalar(&place, "PRAGMA page_count").await;
        println!("pages with {MESSAGES} bodies: {full_pages}; after emptying: {empty_pages}");
        assert!(
            empty_pages * 4 < full_pages,
            "{full_pages} pages before, {empty_pages} after"
        );
    }
    clean_up(place).await;
}

async fn a_search_may_find_any_number_of_messages(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = app_with_hook(&store, "a").await;
    let grant = new_grant(&store, &app).await.id;
    let folders = store
        .reconcile_folders(
            &grant,
            &[FolderListing {
                imap_name: "INBOX".into(),
                name: "INBOX".into(),
                parent_imap_name: None,
                delimiter: Some("/".into()),
                attributes: vec![],
            }],
        )
        .await
        .unwrap();
    store
        .add_folder_messages(&grant, &folders[0].id, &[message(1, "one@x", &[], "One")])
        .await
        .unwrap();
    let one = store
        .message_id_by_identity(&grant, "mid:one@x")
        .await
        .unwrap()
        .unwrap();
    // More ids than either engine takes parameters in one statement.
    let mut ids: Vec<String> = (0..70_000).map(|i| format!("absent{i}")).collect();
    ids.push(one.clone());
    let query = MessageQuery {
        limit: 10,
        ids: Some(ids),
        ..Default::default()
    };
    let found = store.list_messages(&grant, &query).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, one);
    let threads = store.list_threads(&grant, &query).await.unwrap();
    assert_eq!(threads.len(), 1);
    clean_up(place).await;
}

async fn a_send_refused_for_now_waits_for_its_next_try_unannounced(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let app = app_with_hook(&store, "a").await;
    let grant = new_grant(&store, &app).await.id;
    take_triggers(&store).await;
    let id = scheduled(&store, &grant, 0).await;
    let now = mailroom_model::time::unix_now();
    let claim = store.claim_scheduled_send(&id, 60).await.unwrap().unwrap();
    assert_eq!(
        store
            .scheduled_send(&grant, &id)
            .await
            .unwrap()
            .unwrap()
            .attempts,
        1,
        "a claim counts the try"
    );
    // Only the claim's holder may put it back.
    assert!(
        !store
            .retry_scheduled_send(&id, "another", "451 later", now + 100)
            .await
            .unwrap()
    );
    assert!(
        store
            .retry_scheduled_send(&id, &claim, "451 4.7.1 greylisted", now + 100)
            .await
            .unwrap()
    );
    let waiting = store.scheduled_send(&grant, &id).await.unwrap().unwrap();
    assert_eq!(waiting.status, ScheduleStatus::Pending);
    assert_eq!(waiting.due_at, now + 100);
    assert_eq!(waiting.send_at, 0, "the time asked for stays as asked");
    assert_eq!(waiting.last_error.as_deref(), Some("451 4.7.1 greylisted"));
    // Not due before its next try, nor announced meanwhile.
    assert!(
        store
            .due_scheduled_sends(now + 99, 10, &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.next_scheduled_send_at().await.unwrap(),
        Some(now + 100)
    );
    assert!(take_triggers(&store).await.is_empty());
    // Its old claim is gone: it cannot finish the send now.
    assert!(
        !store
            .finish_scheduled_send(&id, &claim, Ok(None))
            .await
            .unwrap()
    );
    let due = store.due_scheduled_sends(now + 100, 10, &[]).await.unwrap();
    assert_eq!(due.len(), 1);
    let second = store.claim_scheduled_send(&id, 60).await.unwrap().unwrap();
    assert_eq!(
        store
            .scheduled_send(&grant, &id)
            .await
            .unwrap()
            .unwrap()
            .attempts,
        2
    );
    assert!(
        store
            .finish_scheduled_send(&id, &second, Ok(Some("m1")))
            .await
            .unwrap()
    );
    assert_eq!(take_triggers(&store).await, ["message.send_success"]);
    clean_up(place).await;
}

on_both_engines!(
    a_send_refused_for_now_waits_for_its_next_try_unannounced,
    finishing_needs_the_claim_and_the_sending_state,
    only_a_send_past_its_lease_counts_as_interrupted,
    pending_sends_are_limited_per_grant,
    due_sends_leave_out_busy_grants,
    due_deliveries_leave_out_busy_applications,
    deleted_messages_leave_the_index,
    a_search_may_find_any_number_of_messages,
);

/// A database made before incremental auto-vacuum is switched to it when opened.
#[tokio::test]
async fn an_older_sqlite_database_turns_incremental_vacuum_on() {
    use sqlx::{Connection, Row};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("PRAGMA auto_vacuum = NONE")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE older (x TEXT)")
        .execute(&mut conn)
        .await
        .unwrap();
    let mode = |row: sqlx::sqlite::SqliteRow| row.get::<i64, _>(0);
    let before = sqlx::query("PRAGMA auto_vacuum")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode(before), 0);
    conn.close().await.unwrap();
    let store = Store::open(&url, mailroom_store::SecretBox::new(&[7; 32]))
        .await
        .unwrap();
    store.close().await;
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let after = sqlx::query("PRAGMA auto_vacuum")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode(after), 2, "incremental");
}
