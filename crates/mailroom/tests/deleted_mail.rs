//! Deleted mail leaves the index, against the real testbed: a message deleted for good
//! through the API is announced `message.deleted` and its row and body are gone from
//! the database; a mailbox of many messages emptied on the server gives the database's
//! space back (SQLite's incremental auto-vacuum).

mod support;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use serde_json::json;
use sqlx::{Connection, Row, SqliteConnection};
use support::{
    Mailroom, connect_grant, eventually,
    imap_peer::{ImapPeer, message, reset_user},
    testbed_env,
    webhook_receiver::Receiver,
};

const DELETE_USER: u32 = 39;
const EMPTIED_USER: u32 = 45;
const MANY: usize = 150;

fn server() -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    Mailroom::start_with(env)
}

/// A number read from the server's SQLite database behind its back.
async fn scalar(data_dir: &Path, sql: &str) -> i64 {
    let url = format!("sqlite://{}", data_dir.join("mailroom.db").display());
    let mut conn = SqliteConnection::connect(&url)
        .await
        .expect("open the database");
    let value = sqlx::query(sql)
        .fetch_one(&mut conn)
        .await
        .expect(sql)
        .get::<i64, _>(0);
    conn.close().await.ok();
    value
}

/// Waits (deadline `limit`) until `sql` gives `wanted`.
async fn until_scalar(data_dir: &Path, sql: &str, limit: Duration, wanted: impl Fn(i64) -> bool) {
    let start = Instant::now();
    loop {
        let value = scalar(data_dir, sql).await;
        if wanted(value) {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "timed out waiting on `{sql}` (last {value})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_message_deleted_for_good_leaves_the_database() {
    reset_user(DELETE_USER, false);
    let mut peer = ImapPeer::login(DELETE_USER).await;
    peer.append(
        "INBOX",
        "()",
        &message(
            "keep@deleted",
            "Keep me",
            "ann@example.test",
            None,
            "lasting words",
        ),
    )
    .await;
    peer.append(
        "INBOX",
        "()",
        &message(
            "gone@deleted",
            "Delete me",
            "ann@example.test",
            None,
            "vanishing words",
        ),
    )
    .await;
    peer.logout().await;
    let server = server();
    let data_dir = server.data_dir.path().to_owned();
    let (api, grant) = connect_grant(&server, DELETE_USER).await;
    let listed = eventually(
        &api,
        &format!("/v3/grants/{grant}/messages"),
        "the first sync",
        |b| b["data"].as_array().is_some_and(|l| l.len() == 2),
    )
    .await;
    let id = listed["data"]
        .as_array()
        .and_then(|l| l.iter().find(|m| m["subject"] == "Delete me"))
        .and_then(|m| m["id"].as_str())
        .expect("the message to delete")
        .to_owned();
    until_scalar(
        &data_dir,
        "SELECT COUNT(*) FROM messages WHERE body_html LIKE '%vanishing words%'",
        Duration::from_secs(30),
        |n| n == 1,
    )
    .await;
    let receiver = Receiver::start().await;
    let reply = api
        .post(
            "/v3/webhooks",
            json!({"trigger_types": ["message.deleted"], "webhook_url": receiver.url}),
        )
        .await;
    assert!(reply.status < 300, "{}", reply.text);

    // To Trash, then for good.
    let path = format!("/v3/grants/{grant}/messages/{id}");
    assert_eq!(api.delete(&path).await.status, 200);
    assert_eq!(api.delete(&path).await.status, 200);
    receiver
        .wait_for("message.deleted", |o| o["id"] == id.as_str())
        .await;
    let select = format!("SELECT COUNT(*) FROM messages WHERE id = '{id}'");
    assert_eq!(scalar(&data_dir, &select).await, 0);
    assert_eq!(
        scalar(
            &data_dir,
            "SELECT COUNT(*) FROM messages WHERE body_html LIKE '%vanishing words%' \
             OR subject = 'Delete me'"
        )
        .await,
        0
    );
    // The other message is untouched.
    assert_eq!(
        scalar(
            &data_dir,
            "SELECT COUNT(*) FROM messages WHERE body_html LIKE '%lasting words%'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn emptying_a_mailbox_gives_the_space_back() {
    reset_user(EMPTIED_USER, false);
    let mut peer = ImapPeer::login(EMPTIED_USER).await;
    let filler = "many words of a long letter ".repeat(2000);
    for n in 0..MANY {
        peer.append(
            "INBOX",
            "()",
            &message(
                &format!("bulk{n}@deleted"),
                &format!("Bulk {n}"),
                "ann@example.test",
                None,
                &filler,
            ),
        )
        .await;
    }
    let server = server();
    let data_dir = server.data_dir.path().to_owned();
    let (_api, _grant) = connect_grant(&server, EMPTIED_USER).await;
    until_scalar(
        &data_dir,
        "SELECT COUNT(*) FROM messages WHERE body_fetched = 1",
        Duration::from_secs(120),
        |n| n == MANY as i64,
    )
    .await;
    let size = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
    let full = scalar(&data_dir, size).await;

    peer.expunge_all("INBOX").await;
    peer.logout().await;
    until_scalar(
        &data_dir,
        "SELECT COUNT(*) FROM messages",
        Duration::from_secs(60),
        |n| n == 0,
    )
    .await;
    until_scalar(&data_dir, size, Duration::from_secs(30), |bytes| {
        bytes * 4 < full
    })
    .await;
    let emptied = scalar(&data_dir, size).await;
    // The file itself shrinks once the write-ahead log is checkpointed.
    scalar(&data_dir, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    let file = std::fs::metadata(data_dir.join("mailroom.db"))
        .map(|m| m.len())
        .unwrap_or_default();
    println!(
        "database with {MANY} messages: {full} bytes; emptied: {emptied} bytes (file {file} bytes)"
    );
    assert!((file as i64) * 4 < full, "file {file} bytes, full {full}");
}
