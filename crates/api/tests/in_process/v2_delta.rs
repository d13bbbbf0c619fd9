//! v2's delta feed (docs/API.md §8.4): the grant's change log from a cursor, the same
//! changes its webhooks report, showing only the object types the token may read and
//! those `include_types` / `exclude_types` leave; a cursor mailroom did not make is a 400.

use axum::http::{Method, StatusCode};
use mailroom_model::Scope;
use serde_json::{Value, json};

use crate::support::{App, Reply, assert_v2_error};

async fn latest_cursor(app: &App, bearer: &str) -> String {
    let latest = app
        .send(Method::POST, "/delta/latest_cursor", Some(bearer), None)
        .await;
    assert_eq!(latest.status, StatusCode::OK, "{}", latest.body);
    latest.body["cursor"].as_str().expect("a cursor").to_owned()
}

async fn deltas(app: &App, bearer: &str, query: &str) -> Reply {
    app.send(Method::GET, &format!("/delta?{query}"), Some(bearer), None)
        .await
}

/// A change after the cursor: the lunch message's metadata, which records
/// `message.updated`.
async fn change_lunch(app: &App) {
    app.store
        .set_message_metadata(&app.grant_id, &app.mailbox.id("lunch"), &json!({"k": "v"}))
        .await
        .expect("kept");
}

fn of_object<'a>(feed: &'a Value, object: &str) -> Vec<&'a Value> {
    feed["deltas"]
        .as_array()
        .map(|d| d.iter().filter(|d| d["object"] == object).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_feed_starts_empty_at_the_latest_cursor() {
    let app = App::new().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let cursor = latest_cursor(&app, &bearer).await;
    let feed = deltas(&app, &bearer, &format!("cursor={cursor}")).await;
    assert_eq!(feed.body["deltas"], json!([]));
    assert_eq!(feed.body["cursor_end"], cursor.as_str());
    assert_eq!(feed.body["cursor_start"], cursor.as_str());
}

#[tokio::test]
async fn a_change_after_the_cursor_is_reported_once_with_the_object_as_it_is() {
    let app = App::with_mailbox().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let cursor = latest_cursor(&app, &bearer).await;
    change_lunch(&app).await;
    let feed = deltas(&app, &bearer, &format!("cursor={cursor}")).await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.body);
    let messages = of_object(&feed.body, "message");
    assert_eq!(messages.len(), 1, "{}", feed.body);
    let delta = messages[0];
    assert_eq!(delta["event"], "modify");
    assert_eq!(delta["id"], app.mailbox.id("lunch").as_str());
    assert_eq!(delta["attributes"]["subject"], "Lunch on Friday?");
    assert_eq!(delta["attributes"]["account_id"], app.grant_id.as_str());
    assert!(delta["cursor"].is_string());
    let end = feed.body["cursor_end"]
        .as_str()
        .expect("cursor_end")
        .to_owned();
    assert_ne!(end, cursor);
    // From the end, nothing more.
    let after = deltas(&app, &bearer, &format!("cursor={end}")).await;
    assert_eq!(after.body["deltas"], json!([]));
}

#[tokio::test]
async fn include_and_exclude_types_narrow_the_feed() {
    let app = App::with_mailbox().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let cursor = latest_cursor(&app, &bearer).await;
    change_lunch(&app).await;
    let only_messages = deltas(
        &app,
        &bearer,
        &format!("cursor={cursor}&include_types=message"),
    )
    .await;
    assert!(!of_object(&only_messages.body, "message").is_empty());
    assert!(
        only_messages.body["deltas"]
            .as_array()
            .is_some_and(|d| d.iter().all(|d| d["object"] == "message")),
        "{}",
        only_messages.body
    );
    for query in [
        format!("cursor={cursor}&include_types=folder,contact"),
        format!("cursor={cursor}&exclude_types=message,thread"),
        format!("cursor={cursor}&excluded_types=message,thread"),
    ] {
        let feed = deltas(&app, &bearer, &query).await;
        assert_eq!(feed.status, StatusCode::OK, "{query}: {}", feed.body);
        assert_eq!(
            of_object(&feed.body, "message"),
            Vec::<&Value>::new(),
            "{query}"
        );
    }
}

#[tokio::test]
async fn a_token_sees_only_the_types_it_may_read() {
    let app = App::with_mailbox().await;
    let contacts_only = format!("Bearer {}", app.token(&[Scope::ContactsReadOnly]).await);
    let cursor = latest_cursor(&app, &contacts_only).await;
    change_lunch(&app).await;
    let feed = deltas(&app, &contacts_only, &format!("cursor={cursor}")).await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.body);
    assert_eq!(of_object(&feed.body, "message"), Vec::<&Value>::new());
    let asking = deltas(
        &app,
        &contacts_only,
        &format!("cursor={cursor}&include_types=message"),
    )
    .await;
    assert_eq!(of_object(&asking.body, "message"), Vec::<&Value>::new());
    // The same change, to a token that reads mail.
    let mail = format!("Bearer {}", app.token(&[Scope::EmailMetadata]).await);
    let feed = deltas(&app, &mail, &format!("cursor={cursor}")).await;
    let messages = of_object(&feed.body, "message");
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0]["attributes"]["body"], "",
        "metadata sees no body"
    );
}

#[tokio::test]
async fn longpoll_answers_at_once_when_changes_wait() {
    let app = App::with_mailbox().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let cursor = latest_cursor(&app, &bearer).await;
    change_lunch(&app).await;
    let feed = app
        .send(
            Method::GET,
            &format!("/delta/longpoll?cursor={cursor}&timeout=10"),
            Some(&bearer),
            None,
        )
        .await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.body);
    assert_eq!(of_object(&feed.body, "message").len(), 1);
    let quiet = app
        .send(
            Method::GET,
            &format!(
                "/delta/longpoll?cursor={}&timeout=0",
                feed.body["cursor_end"].as_str().expect("cursor_end")
            ),
            Some(&bearer),
            None,
        )
        .await;
    assert_eq!(
        quiet.body["deltas"],
        json!([]),
        "a timeout of 0 does not wait"
    );
}

#[tokio::test]
async fn the_feed_refuses_what_it_cannot_read() {
    let app = App::new().await;
    let bearer = format!("Bearer {}", app.token(&[]).await);
    let cursor = latest_cursor(&app, &bearer).await;
    for query in [
        String::new(),
        "cursor=not-a-cursor".to_owned(),
        format!("cursor={cursor}&include_types=message&exclude_types=thread"),
        format!("cursor={cursor}&include_types=calendar_entry"),
        format!("cursor={cursor}&view=collapsed"),
        format!("cursor={cursor}&timeout=soon"),
    ] {
        let path = if query.contains("timeout") {
            format!("/delta/longpoll?{query}")
        } else {
            format!("/delta?{query}")
        };
        let reply = app.send(Method::GET, &path, Some(&bearer), None).await;
        assert_v2_error(&reply, StatusCode::BAD_REQUEST, &path);
    }
    let streaming = app
        .send(Method::GET, "/delta/streaming", Some(&bearer), None)
        .await;
    assert_v2_error(
        &streaming,
        StatusCode::NOT_FOUND,
        "the streaming form is not offered",
    );
}
