//! v2's mailbox resources (docs/API.md §8.1–§8.3): bare objects with `object`, `id` and
//! `account_id`; a message shows its folder as `folder`; `in` takes a folder's id, role or
//! name; uploads live in mailroom's database; drafts carry a `version` that an update or
//! deletion must echo; the application's accounts are reached with its client secret.

use axum::http::{Method, StatusCode};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::support::{App, MAIL, NOTHING, Reply, assert_v2_error, multipart, newest_first};

async fn bearer(app: &App) -> String {
    format!("Bearer {}", app.token(&[]).await)
}

async fn get(app: &App, bearer: &str, path: &str) -> Reply {
    let reply = app.send(Method::GET, path, Some(bearer), None).await;
    assert!(
        reply.request_id.is_some(),
        "{path}: v2 answers carry x-request-id"
    );
    reply
}

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .map(|l| {
            l.iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn v2_objects_are_bare_with_their_object_id_and_account() {
    let app = App::with_mailbox().await;
    let bearer = bearer(&app).await;
    for (path, object) in [
        ("/messages", "message"),
        ("/threads", "thread"),
        ("/folders", "folder"),
        ("/contacts", "contact"),
        ("/calendars", "calendar"),
        ("/events", "event"),
        ("/files", "file"),
    ] {
        let reply = get(&app, &bearer, path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        let list = reply
            .body
            .as_array()
            .unwrap_or_else(|| panic!("{path}: a bare array"));
        assert!(!list.is_empty(), "{path}");
        for item in list {
            assert!(item["id"].is_string(), "{path}: {item}");
            assert_eq!(item["account_id"], app.grant_id.as_str(), "{path}: {item}");
            if path == "/messages" {
                assert!(matches!(item["object"].as_str(), Some("message" | "draft")));
            } else {
                assert_eq!(item["object"], object, "{path}");
            }
        }
    }
}

#[tokio::test]
async fn the_account_is_the_token_s_grant() {
    let app = App::new().await;
    let bearer = bearer(&app).await;
    let account = get(&app, &bearer, "/account").await.body;
    assert_eq!(account["email_address"], "ann@example.test");
    assert_eq!(account["id"], app.grant_id.as_str());
    assert_eq!(account["account_id"], app.grant_id.as_str());
    assert_eq!(account["object"], "account");
    assert_eq!(account["organization_unit"], "folder");
    assert_eq!(account["sync_state"], "running");
}

#[tokio::test]
async fn a_v2_message_shows_its_folder_by_id_role_and_name() {
    let app = App::with_mailbox().await;
    let bearer = bearer(&app).await;
    for (name, role, display) in [
        ("lunch", Value::from("inbox"), "INBOX"),
        ("invoice", Value::from("sent"), "Sent"),
        ("kickoff", Value::Null, "Projects"),
    ] {
        let message = get(
            &app,
            &bearer,
            &format!("/messages/{}", app.mailbox.id(name)),
        )
        .await;
        let folder = &message.body["folder"];
        assert_eq!(folder["id"], app.mailbox.folder(display).as_str());
        assert_eq!(folder["name"], role, "{name}");
        assert_eq!(folder["display_name"], display, "{name}");
    }
}

#[tokio::test]
async fn v2_s_in_takes_a_folder_id_role_or_name() {
    let app = App::with_mailbox().await;
    let bearer = bearer(&app).await;
    let inbox = newest_first(|m| m.folder == "INBOX");
    let inbox_id = app.mailbox.folder("INBOX");
    for value in [inbox_id.as_str(), "inbox", "INBOX"] {
        let reply = get(&app, &bearer, &format!("/messages?in={value}")).await;
        assert_eq!(app.mailbox.names(&ids(&reply.body)), inbox, "{value}");
    }
    let projects = get(&app, &bearer, "/messages?in=Projects").await;
    assert_eq!(app.mailbox.names(&ids(&projects.body)), ["kickoff"]);
    let sent = get(&app, &bearer, "/messages?in=sent").await;
    assert_eq!(app.mailbox.names(&ids(&sent.body)), ["invoice"]);
}

#[tokio::test]
async fn v2_filters_narrow_like_v3_s() {
    let app = App::with_mailbox().await;
    let bearer = bearer(&app).await;
    for (query, expected) in [
        ("unread=true", newest_first(|m| m.unread)),
        ("starred=true", newest_first(|m| m.starred)),
        (
            "from=alice@example.test",
            newest_first(|m| m.from.1 == "alice@example.test"),
        ),
        ("has_attachment=true", newest_first(|m| m.has_attachments())),
        (
            "subject=report",
            newest_first(|m| m.subject.to_lowercase().contains("report")),
        ),
    ] {
        assert!(
            !expected.is_empty() && expected.len() < MAIL.len(),
            "{query}"
        );
        let reply = get(&app, &bearer, &format!("/messages?{query}")).await;
        assert_eq!(app.mailbox.names(&ids(&reply.body)), expected, "{query}");
        let count = get(&app, &bearer, &format!("/messages?{query}&view=count")).await;
        assert_eq!(count.body["count"], expected.len(), "{query}");
    }
}

#[tokio::test]
async fn v2_lists_the_attachments_of_mail_as_files() {
    let app = App::with_mailbox().await;
    let bearer = bearer(&app).await;
    let files = get(&app, &bearer, "/files").await;
    let files = files.body.as_array().expect("files").clone();
    assert_eq!(
        files.len(),
        MAIL.iter().filter(|m| m.has_attachments()).count()
    );
    for name in ["invoice.pdf", "report.pdf"] {
        assert!(
            files.iter().any(|f| f["filename"] == name),
            "{name}: {files:?}"
        );
    }
    assert!(
        files.iter().any(|f| f["content_type"]
            .as_str()
            .is_some_and(|t| t.starts_with("text/calendar"))),
        "the invitation's calendar part: {files:?}"
    );
    let report = app.mailbox.id("report");
    let one = get(&app, &bearer, &format!("/files/{report}-0")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["filename"], "report.pdf");
    let count = get(&app, &bearer, "/files?view=count").await;
    assert_eq!(count.body["count"], files.len());
}

#[tokio::test]
async fn an_upload_is_kept_read_downloaded_and_deleted_without_the_server() {
    let app = App::new().await;
    let bearer = bearer(&app).await;
    let (content_type, body) =
        multipart(&[("file", Some("plan.txt"), Some("text/plain"), b"the plan")]);
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/files")
        .header("authorization", &bearer)
        .header("content-type", content_type)
        .body(axum::body::Body::from(body))
        .expect("a request");
    let uploaded = app.request(request).await;
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.body);
    let file = uploaded.body[0].clone();
    assert_eq!(file["object"], "file");
    assert_eq!(file["filename"], "plan.txt");
    assert_eq!(file["size"], 8);
    let id = file["id"].as_str().expect("an id").to_owned();
    let read = get(&app, &bearer, &format!("/files/{id}")).await;
    assert_eq!(read.body, file);
    let download = get(&app, &bearer, &format!("/files/{id}/download")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.text, "the plan");
    assert_eq!(download.header("content-type"), Some("text/plain"));
    assert_eq!(download.header("x-content-type-options"), Some("nosniff"));
    let deleted = app
        .send(Method::DELETE, &format!("/files/{id}"), Some(&bearer), None)
        .await;
    assert_eq!(deleted.body, json!({"success": true}));
    let gone = get(&app, &bearer, &format!("/files/{id}")).await;
    assert_v2_error(&gone, StatusCode::NOT_FOUND, "a deleted upload");
}

#[tokio::test]
async fn an_upload_needs_a_multipart_body_with_a_file() {
    let app = App::new().await;
    let bearer = bearer(&app).await;
    let json = app
        .send(Method::POST, "/files", Some(&bearer), Some("{}".into()))
        .await;
    assert_v2_error(&json, StatusCode::BAD_REQUEST, "JSON");
    let (content_type, body) = multipart(&[]);
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/files")
        .header("authorization", &bearer)
        .header("content-type", content_type)
        .body(axum::body::Body::from(body))
        .expect("a request");
    let empty = app.request(request).await;
    assert_v2_error(&empty, StatusCode::BAD_REQUEST, "no file");
}

/// The saved draft "notes" as v2 lists it.
async fn notes(app: &App, bearer: &str) -> Value {
    let drafts = get(app, bearer, "/drafts").await;
    assert_eq!(drafts.status, StatusCode::OK, "{}", drafts.body);
    let list = drafts.body.as_array().expect("drafts").clone();
    assert_eq!(list.len(), 1, "{list:?}");
    list[0].clone()
}

#[tokio::test]
async fn a_v2_draft_carries_its_version_and_a_stale_one_is_a_conflict() {
    let app = App::with_mailbox().await;
    let bearer = bearer(&app).await;
    let draft = notes(&app, &bearer).await;
    assert_eq!(draft["object"], "draft");
    assert_eq!(draft["version"], 0);
    let path = format!("/drafts/{}", draft["id"].as_str().expect("an id"));
    let one = get(&app, &bearer, &path).await;
    assert_eq!(one.body["version"], 0);
    let missing = app
        .send(
            Method::PUT,
            &path,
            Some(&bearer),
            Some(json!({"subject": "x"}).to_string()),
        )
        .await;
    assert_v2_error(&missing, StatusCode::BAD_REQUEST, "no version");
    for (method, body) in [
        (Method::PUT, json!({"subject": "x", "version": 5})),
        (Method::DELETE, json!({"version": 5})),
    ] {
        let stale = app
            .send(method.clone(), &path, Some(&bearer), Some(body.to_string()))
            .await;
        assert_v2_error(&stale, StatusCode::CONFLICT, method.as_ref());
        assert_eq!(stale.body["type"], "invalid_request_error");
    }
    let send = app
        .send(
            Method::POST,
            "/send",
            Some(&bearer),
            Some(json!({"draft_id": draft["id"], "version": 5}).to_string()),
        )
        .await;
    assert_v2_error(&send, StatusCode::CONFLICT, "sending a stale draft");
    let without = app
        .send(
            Method::POST,
            "/send",
            Some(&bearer),
            Some(json!({"draft_id": draft["id"]}).to_string()),
        )
        .await;
    assert_v2_error(
        &without,
        StatusCode::BAD_REQUEST,
        "sending without a version",
    );
    assert_eq!(notes(&app, &bearer).await, draft, "nothing changed");
}

/// `update_draft` (crates/api/src/v2/drafts.rs) claims the next version before it writes
/// the draft: when the write fails the version is given back, so the client that tries
/// its update again is not told the draft changed.
#[tokio::test]
async fn a_v2_draft_update_the_server_did_not_take_leaves_its_version() {
    let app = App::with_mailbox().await;
    let bearer = bearer(&app).await;
    let draft = notes(&app, &bearer).await;
    let path = format!("/drafts/{}", draft["id"].as_str().expect("an id"));
    let update = json!({"subject": "Changed", "version": 0}).to_string();
    let failed = app
        .send(Method::PUT, &path, Some(&bearer), Some(update.clone()))
        .await;
    assert_v2_error(
        &failed,
        StatusCode::GATEWAY_TIMEOUT,
        "the server is not reachable",
    );
    assert_eq!(
        notes(&app, &bearer).await,
        draft,
        "the draft did not change"
    );
    // So the same update, tried again, is not a conflict.
    let again = app
        .send(Method::PUT, &path, Some(&bearer), Some(update))
        .await;
    assert_v2_error(&again, StatusCode::GATEWAY_TIMEOUT, "tried again");
}

#[tokio::test]
async fn the_application_s_accounts_are_listed_read_revoked_and_deleted() {
    let app = App::new().await;
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:", app.client_secret))
    );
    let base = format!("/a/{}/accounts", app.application_id);
    let one = app
        .send(
            Method::GET,
            &format!("{base}/{}", app.grant_id),
            Some(&basic),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["email"], "ann@example.test");
    assert_eq!(one.body["sync_state"], "running");
    let unknown = app
        .send(Method::GET, &format!("{base}/nope"), Some(&basic), None)
        .await;
    assert_v2_error(&unknown, StatusCode::NOT_FOUND, "an unknown account");

    let token = format!("Bearer {}", app.token(&[]).await);
    assert_eq!(get(&app, &token, "/account").await.status, StatusCode::OK);
    let revoked = app
        .send(
            Method::POST,
            &format!("{base}/{}/revoke-all", app.grant_id),
            Some(&basic),
            None,
        )
        .await;
    assert_eq!(revoked.body, json!({"success": true}));
    let after = get(&app, &token, "/account").await;
    assert_v2_error(&after, StatusCode::UNAUTHORIZED, "a revoked token");

    let deleted = app
        .send(
            Method::DELETE,
            &format!("{base}/{}", app.grant_id),
            Some(&basic),
            None,
        )
        .await;
    assert_eq!(deleted.body, json!({"success": true}));
    let listed = app.send(Method::GET, &base, Some(&basic), None).await;
    assert_eq!(listed.body, json!([]));
    let grants = app.call(Method::GET, "/v3/grants", None).await;
    assert_eq!(grants.data(), NOTHING, "a v2 account is a v3 grant");
}
