//! What needs the mail server answers, in-process, the contract's provider error: 504
//! `api.provider_error` in v3's envelope (docs/API.md §1.6), 504 `api_error` in v2's
//! shape (§8.1), and the index is left as it was: mailroom changes the server first and
//! the index second (ARCHITECTURE.md, "crates/sync").

use axum::http::{Method, StatusCode};
use mailroom_model::Scope;
use serde_json::{Value, json};

use crate::support::{App, Reply, assert_v2_error, assert_v3_error_type, multipart};

fn assert_unreachable(reply: &Reply, what: &str) {
    assert_v3_error_type(
        reply,
        StatusCode::GATEWAY_TIMEOUT,
        "api.provider_error",
        what,
    );
}

/// Everything the index shows of the grant's mailbox.
async fn snapshot(app: &App) -> Vec<Value> {
    let mut seen = Vec::new();
    for list in [
        "/messages?limit=200",
        "/threads?limit=200",
        "/folders",
        "/drafts",
        "/messages/schedules",
    ] {
        let reply = app.call(Method::GET, &app.grant_path(list), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{list}: {}", reply.body);
        seen.push(reply.body["data"].clone());
    }
    seen
}

#[tokio::test]
async fn changing_a_message_answers_the_provider_error_and_changes_nothing() {
    let app = App::with_mailbox().await;
    let before = snapshot(&app).await;
    let lunch = app.grant_path(&format!("/messages/{}", app.mailbox.id("lunch")));
    for body in [
        json!({"unread": false}),
        json!({"starred": false}),
        json!({"folders": [app.mailbox.folder("Trash")]}),
        json!({"unread": false, "metadata": {"a": "b"}}),
    ] {
        let reply = app.call(Method::PUT, &lunch, Some(body.clone())).await;
        assert_unreachable(&reply, &body.to_string());
    }
    let deleted = app.call(Method::DELETE, &lunch, None).await;
    assert_unreachable(&deleted, "DELETE");
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn folder_ids_in_a_message_update_are_checked_by_the_sync_engine() {
    // An unknown or empty folder list is refused where the move is planned, by the
    // engine that reaches the server; in-process that engine is not there.
    let app = App::with_mailbox().await;
    let before = snapshot(&app).await;
    let lunch = app.grant_path(&format!("/messages/{}", app.mailbox.id("lunch")));
    for folders in [json!(["nope"]), json!([])] {
        let reply = app
            .call(Method::PUT, &lunch, Some(json!({"folders": folders})))
            .await;
        assert_unreachable(&reply, &folders.to_string());
    }
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn changing_a_thread_answers_the_provider_error_and_changes_nothing() {
    let app = App::with_mailbox().await;
    let before = snapshot(&app).await;
    let message = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/{}", app.mailbox.id("report"))),
            None,
        )
        .await;
    let thread = app.grant_path(&format!(
        "/threads/{}",
        message.body["data"]["thread_id"]
            .as_str()
            .expect("a thread")
    ));
    let reply = app
        .call(Method::PUT, &thread, Some(json!({"unread": false})))
        .await;
    assert_unreachable(&reply, "PUT thread");
    let reply = app.call(Method::DELETE, &thread, None).await;
    assert_unreachable(&reply, "DELETE thread");
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn changing_folders_answers_the_provider_error_and_changes_nothing() {
    let app = App::with_mailbox().await;
    let before = snapshot(&app).await;
    let projects = app.grant_path(&format!("/folders/{}", app.mailbox.folder("Projects")));
    let inbox = app.grant_path(&format!("/folders/{}", app.mailbox.folder("INBOX")));
    for (method, path, body) in [
        (
            Method::POST,
            app.grant_path("/folders"),
            Some(json!({"name": "New"})),
        ),
        (
            Method::POST,
            app.grant_path("/folders"),
            Some(json!({"name": "Child", "parent_id": app.mailbox.folder("Projects")})),
        ),
        (
            Method::PUT,
            projects.clone(),
            Some(json!({"name": "Renamed"})),
        ),
        (
            Method::PUT,
            projects.clone(),
            Some(json!({"parent_id": null})),
        ),
        (Method::DELETE, projects, None),
        // System folders are protected by the engine too, before anything is sent.
        (Method::PUT, inbox.clone(), Some(json!({"name": "Renamed"}))),
        (Method::DELETE, inbox, None),
    ] {
        let reply = app.call(method.clone(), &path, body).await;
        assert_unreachable(&reply, &format!("{method} {path}"));
    }
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn writing_drafts_answers_the_provider_error_and_changes_nothing() {
    let app = App::with_mailbox().await;
    let before = snapshot(&app).await;
    let notes = app.grant_path(&format!("/drafts/{}", app.mailbox.id("notes")));
    let draft = json!({"to": [{"email": "grace@example.test"}], "subject": "Changed"});
    for (method, path, body) in [
        (Method::POST, app.grant_path("/drafts"), Some(draft.clone())),
        (Method::POST, app.grant_path("/drafts"), Some(json!({}))),
        (Method::PUT, notes.clone(), Some(draft)),
        (Method::DELETE, notes.clone(), None),
        (Method::POST, notes.clone(), None),
        (Method::POST, notes, Some(json!({}))),
    ] {
        let reply = app.call(method.clone(), &path, body).await;
        assert_unreachable(&reply, &format!("{method} {path}"));
    }
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn sending_now_answers_the_provider_error_and_files_nothing() {
    let app = App::with_mailbox().await;
    let before = snapshot(&app).await;
    let send = app.grant_path("/messages/send");
    let message = json!({"to": [{"email": "bob@example.test", "name": "Bob"}],
                         "subject": "Now", "body": "<p>hello</p>",
                         "attachments": [{"filename": "a.txt", "content_type": "text/plain",
                                          "content": "aGVsbG8="}]});
    let reply = app.call(Method::POST, &send, Some(message.clone())).await;
    assert_unreachable(&reply, "JSON");
    // A send_at within seconds is sent at once.
    let mut soon = message.clone();
    soon["send_at"] = json!(mailroom_model::time::unix_now() + 2);
    let reply = app.call(Method::POST, &send, Some(soon)).await;
    assert_unreachable(&reply, "send_at now");
    let json = message.to_string();
    let (content_type, body) = multipart(&[
        ("message", None, Some("application/json"), json.as_bytes()),
        ("file0", Some("b.txt"), Some("text/plain"), b"bytes"),
    ]);
    let reply = app
        .call_with_type(Method::POST, &send, &content_type, body)
        .await;
    assert_unreachable(&reply, "multipart");
    let raw = b"From: ann@example.test\r\nTo: bob@example.test\r\nSubject: Raw\r\n\r\nHi\r\n";
    let (content_type, body) = multipart(&[("mime", None, Some("message/rfc822"), raw)]);
    let reply = app
        .call_with_type(
            Method::POST,
            &app.grant_path("/messages/send?type=mime"),
            &content_type,
            body,
        )
        .await;
    assert_unreachable(&reply, "raw MIME");
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn a_body_not_read_yet_is_read_from_the_server_on_demand() {
    let app = App::with_mailbox().await;
    let status = app.grant_path(&format!("/messages/{}", app.mailbox.id("status")));
    let reply = app.call(Method::GET, &status, None).await;
    assert_unreachable(&reply, "a body to read");
    let headers = app
        .call(
            Method::GET,
            &app.grant_path("/messages?fields=include_headers"),
            None,
        )
        .await;
    assert_unreachable(&headers, "headers come with the body");
    // What is indexed is still listed.
    let listed = app
        .call(Method::GET, &app.grant_path("/messages"), None)
        .await;
    assert!(listed.ids().contains(&app.mailbox.id("status")));
}

#[tokio::test]
async fn raw_mime_and_attachment_bytes_come_from_the_server() {
    let app = App::with_mailbox().await;
    let report = app.mailbox.id("report");
    for path in [
        format!("/messages/{report}?fields=raw_mime"),
        "/messages?fields=raw_mime".to_owned(),
        format!("/attachments/{report}-0/download?message_id={report}"),
    ] {
        let reply = app.call(Method::GET, &app.grant_path(&path), None).await;
        assert_unreachable(&reply, &path);
        assert!(
            reply
                .header("content-type")
                .is_some_and(|t| t.contains("json")),
            "errors of downloads are JSON too (docs/API.md §5.6)"
        );
    }
    // An attachment id that is not the message's needs no server to be refused.
    let wrong = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/attachments/nope/download?message_id={report}")),
            None,
        )
        .await;
    assert_v3_error_type(&wrong, StatusCode::NOT_FOUND, "api.not_found_error", "nope");
}

#[tokio::test]
async fn v2_answers_the_provider_error_in_its_own_shape() {
    let app = App::with_mailbox().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let lunch = app.mailbox.id("lunch");
    let report = app.mailbox.id("report");
    for (method, path, body) in [
        (
            Method::PUT,
            format!("/messages/{lunch}"),
            Some(json!({"unread": false})),
        ),
        (
            Method::PUT,
            format!("/messages/{lunch}"),
            Some(json!({"folder_id": app.mailbox.folder("Trash")})),
        ),
        (
            Method::POST,
            "/send".to_owned(),
            Some(json!({"to": [{"email": "bob@example.test"}], "subject": "v2"})),
        ),
        (
            Method::POST,
            "/drafts".to_owned(),
            Some(json!({"subject": "v2 draft"})),
        ),
        (
            Method::POST,
            "/folders".to_owned(),
            Some(json!({"display_name": "New"})),
        ),
        (Method::GET, format!("/files/{report}-0/download"), None),
    ] {
        let reply = app
            .send(
                method.clone(),
                &path,
                Some(&bearer),
                body.map(|b| b.to_string()),
            )
            .await;
        assert_v2_error(
            &reply,
            StatusCode::GATEWAY_TIMEOUT,
            &format!("{method} {path}"),
        );
        assert_eq!(reply.body["type"], "api_error");
    }
    let unchanged = app
        .send(
            Method::GET,
            &format!("/messages/{lunch}"),
            Some(&bearer),
            None,
        )
        .await;
    assert_eq!(unchanged.body["unread"], true);
}

#[tokio::test]
async fn a_metadata_only_grant_reads_what_is_indexed_without_the_server() {
    let app = App::with_mailbox().await;
    app.set_scopes(&[Scope::EmailMetadata]).await;
    let status = app.grant_path(&format!("/messages/{}", app.mailbox.id("status")));
    let reply = app.call(Method::GET, &status, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["data"]["subject"], "Status update");
}
