//! Reading messages (docs/API.md §5.1, §5.0): one message as indexed, with its folders,
//! participants, flags and attachments' metadata; `select` and `fields`; a message of
//! another grant is not found.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{App, MAIL, app::add_grant, assert_v3_error_type, mailbox::index_mailbox};

async fn message(app: &App, name: &str, query: &str) -> Value {
    let reply = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/messages/{}{query}", app.mailbox.id(name))),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.body);
    reply.body["data"].clone()
}

fn emails(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|l| l.iter().filter_map(|a| a["email"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_message_reads_back_as_indexed() {
    let app = App::with_mailbox().await;
    for mail in MAIL.iter().filter(|m| m.body.is_some()) {
        let data = message(&app, mail.name, "").await;
        assert_eq!(data["subject"], mail.subject, "{}", mail.name);
        assert_eq!(data["date"], mail.date, "{}", mail.name);
        assert_eq!(data["unread"], mail.unread, "{}", mail.name);
        assert_eq!(data["starred"], mail.starred, "{}", mail.name);
        assert_eq!(emails(&data["from"]), [mail.from.1], "{}", mail.name);
        assert_eq!(emails(&data["to"]), mail.to, "{}", mail.name);
        assert_eq!(emails(&data["cc"]), mail.cc, "{}", mail.name);
        assert_eq!(emails(&data["bcc"]), mail.bcc, "{}", mail.name);
        assert_eq!(
            data["folders"],
            serde_json::json!([app.mailbox.folder(mail.folder)]),
            "{}",
            mail.name
        );
        let text = mail.body.unwrap_or_default();
        assert!(
            data["body"].as_str().is_some_and(|b| b.contains(text)),
            "{}: {}",
            mail.name,
            data["body"]
        );
        assert!(
            data["snippet"].as_str().is_some_and(|s| s.contains(text)),
            "{}: {}",
            mail.name,
            data["snippet"]
        );
        assert_eq!(data["metadata"], serde_json::json!({}), "{}", mail.name);
    }
}

#[tokio::test]
async fn an_attachment_is_described_by_the_documented_fields() {
    let app = App::with_mailbox().await;
    let data = message(&app, "report", "").await;
    let attachments = data["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 1, "{data}");
    let attachment = &attachments[0];
    assert_eq!(attachment["filename"], "report.pdf");
    assert_eq!(attachment["content_type"], "application/pdf");
    assert_eq!(attachment["grant_id"], app.grant_id.as_str());
    assert_eq!(attachment["is_inline"], false);
    assert!(attachment["size"].as_u64().is_some_and(|s| s > 0));
    for key in ["id", "content_id", "content_disposition"] {
        assert!(attachment.get(key).is_some(), "{key}: {attachment}");
    }
    // Its metadata, by itself, comes from the index too.
    let id = attachment["id"].as_str().expect("an id");
    let one = app
        .call(
            Method::GET,
            &app.grant_path(&format!(
                "/attachments/{id}?message_id={}",
                app.mailbox.id("report")
            )),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(&one.body["data"], attachment);
}

#[tokio::test]
async fn an_attachment_needs_its_message_and_must_belong_to_it() {
    let app = App::with_mailbox().await;
    let report = app.mailbox.id("report");
    let lunch = app.mailbox.id("lunch");
    let missing = app
        .call(
            Method::GET,
            &app.grant_path(&format!("/attachments/{report}-0")),
            None,
        )
        .await;
    assert_v3_error_type(
        &missing,
        StatusCode::BAD_REQUEST,
        "api.invalid_request_error",
        "no message_id",
    );
    for (attachment, message) in [
        (format!("{report}-7"), report.clone()),
        (format!("{report}-0"), lunch),
        ("nope".to_owned(), report.clone()),
    ] {
        let reply = app
            .call(
                Method::GET,
                &app.grant_path(&format!("/attachments/{attachment}?message_id={message}")),
                None,
            )
            .await;
        assert_v3_error_type(
            &reply,
            StatusCode::NOT_FOUND,
            "api.not_found_error",
            &attachment,
        );
    }
}

#[tokio::test]
async fn include_headers_adds_the_message_s_headers() {
    let app = App::with_mailbox().await;
    let data = message(&app, "report-reply", "?fields=include_headers").await;
    let headers = data["headers"].as_array().expect("headers");
    let in_reply_to = headers
        .iter()
        .find(|h| {
            h["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("in-reply-to"))
        })
        .expect("In-Reply-To");
    assert!(
        in_reply_to["value"]
            .as_str()
            .is_some_and(|v| v.contains("report@example.test")),
        "{in_reply_to}"
    );
    assert!(
        message(&app, "report-reply", "")
            .await
            .get("headers")
            .is_none()
    );
}

#[tokio::test]
async fn select_keeps_the_named_fields_of_one_message() {
    let app = App::with_mailbox().await;
    let data = message(&app, "lunch", "?select=subject,starred").await;
    assert_eq!(
        crate::support::keys(&data),
        ["grant_id", "id", "object", "starred", "subject"]
    );
    assert_eq!(data["starred"], true);
}

#[tokio::test]
async fn another_grant_s_message_is_not_found() {
    let app = App::with_mailbox().await;
    let sibling = add_grant(&app.store, &app.application(), "bob@example.test", "Bob").await;
    let theirs = index_mailbox(&app.store, &sibling).await;
    let foreign = theirs.id("lunch");
    for path in [
        format!("/messages/{foreign}"),
        format!("/attachments/{foreign}-0?message_id={foreign}"),
    ] {
        let reply = app.call(Method::GET, &app.grant_path(&path), None).await;
        assert_v3_error_type(&reply, StatusCode::NOT_FOUND, "api.not_found_error", &path);
    }
    // The same id is the sibling's.
    let theirs = app
        .call(
            Method::GET,
            &format!("/v3/grants/{sibling}/messages/{foreign}"),
            None,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
}

#[tokio::test]
async fn a_message_s_metadata_reads_back() {
    let app = App::with_mailbox().await;
    let metadata = serde_json::json!({"project": "apollo", "stage": "2"});
    app.store
        .set_message_metadata(&app.grant_id, &app.mailbox.id("lunch"), &metadata)
        .await
        .expect("kept");
    assert_eq!(message(&app, "lunch", "").await["metadata"], metadata);
}
