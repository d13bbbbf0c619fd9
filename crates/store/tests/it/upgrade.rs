//! A database of the release before the threads table and the participants index is
//! upgraded in place when the store opens: the migration builds threads, thread folders,
//! folder counts and location dates from the stored messages, and the backfills index
//! their participants, the threads' addresses, the address folders and the subjects,
//! after which lists and filters read the old mail; likewise a database from before
//! thread rows kept their members. Both engines.

use crate::support::{
    Engine, Place, clean_up, execute_raw, grant_with_inbox, message, on_both_engines, open_store,
};
use mailroom_model::v3::EmailName;
use mailroom_store::{MessageQuery, SecretBox, Store};

/// What migrations 0013 to 0023 added, taken away again: the schema of the release
/// before them. The subject index is the engine's own.
fn back_to_0012(engine: Engine) -> Vec<&'static str> {
    let subject_index: &[&str] = match engine {
        Engine::Sqlite => &[
            "DROP TRIGGER message_subjects_insert",
            "DROP TRIGGER message_subjects_delete",
            "DROP TRIGGER message_subjects_update",
            "DROP TABLE message_subjects",
        ],
        Engine::Postgres => &["DROP INDEX messages_subject_trigrams"],
    };
    let mut statements = AFTER_0019.to_vec();
    statements.extend_from_slice(CLUSTER_TABLES);
    statements.push("DROP TABLE address_folders");
    statements.extend_from_slice(subject_index);
    statements.push("DROP TABLE thread_addresses");
    statements.extend_from_slice(BACK_FROM_0013);
    statements
}

/// What migrations 0020 (OAuth mailboxes), 0021 (Gmail), 0022 (the change log), 0023
/// (v2 uploads), 0024 (draft versions), 0025 (implicit flows), 0026 (admin tokens), 0027
/// (templates), 0028 (send retries), 0029 (idempotency keys), 0030 (expunged UIDs), 0031
/// (message tracking), 0032 (webhook failure notices) and 0033 (copy flags) added.
const AFTER_0019: &[&str] = &[
    "ALTER TABLE message_locations DROP COLUMN flags",
    "DROP TABLE webhook_failure_notices",
    "DROP TABLE draft_tracking",
    "DROP TABLE tracking_hits",
    "DROP TABLE tracked_links",
    "DROP TABLE tracked_messages",
    "DROP TABLE expunged_uids",
    "DROP TABLE idempotency_keys",
    "DROP INDEX scheduled_sends_due",
    "ALTER TABLE scheduled_sends DROP COLUMN last_error",
    "ALTER TABLE scheduled_sends DROP COLUMN due_at",
    "ALTER TABLE scheduled_sends DROP COLUMN attempts",
    "CREATE INDEX scheduled_sends_due ON scheduled_sends (status, send_at)",
    "DROP TABLE templates",
    "DROP TABLE admin_sessions",
    "DROP TABLE admin_tokens",
    "ALTER TABLE auth_flows DROP COLUMN response_type",
    "DROP TABLE draft_versions",
    "DROP TABLE v2_uploads",
    "DROP INDEX grant_changes_by_age",
    "DROP TABLE grant_changes",
    "DROP INDEX messages_by_header",
    "DROP TABLE connector_secrets",
    "DROP INDEX auth_flows_provider_state",
    "ALTER TABLE auth_flows DROP COLUMN provider_state_hash",
    "ALTER TABLE auth_flows DROP COLUMN provider_redirect_uri",
    "ALTER TABLE auth_flows DROP COLUMN provider",
    "ALTER TABLE grants DROP COLUMN token_refresh_until",
];

/// What migration 0019 added: the cluster's node registry and grant leases.
const CLUSTER_TABLES: &[&str] = &["DROP TABLE grant_leases", "DROP TABLE cluster_nodes"];

const BACK_FROM_0013: &[&str] = &[
    "DROP TABLE pending_backfills",
    "DROP TABLE message_addresses",
    "DROP TABLE thread_folders",
    "DROP TABLE threads",
    "DROP INDEX messages_unread",
    "DROP INDEX messages_starred",
    "DROP INDEX messages_with_attachments",
    "DROP INDEX message_locations_by_folder_date",
    "DROP INDEX message_locations_by_message",
    "CREATE INDEX message_locations_by_message ON message_locations (message_id)",
    "ALTER TABLE message_locations DROP COLUMN date",
    "ALTER TABLE folders DROP COLUMN total_count",
    "ALTER TABLE folders DROP COLUMN unread_count",
    "DELETE FROM _sqlx_migrations WHERE version >= 13",
];

async fn reopen(engine: Engine, place: &Place) -> Store {
    let url = match (engine, place) {
        (Engine::Sqlite, Place::Dir(dir)) => {
            format!("sqlite://{}", dir.path().join("t.db").display())
        }
        (Engine::Postgres, Place::Schema(schema)) => {
            let base = std::env::var("MAILROOM_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let separator = if base.contains('?') { '&' } else { '?' };
            format!("{base}{separator}options=-c%20search_path%3D{schema}")
        }
        _ => unreachable!("a place of the engine's kind"),
    };
    Store::open(&url, SecretBox::new(&[7; 32])).await.unwrap()
}

async fn an_older_database_is_upgraded_in_place(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, inbox) = grant_with_inbox(&store).await;
    let mut first = message(1, "a@x", &[], "Plan");
    first.from = vec![EmailName {
        name: Some("Ann".into()),
        email: "Ann@Example.test".into(),
    }];
    let mut reply = message(2, "b@x", &["a@x"], "Re: Plan");
    reply.to = first.from.clone();
    reply.flags = vec!["\\Seen".into()];
    let other = message(3, "c@x", &[], "Lunch");
    store
        .add_folder_messages(&grant, &inbox, &[first, reply, other])
        .await
        .unwrap();
    let send_at = mailroom_model::time::unix_now() + 1000;
    let scheduled = match store
        .schedule_send(
            mailroom_store::NewScheduledSend {
                grant_id: grant.clone(),
                send_at,
                raw_mime: b"Subject: later\r\n\r\nx\r\n".to_vec(),
                envelope_from: "a@example.test".into(),
                recipients: vec!["b@example.test".into()],
                message: serde_json::json!({"subject": "later"}),
            },
            &mailroom_store::ScheduleQuota::default(),
        )
        .await
        .unwrap()
    {
        mailroom_store::Scheduling::Scheduled(send) => send.id,
        mailroom_store::Scheduling::OverQuota(reason) => panic!("{reason}"),
    };
    store.close().await;
    for sql in back_to_0012(engine) {
        execute_raw(&place, sql).await;
    }

    let store = reopen(engine, &place).await;
    assert_eq!(
        store.index_drift(&grant).await.unwrap(),
        Vec::<String>::new()
    );
    // A send scheduled before tries were counted is due at its send_at, untried.
    let waiting = store
        .scheduled_send(&grant, &scheduled)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((waiting.due_at, waiting.attempts), (send_at, 0));
    assert_eq!(store.next_scheduled_send_at().await.unwrap(), Some(send_at));
    let all = MessageQuery {
        limit: 10,
        ..Default::default()
    };
    let threads = store.list_threads(&grant, &all).await.unwrap();
    assert_eq!(threads.len(), 2, "Plan (two messages) and Lunch");
    let from_ann = store
        .list_messages(
            &grant,
            &MessageQuery {
                from: vec!["ann@example.test".into()],
                ..all.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(from_ann.len(), 1);
    let from_ann_in_inbox = store
        .list_messages(
            &grant,
            &MessageQuery {
                from: vec!["ann@example.test".into()],
                folder_ids: vec![inbox.clone()],
                ..all.clone()
            },
        )
        .await
        .unwrap();
    let ids = |list: &[mailroom_store::MessageRecord]| -> Vec<String> {
        list.iter().map(|m| m.id.clone()).collect()
    };
    assert_eq!(
        ids(&from_ann_in_inbox),
        ids(&from_ann),
        "the address folders hold the old mail"
    );
    let with_ann = store
        .list_threads(
            &grant,
            &MessageQuery {
                any_email: vec!["ann@example.test".into()],
                ..all.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        with_ann.len(),
        1,
        "both of Plan's messages name Ann: one thread"
    );
    let planned = store
        .list_threads(
            &grant,
            &MessageQuery {
                subject: Some("PLAN".into()),
                ..all.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        planned, with_ann,
        "the subject index holds the old subjects"
    );
    let counts = store.folders_with_counts(&grant).await.unwrap();
    assert_eq!((counts[0].total_count, counts[0].unread_count), (3, 2));
    store.close().await;
    clean_up(place).await;
}

/// What migrations 0016 to 0018 added (and 0019's cluster tables), taken away again
/// after [`AFTER_0019`]: threads without their members and subjects, and no address
/// folders.
const BACK_TO_0015: &[&str] = &[
    "DROP TABLE grant_leases",
    "DROP TABLE cluster_nodes",
    "DROP TABLE address_folders",
    "ALTER TABLE threads DROP COLUMN subjects_lower",
    "ALTER TABLE threads DROP COLUMN members_json",
    "ALTER TABLE threads DROP COLUMN first_subject",
    "ALTER TABLE threads DROP COLUMN latest_message_id",
    "DELETE FROM _sqlx_migrations WHERE version >= 16",
];

/// A database of the release before thread rows kept their members gets them when the
/// store opens, and its thread pages read them.
async fn threads_kept_before_their_members_get_them(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let (grant, inbox) = grant_with_inbox(&store).await;
    let first = message(1, "a@x", &[], "Plan");
    let mut reply = message(2, "b@x", &["a@x"], "Re: Plan");
    reply.flags = vec!["\\Draft".into()];
    let other = message(3, "c@x", &[], "Lunch");
    store
        .add_folder_messages(&grant, &inbox, &[first, reply, other])
        .await
        .unwrap();
    store.close().await;
    for sql in AFTER_0019.iter().chain(BACK_TO_0015) {
        execute_raw(&place, sql).await;
    }

    let store = reopen(engine, &place).await;
    assert_eq!(
        store.index_drift(&grant).await.unwrap(),
        Vec::<String>::new()
    );
    let all = MessageQuery {
        limit: 10,
        ..Default::default()
    };
    let ids: Vec<String> = store
        .list_threads(&grant, &all)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let rows = store.thread_page_rows(&grant, &ids).await.unwrap();
    let mut kept: Vec<(usize, Option<String>)> = rows
        .values()
        .map(|row| {
            let list = row.members.clone().unwrap_or_default();
            (list.members.len(), list.first_subject)
        })
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [(1, Some("Lunch".to_owned())), (2, Some("Plan".to_owned()))]
    );
    store.close().await;
    clean_up(place).await;
}

on_both_engines!(
    an_older_database_is_upgraded_in_place,
    threads_kept_before_their_members_get_them
);
