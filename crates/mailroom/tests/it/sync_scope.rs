//! How much of a mailbox sync takes in, against the real testbed: `sync_bodies` (every
//! body, the recent ones, none; the rest read on demand) and `sync_since` (older mail
//! not indexed at all), and the body backlog read over more than one connection.

use std::time::Duration;

use crate::support::{
    Api, Mailroom, Testbed, connect_grant, data_len, eventually, find_by_subject,
    imap_peer::{ImapPeer, message, reset_user},
    testbed_env, wait_for,
};
use serde_json::Value;

/// An INTERNALDATE long before any window a test sets (RFC 3501 §6.3.11 `date-time`).
const OLD: &str = "\"20-Nov-2019 10:00:00 +0000\"";

fn server_with(settings: &[(&str, &str)]) -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    env.extend(
        settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Mailroom::start_with(env)
}

fn snippet(list: &Value, subject: &str) -> String {
    find_by_subject(list, subject)["snippet"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `body_count=N` of a Dovecot logout line: the bodies that session fetched.
fn body_count(line: &str) -> u64 {
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("body_count="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn note(id: &str, subject: &str, body: &str) -> String {
    message(id, subject, "ann@example.test", None, body)
}

/// Appends a message after the first pass and waits until it is listed: the pass that
/// found it started after the previous pass's background body reads had ended.
async fn another_pass(api: &Api, grant: &str, peer: &mut ImapPeer, subject: &str, count: usize) {
    peer.append(
        "INBOX",
        "()",
        &note(&format!("{subject}@test"), subject, "Later."),
    )
    .await;
    eventually(
        api,
        &format!("/v3/grants/{grant}/messages"),
        "the message appended after the first pass",
        |b| data_len(b) == count,
    )
    .await;
}

#[tokio::test]
async fn recent_days_reads_recent_bodies_and_the_rest_on_demand() {
    reset_user(57, false);
    let mut peer = ImapPeer::login(57).await;
    peer.append_dated(
        "INBOX",
        OLD,
        &note("old@test", "Old news", "Written long ago."),
    )
    .await;
    peer.append(
        "INBOX",
        "()",
        &note("new@test", "New news", "Written today."),
    )
    .await;
    let server = server_with(&[("MAILROOM_SYNC_BODIES", "recent_days:30")]);
    let (api, grant) = connect_grant(&server, 57).await;
    let messages = format!("/v3/grants/{grant}/messages");
    eventually(&api, &messages, "the recent body read", |b| {
        data_len(b) == 2 && snippet(b, "New news").contains("Written today")
    })
    .await;
    another_pass(&api, &grant, &mut peer, "Newer news", 3).await;
    let list = eventually(&api, &messages, "the newest body read", |b| {
        snippet(b, "Newer news").contains("Later")
    })
    .await;
    assert_eq!(snippet(&list, "Old news"), "", "{list}");

    // Read on demand, and kept.
    let old_id = find_by_subject(&list, "Old news")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = api.get(&format!("{messages}/{old_id}")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert!(
        one.body["data"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("Written long ago"),
        "{}",
        one.text
    );
    let list = api.get(&messages).await.body;
    assert!(snippet(&list, "Old news").contains("Written long ago"));
    peer.logout().await;
}

#[tokio::test]
async fn none_reads_no_body_until_one_is_asked_for() {
    reset_user(58, false);
    let mut peer = ImapPeer::login(58).await;
    for n in 0..3 {
        peer.append(
            "INBOX",
            "()",
            &note(&format!("n{n}@test"), &format!("Note {n}"), "Body text."),
        )
        .await;
    }
    let server = server_with(&[("MAILROOM_SYNC_BODIES", "none")]);
    let (api, grant) = connect_grant(&server, 58).await;
    let messages = format!("/v3/grants/{grant}/messages");
    eventually(&api, &messages, "three messages", |b| data_len(b) == 3).await;
    another_pass(&api, &grant, &mut peer, "Note 3", 4).await;
    let list = api.get(&messages).await.body;
    for n in 0..4 {
        assert_eq!(snippet(&list, &format!("Note {n}")), "", "{list}");
    }
    let progress = api.get(&format!("/v3/grants/{grant}")).await.body;
    assert_eq!(progress["data"]["sync_progress"]["bodies_synced"], 0);

    let id = find_by_subject(&list, "Note 1")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = api.get(&format!("{messages}/{id}")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert!(
        one.body["data"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("Body text"),
        "{}",
        one.text
    );
    // The full header list comes with the body: read on demand for a whole page.
    let headers = api
        .get(&format!("{messages}?fields=include_headers"))
        .await
        .body;
    assert!(
        headers["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["headers"].as_array().is_some_and(|h| !h.is_empty())),
        "{headers}"
    );
    peer.logout().await;
}

#[tokio::test]
async fn sync_since_leaves_older_mail_out_of_the_index() {
    reset_user(59, false);
    let mut peer = ImapPeer::login(59).await;
    peer.append_dated("INBOX", OLD, &note("old1@test", "Old one", "Old."))
        .await;
    peer.append_dated("Archive", OLD, &note("old2@test", "Old two", "Old."))
        .await;
    peer.append("INBOX", "()", &note("new1@test", "New one", "New."))
        .await;
    peer.append("Archive", "()", &note("new2@test", "New two", "New."))
        .await;
    let server = server_with(&[("MAILROOM_SYNC_SINCE", "2024-01-01")]);
    let (api, grant) = connect_grant(&server, 59).await;
    let messages = format!("/v3/grants/{grant}/messages");
    let grant_path = format!("/v3/grants/{grant}");
    let synced = eventually(&api, &grant_path, "the first pass", |b| {
        b["data"]["sync_state"] == "running"
    })
    .await;
    assert_eq!(synced["data"]["sync_progress"]["messages_total"], 2);
    let list = api.get(&messages).await.body;
    assert_eq!(data_len(&list), 2, "{list}");
    find_by_subject(&list, "New one");
    find_by_subject(&list, "New two");

    // New mail after the first pass (QRESYNC: `UID n:* SINCE …`): old mail copied in
    // later is left out too.
    peer.append_dated("INBOX", OLD, &note("old3@test", "Old three", "Old."))
        .await;
    another_pass(&api, &grant, &mut peer, "New three", 3).await;
    let list = api.get(&messages).await.body;
    let subjects: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["subject"].as_str())
        .collect();
    assert!(
        subjects.iter().all(|s| s.starts_with("New")),
        "{subjects:?}"
    );
    peer.logout().await;
}

#[tokio::test]
async fn a_backlog_of_bodies_is_read_over_two_connections() {
    // More than one FETCH's worth (8 MiB), so a second connection is opened.
    const COUNT: usize = 40;
    reset_user(64, false);
    let mut peer = ImapPeer::login(64).await;
    let filler = "All work and no play makes a long message. ".repeat(6_000);
    // Not in the Inbox, whose newest bodies a first sync reads before anything else.
    for n in 0..COUNT {
        peer.append(
            "Archive",
            "()",
            &note(
                &format!("big{n}@test"),
                &format!("Big {n}"),
                &format!("Number {n} here. {filler}"),
            ),
        )
        .await;
    }
    let log = Testbed::get().dir.join("log/dovecot.log");
    let log_start = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let server = server_with(&[("MAILROOM_SYNC_BODY_CONNECTIONS", "2")]);
    let (api, grant) = connect_grant(&server, 64).await;
    let messages = format!("/v3/grants/{grant}/messages?limit={COUNT}");
    let list = eventually(&api, &messages, "every body read", |b| {
        data_len(b) == COUNT
            && b["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| !m["snippet"].as_str().unwrap_or_default().is_empty())
    })
    .await;
    for n in 0..COUNT {
        assert!(
            snippet(&list, &format!("Big {n}")).starts_with(&format!("Number {n} here")),
            "{n}"
        );
    }
    let progress = api.get(&format!("/v3/grants/{grant}")).await.body;
    assert_eq!(progress["data"]["sync_progress"]["bodies_synced"], COUNT);
    peer.logout().await;

    // The grant's own session and its IDLE watchers stay logged in; a session that read
    // bodies and logged out is the second body connection, closed after the backlog.
    wait_for(
        "Dovecot to log the second body connection",
        Duration::from_secs(20),
        || {
            let bytes = std::fs::read(&log).ok()?;
            let text = String::from_utf8_lossy(bytes.get(log_start as usize..)?).into_owned();
            text.lines()
                .any(|line| {
                    line.contains("imap(user64@example.test)")
                        && line.contains("Logged out")
                        && body_count(line) > 0
                })
                .then_some(())
        },
    );
}
