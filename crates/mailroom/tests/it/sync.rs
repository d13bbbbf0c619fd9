//! The sync engine against the real testbed: initial sync, the read API answered from the
//! index, another client's changes caught up, ids stable across moves, UIDVALIDITY
//! resets and restarts.

use std::time::Duration;

use crate::support::{
    Api, Mailroom, PasswordChange, connect_grant, data_len, eventually, eventually_within,
    find_by_subject,
    imap_peer::{
        ImapPeer, kick_user, message, message_with_attachment, recreate_with_new_uidvalidity,
        reset_user,
    },
    testbed_env,
};
use serde_json::{Value, json};

/// A server that polls every second, so tests see changes quickly.
fn fast_server() -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    Mailroom::start_with(env)
}

#[tokio::test]
async fn initial_sync_serves_folders_messages_threads_and_attachments() {
    reset_user(1, false);
    let mut peer = ImapPeer::login(1).await;
    peer.create("Archive/2023").await;
    peer.append(
        "INBOX",
        "(\\Seen)",
        &message(
            "first@test",
            "Quarterly plan",
            "ann@example.test",
            None,
            "The plan is attached below.",
        ),
    )
    .await;
    peer.append(
        "INBOX",
        "()",
        &message(
            "reply@test",
            "Re: Quarterly plan",
            "dan@example.test",
            Some("first@test"),
            "Looks good to me.",
        ),
    )
    .await;
    peer.append(
        "INBOX",
        "(\\Flagged)",
        &message_with_attachment(
            "report@test",
            "Report",
            "report.pdf",
            b"%PDF-1.4 test bytes",
        ),
    )
    .await;
    peer.append(
        "Sent",
        "(\\Seen)",
        &message(
            "sent@test",
            "Re: Quarterly plan",
            "user1@example.test",
            Some("reply@test"),
            "Thanks all.",
        ),
    )
    .await;
    peer.logout().await;

    let server = fast_server();
    let (api, grant) = connect_grant(&server, 1).await;
    let messages = format!("/v3/grants/{grant}/messages");
    let all = eventually(&api, &messages, "four messages", |b| data_len(b) == 4).await;

    // Folders with roles, hierarchy and counts.
    let folders = api.get(&format!("/v3/grants/{grant}/folders")).await;
    assert_eq!(folders.status, 200);
    let list = folders.body["data"].as_array().unwrap();
    let by_name = |name: &str| {
        list.iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {list:?}"))
    };
    let inbox = by_name("INBOX");
    assert!(
        inbox["attributes"]
            .as_array()
            .unwrap()
            .contains(&json!("\\Inbox"))
    );
    assert_eq!(inbox["total_count"], 3);
    assert_eq!(inbox["unread_count"], 2);
    assert!(
        by_name("Sent")["attributes"]
            .as_array()
            .unwrap()
            .contains(&json!("\\Sent"))
    );
    let archive = by_name("Archive");
    assert_eq!(by_name("2023")["parent_id"], archive["id"]);
    assert_eq!(archive["child_count"], 1);
    for folder in list {
        let id = folder["id"].as_str().unwrap();
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(
            api.get(&format!("/v3/grants/{grant}/folders/{id}"))
                .await
                .status,
            200
        );
    }

    // Newest first; filters.
    let dates: Vec<i64> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["date"].as_i64().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    let inbox_id = inbox["id"].as_str().unwrap();
    assert_eq!(
        data_len(&api.get(&format!("{messages}?in={inbox_id}")).await.body),
        3
    );
    assert_eq!(
        data_len(&api.get(&format!("{messages}?unread=True")).await.body),
        2
    );
    assert_eq!(
        data_len(&api.get(&format!("{messages}?starred=true")).await.body),
        1
    );
    assert_eq!(
        data_len(&api.get(&format!("{messages}?subject=quarterly")).await.body),
        3
    );
    assert_eq!(
        data_len(
            &api.get(&format!("{messages}?from=dan%40example.test"))
                .await
                .body
        ),
        1
    );
    assert_eq!(
        data_len(
            &api.get(&format!(
                "{messages}?any_email=dan@example.test,carol@example.test"
            ))
            .await
            .body
        ),
        2
    );

    // Paging: two pages of two, no overlap, no cursor after the last.
    let page1 = api.get(&format!("{messages}?limit=2")).await.body;
    let cursor = page1["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let page2 = api
        .get(&format!("{messages}?limit=2&page_token={cursor}"))
        .await
        .body;
    assert_eq!(data_len(&page2), 2);
    assert!(page2["next_cursor"].is_null());
    let ids: std::collections::HashSet<_> = page1["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["data"].as_array().unwrap())
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids.len(), 4);

    // One thread across Inbox and Sent.
    let first = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["subject"] == "Quarterly plan")
        .unwrap();
    let thread_id = first["thread_id"].as_str().unwrap();
    let thread = api
        .get(&format!("/v3/grants/{grant}/threads/{thread_id}"))
        .await;
    assert_eq!(thread.status, 200, "{}", thread.text);
    assert_eq!(
        thread.body["data"]["message_ids"].as_array().unwrap().len(),
        3
    );
    for field in [
        "id",
        "grant_id",
        "has_drafts",
        "starred",
        "unread",
        "message_ids",
        "folders",
    ] {
        assert!(!thread.body["data"][field].is_null(), "{field}");
    }
    assert_eq!(
        thread.body["data"]["latest_draft_or_message"]["object"],
        "message"
    );
    assert_eq!(thread.body["data"]["folders"].as_array().unwrap().len(), 2);
    // Sent: the latest Date: header (each message says Mon, 20 Nov 2023 10:00:00 +0000);
    // received: the INTERNALDATE of the APPENDs above, which is now.
    assert_eq!(
        thread.body["data"]["latest_message_sent_date"],
        1_700_474_400
    );
    assert!(
        thread.body["data"]["latest_message_received_date"]
            .as_i64()
            .unwrap()
            > 1_700_474_400
    );
    let listed = api.get(&format!("/v3/grants/{grant}/threads")).await.body;
    let listed = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == thread_id)
        .unwrap();
    assert_eq!(listed["latest_message_sent_date"], 1_700_474_400);
    let threads = api.get(&format!("/v3/grants/{grant}/threads")).await;
    assert_eq!(data_len(&threads.body), 2);

    // A message with its body, snippet and headers.
    let id = first["id"].as_str().unwrap();
    let one = api
        .get(&format!("{messages}/{id}?fields=include_headers"))
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert!(
        one.body["data"]["body"]
            .as_str()
            .unwrap()
            .contains("The plan is attached below.")
    );
    assert!(
        one.body["data"]["snippet"]
            .as_str()
            .unwrap()
            .starts_with("The plan")
    );
    assert!(
        one.body["data"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == "Subject")
    );
    assert_eq!(one.body["data"]["from"][0]["email"], "ann@example.test");
    assert_eq!(one.body["data"]["from"][0]["name"], "Ann Example");

    // The attachment: metadata, then the decoded bytes.
    let report = find_by_subject(&all, "Report");
    let report_id = report["id"].as_str().unwrap();
    let full = api.get(&format!("{messages}/{report_id}")).await.body;
    let attachment = &full["data"]["attachments"][0];
    assert_eq!(attachment["filename"], "report.pdf");
    assert_eq!(attachment["content_type"], "application/pdf");
    let attachment_id = attachment["id"].as_str().unwrap();
    let meta = api
        .get(&format!(
            "/v3/grants/{grant}/attachments/{attachment_id}?message_id={report_id}"
        ))
        .await;
    assert_eq!(meta.status, 200, "{}", meta.text);
    assert_eq!(meta.body["data"]["size"], 19);
    let download = api
        .http
        .get(format!(
            "{}/v3/grants/{grant}/attachments/{attachment_id}/download?message_id={report_id}",
            server.base_url
        ))
        .bearer_auth(api.api_key.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "application/pdf");
    assert_eq!(
        download.bytes().await.unwrap().as_ref(),
        b"%PDF-1.4 test bytes"
    );
    assert_eq!(
        data_len(
            &api.get(&format!("{messages}?has_attachment=true"))
                .await
                .body
        ),
        1
    );

    // IMAP SEARCH passed to the server.
    let native = api
        .get(&format!(
            "{messages}?search_query_native=BODY%20%22Looks%20good%22"
        ))
        .await;
    assert_eq!(native.status, 200, "{}", native.text);
    assert_eq!(data_len(&native.body), 1);

    // Unknown ids are 404 in the envelope.
    assert_eq!(api.get(&format!("{messages}/nope")).await.status, 404);
    assert_eq!(
        api.get(&format!("/v3/grants/{grant}/folders/nope"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn another_clients_changes_are_caught_up_with_qresync() {
    another_clients_changes_are_caught_up(2, "").await;
}

#[tokio::test]
async fn another_clients_changes_are_caught_up_with_condstore_alone() {
    another_clients_changes_are_caught_up(9, "QRESYNC").await;
}

#[tokio::test]
async fn another_clients_changes_are_caught_up_without_condstore() {
    another_clients_changes_are_caught_up(10, "QRESYNC,CONDSTORE").await;
}

/// New mail, flags, a move (same id), an expunge and a folder rename by another client,
/// with the server's extensions in `ignored` hidden from mailroom's sync.
fn with_subject<'a>(body: &'a Value, subject: &str) -> Option<&'a Value> {
    body["data"]
        .as_array()
        .and_then(|list| list.iter().find(|m| m["subject"] == subject))
}

async fn another_clients_changes_are_caught_up(user: u32, ignored: &str) {
    reset_user(user, false);
    let mut peer = ImapPeer::login(user).await;
    peer.append(
        "INBOX",
        "()",
        &message("keep@test", "Keep me", "ann@example.test", None, "one"),
    )
    .await;
    peer.append(
        "INBOX",
        "()",
        &message("gone@test", "Delete me", "ann@example.test", None, "two"),
    )
    .await;
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    env.push(("MAILROOM_SYNC_IGNORE_CAPABILITIES".into(), ignored.into()));
    let server = Mailroom::start_with(env);
    let (api, grant) = connect_grant(&server, user).await;
    let messages = format!("/v3/grants/{grant}/messages");
    let before = eventually(&api, &messages, "two messages", |b| data_len(b) == 2).await;
    let keep_id = find_by_subject(&before, "Keep me")["id"].clone();

    // New mail.
    peer.append(
        "INBOX",
        "()",
        &message("new@test", "Fresh", "eve@example.test", None, "three"),
    )
    .await;
    eventually(&api, &messages, "the new message", |b| data_len(b) == 3).await;

    // A flag change.
    peer.store_flags("INBOX", "keep@test", "+FLAGS (\\Flagged \\Seen)")
        .await;
    eventually(&api, &messages, "starred", |b| {
        with_subject(b, "Keep me").is_some_and(|m| m["starred"] == true && m["unread"] == false)
    })
    .await;

    // A move keeps the id and changes the folder.
    peer.move_message("INBOX", "keep@test", "Archive").await;
    let folders = api.get(&format!("/v3/grants/{grant}/folders")).await.body;
    let archive_id = folders["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Archive")
        .unwrap()["id"]
        .clone();
    // Seen as "gone from Inbox" before "arrived in Archive", the message may be missing
    // from a list for a moment.
    eventually(&api, &messages, "the move", |b| {
        with_subject(b, "Keep me")
            .is_some_and(|m| m["id"] == keep_id && m["folders"] == json!([archive_id.clone()]))
    })
    .await;

    // An expunge.
    peer.expunge_message("INBOX", "gone@test").await;
    eventually(&api, &messages, "the expunge", |b| data_len(b) == 2).await;

    // The folders' counts are the server's STATUS after these changes.
    let mut counts = Vec::new();
    for folder in ["INBOX", "Archive"] {
        counts.push((folder, peer.status(folder).await));
    }
    eventually(
        &api,
        &format!("/v3/grants/{grant}/folders"),
        "counts equal to STATUS",
        |b| {
            counts.iter().all(|(name, (total, unread))| {
                b["data"].as_array().unwrap().iter().any(|f| {
                    f["name"] == *name
                        && f["total_count"] == json!(total)
                        && f["unread_count"] == json!(unread)
                })
            })
        },
    )
    .await;

    // A folder rename.
    peer.create("Projects").await;
    eventually(
        &api,
        &format!("/v3/grants/{grant}/folders"),
        "new folder",
        |b| {
            b["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "Projects")
        },
    )
    .await;
    peer.rename("Projects", "Clients").await;
    eventually(
        &api,
        &format!("/v3/grants/{grant}/folders"),
        "renamed folder",
        |b| {
            let names: Vec<_> = b["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].clone())
                .collect();
            names.contains(&json!("Clients")) && !names.contains(&json!("Projects"))
        },
    )
    .await;
    peer.logout().await;
}

#[tokio::test]
async fn ids_survive_a_uidvalidity_reset_and_a_restart() {
    reset_user(3, true);
    let mut peer = ImapPeer::login(3).await;
    peer.append(
        "INBOX",
        "()",
        &message("stable@test", "Stable", "ann@example.test", None, "x"),
    )
    .await;
    peer.logout().await;
    // A short lease: the restarted node takes the grant over once the killed node's
    // lease runs out, well inside the wait below even on a loaded machine.
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    env.push(("MAILROOM_LEASE_SECS".into(), "3".into()));
    let server = Mailroom::start_with(env);
    let (api, grant) = connect_grant(&server, 3).await;
    let messages = format!("/v3/grants/{grant}/messages");
    let before = eventually(&api, &messages, "one message", |b| data_len(b) == 1).await;
    let id = before["data"][0]["id"].clone();

    // Restart on the same data: same id, nothing duplicated.
    let server = server.restart();
    let api = Api {
        base_url: server.base_url.clone(),
        ..api
    };
    let after_restart = eventually(&api, &messages, "the message after restart", |b| {
        data_len(b) == 1
    })
    .await;
    assert_eq!(after_restart["data"][0]["id"], id);

    // New UIDVALIDITY (the maildir is recreated) with the same message: same id.
    let mut peer = recreate_with_new_uidvalidity(3).await;
    peer.append(
        "INBOX",
        "()",
        &message("other@test", "Other", "ann@example.test", None, "y"),
    )
    .await;
    peer.append(
        "INBOX",
        "()",
        &message("stable@test", "Stable", "ann@example.test", None, "x"),
    )
    .await;
    peer.logout().await;
    let after_reset = eventually(&api, &messages, "re-read folder", |b| data_len(b) == 2).await;
    assert_eq!(find_by_subject(&after_reset, "Stable")["id"], id);
}

#[tokio::test]
async fn progress_is_shown_and_refused_credentials_make_the_grant_invalid() {
    reset_user(5, false);
    let mut peer = ImapPeer::login(5).await;
    for n in 0..30 {
        peer.append(
            "INBOX",
            "()",
            &message(
                &format!("p{n}@test"),
                &format!("Note {n}"),
                "ann@example.test",
                None,
                "text",
            ),
        )
        .await;
    }
    peer.logout().await;
    let server = fast_server();
    let (api, grant) = connect_grant(&server, 5).await;
    let grant_path = format!("/v3/grants/{grant}");
    let synced = eventually(&api, &grant_path, "sync progress", |b| {
        b["data"]["sync_state"] == "running" && b["data"]["sync_progress"]["messages_synced"] == 30
    })
    .await;
    let progress = &synced["data"]["sync_progress"];
    assert_eq!(progress["messages_total"], 30);
    assert_eq!(progress["folders_done"], progress["folders_total"]);

    let status = server.cli(&["grants", "status", "--json"]);
    assert!(status.status.success(), "{status:?}");
    let rows: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(rows[0]["messages_synced"], 30);
    let text = server.cli(&["grants", "status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("user5@example.test") && text.contains("[###"),
        "{text}"
    );

    // The password changes at the server: the next reconnect is refused.
    let _changed = PasswordChange::new(5, "rotated-elsewhere");
    // Dovecot notices a changed passwd-file at most once a second: wait until it has.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ImapPeer::login_works(5, "pass5").await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old password still works"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server = server.restart();
    let api = Api {
        base_url: server.base_url.clone(),
        ..api
    };
    let invalid = eventually(&api, &grant_path, "grant_status invalid", |b| {
        b["data"]["grant_status"] == "invalid"
    })
    .await;
    assert_eq!(invalid["data"]["sync_state"], "invalid");
    // Indexed mail stays readable.
    assert_eq!(
        data_len(&api.get(&format!("{grant_path}/messages")).await.body),
        30
    );
}

/// Appends `count` messages to Inbox: `{tag} n` with Message-ID `{tag}n@test` (in
/// lower case) and body `{tag} body n`.
async fn fill_inbox(peer: &mut ImapPeer, tag: &str, count: usize) {
    let lower = tag.to_lowercase();
    for n in 0..count {
        peer.append(
            "INBOX",
            "()",
            &message(
                &format!("{lower}{n}@test"),
                &format!("{tag} {n}"),
                "ann@example.test",
                None,
                &format!("{lower} body {n}"),
            ),
        )
        .await;
    }
}

/// Waits until the initial sync's first batch is in; says how many messages it holds.
async fn first_batch_in(api: &Api, grant_path: &str) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let body = api.get(grant_path).await.body;
        let synced = body["data"]["sync_progress"]["messages_synced"]
            .as_i64()
            .unwrap_or(0);
        if synced > 0 {
            return synced;
        }
        assert!(tokio::time::Instant::now() < deadline, "sync never began");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_kill_during_initial_sync_loses_and_duplicates_nothing() {
    const COUNT: usize = 4000;
    reset_user(4, false);
    let mut peer = ImapPeer::login(4).await;
    fill_inbox(&mut peer, "Bulk", COUNT).await;
    peer.logout().await;

    let server = fast_server();
    let (api, grant) = connect_grant(&server, 4).await;
    let grant_path = format!("/v3/grants/{grant}");
    // Kill as soon as the first batch is in, well before the rest.
    let synced_at_kill = first_batch_in(&api, &grant_path).await;
    let server = server.restart();
    assert!(
        (synced_at_kill as usize) < COUNT,
        "the kill came after the sync finished ({synced_at_kill})"
    );
    let api = Api {
        base_url: server.base_url.clone(),
        ..api
    };
    // On PostgreSQL the restarted process is a new node: it takes the grant over only
    // when the killed one's lease (15 s) has run out, then syncs the rest.
    eventually_within(
        &api,
        &grant_path,
        "the whole mailbox",
        Duration::from_secs(60),
        |b| b["data"]["sync_progress"]["messages_synced"] == COUNT,
    )
    .await;

    let mut ids = std::collections::HashSet::new();
    let mut subjects = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{grant_path}/messages?limit=200&page_token={c}"),
            None => format!("{grant_path}/messages?limit=200"),
        };
        let page = api.get(&path).await.body;
        for message in page["data"].as_array().unwrap() {
            assert!(ids.insert(message["id"].clone()), "duplicate id");
            assert!(
                subjects.insert(message["subject"].clone()),
                "duplicate message"
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len(), COUNT);
}

/// A first read cut short (the process killed while Inbox was half indexed) and resumed
/// after the folder was re-created under a new UIDVALIDITY: the UIDs indexed before name
/// other messages now. The folder is read again from the start, and no message is given
/// another's body.
#[tokio::test]
async fn a_first_read_cut_short_and_resumed_under_a_new_uidvalidity_starts_over() {
    const USER: u32 = 100;
    const COUNT: usize = 2000;
    reset_user(USER, false);
    let mut peer = ImapPeer::login(USER).await;
    fill_inbox(&mut peer, "First", COUNT).await;
    peer.logout().await;

    let mut server = fast_server();
    let (api, grant) = connect_grant(&server, USER).await;
    let grant_path = format!("/v3/grants/{grant}");
    let synced_at_kill = first_batch_in(&api, &grant_path).await;
    server.kill();
    assert!(
        (synced_at_kill as usize) < COUNT,
        "the kill came after Inbox was read ({synced_at_kill})"
    );

    // Re-created with as many other messages: the UIDs indexed before (the newest, read
    // first) now name messages of the new folder.
    let mut peer = recreate_with_new_uidvalidity(USER).await;
    fill_inbox(&mut peer, "Second", COUNT).await;
    peer.logout().await;

    // Killed already: this starts it again on the same data.
    let server = server.restart();
    let api = Api {
        base_url: server.base_url.clone(),
        ..api
    };
    let newest = COUNT - 1;
    let found = eventually_within(
        &api,
        &format!("{grant_path}/messages?subject=Second%20{newest}"),
        "the newest message of the re-created folder, at a UID indexed before",
        Duration::from_secs(60),
        |b| data_len(b) == 1,
    )
    .await;
    let id = found["data"][0]["id"].as_str().expect("an id").to_owned();
    let read = api.get(&format!("{grant_path}/messages/{id}")).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let html = read.body["data"]["body"].as_str().unwrap_or_default();
    assert!(html.contains(&format!("second body {newest}")), "{html}");
    // What was indexed before is gone once the folder is read again.
    eventually_within(
        &api,
        &format!("{grant_path}/messages?subject=First%20{newest}"),
        "the old message at that UID to go",
        Duration::from_secs(60),
        |b| data_len(b) == 0,
    )
    .await;
}

#[tokio::test]
async fn idle_brings_new_inbox_mail_without_waiting_for_a_poll() {
    reset_user(1, false);
    // Poll once an hour: only IDLE can bring the new message in time.
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "3600".into()));
    let server = Mailroom::start_with(env);
    let (api, grant) = connect_grant(&server, 1).await;
    let grant_path = format!("/v3/grants/{grant}");
    eventually(&api, &grant_path, "initial sync", |b| {
        b["data"]["sync_state"] == "running"
    })
    .await;

    let mut peer = ImapPeer::login(1).await;
    peer.append(
        "INBOX",
        "()",
        &message("pushed@test", "Pushed", "ann@example.test", None, "hi"),
    )
    .await;
    peer.append(
        "Sent",
        "(\\Seen)",
        &message(
            "sent-push@test",
            "Sent push",
            "user1@example.test",
            None,
            "hi",
        ),
    )
    .await;
    peer.logout().await;
    eventually(
        &api,
        &format!("{grant_path}/messages"),
        "mail announced by IDLE",
        |b| data_len(b) == 2,
    )
    .await;
}

#[tokio::test]
async fn a_dropped_connection_is_reopened_and_sync_resumes() {
    reset_user(12, false);
    let mut peer = ImapPeer::login(12).await;
    peer.append(
        "INBOX",
        "()",
        &message(
            "before@test",
            "Before the drop",
            "ann@example.test",
            None,
            "one",
        ),
    )
    .await;
    let server = fast_server();
    let (api, grant) = connect_grant(&server, 12).await;
    let messages = format!("/v3/grants/{grant}/messages");
    eventually(&api, &messages, "the first message", |b| data_len(b) == 1).await;

    // The server ends mailroom's sessions (sync and IDLE) and our own.
    peer.logout().await;
    kick_user(12);
    let mut peer = ImapPeer::login(12).await;
    peer.append(
        "INBOX",
        "()",
        &message(
            "after@test",
            "After the drop",
            "ann@example.test",
            None,
            "two",
        ),
    )
    .await;
    let body = eventually(&api, &messages, "mail after the reconnect", |b| {
        data_len(b) == 2
    })
    .await;
    find_by_subject(&body, "After the drop");
    let grant_body = eventually(&api, &format!("/v3/grants/{grant}"), "running again", |b| {
        b["data"]["sync_state"] == "running"
    })
    .await;
    assert_eq!(grant_body["data"]["grant_status"], "valid");
    peer.logout().await;
}

#[tokio::test]
async fn mail_the_parser_cannot_fully_read_is_still_listed() {
    reset_user(13, false);
    let mut peer = ImapPeer::login(13).await;
    let hostile: [&[u8]; 4] = [
        // A multipart whose boundary never appears, and a base64 part of garbage.
        b"Message-ID: <noboundary@test>\r\nSubject: No boundary\r\nFrom: a@example.test\r\n\
          Content-Type: multipart/mixed; boundary=\"nowhere\"\r\n\r\n\
          --elsewhere\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64***\r\n",
        // Raw 8-bit bytes that are not UTF-8 in the headers and body, a broken encoded word.
        b"Message-ID: <latin@test>\r\nSubject: =?utf-8?B?broken\xff\xfe caf\xe9\r\n\
          From: \"J\xf6rg\" <jorg@example.test>\r\n\r\nK\xe4se \x00 und Brot\r\n",
        // No headers worth the name at all.
        b"\r\n\r\njust a body\r\n",
        // A header line without a colon and a Date that is not a date.
        b"Message-ID: <odd@test>\r\nThis is not a header\r\nDate: yesterday-ish\r\n\
          Subject: Odd headers\r\n\r\nbody\r\n",
    ];
    for raw in hostile {
        peer.append_raw("INBOX", raw).await;
    }
    let server = fast_server();
    let (api, grant) = connect_grant(&server, 13).await;
    let messages = format!("/v3/grants/{grant}/messages");
    let listed = eventually(&api, &messages, "every hostile message listed", |b| {
        data_len(b) == hostile.len()
    })
    .await;
    find_by_subject(&listed, "No boundary");
    find_by_subject(&listed, "Odd headers");
    // Each one can be opened: what could be read is there, nothing crashed.
    for message in listed["data"].as_array().unwrap() {
        let path = format!("{messages}/{}", message["id"].as_str().unwrap());
        let reply = api.get(&path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert!(reply.body["data"]["body"].is_string(), "{}", reply.text);
    }
    let latin = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["from"][0]["email"] == "jorg@example.test")
        .unwrap_or_else(|| panic!("the 8-bit message is listed with its sender: {listed}"));
    let opened = api
        .get(&format!("{messages}/{}", latin["id"].as_str().unwrap()))
        .await;
    assert!(
        opened.body["data"]["body"]
            .as_str()
            .unwrap()
            .contains("und Brot"),
        "{}",
        opened.text
    );

    // The actor is still alive: mail after the hostile ones still arrives.
    peer.append(
        "INBOX",
        "()",
        &message(
            "fine@test",
            "Perfectly fine",
            "ann@example.test",
            None,
            "ok",
        ),
    )
    .await;
    eventually(&api, &messages, "mail after the hostile ones", |b| {
        data_len(b) == hostile.len() + 1
    })
    .await;
    peer.logout().await;
}
