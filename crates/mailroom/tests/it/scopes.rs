//! Granular scopes on a real, synced grant: what each scope lets through, the 403 body
//! of docs/API.md §11, `email.metadata` without bodies, and scopes changed by PATCH.

use crate::support::{
    self, Api, Mailroom, connect_grant_with_scope, data_len, eventually, find_by_subject,
    imap_peer::{ImapPeer, message, message_with_attachment, reset_user},
    testbed_env,
};
use serde_json::{Value, json};

const USER: u32 = 14;

fn assert_out_of_scope(reply: &support::Reply, held: &str, would_do: &str) {
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(
        reply.body["error"]["type"], "api.forbidden_error",
        "{}",
        reply.text
    );
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("You do not have access to the required scopes."),
        "{message}"
    );
    assert!(
        message.contains(&format!("following scopes: [{held}]. You would need")),
        "{message}"
    );
    assert!(message.ends_with(&format!("[{would_do}]")), "{message}");
    assert!(reply.body["request_id"].is_string());
}

async fn set_scope(api: &Api, grant: &str, scope: Value) -> support::Reply {
    api.send(
        "PATCH",
        &format!("/v3/grants/{grant}"),
        Some(json!({"scope": scope})),
    )
    .await
}

#[tokio::test]
async fn scopes_admit_their_routes_and_metadata_sees_no_bodies() {
    reset_user(USER, false);
    let mut peer = ImapPeer::login(USER).await;
    peer.append(
        "INBOX",
        "()",
        &message_with_attachment("report@test", "Quarterly report", "q3.pdf", b"%PDF-1.4 q3"),
    )
    .await;
    peer.append(
        "INBOX",
        "()",
        &message(
            "hello@test",
            "Hello",
            "ann@example.test",
            None,
            "secret words",
        ),
    )
    .await;
    peer.logout().await;
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    let server = Mailroom::start_with(env);
    let (api, grant) =
        connect_grant_with_scope(&server, USER, Some(json!(["email.metadata"]))).await;
    let messages = format!("/v3/grants/{grant}/messages");
    let listed = eventually(&api, &messages, "both messages", |b| data_len(b) == 2).await;
    let granted = api.get(&format!("/v3/grants/{grant}")).await;
    assert_eq!(granted.body["data"]["scope"], json!(["email.metadata"]));

    // Metadata: subjects, flags and folders; no body, no snippet.
    let hello = find_by_subject(&listed, "Hello");
    assert_eq!(hello["snippet"], "");
    assert!(!hello["folders"].as_array().unwrap().is_empty());
    assert_eq!(hello["unread"], true);
    let hello_path = format!("{messages}/{}", hello["id"].as_str().unwrap());
    let opened = api.get(&hello_path).await;
    assert_eq!(opened.status, 200, "{}", opened.text);
    assert_eq!(opened.body["data"]["body"], "");
    assert!(!opened.text.contains("secret words"), "{}", opened.text);
    let with_headers = api
        .get(&format!("{hello_path}?fields=include_headers"))
        .await;
    assert_eq!(with_headers.status, 200, "{}", with_headers.text);
    assert!(
        !with_headers.body["data"]["headers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(!with_headers.text.contains("secret words"));
    let threads = api.get(&format!("/v3/grants/{grant}/threads")).await;
    assert_eq!(threads.status, 200, "{}", threads.text);
    assert!(!threads.text.contains("secret words"), "{}", threads.text);
    assert_eq!(
        api.get(&format!("/v3/grants/{grant}/folders")).await.status,
        200
    );

    // Content needs email.read_only or more.
    let all = "email, email.modify, email.read_only";
    assert_out_of_scope(
        &api.get(&format!("{hello_path}?fields=raw_mime")).await,
        "email.metadata",
        all,
    );
    assert_out_of_scope(
        &api.get(&format!("{messages}?search_query_native=TEXT%20secret"))
            .await,
        "email.metadata",
        all,
    );
    let report = find_by_subject(&listed, "Quarterly report");
    let report_path = format!("{messages}/{}", report["id"].as_str().unwrap());
    let report_json = api.get(&report_path).await;
    let attachment = report_json.body["data"]["attachments"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("attachment listed: {}", report_json.text))
        .to_owned();
    let report_id = report["id"].as_str().unwrap();
    let download =
        format!("/v3/grants/{grant}/attachments/{attachment}/download?message_id={report_id}");
    assert_out_of_scope(&api.get(&download).await, "email.metadata", all);

    // email.send alone reads nothing.
    assert_eq!(
        set_scope(&api, &grant, json!(["email.send"])).await.status,
        200
    );
    assert_out_of_scope(
        &api.get(&messages).await,
        "email.send",
        "email, email.modify, email.read_only, email.metadata",
    );
    assert_out_of_scope(
        &api.get(&format!("/v3/grants/{grant}/folders")).await,
        "email.send",
        "email, email.modify, email.read_only, email.folders_and_labels, email.metadata",
    );

    // Folders alone: folders, not messages.
    assert_eq!(
        set_scope(&api, &grant, json!(["email.folders_and_labels"]))
            .await
            .status,
        200
    );
    assert_eq!(
        api.get(&format!("/v3/grants/{grant}/folders")).await.status,
        200
    );
    assert_eq!(api.get(&messages).await.status, 403);

    // email.read_only: bodies and attachment content.
    assert_eq!(
        set_scope(&api, &grant, json!(["email.read_only"]))
            .await
            .status,
        200
    );
    let opened = api.get(&hello_path).await;
    assert!(
        opened.body["data"]["body"]
            .as_str()
            .unwrap()
            .contains("secret words"),
        "{}",
        opened.text
    );
    assert_eq!(
        api.get_bytes(&download).await,
        (200, b"%PDF-1.4 q3".to_vec())
    );

    // The v2 shorthand `email` holds every email scope; unknown scopes are refused.
    assert_eq!(set_scope(&api, &grant, json!(["email"])).await.status, 200);
    assert_eq!(api.get_bytes(&download).await.0, 200);
    let refused = set_scope(&api, &grant, json!(["email.read_only", "mail.everything"])).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("mail.everything"), "{}", refused.text);
    let unchanged = api.get(&format!("/v3/grants/{grant}")).await;
    assert_eq!(unchanged.body["data"]["scope"], json!(["email"]));

    // No scopes at all: everything.
    assert_eq!(set_scope(&api, &grant, json!([])).await.status, 200);
    assert_eq!(api.get_bytes(&download).await.0, 200);
}
