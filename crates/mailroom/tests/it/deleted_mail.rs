//! Deleted mail leaves the index, against the real testbed: a message deleted for good
//! through the API is announced `message.deleted` and its row and body are gone from
//! the database; a mailbox of many messages emptied on the server leaves no row behind
//! and, on SQLite, gives the database's space back (incremental auto-vacuum).

use std::time::{Duration, Instant};

use crate::support::{
    Engine, Mailroom, connect_grant, eventually,
    imap_peer::{ImapPeer, message, reset_user},
    testbed_env,
    webhook_receiver::Receiver,
};
use serde_json::json;

const DELETE_USER: u32 = 508;
const EMPTIED_USER: u32 = 509;
const MANY: usize = 150;

fn server() -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    Mailroom::start_with(env)
}

/// Waits (deadline `limit`) until `sql`, read from the server's database behind its back,
/// gives `wanted`.
async fn until_scalar(server: &Mailroom, sql: &str, limit: Duration, wanted: impl Fn(i64) -> bool) {
    let start = Instant::now();
    loop {
        let value = server.database_scalar(sql);
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
        &server,
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
    assert_eq!(server.database_scalar(&select), 0);
    assert_eq!(
        server.database_scalar(
            "SELECT COUNT(*) FROM messages WHERE body_html LIKE '%vanishing words%' \
             OR subject = 'Delete me'"
        ),
        0
    );
    // The other message is untouched.
    assert_eq!(
        server.database_scalar(
            "SELECT COUNT(*) FROM messages WHERE body_html LIKE '%lasting words%'"
        ),
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
    let (_api, _grant) = connect_grant(&server, EMPTIED_USER).await;
    until_scalar(
        &server,
        "SELECT COUNT(*) FROM messages WHERE body_fetched = 1",
        Duration::from_secs(120),
        |n| n == MANY as i64,
    )
    .await;
    let size = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
    let sqlite = server.database.engine() == Engine::Sqlite;
    let full = if sqlite {
        server.database_scalar(size)
    } else {
        0
    };

    peer.expunge_all("INBOX").await;
    peer.logout().await;
    until_scalar(
        &server,
        "SELECT COUNT(*) FROM messages",
        Duration::from_secs(60),
        |n| n == 0,
    )
    .await;
    // Nothing of the messages is left in the tables that hang off them either.
    for table in ["message_locations", "message_addresses", "threads"] {
        assert_eq!(
            server.database_scalar(&format!("SELECT COUNT(*) FROM {table}")),
            0,
            "{table}"
        );
    }
    if !sqlite {
        // On PostgreSQL the space of deleted rows is the server's to reclaim (VACUUM,
        // autovacuum), not mailroom's: the rows being gone is what mailroom owes.
        return;
    }
    until_scalar(&server, size, Duration::from_secs(30), |bytes| {
        bytes * 4 < full
    })
    .await;
    let emptied = server.database_scalar(size);
    // The file itself shrinks once the write-ahead log is checkpointed.
    server.database_scalar("PRAGMA wal_checkpoint(TRUNCATE)");
    let data_dir = server.data_dir.path();
    let file = std::fs::metadata(data_dir.join("mailroom.db"))
        .map(|m| m.len())
        .unwrap_or_default();
    println!(
        "database with {MANY} messages: {full} bytes; emptied: {emptied} bytes (file {file} bytes)"
    );
    assert!((file as i64) * 4 < full, "file {file} bytes, full {full}");
}
