//! Reading drafts (docs/API.md §5.3): a draft is a message of the Drafts folder with
//! `object: "draft"`; a message elsewhere is not a draft.

use axum::http::{Method, StatusCode};

use crate::support::{App, NOTHING, assert_v3_error_type};

#[tokio::test]
async fn drafts_are_the_messages_of_the_drafts_folder() {
    let app = App::with_mailbox().await;
    let listed = app
        .call(Method::GET, &app.grant_path("/drafts"), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(app.mailbox.names(&listed.ids()), ["notes"]);
    let draft = &listed.data()[0];
    assert_eq!(draft["object"], "draft");
    assert_eq!(draft["subject"], "Notes for Grace");
    assert_eq!(
        draft["folders"],
        serde_json::json!([app.mailbox.folder("Drafts")])
    );
}

#[tokio::test]
async fn one_draft_is_read_by_id_with_its_body() {
    let app = App::with_mailbox().await;
    let id = app.mailbox.id("notes");
    let reply = app
        .call(Method::GET, &app.grant_path(&format!("/drafts/{id}")), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["data"]["object"], "draft");
    assert!(
        reply.body["data"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("Some notes.")),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_message_outside_drafts_is_not_a_draft() {
    let app = App::with_mailbox().await;
    for name in ["lunch", "invoice"] {
        let id = app.mailbox.id(name);
        let reply = app
            .call(Method::GET, &app.grant_path(&format!("/drafts/{id}")), None)
            .await;
        assert_v3_error_type(&reply, StatusCode::NOT_FOUND, "api.not_found_error", name);
    }
}

#[tokio::test]
async fn a_mailbox_without_a_drafts_folder_has_no_drafts() {
    let app = App::new().await;
    let listed = app
        .call(Method::GET, &app.grant_path("/drafts"), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.data(), NOTHING);
    assert!(listed.body.get("next_cursor").is_none());
}
