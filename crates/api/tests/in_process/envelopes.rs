//! Success envelopes and request ids (docs/API.md §1.4, §9 rules 1–3, 5, 9): one object is
//! `{"request_id", "data"}`, a cursor page adds `next_cursor` while more exist, an offset
//! page echoes `limit` and `offset`, a deletion is `{"request_id"}`; every answer names
//! its request in the body and in `x-request-id`; objects carry every documented key, an
//! `object` string, integer times and URL-safe ids.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{App, Reply, keys};

/// The documented keys of a message (docs/API.md §5.1).
const MESSAGE_KEYS: &[&str] = &[
    "attachments",
    "bcc",
    "body",
    "cc",
    "created_at",
    "date",
    "folders",
    "from",
    "grant_id",
    "id",
    "metadata",
    "object",
    "reply_to",
    "snippet",
    "starred",
    "subject",
    "thread_id",
    "to",
    "unread",
];

/// The documented keys of a thread (docs/API.md §5.4).
const THREAD_KEYS: &[&str] = &[
    "draft_ids",
    "earliest_message_date",
    "folders",
    "grant_id",
    "has_attachments",
    "has_drafts",
    "id",
    "latest_draft_or_message",
    "latest_message_received_date",
    "latest_message_sent_date",
    "message_ids",
    "object",
    "participants",
    "snippet",
    "starred",
    "subject",
    "unread",
];

/// The documented keys of a folder (docs/API.md §5.5).
const FOLDER_KEYS: &[&str] = &[
    "attributes",
    "child_count",
    "grant_id",
    "id",
    "name",
    "object",
    "parent_id",
    "system_folder",
    "total_count",
    "unread_count",
];

fn assert_has_keys(object: &Value, wanted: &[&str], what: &str) {
    let present: BTreeSet<String> = keys(object).into_iter().collect();
    let missing: Vec<&&str> = wanted.iter().filter(|k| !present.contains(**k)).collect();
    assert!(missing.is_empty(), "{what} lacks {missing:?}: {object}");
}

fn assert_url_safe(id: &Value, what: &str) {
    let id = id.as_str().unwrap_or_default();
    assert!(
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{what}: '{id}' is not URL-safe"
    );
}

fn assert_request_named(reply: &Reply, what: &str) {
    let header = reply.request_id.as_deref().unwrap_or_default();
    assert!(!header.is_empty(), "{what}: no x-request-id");
    if reply.body.is_object() && reply.body.get("request_id").is_some() {
        assert_eq!(reply.body["request_id"], header, "{what}");
    }
}

#[tokio::test]
async fn a_list_answer_carries_the_envelope_and_the_header_s_request_id() {
    let app = App::new().await;
    let reply = app
        .call(Method::GET, &app.grant_path("/messages"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["request_id"].as_str(),
        reply.request_id.as_deref(),
        "the body's request id is the header's"
    );
    assert_eq!(
        keys(&reply.body),
        ["data", "request_id"],
        "the last page has no cursor"
    );
}

#[tokio::test]
async fn messages_are_listed_newest_first() {
    let app = App::new().await;
    let reply = app
        .call(Method::GET, &app.grant_path("/messages"), None)
        .await;
    let subjects: Vec<&str> = reply.body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        subjects,
        ["Subject 3", "Subject 2", "Subject 1"],
        "newest first"
    );
}

#[tokio::test]
async fn every_answer_names_its_request_in_body_and_header() {
    let app = App::new().await;
    let message = app.grant_path(&format!("/messages/{}", app.message_ids[0]));
    let token = format!("Bearer {}", app.token(&[]).await);
    let replies = [
        ("an item", app.call(Method::GET, &message, None).await),
        (
            "a cursor page",
            app.call(Method::GET, &app.grant_path("/messages"), None)
                .await,
        ),
        (
            "an offset page",
            app.call(Method::GET, "/v3/grants", None).await,
        ),
        ("a list", app.call(Method::GET, "/v3/webhooks", None).await),
        (
            "a 400",
            app.call(Method::GET, &app.grant_path("/messages?limit=x"), None)
                .await,
        ),
        (
            "a 401",
            app.send(Method::GET, "/v3/grants", None, None).await,
        ),
        ("a 404", app.call(Method::GET, "/v3/nowhere", None).await),
        ("a 405", app.call(Method::PATCH, "/v3/webhooks", None).await),
        ("a 504", app.call(Method::DELETE, &message, None).await),
        (
            "v2's bare list",
            app.send(Method::GET, "/messages", Some(&token), None).await,
        ),
        (
            "v2's error",
            app.send(Method::GET, "/messages", None, None).await,
        ),
        (
            "health",
            app.send(Method::GET, "/healthz", None, None).await,
        ),
    ];
    let mut seen = BTreeSet::new();
    for (what, reply) in &replies {
        assert_request_named(reply, what);
        assert!(
            seen.insert(reply.request_id.clone()),
            "{what}: each request has its own id"
        );
    }
    for (what, reply) in &replies[..9] {
        assert!(
            reply.body["request_id"].is_string(),
            "{what}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn one_object_is_data_beside_the_request_id() {
    let app = App::with_mailbox().await;
    let id = app.mailbox.id("report");
    let reply = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/{id}")),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(keys(&reply.body), ["data", "request_id"]);
    assert_eq!(reply.body["data"]["object"], "message");
    assert_eq!(reply.body["data"]["id"], id.as_str());
}

#[tokio::test]
async fn offset_pages_echo_limit_and_offset() {
    let app = App::new().await;
    for (path, limit, offset) in [
        ("/v3/grants", 10, 0),
        ("/v3/grants?limit=5&offset=2", 5, 2),
        ("/v3/connectors", 10, 0),
        ("/v3/connectors?limit=3&offset=1", 3, 1),
    ] {
        let reply = app.call(Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        assert_eq!(
            keys(&reply.body),
            ["data", "limit", "offset", "request_id"],
            "{path}"
        );
        assert_eq!(reply.body["limit"], limit, "{path}");
        assert_eq!(reply.body["offset"], offset, "{path}");
    }
}

#[tokio::test]
async fn a_deletion_answers_the_request_id_alone() {
    let app = App::new().await;
    let created = app
        .call(
            Method::POST,
            "/v3/applications/redirect-uris",
            Some(json!({"url": "https://app.example.test/callback"})),
        )
        .await;
    let id = created.body["data"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v3/applications/redirect-uris/{id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(keys(&deleted.body), ["request_id"], "{}", deleted.body);
    assert!(!deleted.text.is_empty(), "never an empty body");
}

#[tokio::test]
async fn a_message_carries_every_documented_key_with_integer_times() {
    let app = App::with_mailbox().await;
    for name in ["report", "lunch", "invoice"] {
        let reply = app
            .call(
                Method::GET,
                &app.grant_path(&format!("/messages/{}", app.mailbox.id(name))),
                None,
            )
            .await;
        let message = &reply.body["data"];
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.body);
        assert_has_keys(message, MESSAGE_KEYS, name);
        assert_eq!(message["object"], "message");
        for time in ["date", "created_at"] {
            assert!(message[time].is_i64(), "{name}.{time}: {message}");
        }
        for list in [
            "to",
            "cc",
            "bcc",
            "reply_to",
            "from",
            "folders",
            "attachments",
        ] {
            assert!(message[list].is_array(), "{name}.{list}: {message}");
        }
        assert!(message["unread"].is_boolean() && message["starred"].is_boolean());
    }
    // The same keys in a list.
    let listed = app
        .call(Method::GET, &app.grant_path("/messages"), None)
        .await;
    for message in listed.data() {
        assert_has_keys(&message, MESSAGE_KEYS, "a listed message");
    }
}

#[tokio::test]
async fn a_thread_carries_every_documented_key() {
    let app = App::with_mailbox().await;
    let listed = app
        .call(Method::GET, &app.grant_path("/threads"), None)
        .await;
    assert!(!listed.data().is_empty());
    for thread in listed.data() {
        assert_has_keys(&thread, THREAD_KEYS, "a listed thread");
        assert_eq!(thread["object"], "thread");
        assert!(thread["message_ids"].is_array() && thread["folders"].is_array());
        assert!(thread["latest_message_received_date"].is_i64());
        let latest = &thread["latest_draft_or_message"];
        assert_has_keys(latest, MESSAGE_KEYS, "latest_draft_or_message");
        assert!(matches!(
            latest["object"].as_str(),
            Some("message" | "draft")
        ));
    }
    let id = listed.ids()[0].clone();
    let one = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/threads/{id}")),
            None,
        )
        .await;
    assert_has_keys(&one.body["data"], THREAD_KEYS, "one thread");
}

#[tokio::test]
async fn a_folder_carries_every_documented_key() {
    let app = App::with_mailbox().await;
    let listed = app
        .call(Method::GET, &app.grant_path("/folders"), None)
        .await;
    assert_eq!(listed.data().len(), 6, "{}", listed.body);
    for folder in listed.data() {
        assert_has_keys(&folder, FOLDER_KEYS, "a folder");
        assert_eq!(folder["object"], "folder");
        for count in ["child_count", "unread_count", "total_count"] {
            assert!(folder[count].is_i64(), "{count}: {folder}");
        }
    }
}

#[tokio::test]
async fn ids_handed_out_are_url_safe() {
    let app = App::with_mailbox().await;
    assert_url_safe(&json!(app.grant_id.as_str()), "grant");
    for (path, what) in [
        ("/messages", "message"),
        ("/threads", "thread"),
        ("/folders", "folder"),
        ("/drafts", "draft"),
        ("/contacts", "contact"),
        ("/calendars", "calendar"),
        ("/events?calendar_id=primary", "event"),
    ] {
        let reply = app.call(Method::GET, &app.grant_path(path), None).await;
        assert!(!reply.data().is_empty(), "{what}: {}", reply.body);
        for item in reply.data() {
            assert_url_safe(&item["id"], what);
        }
    }
    let report = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/{}", app.mailbox.id("report"))),
            None,
        )
        .await;
    for attachment in report.body["data"]["attachments"]
        .as_array()
        .expect("a list")
    {
        assert_url_safe(&attachment["id"], "attachment");
    }
}
