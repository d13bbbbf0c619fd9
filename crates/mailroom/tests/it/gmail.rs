//! mailroom on a Gmail-like server (`testbed/hostile-mail-server`, modes `gmail*`, see
//! testbed/README.md): X-GM-EXT-1, a folder per label, All Mail, and X-GM-MSGID,
//! X-GM-THRID and X-GM-LABELS in its FETCH answers. The testbed's Dovecot cannot play
//! Gmail, so the server is scripted.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

use crate::support::{
    self, Api, Mailroom, data_len, eventually, hostile_server::HostileServer, imap_app,
};
use serde_json::{Value, json};

fn mailroom() -> Mailroom {
    let mut env = support::testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    Mailroom::start_with(env)
}

/// A custom-auth grant on the scripted server for `username` (whose local part may name
/// a mode, as in `anyone+gmail-badid@…`).
async fn connect(api: &Api, gmail: &HostileServer, username: &str) -> String {
    let reply = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": gmail.settings(username, "secret")}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["data"]["id"].as_str().unwrap().to_owned()
}

/// Waits for the grant's first pass over every folder, `messages` messages indexed.
async fn synced(api: &Api, grant: &str, messages: u64) -> Value {
    eventually(api, &format!("/v3/grants/{grant}"), "the first pass", |b| {
        b["data"]["sync_state"] == "running"
            && b["data"]["sync_progress"]["messages_synced"] == messages
    })
    .await
}

/// The grant's folders by name: (id, total_count).
async fn folders(api: &Api, grant: &str) -> HashMap<String, (String, u64)> {
    let reply = api.get(&format!("/v3/grants/{grant}/folders")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["data"]
        .as_array()
        .expect("folder list")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap_or_default().to_owned(),
                (
                    f["id"].as_str().unwrap_or_default().to_owned(),
                    f["total_count"].as_u64().unwrap_or(u64::MAX),
                ),
            )
        })
        .collect()
}

/// The message with this subject from this sender.
fn message<'a>(list: &'a Value, subject: &str, from: &str) -> &'a Value {
    list["data"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|m| m["subject"] == subject && m["from"][0]["email"] == from)
        })
        .unwrap_or_else(|| panic!("no message '{subject}' from {from}: {list}"))
}

fn folder_set(message: &Value) -> BTreeSet<String> {
    message["folders"]
        .as_array()
        .expect("folders")
        .iter()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_gmail_mailbox_is_indexed_once_with_its_threads_and_labels_as_folders() {
    let gmail = HostileServer::start("gmail", 0);
    let server = mailroom();
    let (_, api) = imap_app(&server, "gmail").await;
    let grant = connect(&api, &gmail, "me@gmail.test").await;
    let status = synced(&api, &grant, 7).await;
    // 14 locations in 6 folders, 7 messages: only All Mail and Trash count toward the
    // total, which every other folder shows again.
    assert_eq!(
        status["data"]["sync_progress"]["messages_total"], 7,
        "{status}"
    );

    let folders = folders(&api, &grant).await;
    let id = |name: &str| {
        folders
            .get(name)
            .unwrap_or_else(|| panic!("no folder {name}: {folders:?}"))
            .0
            .clone()
    };
    for (name, total) in [
        ("INBOX", 4),
        ("All Mail", 6),
        ("Sent Mail", 1),
        ("Trash", 1),
        ("Work", 1),
        ("Équipe", 1),
    ] {
        assert_eq!(folders[name].1, total, "{name}: {folders:?}");
    }

    let list = api
        .get(&format!("/v3/grants/{grant}/messages?limit=50"))
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(data_len(&list.body), 7, "{}", list.text);
    let plans = message(&list.body, "Plans for Monday", "ann@gmail.test");
    let reply = message(&list.body, "Re: Plans for Monday", "me@gmail.test");
    let again = message(&list.body, "Re: Plans for Monday", "ann@gmail.test");
    let receipt = message(&list.body, "Old receipt", "shop@gmail.test");
    let deleted = message(&list.body, "Deleted newsletter", "news@gmail.test");

    // One message per Gmail message, in the folder of each label and in All Mail.
    let set = |names: &[&str]| -> BTreeSet<String> { names.iter().map(|n| id(n)).collect() };
    assert_eq!(folder_set(plans), set(&["INBOX", "Work", "All Mail"]));
    assert_eq!(folder_set(again), set(&["INBOX", "Équipe", "All Mail"]));
    assert_eq!(folder_set(reply), set(&["Sent Mail", "All Mail"]));
    // Archived: All Mail alone holds it.
    assert_eq!(folder_set(receipt), set(&["All Mail"]));
    assert_eq!(folder_set(deleted), set(&["Trash"]));
    // One Message-ID on two Gmail messages: two messages, not one.
    let failed = message(&list.body, "Build failed", "ci@gmail.test");
    let fixed = message(&list.body, "Build fixed", "ci@gmail.test");
    assert_ne!(failed["id"], fixed["id"]);

    // Gmail's conversations: `again` has no reference header but is in the thread;
    // `receipt` cites the first message but Gmail keeps it apart.
    let thread = plans["thread_id"].as_str().expect("thread id");
    assert_eq!(reply["thread_id"], thread);
    assert_eq!(again["thread_id"], thread);
    assert_ne!(receipt["thread_id"], thread);
    let threads = api
        .get(&format!("/v3/grants/{grant}/threads/{thread}"))
        .await;
    assert_eq!(threads.status, 200, "{}", threads.text);
    assert_eq!(
        threads.body["data"]["message_ids"].as_array().map(Vec::len),
        Some(3),
        "{}",
        threads.text
    );

    // A draft reply, saved twice: each save is a new Gmail message with the draft's
    // Message-ID; the draft keeps its id, joins the conversation and is indexed once,
    // in Drafts and All Mail.
    let drafts = format!("/v3/grants/{grant}/drafts");
    let draft = api
        .post(
            &drafts,
            json!({"to": [{"email": "ann@gmail.test"}], "subject": "Draft reply",
                   "body": "Maybe Tuesday?", "reply_to_message_id": again["id"]}),
        )
        .await;
    assert_eq!(draft.status, 200, "{}", draft.text);
    let draft_id = draft.body["data"]["id"].as_str().expect("id").to_owned();
    assert_eq!(draft.body["data"]["thread_id"], thread, "{}", draft.text);
    let saved = api
        .send(
            "PUT",
            &format!("{drafts}/{draft_id}"),
            Some(json!({"body": "Tuesday, then."})),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(saved.body["data"]["id"], draft_id.as_str());
    let path = format!("/v3/grants/{grant}/messages/{draft_id}");
    eventually(&api, &path, "the draft in Drafts and All Mail", |b| {
        folder_set(&b["data"]) == set(&["Drafts", "All Mail"])
    })
    .await;
    assert_eq!(
        server.database_scalar("SELECT COUNT(*) FROM messages WHERE subject = 'Draft reply'"),
        1
    );

    // Sent: Gmail files a new message in Sent; it takes the draft over, so the draft's id
    // is the sent message's, as on any server. The message replied to is found by its
    // Message-ID and marked answered.
    let answered_before = gmail.count("\\Answered");
    let sent_draft = api
        .raw(
            "POST",
            &format!("{drafts}/{draft_id}"),
            "application/json",
            "{}",
        )
        .await;
    assert_eq!(sent_draft.status, 200, "{}", sent_draft.text);
    assert_eq!(sent_draft.body["data"]["id"], draft_id.as_str());
    assert_eq!(sent_draft.body["data"]["thread_id"], thread);
    assert!(
        gmail.count("\\Answered") > answered_before,
        "{}",
        gmail.log()
    );
    eventually(&api, &path, "the sent draft in Sent and All Mail", |b| {
        folder_set(&b["data"]) == set(&["Sent Mail", "All Mail"])
    })
    .await;

    // A reply sent through the grant: Gmail files it in Sent itself; mailroom appends
    // nothing and answers with the server's copy, in the thread.
    let sent = api
        .post(
            &format!("/v3/grants/{grant}/messages/send"),
            json!({"to": [{"email": "ann@gmail.test"}], "subject": "Re: Plans for Monday",
                   "body": "Monday it is.", "reply_to_message_id": again["id"]}),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let sent_id = sent.body["data"]["id"].as_str().expect("id").to_owned();
    assert_eq!(sent.body["data"]["thread_id"], thread, "{}", sent.text);
    assert_eq!(folder_set(&sent.body["data"]), set(&["Sent Mail"]));
    assert_eq!(
        gmail.count(" APPEND \"[Gmail]/Sent Mail\""),
        0,
        "{}",
        gmail.log()
    );
    // The next pass finds it in All Mail too: the same message.
    let path = format!("/v3/grants/{grant}/messages/{sent_id}");
    eventually(&api, &path, "the sent copy in All Mail", |b| {
        folder_set(&b["data"]) == set(&["Sent Mail", "All Mail"])
    })
    .await;
    // Seven, the sent draft and the sent reply: each once.
    let list = api
        .get(&format!("/v3/grants/{grant}/messages?limit=50"))
        .await;
    assert_eq!(data_len(&list.body), 9, "{}", list.text);
    assert_eq!(
        server.database_scalar(
            "SELECT COUNT(*) FROM messages m WHERE EXISTS \
             (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)"
        ),
        9
    );
}

#[tokio::test]
async fn hostile_gmail_attributes_cost_a_retry_or_are_cut_never_a_crash() {
    let gmail = HostileServer::start("gmail", 0);
    let mut server = mailroom();
    let (_, api) = imap_app(&server, "gmail").await;
    // 20,000 labels on every message: the first few hundred are kept, sync goes on.
    let many = connect(&api, &gmail, "anyone+gmail-biglabels@gmail.test").await;
    // X-GM-MSGID values that are not numbers: the answer cannot be parsed, the grant
    // retries and says why.
    let bad = connect(&api, &gmail, "anyone+gmail-badid@gmail.test").await;

    synced(&api, &many, 7).await;
    let list = api
        .get(&format!("/v3/grants/{many}/messages?limit=50"))
        .await;
    assert_eq!(data_len(&list.body), 7, "{}", list.text);

    let deadline = Instant::now() + Duration::from_secs(60);
    let error = loop {
        let status = server.cli(&["grants", "status", "--json"]);
        assert!(status.status.success(), "{status:?}");
        let rows: Value = serde_json::from_slice(&status.stdout).expect("JSON");
        let row = rows
            .as_array()
            .and_then(|r| r.iter().find(|g| g["grant_id"] == bad.as_str()))
            .cloned()
            .unwrap_or_default();
        let error = row["last_error"].as_str().unwrap_or_default().to_owned();
        if row["sync_state"] == "retrying" && !error.is_empty() {
            break error;
        }
        assert!(
            Instant::now() < deadline,
            "the grant never reported a retry; last status: {row}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(error.contains("cannot be parsed"), "{error}");
    assert!(error.contains("X-GM-MSGID"), "{error}");
    assert!(error.len() < 1_000, "{error}");
    assert!(server.is_running(), "mailroom exited");
}
