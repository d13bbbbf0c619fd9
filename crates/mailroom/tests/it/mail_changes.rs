//! Changing mail through the API against the real testbed: flags, moves, deletions,
//! threads and folders. Every change is checked from a second IMAP client (the server is
//! the authority) and in the API's answer at once (the index records it). The same runs
//! again on a server treated as lacking MOVE and UIDPLUS, where the safe fallback must
//! leave other clients' `\Deleted` marks alone.

use crate::support::{
    self, Api, Mailroom, connect_grant, connect_grant_with_scope, eventually,
    imap_peer::{ImapPeer, message, reset_user},
    testbed_env,
};
use serde_json::{Value, json};

fn fast_server(ignore: Option<&str>) -> Mailroom {
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    if let Some(ignore) = ignore {
        env.push(("MAILROOM_SYNC_IGNORE_CAPABILITIES".into(), ignore.into()));
    }
    Mailroom::start_with(env)
}

async fn folder_id(api: &Api, grant: &str, name: &str) -> String {
    let folders = eventually(
        api,
        &format!("/v3/grants/{grant}/folders"),
        "folders",
        |b| {
            b["data"]
                .as_array()
                .is_some_and(|l| l.iter().any(|f| f["name"] == name))
        },
    )
    .await;
    folders["data"]
        .as_array()
        .and_then(|l| l.iter().find(|f| f["name"] == name))
        .and_then(|f| f["id"].as_str())
        .unwrap_or_else(|| panic!("no folder {name}"))
        .to_owned()
}

/// The id of the indexed message with this subject, once sync has it.
async fn message_id(api: &Api, grant: &str, subject: &str) -> String {
    let path = format!(
        "/v3/grants/{grant}/messages?subject={}",
        subject.replace(' ', "%20")
    );
    let body = eventually(api, &path, subject, |b| {
        b["data"]
            .as_array()
            .is_some_and(|l| l.iter().any(|m| m["subject"] == subject))
    })
    .await;
    body["data"]
        .as_array()
        .and_then(|l| l.iter().find(|m| m["subject"] == subject))
        .and_then(|m| m["id"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn put(api: &Api, path: &str, body: Value) -> support::Reply {
    api.send("PUT", path, Some(body)).await
}

async fn seed(user: u32) -> ImapPeer {
    reset_user(user, false);
    let mut peer = ImapPeer::login(user).await;
    peer.append(
        "INBOX",
        "()",
        &message(
            "plan@changes",
            "Plan",
            "ann@example.test",
            None,
            "The plan.",
        ),
    )
    .await;
    peer.append(
        "INBOX",
        "()",
        &message(
            "plan-reply@changes",
            "Re: Plan",
            "dan@example.test",
            Some("plan@changes"),
            "Agreed.",
        ),
    )
    .await;
    peer.append(
        "INBOX",
        "(\\Seen)",
        &message("note@changes", "Note", "eve@example.test", None, "A note."),
    )
    .await;
    peer
}

/// Flags, a move that keeps the id, metadata, delete to Trash and for good.
async fn messages_change_on_the_server(ignore: Option<&str>, user: u32) {
    let mut peer = seed(user).await;
    let server = fast_server(ignore);
    let (api, grant) = connect_grant(&server, user).await;
    let id = message_id(&api, &grant, "Note").await;
    let archive = folder_id(&api, &grant, "Archive").await;
    let trash = folder_id(&api, &grant, "Trash").await;
    let path = format!("/v3/grants/{grant}/messages/{id}");

    let reply = put(&api, &path, json!({"unread": true, "starred": true})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["data"]["unread"], true);
    assert_eq!(reply.body["data"]["starred"], true);
    let flags = peer.flags_of("INBOX", "note@changes").await;
    assert!(flags.contains(&"\\Flagged".to_owned()), "{flags:?}");
    assert!(!flags.contains(&"\\Seen".to_owned()), "{flags:?}");

    let reply = put(
        &api,
        &path,
        json!({"unread": false, "metadata": {"project": "apollo"}}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        peer.flags_of("INBOX", "note@changes")
            .await
            .contains(&"\\Seen".to_owned())
    );
    assert_eq!(reply.body["data"]["metadata"]["project"], "apollo");
    let tagged = api
        .get(&format!(
            "/v3/grants/{grant}/messages?metadata_pair=project:apollo"
        ))
        .await;
    assert_eq!(
        tagged.body["data"].as_array().map(Vec::len),
        Some(1),
        "{}",
        tagged.text
    );
    assert_eq!(tagged.body["data"][0]["id"], id.as_str());
    let untagged = api
        .get(&format!(
            "/v3/grants/{grant}/messages?metadata_pair=project:gemini"
        ))
        .await;
    assert_eq!(
        untagged.body["data"].as_array().map(Vec::len),
        Some(0),
        "{}",
        untagged.text
    );
    let reply = put(&api, &path, json!({"metadata": {"k": 5}})).await;
    assert_eq!(reply.status, 400, "{}", reply.text);

    // A move: the message leaves Inbox for Archive and keeps its id.
    let reply = put(&api, &path, json!({"folders": [archive]})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["data"]["id"], id.as_str());
    assert_eq!(reply.body["data"]["folders"], json!([archive]));
    assert!(peer.uids_of("INBOX", "note@changes").await.is_empty());
    assert_eq!(peer.uids_of("Archive", "note@changes").await.len(), 1);
    let moved = api.get(&path).await;
    assert_eq!(moved.body["data"]["folders"], json!([archive]));
    assert_eq!(moved.body["data"]["metadata"]["project"], "apollo");
    // Sync confirms rather than undoes it: still one message, same id, in Archive.
    let listed = eventually(
        &api,
        &format!("/v3/grants/{grant}/messages?in={archive}"),
        "archive",
        |b| {
            b["data"]
                .as_array()
                .is_some_and(|l| l.len() == 1 && l[0]["id"] == id.as_str())
        },
    )
    .await;
    assert_eq!(listed["data"][0]["starred"], true);

    // Unknown folders and bad bodies are refused; nothing moves.
    let reply = put(&api, &path, json!({"folders": ["no-such-folder"]})).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.error_message().contains("no-such-folder"),
        "{}",
        reply.text
    );
    let reply = put(&api, &path, json!({"folders": []})).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let reply = put(&api, &path, json!({"starred": "yes"})).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(peer.uids_of("Archive", "note@changes").await.len(), 1);

    // Delete: to Trash first, then for good.
    let reply = api.delete(&path).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.body["request_id"].is_string());
    assert!(peer.uids_of("Archive", "note@changes").await.is_empty());
    assert_eq!(peer.uids_of("Trash", "note@changes").await.len(), 1);
    let in_trash = api.get(&path).await;
    assert_eq!(in_trash.body["data"]["folders"], json!([trash]));
    let reply = api.delete(&path).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(peer.uids_of("Trash", "note@changes").await.is_empty());
    assert_eq!(api.get(&path).await.status, 404);
    let reply = api.delete(&path).await;
    assert_eq!(reply.status, 404, "{}", reply.text);

    // A thread: starred and moved as a whole.
    let plan = message_id(&api, &grant, "Plan").await;
    let thread = api
        .get(&format!("/v3/grants/{grant}/messages/{plan}"))
        .await
        .body["data"]["thread_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let thread_path = format!("/v3/grants/{grant}/threads/{thread}");
    let reply = put(
        &api,
        &thread_path,
        json!({"starred": true, "folders": [archive]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["data"]["starred"], true);
    assert_eq!(
        reply.body["data"]["message_ids"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(reply.body["data"]["folders"], json!([archive]));
    for mid in ["plan@changes", "plan-reply@changes"] {
        assert!(
            peer.uids_of("INBOX", mid).await.is_empty(),
            "{mid} left Inbox"
        );
        assert!(
            peer.flags_of("Archive", mid)
                .await
                .contains(&"\\Flagged".to_owned())
        );
    }
    let reply = api.delete(&thread_path).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    for mid in ["plan@changes", "plan-reply@changes"] {
        assert_eq!(peer.uids_of("Trash", mid).await.len(), 1, "{mid} in Trash");
    }
    peer.logout().await;
}

#[tokio::test]
async fn messages_and_threads_change_on_the_server_with_move_and_uidplus() {
    messages_change_on_the_server(None, 23).await;
}

#[tokio::test]
async fn messages_and_threads_change_on_the_server_without_move_or_uidplus() {
    messages_change_on_the_server(Some("MOVE,UIDPLUS"), 24).await;
}

#[tokio::test]
async fn the_expunge_fallback_leaves_other_clients_deleted_marks_alone() {
    let mut peer = seed(27).await;
    peer.append(
        "INBOX",
        "(\\Deleted)",
        &message(
            "marked@changes",
            "Marked elsewhere",
            "kim@example.test",
            None,
            "x",
        ),
    )
    .await;
    let server = fast_server(Some("MOVE,UIDPLUS"));
    let (api, grant) = connect_grant(&server, 27).await;
    let id = message_id(&api, &grant, "Note").await;
    let archive = folder_id(&api, &grant, "Archive").await;
    let reply = put(
        &api,
        &format!("/v3/grants/{grant}/messages/{id}"),
        json!({"folders": [archive]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(peer.uids_of("INBOX", "note@changes").await.is_empty());
    // The other client's message is still there, still marked.
    assert_eq!(peer.uids_of("INBOX", "marked@changes").await.len(), 1);
    assert!(
        peer.flags_of("INBOX", "marked@changes")
            .await
            .contains(&"\\Deleted".to_owned())
    );
    peer.logout().await;
}

#[tokio::test]
async fn folders_are_created_renamed_moved_and_deleted_with_special_ones_protected() {
    reset_user(25, false);
    let mut peer = ImapPeer::login(25).await;
    let server = fast_server(None);
    let (api, grant) = connect_grant(&server, 25).await;
    let folders = format!("/v3/grants/{grant}/folders");
    let sent = folder_id(&api, &grant, "Sent").await;
    let inbox = folder_id(&api, &grant, "INBOX").await;

    let reply = api.post(&folders, json!({"name": "Projects"})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let projects = reply.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(reply.body["data"]["name"], "Projects");
    assert_eq!(reply.body["data"]["grant_id"], grant.as_str());
    let reply = api
        .post(
            &folders,
            json!({"name": "Entwürfe 2024", "parent_id": projects}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let child = reply.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(reply.body["data"]["parent_id"], projects.as_str());
    assert_eq!(reply.body["data"]["name"], "Entwürfe 2024");
    let names = peer.mailboxes().await;
    assert!(
        names.contains(&"Projects/Entw&APw-rfe 2024".to_owned()),
        "{names:?}"
    );

    // The same name again is refused with the reason.
    let reply = api.post(&folders, json!({"name": "Projects"})).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let reply = api.post(&folders, json!({"parent_id": projects})).await;
    assert_eq!(reply.status, 400, "{}", reply.text);

    // Rename keeps the ids of the folder and its child.
    let reply = put(
        &api,
        &format!("{folders}/{projects}"),
        json!({"name": "Work"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["data"]["id"], projects.as_str());
    assert_eq!(reply.body["data"]["name"], "Work");
    let child_now = api.get(&format!("{folders}/{child}")).await;
    assert_eq!(child_now.status, 200, "{}", child_now.text);
    assert_eq!(child_now.body["data"]["parent_id"], projects.as_str());
    let names = peer.mailboxes().await;
    assert!(
        names.contains(&"Work/Entw&APw-rfe 2024".to_owned()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("Projects")),
        "{names:?}"
    );

    // Move the child to the top level.
    let reply = put(
        &api,
        &format!("{folders}/{child}"),
        json!({"parent_id": null}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["data"]["parent_id"], Value::Null);
    assert!(
        peer.mailboxes()
            .await
            .contains(&"Entw&APw-rfe 2024".to_owned())
    );
    // A folder cannot go inside itself.
    let reply = put(
        &api,
        &format!("{folders}/{projects}"),
        json!({"parent_id": projects}),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text);

    // Special folders are protected, with a reason that says so.
    for (id, role) in [(&sent, "\\Sent"), (&inbox, "\\Inbox")] {
        let reply = api.delete(&format!("{folders}/{id}")).await;
        assert_eq!(reply.status, 400, "{}", reply.text);
        assert!(reply.error_message().contains(role), "{}", reply.text);
        let reply = put(&api, &format!("{folders}/{id}"), json!({"name": "Other"})).await;
        assert_eq!(reply.status, 400, "{}", reply.text);
    }
    assert!(peer.mailboxes().await.contains(&"Sent".to_owned()));

    // A folder with a subfolder is not deleted by surprise; once empty of them it is.
    let reply = api
        .post(&folders, json!({"name": "Inner", "parent_id": projects}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let inner = reply.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let reply = api.delete(&format!("{folders}/{projects}")).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.error_message().contains("subfolder"),
        "{}",
        reply.text
    );
    for id in [&inner, &projects, &child] {
        let reply = api.delete(&format!("{folders}/{id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(api.get(&format!("{folders}/{id}")).await.status, 404);
    }
    let names = peer.mailboxes().await;
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("Work") || n.starts_with("Entw")),
        "{names:?}"
    );
    let reply = api.delete(&format!("{folders}/nonexistent")).await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    peer.logout().await;
}

#[tokio::test]
async fn changes_need_the_scopes_that_allow_them() {
    let mut peer = seed(26).await;
    let server = fast_server(None);
    let (read_only, grant) =
        connect_grant_with_scope(&server, 26, Some(json!(["email.read_only"]))).await;
    let id = message_id(&read_only, &grant, "Note").await;
    let reply = put(
        &read_only,
        &format!("/v3/grants/{grant}/messages/{id}"),
        json!({"starred": true}),
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(reply.error_type(), "api.forbidden_error");
    let reply = read_only
        .post(
            &format!("/v3/grants/{grant}/folders"),
            json!({"name": "Nope"}),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert!(
        !peer
            .flags_of("INBOX", "note@changes")
            .await
            .contains(&"\\Flagged".to_owned())
    );

    let (folders_only, grant) =
        connect_grant_with_scope(&server, 26, Some(json!(["email.folders_and_labels"]))).await;
    let reply = folders_only
        .post(
            &format!("/v3/grants/{grant}/folders"),
            json!({"name": format!("Labelled {}", std::process::id())}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let labelled = reply.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let reply = put(
        &folders_only,
        &format!("/v3/grants/{grant}/messages/{id}"),
        json!({"starred": true}),
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    let reply = folders_only
        .delete(&format!("/v3/grants/{grant}/folders/{labelled}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    peer.logout().await;
}
