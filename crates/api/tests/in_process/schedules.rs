//! Scheduled sends (docs/API.md §5.2): a `send_at` in the future is kept in mailroom's
//! database and answered 202 without the mail server; it is listed, read and cancelled
//! at `…/messages/schedules`, and a cancelled send cannot be cancelled again.

use axum::http::{Method, StatusCode};
use mailroom_model::time::unix_now;
use serde_json::{Value, json};

use crate::support::{App, NOTHING, assert_v3_error_type, keys, multipart};

/// Schedules a send an hour ahead; the 202's body.
async fn schedule(app: &App, subject: &str) -> Value {
    let reply = app
        .call(
            Method::POST,
            &app.grant_path("/messages/send"),
            Some(json!({"to": [{"email": "bob@example.test", "name": "Bob"}],
                        "subject": subject, "body": "Later.",
                        "send_at": unix_now() + 3600,
                        "metadata": {"batch": "7"}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn a_future_send_is_accepted_with_its_schedule() {
    let app = App::new().await;
    let body = schedule(&app, "Tomorrow").await;
    assert_eq!(keys(&body), ["data", "grant_id", "request_id"]);
    assert_eq!(body["grant_id"], app.grant_id.as_str());
    let message = &body["data"];
    assert_eq!(message["object"], "message");
    assert_eq!(message["subject"], "Tomorrow");
    assert!(message["schedule_id"].is_string(), "{message}");
    assert!(message["send_at"].as_i64() > Some(unix_now()), "{message}");
    assert_eq!(message["to"][0]["email"], "bob@example.test");
    assert_eq!(
        message["from"][0]["email"], "ann@example.test",
        "the grant sends"
    );
    assert_eq!(message["metadata"], json!({"batch": "7"}));
}

#[tokio::test]
async fn a_scheduled_send_is_listed_read_and_cancelled_once() {
    let app = App::new().await;
    let scheduled = schedule(&app, "Later").await;
    let id = scheduled["data"]["schedule_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let listed = app
        .call(Method::GET, &app.grant_path("/messages/schedules"), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let schedules = listed.data();
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0]["schedule_id"], id.as_str());
    assert_eq!(schedules[0]["status"]["code"], "pending");
    assert_eq!(schedules[0]["send_at"], scheduled["data"]["send_at"]);

    let path = app.grant_path(&format!("/messages/schedules/{id}"));
    let one = app.call(Method::GET, &path, None).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["data"], schedules[0]);

    let cancelled = app.call(Method::DELETE, &path, None).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert!(cancelled.body["data"]["message"].is_string());
    let after = app.call(Method::GET, &path, None).await;
    assert_eq!(after.body["data"]["status"]["code"], "cancelled");
    let again = app.call(Method::DELETE, &path, None).await;
    assert_v3_error_type(
        &again,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_error",
        "cancelled twice",
    );
}

#[tokio::test]
async fn a_scheduled_send_touches_neither_the_server_nor_the_index() {
    let app = App::new().await;
    let before = app
        .call(Method::GET, &app.grant_path("/messages"), None)
        .await
        .ids();
    schedule(&app, "Quiet").await;
    let after = app
        .call(Method::GET, &app.grant_path("/messages"), None)
        .await
        .ids();
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_multipart_send_with_a_file_is_scheduled_like_json() {
    let app = App::new().await;
    let message = json!({"to": [{"email": "bob@example.test"}], "subject": "With a file",
                         "send_at": unix_now() + 7200})
    .to_string();
    let (content_type, body) = multipart(&[
        (
            "message",
            None,
            Some("application/json"),
            message.as_bytes(),
        ),
        (
            "file0",
            Some("notes.txt"),
            Some("text/plain"),
            b"some notes",
        ),
    ]);
    let reply = app
        .call_with_type(
            Method::POST,
            &app.grant_path("/messages/send"),
            &content_type,
            body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["data"]["subject"], "With a file");
    // The Node SDK's part name, `draft`, is read the same way.
    let (content_type, body) =
        multipart(&[("draft", None, Some("application/json"), message.as_bytes())]);
    let reply = app
        .call_with_type(
            Method::POST,
            &app.grant_path("/messages/send"),
            &content_type,
            body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let listed = app
        .call(Method::GET, &app.grant_path("/messages/schedules"), None)
        .await;
    assert_eq!(listed.data().len(), 2);
}

#[tokio::test]
async fn schedules_are_the_grant_s_own() {
    let app = App::new().await;
    let scheduled = schedule(&app, "Mine").await;
    let id = scheduled["data"]["schedule_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let sibling =
        crate::support::app::add_grant(&app.store, &app.application(), "bob@example.test", "Bob")
            .await;
    let theirs = format!("/v3/grants/{sibling}/messages/schedules");
    let listed = app.call(Method::GET, &theirs, None).await;
    assert_eq!(listed.data(), NOTHING);
    for method in [Method::GET, Method::DELETE] {
        let reply = app
            .call(method.clone(), &format!("{theirs}/{id}"), None)
            .await;
        assert_v3_error_type(
            &reply,
            StatusCode::NOT_FOUND,
            "api.not_found_error",
            "theirs",
        );
    }
    let unknown = app
        .call(
            Method::GET,
            &app.grant_path("/messages/schedules/nope"),
            None,
        )
        .await;
    assert_v3_error_type(
        &unknown,
        StatusCode::NOT_FOUND,
        "api.not_found_error",
        "nope",
    );
    // Still pending for its own grant.
    let own = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/schedules/{id}")),
            None,
        )
        .await;
    assert_eq!(own.body["data"]["status"]["code"], "pending");
}
